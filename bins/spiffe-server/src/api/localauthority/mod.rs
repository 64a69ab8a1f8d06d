//! `spire.api.server.localauthority.v1.LocalAuthority`: manual rotation of the server's X.509
//! and JWT authorities (get state, prepare, activate, taint, revoke), on this server's CA.
//!
//! The operations, shared by both kinds, are in [`authority`]; publishing the changed bundle
//! to the datastore in [`publish`]. Under an upstream authority, X.509 taint and revoke act on
//! the upstream root (`TaintX509UpstreamAuthority`, `RevokeX509UpstreamAuthority`); without one
//! those answer FAILED_PRECONDITION as SPIRE does. The WIT RPCs answer UNIMPLEMENTED.

mod authority;
pub(crate) mod publish;

use std::sync::Arc;

use spire_api_proto::server::localauthority::v1::local_authority_server::LocalAuthority;
use spire_api_proto::server::localauthority::v1::*;
use tonic::{Request, Response, Status};

use authority::Kind;

use crate::context::ServerContext;

/// `spire.api.server.localauthority.v1.LocalAuthority`: manual CA rotation.
#[derive(Debug)]
pub(crate) struct LocalAuthorityService {
    ctx: Arc<ServerContext>,
}

impl LocalAuthorityService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }

    /// `TaintX509UpstreamAuthority` / `RevokeX509UpstreamAuthority`: FAILED_PRECONDITION
    /// without an upstream authority (SPIRE's answer); else the CA manager taints (or revokes)
    /// the upstream root by its subject key id, and the stored bundle follows.
    async fn upstream_operation(&self, id: &str, revoke: bool) -> Result<String, Status> {
        use spiffe_ca::manager::ManagerError;
        if self.ctx.ca.config().upstream().is_none() {
            return Err(Status::failed_precondition(
                "upstream authority is not configured",
            ));
        }
        if id.is_empty() {
            return Err(Status::invalid_argument("no subject key ID provided"));
        }
        let (verb, result) = if revoke {
            ("revoke", self.ctx.ca.revoke_x509_upstream(id).await)
        } else {
            ("taint", self.ctx.ca.taint_x509_upstream(id).await)
        };
        let info = result.map_err(|e| match e {
            ManagerError::UnknownAuthority { .. }
            | ManagerError::AlreadyTainted { .. }
            | ManagerError::NotTainted { .. }
            | ManagerError::UpstreamRootDistrusted { .. } => Status::invalid_argument(format!(
                "failed to {verb} upstream authority: {}",
                crate::api::status::chain(&e)
            )),
            other => crate::api::status::internal(
                &format!("failed to {verb} upstream authority"),
                &other,
            ),
        })?;
        let revoked = revoke.then_some(publish::Revoked::X509(info.id.as_str()));
        publish::publish_ca_bundle(&self.ctx, revoked)
            .await
            .map_err(|e| crate::api::status::internal("failed to publish the trust bundle", &e))?;
        tracing::info!(subject_key_id = %info.id, "X.509 upstream authority {verb}ed successfully");
        Ok(info.id)
    }
}

#[tonic::async_trait]
impl LocalAuthority for LocalAuthorityService {
    async fn get_jwt_authority_state(
        &self,
        _request: Request<GetJwtAuthorityStateRequest>,
    ) -> Result<Response<GetJwtAuthorityStateResponse>, Status> {
        let (active, prepared, old) = authority::get_state(&self.ctx, Kind::Jwt)?;
        Ok(Response::new(GetJwtAuthorityStateResponse {
            active: Some(active),
            prepared,
            old,
        }))
    }

    async fn prepare_jwt_authority(
        &self,
        _request: Request<PrepareJwtAuthorityRequest>,
    ) -> Result<Response<PrepareJwtAuthorityResponse>, Status> {
        let prepared = authority::prepare(&self.ctx, Kind::Jwt).await?;
        Ok(Response::new(PrepareJwtAuthorityResponse {
            prepared_authority: Some(prepared),
        }))
    }

    async fn activate_jwt_authority(
        &self,
        request: Request<ActivateJwtAuthorityRequest>,
    ) -> Result<Response<ActivateJwtAuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let activated = authority::activate(&self.ctx, Kind::Jwt, id).await?;
        Ok(Response::new(ActivateJwtAuthorityResponse {
            activated_authority: Some(activated),
        }))
    }

    async fn taint_jwt_authority(
        &self,
        request: Request<TaintJwtAuthorityRequest>,
    ) -> Result<Response<TaintJwtAuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let tainted = authority::taint(&self.ctx, Kind::Jwt, id).await?;
        Ok(Response::new(TaintJwtAuthorityResponse {
            tainted_authority: Some(tainted),
        }))
    }

    async fn revoke_jwt_authority(
        &self,
        request: Request<RevokeJwtAuthorityRequest>,
    ) -> Result<Response<RevokeJwtAuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let revoked = authority::revoke(&self.ctx, Kind::Jwt, id).await?;
        Ok(Response::new(RevokeJwtAuthorityResponse {
            revoked_authority: Some(revoked),
        }))
    }

    async fn get_x509_authority_state(
        &self,
        _request: Request<GetX509AuthorityStateRequest>,
    ) -> Result<Response<GetX509AuthorityStateResponse>, Status> {
        let (active, prepared, old) = authority::get_state(&self.ctx, Kind::X509)?;
        Ok(Response::new(GetX509AuthorityStateResponse {
            active: Some(active),
            prepared,
            old,
        }))
    }

    async fn prepare_x509_authority(
        &self,
        _request: Request<PrepareX509AuthorityRequest>,
    ) -> Result<Response<PrepareX509AuthorityResponse>, Status> {
        let prepared = authority::prepare(&self.ctx, Kind::X509).await?;
        Ok(Response::new(PrepareX509AuthorityResponse {
            prepared_authority: Some(prepared),
        }))
    }

    async fn activate_x509_authority(
        &self,
        request: Request<ActivateX509AuthorityRequest>,
    ) -> Result<Response<ActivateX509AuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let activated = authority::activate(&self.ctx, Kind::X509, id).await?;
        Ok(Response::new(ActivateX509AuthorityResponse {
            activated_authority: Some(activated),
        }))
    }

    async fn taint_x509_authority(
        &self,
        request: Request<TaintX509AuthorityRequest>,
    ) -> Result<Response<TaintX509AuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let tainted = authority::taint(&self.ctx, Kind::X509, id).await?;
        Ok(Response::new(TaintX509AuthorityResponse {
            tainted_authority: Some(tainted),
        }))
    }

    async fn taint_x509_upstream_authority(
        &self,
        request: Request<TaintX509UpstreamAuthorityRequest>,
    ) -> Result<Response<TaintX509UpstreamAuthorityResponse>, Status> {
        let id = self
            .upstream_operation(&request.get_ref().subject_key_id, false)
            .await?;
        Ok(Response::new(TaintX509UpstreamAuthorityResponse {
            upstream_authority_subject_key_id: id,
        }))
    }

    async fn revoke_x509_authority(
        &self,
        request: Request<RevokeX509AuthorityRequest>,
    ) -> Result<Response<RevokeX509AuthorityResponse>, Status> {
        let id = &request.get_ref().authority_id;
        let revoked = authority::revoke(&self.ctx, Kind::X509, id).await?;
        Ok(Response::new(RevokeX509AuthorityResponse {
            revoked_authority: Some(revoked),
        }))
    }

    async fn revoke_x509_upstream_authority(
        &self,
        request: Request<RevokeX509UpstreamAuthorityRequest>,
    ) -> Result<Response<RevokeX509UpstreamAuthorityResponse>, Status> {
        let id = self
            .upstream_operation(&request.get_ref().subject_key_id, true)
            .await?;
        Ok(Response::new(RevokeX509UpstreamAuthorityResponse {
            upstream_authority_subject_key_id: id,
        }))
    }
}
