//! Whether a caller holds a role: the lookups behind admin, agent and downstream.

use spiffe_core::SpiffeId;
use spire_api_proto::types::permission_denied_details::Reason;
use tonic::Status;

use super::{roles_for, transport_admits};
use crate::api::status;
use crate::caller::{Caller, Role};
use crate::context::ServerContext;
use crate::datastore::NodeMask;

/// The first role of `method`'s row that `caller` holds, or the status refusing the call.
/// A refusal from the agent check (expired, banned, not active) carries SPIRE's
/// `PermissionDeniedDetails` when the agent role is the only one that could have applied.
pub(crate) async fn decide(
    ctx: &ServerContext,
    method: &str,
    caller: &Caller,
) -> Result<Role, Status> {
    let Some(roles) = roles_for(method) else {
        return Err(Status::permission_denied(format!(
            "authorization denied for method {method}: no policy"
        )));
    };
    let mut agent_refusal = None;
    for &role in roles {
        if !transport_admits(role, caller) {
            continue;
        }
        let held = match role {
            Role::Any | Role::Local => Ok(true),
            Role::Admin => Ok(caller.spiffe_id().is_some_and(|id| is_admin(ctx, id))),
            Role::Downstream => Ok(caller.spiffe_id().is_some_and(|id| {
                ctx.cache
                    .entries_with_spiffe_id(id)
                    .iter()
                    .any(|e| e.downstream())
            })),
            Role::Agent => is_active_agent(ctx, caller).await,
        };
        match held {
            Ok(true) => return Ok(role),
            Ok(false) => {}
            Err(refusal) => agent_refusal = Some(refusal),
        }
    }
    Err(agent_refusal.unwrap_or_else(|| {
        Status::permission_denied(format!("authorization denied for method {method}"))
    }))
}

/// `admin_ids` or an entry marked `admin` for this SPIFFE ID.
fn is_admin(ctx: &ServerContext, id: &SpiffeId) -> bool {
    ctx.settings.admin_ids.contains(id)
        || ctx
            .cache
            .entries_with_spiffe_id(id)
            .iter()
            .any(|e| e.admin())
}

/// SPIRE's agent check: the caller's SVID is unexpired, its node is attested and not banned,
/// and the certificate is the node's current one, or the one its last renewal issued (which
/// then becomes current). `Ok(false)` when the caller is not an agent at all.
async fn is_active_agent(ctx: &ServerContext, caller: &Caller) -> Result<bool, Status> {
    let Caller::Tls {
        spiffe_id: Some(id),
        serial,
        not_after,
        ..
    } = caller
    else {
        return Ok(false);
    };
    if !is_agent_path(id, &ctx.settings.trust_domain) {
        return Ok(false);
    }
    let now = ctx.clock.now().as_secs();
    if not_after.is_some_and(|t| now > t) {
        return Err(status::agent_denied(
            Reason::AgentExpired,
            format!("agent {id:?} SVID is expired"),
        ));
    }
    let serial = serial.as_deref().unwrap_or_default();
    if let Some(node) = ctx.cache.node(id) {
        if !node.banned && node.cert_serial_number.as_deref() == Some(serial) {
            return Ok(true);
        }
    }
    // Not decidable from the cache (new, renewed or banned meanwhile): ask the datastore.
    let node = ctx
        .datastore
        .get_node(id)
        .await
        .map_err(|e| status::datastore(&e))?;
    let Some(node) = node else {
        return Err(status::agent_denied(
            Reason::AgentNotAttested,
            format!("agent {:?} is not attested", id.as_str()),
        ));
    };
    if node.banned || node.cert_serial_number.is_none() {
        return Err(status::agent_denied(
            Reason::AgentBanned,
            format!("agent {:?} is banned", id.as_str()),
        ));
    }
    if node.cert_serial_number.as_deref() == Some(serial) {
        return Ok(true);
    }
    if node.new_cert_serial_number.as_deref() == Some(serial) {
        // The agent uses the SVID its last renewal issued: make it the current one.
        let mut promoted = node.clone();
        promoted.cert_serial_number = node.new_cert_serial_number.clone();
        promoted.cert_not_after = node.new_cert_not_after;
        promoted.new_cert_serial_number = None;
        promoted.new_cert_not_after = None;
        let mask = NodeMask {
            cert_serial_number: true,
            cert_not_after: true,
            new_cert_serial_number: true,
            new_cert_not_after: true,
            ..NodeMask::default()
        };
        ctx.datastore
            .update_node(promoted, mask)
            .await
            .map_err(|e| status::datastore(&e))?;
        if let Err(e) = ctx.cache.refresh().await {
            tracing::warn!(error = %status::chain(&e), "entry cache refresh failed");
        }
        return Ok(true);
    }
    Err(status::agent_denied(
        Reason::AgentNotActive,
        format!(
            "agent {:?} expected to have serial number {:?}; has {:?}",
            id.as_str(),
            node.cert_serial_number.as_deref().unwrap_or_default(),
            serial
        ),
    ))
}

/// Whether `id` is an agent ID of `trust_domain` (`spiffe://<td>/spire/agent/...`).
pub(crate) fn is_agent_path(id: &SpiffeId, trust_domain: &spiffe_core::TrustDomain) -> bool {
    &id.trust_domain() == trust_domain && id.path().starts_with("/spire/agent/")
}
