//! The Agent service's admin RPCs: `CountAgents`, `ListAgents`, `GetAgent`, `BanAgent`,
//! `DeleteAgent`, `CreateJoinToken`, with SPIRE's checks, texts and status codes.
//!
//! Agent records are read from the datastore (so an operator sees every server's writes);
//! after a ban or a delete the entry cache is refreshed so the authorization layer refuses the
//! agent at once on this server.

use spiffe_attest::node::join_token::{JoinToken, JoinTokenError};
use spiffe_attest::{RegistrationEntry, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};
use spire_api_proto::convert::{selector_from_proto, selector_to_proto, spiffe_id_to_proto};
use spire_api_proto::server::agent::v1::{
    count_agents_request, list_agents_request, BanAgentRequest, CountAgentsRequest,
    CountAgentsResponse, CreateJoinTokenRequest, DeleteAgentRequest, GetAgentRequest,
    ListAgentsRequest, ListAgentsResponse,
};
use spire_api_proto::types;
use tonic::{Request, Response, Status};

use super::expires_before;
use crate::api::entry::{member_id, page_request};
use crate::api::status::{chain, internal};
use crate::authz::is_agent_path;
use crate::context::ServerContext;
use crate::datastore::{
    new_entry_id, AttestedNode, DataStoreError, MatchBehavior, NodeFilter, SelectorMatch,
};

/// The filter fields `CountAgentsRequest.Filter` and `ListAgentsRequest.Filter` share.
struct FilterFields<'a> {
    by_attestation_type: &'a str,
    by_selector_match: Option<&'a types::SelectorMatch>,
    by_banned: Option<bool>,
    by_can_reattest: Option<bool>,
    by_expires_before: &'a str,
}

/// `CountAgents`.
pub(super) async fn count_agents(
    ctx: &ServerContext,
    request: Request<CountAgentsRequest>,
) -> Result<Response<CountAgentsResponse>, Status> {
    let filter = match &request.get_ref().filter {
        Some(f) => node_filter(count_fields(f))?,
        None => NodeFilter::default(),
    };
    let count = ctx
        .datastore
        .count_nodes(&filter)
        .await
        .map_err(|e| internal("failed to count agents", &e))?;
    Ok(Response::new(CountAgentsResponse {
        count: i32::try_from(count).unwrap_or(i32::MAX),
    }))
}

/// `ListAgents`: a page when `page_size > 0`, everything otherwise.
pub(super) async fn list_agents(
    ctx: &ServerContext,
    request: Request<ListAgentsRequest>,
) -> Result<Response<ListAgentsResponse>, Status> {
    let request = request.into_inner();
    let filter = match &request.filter {
        Some(f) => node_filter(list_fields(f))?,
        None => NodeFilter::default(),
    };
    let page = page_request(request.page_size, &request.page_token);
    let page = ctx
        .datastore
        .list_nodes(&filter, &page)
        .await
        .map_err(|e| match e {
            DataStoreError::InvalidArgument { .. } => crate::api::status::datastore(&e),
            e => internal("failed to list agents", &e),
        })?;
    let agents = page
        .items
        .iter()
        .map(|node| agent_message(node, request.output_mask.as_ref()))
        .collect();
    Ok(Response::new(ListAgentsResponse {
        agents,
        next_page_token: page.next.map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }))
}

/// `GetAgent`.
pub(super) async fn get_agent(
    ctx: &ServerContext,
    request: Request<GetAgentRequest>,
) -> Result<Response<types::Agent>, Status> {
    let request = request.into_inner();
    let id = agent_id(&ctx.settings.trust_domain, request.id.as_ref())?;
    let node = ctx
        .datastore
        .get_node(&id)
        .await
        .map_err(|e| internal("failed to fetch agent", &e))?
        .ok_or_else(|| Status::not_found("agent not found"))?;
    Ok(Response::new(agent_message(
        &node,
        request.output_mask.as_ref(),
    )))
}

/// `BanAgent`: the agent can neither renew nor re-attest until its record is deleted.
pub(super) async fn ban_agent(
    ctx: &ServerContext,
    request: Request<BanAgentRequest>,
) -> Result<Response<()>, Status> {
    let id = agent_id(&ctx.settings.trust_domain, request.get_ref().id.as_ref())?;
    match ctx.datastore.ban_node(&id).await {
        Ok(_) => {
            tracing::info!(spiffe_id = %id, "Agent banned");
            refresh(ctx).await;
            Ok(Response::new(()))
        }
        Err(DataStoreError::NotFound { .. }) => Err(Status::not_found("agent not found")),
        Err(e) => Err(internal("failed to ban agent", &e)),
    }
}

/// `DeleteAgent`: the agent may attest again afterwards. As SPIRE, deleting an agent attested
/// by a join token also deletes the alias entries `CreateJoinToken` made for it (parent: the
/// agent; one selector, `spiffe_id:<the agent>`); other entries under the agent stay.
pub(super) async fn delete_agent(
    ctx: &ServerContext,
    request: Request<DeleteAgentRequest>,
) -> Result<Response<()>, Status> {
    let id = agent_id(&ctx.settings.trust_domain, request.get_ref().id.as_ref())?;
    let node = ctx
        .datastore
        .get_node(&id)
        .await
        .map_err(|e| internal("failed to remove agent", &e))?
        .ok_or_else(|| Status::not_found("agent not found"))?;
    match ctx.datastore.delete_node(&id).await {
        Ok(()) => tracing::info!(spiffe_id = %id, "Agent deleted"),
        Err(DataStoreError::NotFound { .. }) => return Err(Status::not_found("agent not found")),
        Err(e) => return Err(internal("failed to remove agent", &e)),
    }
    if node.attestation_type == JOIN_TOKEN {
        // Not in the node's transaction (SPIRE's datastore does both in one): a failure here
        // leaves the alias entries, which grant nothing without the node, and is logged.
        if let Err(e) = delete_alias_entries(ctx, &id).await {
            tracing::error!(spiffe_id = %id, error = %chain(&e), "Unable to delete the join token alias entries of a deleted agent");
        }
    }
    refresh(ctx).await;
    Ok(Response::new(()))
}

/// The join token node attestor's name (its agents' `attestation_type`).
const JOIN_TOKEN: &str = "join_token";

/// Deletes the entries shaped like `CreateJoinToken`'s alias of agent `id`.
async fn delete_alias_entries(ctx: &ServerContext, id: &SpiffeId) -> Result<(), DataStoreError> {
    let filter = crate::datastore::EntryFilter {
        by_parent_id: Some(id.clone()),
        ..Default::default()
    };
    let alias = Selector::new("spiffe_id", id.as_str()).ok();
    let mut page = crate::datastore::PageRequest::first(1_000);
    let mut doomed = Vec::new();
    loop {
        let found = ctx.datastore.list_entries(&filter, &page).await?;
        doomed.extend(
            found
                .items
                .iter()
                .filter(|e| {
                    alias
                        .as_ref()
                        .is_some_and(|a| e.selectors() == std::slice::from_ref(a))
                })
                .map(|e| e.id().clone()),
        );
        match found.next {
            Some(next) if !found.items.is_empty() => {
                page = crate::datastore::PageRequest::after(1_000, next);
            }
            _ => break,
        }
    }
    if doomed.is_empty() {
        return Ok(());
    }
    for (entry_id, result) in doomed
        .clone()
        .iter()
        .zip(ctx.datastore.delete_entries(doomed).await?)
    {
        match result {
            Ok(()) | Err(DataStoreError::NotFound { .. }) => {
                tracing::info!(spiffe_id = %id, entry_id = %entry_id.as_str(), "Cascade-deleted registration entry on attested node deletion");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `CreateJoinToken`: a token valid for `ttl` seconds (the operator's, or a fresh UUID v4 as
/// SPIRE makes one) and, with `agent_id`, SPIRE's alias entry giving the agent that attests
/// with the token the SPIFFE ID `agent_id` as well (parent: the token's agent ID; selector:
/// `spiffe_id:<that agent ID>`).
pub(super) async fn create_join_token(
    ctx: &ServerContext,
    request: Request<CreateJoinTokenRequest>,
) -> Result<Response<types::JoinToken>, Status> {
    let request = request.into_inner();
    if request.ttl < 1 {
        return Err(Status::invalid_argument(
            "ttl is required, you must provide one",
        ));
    }
    let td = &ctx.settings.trust_domain;
    // Checked before the token is stored, so a bad request stores nothing.
    let alias = match &request.agent_id {
        Some(id) => Some(
            member_id(td, id, true)
                .map_err(|e| Status::invalid_argument(format!("invalid agent ID: {e}")))?,
        ),
        None => None,
    };
    let token = if request.token.is_empty() {
        JoinToken::generate().map_err(|e| internal("failed to generate token UUID", &e))?
    } else {
        JoinToken::new(&request.token).map_err(|e| {
            Status::invalid_argument(format!("invalid token: {}", token_problem(&e)))
        })?
    };
    let now = ctx.clock.now().as_secs();
    let expires_secs = now.saturating_add(u64::from(request.ttl.unsigned_abs()));
    let expires_at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(expires_secs));
    match ctx.datastore.create_join_token(&token, expires_at).await {
        Ok(()) => {}
        Err(DataStoreError::AlreadyExists { .. }) => {
            return Err(Status::already_exists(
                "failed to create token: join token already exists",
            ))
        }
        Err(e) => return Err(internal("failed to create token", &e)),
    }
    if let Some(alias) = alias {
        create_alias_entry(ctx, td, &token, alias).await?;
    }
    Ok(Response::new(types::JoinToken {
        value: token.expose().to_owned(),
        expires_at: i64::try_from(expires_secs).unwrap_or(i64::MAX),
    }))
}

async fn create_alias_entry(
    ctx: &ServerContext,
    td: &TrustDomain,
    token: &JoinToken,
    alias: SpiffeId,
) -> Result<(), Status> {
    let failed =
        |e: &dyn std::error::Error| internal("failed to create join token registration entry", e);
    let parent = SpiffeId::from_segments(td, ["spire", "agent", JOIN_TOKEN, token.expose()])
        .map_err(|e| failed(&e))?;
    let selector = Selector::new("spiffe_id", parent.as_str()).map_err(|e| failed(&e))?;
    let entry = RegistrationEntry::builder(new_entry_id().map_err(|e| failed(&e))?, alias, parent)
        .selector(selector)
        .build()
        .map_err(|e| failed(&e))?;
    let mut created = ctx
        .datastore
        .create_entries(vec![entry])
        .await
        .map_err(|e| failed(&e))?;
    match created.pop() {
        Some(Ok(_)) => {
            refresh(ctx).await;
            Ok(())
        }
        Some(Err(e)) => Err(failed(&e)),
        None => Err(Status::internal(
            "failed to create join token registration entry",
        )),
    }
}

/// What is wrong with an operator's token, without repeating it.
fn token_problem(err: &JoinTokenError) -> String {
    match err {
        JoinTokenError::TooLong { max, .. } => format!("longer than {max} bytes"),
        _ => "it becomes a SPIFFE ID path segment: only letters, digits, '.', '-' and '_', not '.' or '..'".into(),
    }
}

/// An agent's SPIFFE ID from a request (SPIRE's `TrustDomainAgentIDFromProto`).
fn agent_id(td: &TrustDomain, id: Option<&types::Spiffeid>) -> Result<SpiffeId, Status> {
    let Some(id) = id else {
        return Err(Status::invalid_argument(
            "invalid agent ID: request must specify SPIFFE ID",
        ));
    };
    let id = member_id(td, id, false)
        .map_err(|e| Status::invalid_argument(format!("invalid agent ID: {e}")))?;
    if !is_agent_path(&id, td) {
        return Err(Status::invalid_argument(format!(
            "invalid agent ID: \"{id}\" is not an agent in trust domain \"{}\"; path is not in the agent namespace",
            td.as_str()
        )));
    }
    Ok(id)
}

fn node_filter(fields: FilterFields<'_>) -> Result<NodeFilter, Status> {
    let mut filter = NodeFilter::default();
    if !fields.by_attestation_type.is_empty() {
        filter.by_attestation_type = Some(fields.by_attestation_type.to_owned());
    }
    filter.by_banned = fields.by_banned;
    filter.by_can_reattest = fields.by_can_reattest;
    if !fields.by_expires_before.is_empty() {
        // SPIRE ignores a value it cannot parse (and lists every agent); refusing it is safer.
        filter.by_expires_before = Some(
            expires_before::parse(fields.by_expires_before)
                .map_err(|e| Status::invalid_argument(e.to_string()))?,
        );
    }
    if let Some(by) = fields.by_selector_match {
        let bad = |e: String| Status::invalid_argument(format!("failed to parse selectors: {e}"));
        let selectors = by
            .selectors
            .iter()
            .enumerate()
            .map(|(i, s)| {
                selector_from_proto(s).map_err(|e| {
                    bad(chain(&e.within(
                        spire_api_proto::convert::FieldPath::new("selectors").at(i),
                    )))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if selectors.is_empty() {
            return Err(bad("empty selector set".into()));
        }
        let behavior = MatchBehavior::from_proto(by.r#match)
            .ok_or_else(|| bad(format!("unknown match behavior {}", by.r#match)))?;
        filter.by_selector_match = Some(SelectorMatch {
            selectors,
            behavior,
        });
    }
    Ok(filter)
}

fn count_fields(f: &count_agents_request::Filter) -> FilterFields<'_> {
    FilterFields {
        by_attestation_type: &f.by_attestation_type,
        by_selector_match: f.by_selector_match.as_ref(),
        by_banned: f.by_banned,
        by_can_reattest: f.by_can_reattest,
        by_expires_before: &f.by_expires_before,
    }
}

fn list_fields(f: &list_agents_request::Filter) -> FilterFields<'_> {
    FilterFields {
        by_attestation_type: &f.by_attestation_type,
        by_selector_match: f.by_selector_match.as_ref(),
        by_banned: f.by_banned,
        by_can_reattest: f.by_can_reattest,
        by_expires_before: &f.by_expires_before,
    }
}

/// SPIRE's `types.Agent` for a node, through `mask` (every field without one; the id always).
/// The agent version is not stored (see `PostStatus`), so it is always empty.
fn agent_message(node: &AttestedNode, mask: Option<&types::AgentMask>) -> types::Agent {
    let mut agent = types::Agent {
        id: Some(spiffe_id_to_proto(&node.spiffe_id)),
        attestation_type: node.attestation_type.clone(),
        x509svid_serial_number: node.cert_serial_number.clone().unwrap_or_default(),
        x509svid_expires_at: node
            .cert_not_after
            .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)),
        selectors: node.selectors.iter().map(selector_to_proto).collect(),
        banned: node.banned,
        can_reattest: node.can_reattest,
        agent_version: String::new(),
    };
    if let Some(mask) = mask {
        if !mask.attestation_type {
            agent.attestation_type.clear();
        }
        if !mask.x509svid_serial_number {
            agent.x509svid_serial_number.clear();
        }
        if !mask.x509svid_expires_at {
            agent.x509svid_expires_at = 0;
        }
        if !mask.selectors {
            agent.selectors.clear();
        }
        if !mask.banned {
            agent.banned = false;
        }
        if !mask.can_reattest {
            agent.can_reattest = false;
        }
        if !mask.agent_version {
            agent.agent_version.clear();
        }
    }
    agent
}

async fn refresh(ctx: &ServerContext) {
    if let Err(e) = ctx.cache.refresh().await {
        tracing::warn!(error = %chain(&e), "entry cache refresh failed");
    }
}
