//! The local authority operations, once for both kinds (X.509 authorities and JWT keys), with
//! SPIRE's checks and texts.
//!
//! SPIRE keeps two slots per kind: the *current* (active) authority and the *next* one, which
//! is either prepared (waiting to be activated) or old (the one the last activation replaced).
//! The CA manager keeps a list; its slots are read as SPIRE's: `next` is the prepared
//! authority if there is one, else the newest old one. Operations name their target by id and
//! are refused unless it is the right slot in the right state. After a change the CA's bundle
//! is published to the datastore ([`super::publish`]) so agents see it.

use spiffe_ca::manager::{AuthorityInfo, AuthorityStatus, ManagerError};
use spire_api_proto::server::localauthority::v1::AuthorityState;
use tonic::Status;

use super::publish::{publish_ca_bundle, Revoked};
use crate::api::status::internal;
use crate::context::ServerContext;

/// X.509 authorities or JWT keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    X509,
    Jwt,
}

/// SPIRE's view of one kind: the active authority and the next one.
pub(super) struct Slots {
    pub(super) active: Option<AuthorityInfo>,
    pub(super) next: Option<AuthorityInfo>,
}

// === impl Kind ===

impl Kind {
    /// SPIRE's name in messages.
    fn name(self) -> &'static str {
        match self {
            Kind::X509 => "X.509 authority",
            Kind::Jwt => "JWT authority",
        }
    }

    fn slots(self, ctx: &ServerContext) -> Slots {
        let authorities = match self {
            Kind::X509 => ctx.ca.x509_authorities(),
            Kind::Jwt => ctx.ca.jwt_authorities(),
        };
        let find = |status| {
            authorities
                .iter()
                .rev()
                .find(|a| a.status == status)
                .cloned()
        };
        Slots {
            active: find(AuthorityStatus::Active),
            next: find(AuthorityStatus::Prepared).or_else(|| find(AuthorityStatus::Old)),
        }
    }

    /// Refused under an upstream authority (X.509 only; SPIRE's text ends with `operation`).
    fn refuse_under_upstream(self, ctx: &ServerContext, operation: &str) -> Result<(), Status> {
        if self == Kind::X509 && ctx.ca.config().upstream().is_some() {
            return Err(Status::failed_precondition(format!(
                "local authority can't be {operation} if there is an upstream authority"
            )));
        }
        Ok(())
    }
}

/// The state SPIRE reports of an authority.
pub(super) fn state(info: &AuthorityInfo) -> AuthorityState {
    AuthorityState {
        authority_id: info.id.clone(),
        expires_at: i64::try_from(info.not_after.as_secs()).unwrap_or(i64::MAX),
        // Under an upstream authority (X.509 only), the upstream root it chains to.
        upstream_authority_subject_key_id: info.upstream_authority_id.clone().unwrap_or_default(),
    }
}

/// `Get*AuthorityState`: active, prepared, old.
pub(super) fn get_state(
    ctx: &ServerContext,
    kind: Kind,
) -> Result<
    (
        AuthorityState,
        Option<AuthorityState>,
        Option<AuthorityState>,
    ),
    Status,
> {
    let slots = kind.slots(ctx);
    let active = slots
        .active
        .ok_or_else(|| Status::unavailable("server is initializing"))?;
    let (mut prepared, mut old) = (None, None);
    if let Some(next) = &slots.next {
        match next.status {
            AuthorityStatus::Prepared => prepared = Some(state(next)),
            _ => old = Some(state(next)),
        }
    }
    Ok((state(&active), prepared, old))
}

/// `Prepare*Authority`.
pub(super) async fn prepare(ctx: &ServerContext, kind: Kind) -> Result<AuthorityState, Status> {
    if kind.slots(ctx).active.is_none() {
        return Err(Status::unavailable("server is initializing"));
    }
    let prepared = match kind {
        Kind::X509 => ctx.ca.prepare_x509().await,
        Kind::Jwt => ctx.ca.prepare_jwt().await,
    }
    .map_err(|e| internal(&format!("failed to prepare {}", kind.name()), &e))?;
    publish(ctx, None).await?;
    Ok(state(&prepared))
}

/// `Activate*Authority`: only the prepared authority, named by its id.
pub(super) async fn activate(
    ctx: &ServerContext,
    kind: Kind,
    id: &str,
) -> Result<AuthorityState, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument("no authority ID provided"));
    }
    let next = kind.slots(ctx).next;
    let Some(next) = next.filter(|next| next.id == id) else {
        return Err(Status::invalid_argument("unexpected authority ID"));
    };
    if next.status != AuthorityStatus::Prepared {
        return Err(Status::internal(format!(
            "only Prepared authorities can be activated: unsupported local authority status: {}",
            spire_status(next.status)
        )));
    }
    let activated = match kind {
        Kind::X509 => ctx.ca.activate_x509().await,
        Kind::Jwt => ctx.ca.activate_jwt().await,
    }
    .map_err(|e| internal(&format!("failed to activate {}", kind.name()), &e))?;
    publish(ctx, None).await?;
    Ok(state(&activated))
}

/// `Taint*Authority`: only the old authority, named by its id.
pub(super) async fn taint(
    ctx: &ServerContext,
    kind: Kind,
    id: &str,
) -> Result<AuthorityState, Status> {
    kind.refuse_under_upstream(ctx, "tainted")?;
    if id.is_empty() {
        return Err(Status::invalid_argument("no authority ID provided"));
    }
    let slots = kind.slots(ctx);
    if slots.active.as_ref().is_some_and(|active| active.id == id) {
        return Err(Status::invalid_argument(
            "unable to taint current local authority",
        ));
    }
    let Some(next) = slots.next.filter(|next| next.id == id) else {
        return Err(Status::invalid_argument("unexpected authority ID"));
    };
    if next.status != AuthorityStatus::Old {
        return Err(Status::invalid_argument(format!(
            "only Old local authorities can be tainted: unsupported local authority status: {}",
            spire_status(next.status)
        )));
    }
    let tainted = match kind {
        Kind::X509 => ctx.ca.taint_x509(id).await,
        Kind::Jwt => ctx.ca.taint_jwt(id).await,
    }
    .map_err(|e| internal(&format!("failed to taint {}", kind.name()), &e))?;
    publish(ctx, None).await?;
    tracing::info!(
        local_authority_id = id,
        "{} tainted successfully",
        kind.name()
    );
    Ok(match kind {
        Kind::X509 => state(&tainted),
        // SPIRE's answer for a JWT key names it only.
        Kind::Jwt => AuthorityState {
            authority_id: tainted.id,
            ..AuthorityState::default()
        },
    })
}

/// `Revoke*Authority`: a tainted authority leaves the bundle.
pub(super) async fn revoke(
    ctx: &ServerContext,
    kind: Kind,
    id: &str,
) -> Result<AuthorityState, Status> {
    kind.refuse_under_upstream(ctx, "revoked")?;
    check_revocable(ctx, kind, id)
        .await
        .map_err(|reason| Status::invalid_argument(format!("invalid authority ID: {reason}")))?;
    let result = match kind {
        Kind::X509 => ctx.ca.revoke_x509(id).await,
        Kind::Jwt => ctx.ca.revoke_jwt(id).await,
    };
    result.map_err(|e: ManagerError| internal(&format!("failed to revoke {}", kind.name()), &e))?;
    let revoked = match kind {
        Kind::X509 => Revoked::X509(id),
        Kind::Jwt => Revoked::Jwt(id),
    };
    publish(ctx, Some(revoked)).await?;
    tracing::info!(
        local_authority_id = id,
        "{} revoked successfully",
        kind.name()
    );
    Ok(AuthorityState {
        authority_id: id.to_owned(),
        ..AuthorityState::default()
    })
}

/// SPIRE's checks before a revocation; the error is the text after "invalid authority ID: ".
async fn check_revocable(ctx: &ServerContext, kind: Kind, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("no authority ID provided".into());
    }
    let slots = kind.slots(ctx);
    let is_active = slots.active.as_ref().is_some_and(|active| active.id == id);
    match kind {
        Kind::X509 => {
            if is_active {
                return Err("unable to use current authority".into());
            }
            match slots.next {
                Some(next) if next.id == id && next.status == AuthorityStatus::Old => Ok(()),
                _ => Err("only Old local authority can be revoked".into()),
            }
        }
        // A JWT key: the old one, or any other the stored bundle holds.
        Kind::Jwt => {
            if let Some(next) = slots.next.filter(|next| next.id == id) {
                return match next.status {
                    AuthorityStatus::Prepared => Err("unable to use a prepared key".into()),
                    _ => Ok(()),
                };
            }
            if is_active {
                return Err("unable to use current authority".into());
            }
            let stored = ctx
                .datastore
                .get_bundle(&ctx.settings.trust_domain)
                .await
                .map_err(|e| e.to_string())?;
            match stored.is_some_and(|b| b.jwt_authorities.iter().any(|k| k.key_id == id)) {
                true => Ok(()),
                false => Err("no JWT authority found with provided authority ID".into()),
            }
        }
    }
}

async fn publish(ctx: &ServerContext, revoked: Option<Revoked<'_>>) -> Result<(), Status> {
    publish_ca_bundle(ctx, revoked)
        .await
        .map(|_| ())
        .map_err(|e| internal("failed to publish the trust bundle", &e))
}

/// SPIRE's journal status names.
fn spire_status(status: AuthorityStatus) -> &'static str {
    match status {
        AuthorityStatus::Prepared => "PREPARED",
        AuthorityStatus::Active => "ACTIVE",
        AuthorityStatus::Old => "OLD",
        _ => "UNKNOWN",
    }
}
