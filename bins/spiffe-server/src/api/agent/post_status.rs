//! `PostStatus`: the calling agent reports its version (and the bundle serial it holds, which
//! SPIRE ignores too).
//!
//! SPIRE records a non-empty `agent_version` on the agent's record. The datastore has no field
//! for it yet, so the version is checked as SPIRE checks it and logged, not stored.

use spire_api_proto::server::agent::v1::{PostStatusRequest, PostStatusResponse};
use tonic::{Request, Response, Status};

use crate::caller::Caller;
use crate::context::ServerContext;

/// SPIRE's limit on `agent_version`.
const MAX_AGENT_VERSION_LEN: usize = 255;

/// `PostStatus`.
pub(super) async fn post_status(
    _ctx: &ServerContext,
    request: Request<PostStatusRequest>,
) -> Result<Response<PostStatusResponse>, Status> {
    let caller = Caller::of(&request);
    let Some(agent_id) = caller.spiffe_id().cloned() else {
        return Err(Status::internal("caller ID missing from request context"));
    };
    let version = request.into_inner().agent_version;
    if version.len() > MAX_AGENT_VERSION_LEN {
        return Err(Status::invalid_argument(
            "agent version is too long (max 255 characters)",
        ));
    }
    if !version.is_empty() {
        tracing::debug!(agent_id = %agent_id, agent_version = %version, "Agent status updated");
    }
    Ok(Response::new(PostStatusResponse {}))
}
