//! Options and loading shared by the `mtls_server` and `mtls_client` examples: the SVID and
//! bundles from the Workload API (`--socket ADDR`, rotating) or from files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use spiffe_core::x509::parse_certificates;
use spiffe_core::{
    BundleSet, SpiffeBundle, SpiffeId, TrustDomain, X509Bundle, X509BundleSource, X509Svid,
    X509SvidSource,
};
use spiffe_tls::Authorizer;
use spiffe_workload::{EndpointAddress, WorkloadApiClient, X509Source};

/// Where the SVID and bundles come from, and which peers are allowed.
#[derive(Args, Debug)]
pub(crate) struct Identity {
    /// Take the SVID and the bundles from the Workload API at ADDR (`unix:///path` or
    /// `tcp://IP:PORT`), following rotations; `-` for `SPIFFE_ENDPOINT_SOCKET`
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["svid", "key", "bundles"])]
    pub(crate) socket: Option<String>,

    /// This workload's X.509-SVID chain (PEM, leaf first), e.g. `svid.pem` from `spiffe x509 mint`
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "socket",
        requires = "key"
    )]
    pub(crate) svid: Option<PathBuf>,

    /// The SVID's private key (PEM, PKCS#8 or SEC1), e.g. `svid.key`
    #[arg(long, value_name = "FILE", requires = "svid")]
    pub(crate) key: Option<PathBuf>,

    /// A trust bundle for trust domain TD: PEM certificates or a SPIFFE bundle (JSON); repeat
    /// for federated trust domains
    #[arg(
        long = "bundle",
        value_name = "TD=FILE",
        required_unless_present = "socket"
    )]
    pub(crate) bundles: Vec<String>,

    /// Accept a peer with exactly this SPIFFE ID; repeat to accept several
    #[arg(
        long = "authorize",
        value_name = "SPIFFE_ID",
        required_unless_present = "authorize_td"
    )]
    pub(crate) authorize: Vec<String>,

    /// Accept any peer in this trust domain
    #[arg(long = "authorize-td", value_name = "TD", conflicts_with = "authorize")]
    pub(crate) authorize_td: Option<String>,
}

/// An error message for the user.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The SVID source, the bundle source and the authorizer the options name.
pub(crate) struct Loaded {
    pub(crate) svids: Arc<dyn X509SvidSource + Send + Sync>,
    pub(crate) bundles: Arc<dyn X509BundleSource + Send + Sync>,
    pub(crate) authorizer: Authorizer,
}

impl Loaded {
    /// The SPIFFE ID of the current SVID, for a log line.
    #[allow(dead_code)] // used by mtls_server only
    pub(crate) fn spiffe_id(&self) -> String {
        self.svids.x509_svid().map_or_else(
            || "(no SVID)".to_owned(),
            |svid| svid.spiffe_id().to_string(),
        )
    }
}

impl Identity {
    /// Connects to the Workload API or reads the files, and builds the authorizer.
    pub(crate) async fn load(&self) -> Result<Loaded, Error> {
        let (svids, bundles) = match &self.socket {
            Some(addr) => {
                let source = workload_api(addr).await?;
                let source = Arc::new(source);
                (
                    source.clone() as Arc<dyn X509SvidSource + Send + Sync>,
                    source as Arc<dyn X509BundleSource + Send + Sync>,
                )
            }
            None => {
                let (svid, bundles) = self.files()?;
                (
                    Arc::new(svid) as Arc<dyn X509SvidSource + Send + Sync>,
                    bundles as Arc<dyn X509BundleSource + Send + Sync>,
                )
            }
        };
        Ok(Loaded {
            svids,
            bundles,
            authorizer: self.authorizer()?,
        })
    }

    /// Files mode: the SVID and the bundles.
    fn files(&self) -> Result<(Arc<X509Svid>, Arc<BundleSet>), Error> {
        let (Some(svid_path), Some(key_path)) = (&self.svid, &self.key) else {
            return Err("--svid and --key, or --socket, are required".into());
        };
        let svid = X509Svid::parse_pem(&read(svid_path)?, &read(key_path)?)
            .map_err(|e| format!("{} / {}: {e}", svid_path.display(), key_path.display()))?;

        let mut set = BundleSet::new();
        for arg in &self.bundles {
            let (td, file) = arg
                .split_once('=')
                .ok_or_else(|| format!("--bundle {arg}: expected TD=FILE"))?;
            let td = TrustDomain::new(td).map_err(|e| format!("--bundle {arg}: {e}"))?;
            set.insert_x509(load_bundle(td, Path::new(file))?);
        }
        Ok((Arc::new(svid), Arc::new(set)))
    }

    fn authorizer(&self) -> Result<Authorizer, Error> {
        let authorizer = match &self.authorize_td {
            Some(td) => Authorizer::member_of(
                TrustDomain::new(td).map_err(|e| format!("--authorize-td {td}: {e}"))?,
            ),
            None => {
                let ids = self
                    .authorize
                    .iter()
                    .map(|s| SpiffeId::new(s).map_err(|e| format!("--authorize {s}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Authorizer::one_of(ids)
            }
        };
        Ok(authorizer)
    }
}

/// Workload API mode: an `X509Source` (it waits for the first X.509 context, then follows
/// rotations in the background).
async fn workload_api(addr: &str) -> Result<X509Source, Error> {
    let address = if addr == "-" {
        EndpointAddress::from_env()
    } else {
        EndpointAddress::parse(addr)
    }
    .map_err(|e| format!("--socket {addr}: {e}"))?;
    let client =
        WorkloadApiClient::connect_lazy(&address).map_err(|e| format!("--socket {addr}: {e}"))?;
    X509Source::new(client)
        .await
        .map_err(|e| format!("--socket {addr}: {}", error_chain(&e)).into())
}

/// An error and its sources, joined by ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// A bundle file: a SPIFFE bundle document (JSON) or PEM certificates.
fn load_bundle(td: TrustDomain, path: &Path) -> Result<Arc<X509Bundle>, Error> {
    let bytes = read(path)?;
    let context = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    if bytes.trim_ascii_start().starts_with(b"{") {
        let (x509, _jwt) = SpiffeBundle::parse(td, &bytes)
            .map_err(|e| context(&e))?
            .into_parts();
        Ok(Arc::new(x509))
    } else {
        let certs = parse_certificates(&bytes).map_err(|e| context(&e))?;
        Ok(Arc::new(X509Bundle::from_authorities(td, certs)))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// The crypto provider of both examples.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
