//! `spire.api.server.svid.v1.SVID`: minting X.509- and JWT-SVIDs for agents and operators.
//!
//! - [`batch`]: `BatchNewX509SVID`, an agent's CSRs for the entries it is authorized for.
//! - [`jwt`]: `NewJWTSVID` (agents, by entry) and `MintJWTSVID` (admins, by SPIFFE ID).
//! - [`mint`]: `MintX509SVID` (admins: the SPIFFE ID and DNS names the CSR requests).
//!
//! - [`downstream`]: `NewDownstreamX509CA`, a nested server's CA signed by this one.
//!
//! The WIT-SVID RPCs answer UNIMPLEMENTED.

mod batch;
mod downstream;
mod ids;
mod jwt;
mod mint;

use std::sync::Arc;

use spire_api_proto::server::svid::v1::svid_server::Svid;
use spire_api_proto::server::svid::v1::{
    BatchNewX509svidRequest, BatchNewX509svidResponse, MintJwtsvidRequest, MintJwtsvidResponse,
    MintX509svidRequest, MintX509svidResponse, NewDownstreamX509caRequest,
    NewDownstreamX509caResponse, NewJwtsvidRequest, NewJwtsvidResponse,
};
use tonic::{Request, Response, Status};

use crate::context::ServerContext;

/// `spire.api.server.svid.v1.SVID`: minting X.509- and JWT-SVIDs for agents and operators.
#[derive(Debug)]
pub(crate) struct SvidService {
    ctx: Arc<ServerContext>,
}

impl SvidService {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Svid for SvidService {
    async fn mint_x509svid(
        &self,
        request: Request<MintX509svidRequest>,
    ) -> Result<Response<MintX509svidResponse>, Status> {
        mint::mint_x509_svid(&self.ctx, request).await
    }

    async fn mint_jwtsvid(
        &self,
        request: Request<MintJwtsvidRequest>,
    ) -> Result<Response<MintJwtsvidResponse>, Status> {
        jwt::mint_jwt_svid(&self.ctx, request).await
    }

    async fn batch_new_x509svid(
        &self,
        request: Request<BatchNewX509svidRequest>,
    ) -> Result<Response<BatchNewX509svidResponse>, Status> {
        batch::batch_new_x509_svid(&self.ctx, request).await
    }

    async fn new_jwtsvid(
        &self,
        request: Request<NewJwtsvidRequest>,
    ) -> Result<Response<NewJwtsvidResponse>, Status> {
        jwt::new_jwt_svid(&self.ctx, request).await
    }

    async fn new_downstream_x509ca(
        &self,
        request: Request<NewDownstreamX509caRequest>,
    ) -> Result<Response<NewDownstreamX509caResponse>, Status> {
        downstream::new_downstream_x509_ca(&self.ctx, request).await
    }
}
