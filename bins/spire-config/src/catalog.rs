//! The plugins SPIRE ships built in, by type: the names `spire-server` and `spire-agent`
//! accept in `plugins { }` (from SPIRE's `pkg/server/catalog` and `pkg/agent/catalog`). The
//! daemons compare declarations with these to tell "a SPIRE plugin we do not provide" from
//! "a name nobody knows" (see [`check_plugins`](crate::check_plugins)).

use crate::plugins::PluginTable;

/// SPIRE Server's plugin types and built-in plugins.
pub const SPIRE_SERVER_PLUGINS: &PluginTable = &[
    (
        "BundlePublisher",
        &[
            "aws_rolesanywhere_trustanchor",
            "aws_s3",
            "azure_blob",
            "gcp_cloudstorage",
            "k8s_configmap",
        ],
    ),
    ("CredentialComposer", &["uniqueid"]),
    ("DataStore", &["sql"]),
    (
        "KeyManager",
        &[
            "aws_kms",
            "azure_key_vault",
            "disk",
            "gcp_kms",
            "hashicorp_vault",
            "memory",
        ],
    ),
    (
        "NodeAttestor",
        &[
            "aws_iid",
            "azure_imds",
            "azure_msi",
            "gcp_iit",
            "http_challenge",
            "join_token",
            "k8s_psat",
            "sshpop",
            "tpm_devid",
            "x509pop",
        ],
    ),
    ("Notifier", &["gcs_bundle", "k8sbundle"]),
    (
        "UpstreamAuthority",
        &[
            "aws_pca",
            "awssecret",
            "cert-manager",
            "disk",
            "ejbca",
            "gcp_cas",
            "spire",
            "vault",
        ],
    ),
];

/// SPIRE Agent's plugin types and built-in plugins.
pub const SPIRE_AGENT_PLUGINS: &PluginTable = &[
    ("KeyManager", &["disk", "memory"]),
    (
        "NodeAttestor",
        &[
            "aws_iid",
            "azure_imds",
            "azure_msi",
            "gcp_iit",
            "http_challenge",
            "join_token",
            "k8s_psat",
            "sshpop",
            "tpm_devid",
            "x509pop",
        ],
    ),
    ("SVIDStore", &["aws_secretsmanager", "gcp_secretmanager"]),
    (
        "WorkloadAttestor",
        &["docker", "k8s", "slurm", "systemd", "unix", "windows"],
    ),
];
