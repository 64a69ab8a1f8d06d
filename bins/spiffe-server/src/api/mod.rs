//! SPIRE's server APIs, one module per service (`spire.api.server.<service>.v1`), each with
//! its request checks and datastore calls side by side. Who may call what is decided before a
//! handler runs, by [`crate::authz`]; a handler reads the [`Caller`](crate::caller::Caller)
//! and the [`Authorized`](crate::caller::Authorized) role from the request's extensions.
//!
//! Every RPC the protos define and no module implements answers UNIMPLEMENTED (the generated
//! traits' default), e.g. the WIT-SVID RPCs.

pub(crate) mod agent;
pub(crate) mod bundle;
pub(crate) mod debug;
pub(crate) mod entry;
pub(crate) mod localauthority;
pub(crate) mod status;
pub(crate) mod svid;
pub(crate) mod trustdomain;

use std::sync::Arc;

use spire_api_proto::server;
use tonic::service::Routes;

use crate::context::ServerContext;

/// Which listener the routes are for: SPIRE serves Debug, Logger and Health only on the admin
/// Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The agent- and admin-facing TCP listener (TLS).
    Tcp,
    /// The admin Unix socket.
    Unix,
}

/// The API services for one listener. Authorization is a separate layer applied around them
/// by the runtime ([`crate::authz::AuthorizeLayer`]).
pub fn routes(ctx: &Arc<ServerContext>, listener: Listener) -> Routes {
    let mut routes = Routes::default()
        .add_service(server::agent::v1::agent_server::AgentServer::new(
            agent::AgentService::new(ctx.clone()),
        ))
        .add_service(server::bundle::v1::bundle_server::BundleServer::new(
            bundle::BundleService::new(ctx.clone()),
        ))
        .add_service(server::entry::v1::entry_server::EntryServer::new(
            entry::EntryService::new(ctx.clone()),
        ))
        .add_service(server::svid::v1::svid_server::SvidServer::new(
            svid::SvidService::new(ctx.clone()),
        ))
        .add_service(
            server::trustdomain::v1::trust_domain_server::TrustDomainServer::new(
                trustdomain::TrustDomainService::new(ctx.clone()),
            ),
        )
        .add_service(
            server::localauthority::v1::local_authority_server::LocalAuthorityServer::new(
                localauthority::LocalAuthorityService::new(ctx.clone()),
            ),
        );
    if listener == Listener::Unix {
        routes = routes.add_service(server::debug::v1::debug_server::DebugServer::new(
            debug::DebugService::new(ctx.clone()),
        ));
    }
    routes
}
