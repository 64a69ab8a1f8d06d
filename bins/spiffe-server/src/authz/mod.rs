//! Who may call what: SPIRE's default authorization policy (`pkg/server/authpolicy`), as one
//! table, and the checks behind each role.
//!
//! Every RPC the server serves has a row; a method without a row is refused (fail closed), so
//! adding a service without deciding its policy cannot open it. The roles are SPIRE's:
//!
//! | role | who |
//! |---|---|
//! | any | every caller, even unauthenticated TLS peers (`AttestAgent`, `GetBundle`) |
//! | local | a process on the admin Unix socket |
//! | admin | a TLS caller whose SPIFFE ID is in `admin_ids` or has an entry marked `admin` |
//! | agent | a TLS caller with an agent SVID whose node is attested, not banned, and whose certificate serial is the node's current (or just-renewed) one |
//! | downstream | a TLS caller whose SPIFFE ID has an entry marked `downstream` |

mod layer;
mod roles;

pub use layer::{Authorize, AuthorizeLayer};
pub(crate) use roles::is_agent_path;

use crate::caller::{Caller, Role};

use Role::{Admin, Agent, Any, Downstream, Local};

/// One row: the gRPC method path and the roles that may call it, tried in order.
type Row = (&'static str, &'static [Role]);

const ADMIN_OR_LOCAL: &[Role] = &[Local, Admin];

/// The policy, SPIRE's `policy_data.json` defaults. WIT-SVID RPCs are listed so they answer
/// UNIMPLEMENTED to an authorized caller rather than PERMISSION_DENIED.
pub(crate) const POLICY: &[Row] = &[
    // spire.api.server.agent.v1.Agent
    (
        "/spire.api.server.agent.v1.Agent/CountAgents",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.agent.v1.Agent/ListAgents",
        ADMIN_OR_LOCAL,
    ),
    ("/spire.api.server.agent.v1.Agent/GetAgent", ADMIN_OR_LOCAL),
    (
        "/spire.api.server.agent.v1.Agent/DeleteAgent",
        ADMIN_OR_LOCAL,
    ),
    ("/spire.api.server.agent.v1.Agent/BanAgent", ADMIN_OR_LOCAL),
    ("/spire.api.server.agent.v1.Agent/AttestAgent", &[Any]),
    ("/spire.api.server.agent.v1.Agent/RenewAgent", &[Agent]),
    ("/spire.api.server.agent.v1.Agent/PostStatus", &[Agent]),
    (
        "/spire.api.server.agent.v1.Agent/CreateJoinToken",
        ADMIN_OR_LOCAL,
    ),
    // spire.api.server.bundle.v1.Bundle
    ("/spire.api.server.bundle.v1.Bundle/GetBundle", &[Any]),
    (
        "/spire.api.server.bundle.v1.Bundle/AppendBundle",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/PublishJWTAuthority",
        &[Downstream],
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/PublishWITAuthority",
        &[Downstream],
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/CountBundles",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/ListFederatedBundles",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/GetFederatedBundle",
        &[Local, Admin, Agent],
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/BatchCreateFederatedBundle",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/BatchUpdateFederatedBundle",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/BatchSetFederatedBundle",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.bundle.v1.Bundle/BatchDeleteFederatedBundle",
        ADMIN_OR_LOCAL,
    ),
    // spire.api.server.debug.v1.Debug
    ("/spire.api.server.debug.v1.Debug/GetInfo", &[Local]),
    // spire.api.server.entry.v1.Entry
    (
        "/spire.api.server.entry.v1.Entry/CountEntries",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.entry.v1.Entry/ListEntries",
        ADMIN_OR_LOCAL,
    ),
    ("/spire.api.server.entry.v1.Entry/GetEntry", ADMIN_OR_LOCAL),
    (
        "/spire.api.server.entry.v1.Entry/BatchCreateEntry",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.entry.v1.Entry/BatchUpdateEntry",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.entry.v1.Entry/BatchDeleteEntry",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.entry.v1.Entry/GetAuthorizedEntries",
        &[Agent],
    ),
    (
        "/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries",
        &[Agent],
    ),
    // spire.api.server.logger.v1.Logger
    ("/spire.api.server.logger.v1.Logger/GetLogger", &[Local]),
    ("/spire.api.server.logger.v1.Logger/SetLogLevel", &[Local]),
    ("/spire.api.server.logger.v1.Logger/ResetLogLevel", &[Local]),
    // spire.api.server.svid.v1.SVID
    (
        "/spire.api.server.svid.v1.SVID/MintX509SVID",
        ADMIN_OR_LOCAL,
    ),
    ("/spire.api.server.svid.v1.SVID/MintJWTSVID", ADMIN_OR_LOCAL),
    ("/spire.api.server.svid.v1.SVID/MintWITSVID", ADMIN_OR_LOCAL),
    ("/spire.api.server.svid.v1.SVID/BatchNewX509SVID", &[Agent]),
    ("/spire.api.server.svid.v1.SVID/NewJWTSVID", &[Agent]),
    ("/spire.api.server.svid.v1.SVID/BatchNewWITSVID", &[Agent]),
    (
        "/spire.api.server.svid.v1.SVID/NewDownstreamX509CA",
        &[Downstream],
    ),
    // spire.api.server.trustdomain.v1.TrustDomain
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/ListFederationRelationships",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/GetFederationRelationship",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/BatchCreateFederationRelationship",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/BatchUpdateFederationRelationship",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/BatchDeleteFederationRelationship",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.trustdomain.v1.TrustDomain/RefreshBundle",
        ADMIN_OR_LOCAL,
    ),
    // spire.api.server.localauthority.v1.LocalAuthority
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/GetJWTAuthorityState",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/PrepareJWTAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/ActivateJWTAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/TaintJWTAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/RevokeJWTAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/GetX509AuthorityState",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/PrepareX509Authority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/ActivateX509Authority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/TaintX509Authority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/TaintX509UpstreamAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/RevokeX509Authority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/RevokeX509UpstreamAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/GetWITAuthorityState",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/PrepareWITAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/ActivateWITAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/TaintWITAuthority",
        ADMIN_OR_LOCAL,
    ),
    (
        "/spire.api.server.localauthority.v1.LocalAuthority/RevokeWITAuthority",
        ADMIN_OR_LOCAL,
    ),
    // grpc.health.v1.Health
    ("/grpc.health.v1.Health/Check", &[Local]),
    ("/grpc.health.v1.Health/List", &[Local]),
    ("/grpc.health.v1.Health/Watch", &[Local]),
];

/// The roles that may call `method` (a gRPC path `/package.Service/Method`); `None` when the
/// method has no row, which the authorization layer refuses.
pub(crate) fn roles_for(method: &str) -> Option<&'static [Role]> {
    POLICY
        .iter()
        .find(|(path, _)| *path == method)
        .map(|(_, roles)| *roles)
}

/// Whether `caller` can possibly hold `role` judging by the transport alone (the admin, agent
/// and downstream roles then need a lookup, done by the authorization layer).
pub(crate) fn transport_admits(role: Role, caller: &Caller) -> bool {
    match role {
        Role::Any => true,
        Role::Local => caller.is_local(),
        Role::Admin | Role::Agent | Role::Downstream => caller.spiffe_id().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (path, roles) in POLICY {
            assert!(seen.insert(*path), "duplicate row {path}");
            assert!(path.starts_with('/') && path[1..].contains('/'), "{path}");
            assert!(!roles.is_empty(), "{path} has no role");
        }
    }

    #[test]
    fn unknown_methods_have_no_row() {
        assert_eq!(roles_for("/spire.api.server.entry.v1.Entry/DropAll"), None);
        assert_eq!(
            roles_for("/spire.api.server.agent.v1.Agent/AttestAgent"),
            Some(&[Role::Any][..])
        );
    }

    #[test]
    fn every_generated_server_method_has_a_row() {
        // Each service's generated NAME plus its method names; a method the protos define
        // but this table lacks would be refused for everyone.
        use spire_api_proto::server;
        let services = [
            server::agent::v1::agent_server::SERVICE_NAME,
            server::bundle::v1::bundle_server::SERVICE_NAME,
            server::debug::v1::debug_server::SERVICE_NAME,
            server::entry::v1::entry_server::SERVICE_NAME,
            server::localauthority::v1::local_authority_server::SERVICE_NAME,
            server::logger::v1::logger_server::SERVICE_NAME,
            server::svid::v1::svid_server::SERVICE_NAME,
            server::trustdomain::v1::trust_domain_server::SERVICE_NAME,
        ];
        for service in services {
            let rows = POLICY
                .iter()
                .filter(|(path, _)| path.starts_with(&format!("/{service}/")))
                .count();
            assert!(rows > 0, "no policy rows for {service}");
        }
        assert_eq!(POLICY.len(), 65);
    }
}
