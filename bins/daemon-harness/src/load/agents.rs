//! The simulated agents of a load run: attestation, sync, signing and renewal on the
//! servers' gRPC API.

use super::*;

/// One `SyncAuthorizedEntries` exchange as an agent holding `known` (id → revision) runs it;
/// `known` is updated with what came in full. Returns the entries received in full.
pub(super) async fn sync(
    channel: &Channel,
    known: &mut HashMap<String, i64>,
) -> Result<usize, tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let _ = tx.send(SyncAuthorizedEntriesRequest::default()).await;
    let mut stream = EntryClient::new(channel.clone())
        .sync_authorized_entries(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut full = 0;
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    let mut take = |message: spire_api_proto::server::entry::v1::SyncAuthorizedEntriesResponse,
                    known: &mut HashMap<String, i64>,
                    seen: &mut HashSet<String>,
                    wanted: &mut Vec<String>| {
        for entry in message.entries {
            full += 1;
            seen.insert(entry.id.clone());
            known.insert(entry.id, entry.revision_number);
        }
        for revision in message.entry_revisions {
            seen.insert(revision.id.clone());
            if known.get(&revision.id) != Some(&revision.revision_number) {
                wanted.push(revision.id);
            }
        }
        message.more
    };
    loop {
        let Some(message) = stream.message().await? else {
            return Err(tonic::Status::unknown("the server ended the sync early"));
        };
        if !take(message, known, &mut seen, &mut wanted) {
            break;
        }
    }
    if !wanted.is_empty() {
        let ids = std::mem::take(&mut wanted);
        let _ = tx
            .send(SyncAuthorizedEntriesRequest {
                ids,
                ..Default::default()
            })
            .await;
        loop {
            let Some(message) = stream.message().await? else {
                return Err(tonic::Status::unknown("the server ended the sync early"));
            };
            if !take(message, known, &mut seen, &mut wanted) {
                break;
            }
        }
    }
    drop(tx);
    // Entries no longer authorized are forgotten, as an agent does.
    known.retain(|id, _| seen.contains(id));
    Ok(full)
}

/// `join_token` attestation on a new TLS connection, as `spiffe_server::testing::agent`'s
/// `attest_join_token` does it, with the attestor's state dropped before the first await so
/// that the future can run on any worker thread.
pub(super) async fn attest_join_token(
    target: &Target,
    token: &str,
    csr: Vec<u8>,
    key_pkcs8: &[u8],
) -> Result<X509Svid, tonic::Status> {
    use spiffe_attest::node::join_token::{JoinToken, JoinTokenAgent};
    use spiffe_attest::node::NodeAttestorAgent;
    let (name, payload) = {
        let token = JoinToken::new(token)
            .map_err(|e| tonic::Status::invalid_argument(format!("join token: {e}")))?;
        let agent = JoinTokenAgent::new(token);
        let payload = agent
            .begin()
            .and_then(|mut attempt| attempt.payload())
            .map_err(|e| tonic::Status::internal(format!("join token payload: {e}")))?;
        (agent.name(), payload)
    };
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let _ = tx
        .send(AttestAgentRequest {
            step: Some(RequestStep::Params(Params {
                data: Some(types::AttestationData {
                    r#type: name.into(),
                    payload,
                }),
                params: Some(AgentX509svidParams { csr }),
            })),
        })
        .await;
    let mut responses = AgentClient::new(tls_channel(target.addr, target.bundle.clone()))
        .attest_agent(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let step = responses.message().await?.and_then(|m| m.step);
    drop(tx);
    let Some(ResponseStep::Result(result)) = step else {
        return Err(tonic::Status::internal("the server answered no result"));
    };
    let chain: Vec<u8> = result
        .svid
        .ok_or_else(|| tonic::Status::internal("no SVID in the result"))?
        .cert_chain
        .concat();
    X509Svid::parse_der(&chain, key_pkcs8).map_err(|e| tonic::Status::internal(e.to_string()))
}

/// The schedule of one simulated agent.
#[derive(Clone, Copy)]
pub(super) struct AgentSchedule {
    pub(super) expected_entries: usize,
    pub(super) sync: Duration,
    pub(super) svid: Duration,
    pub(super) renew: Duration,
}

/// One simulated agent from attestation until `deadline`.
pub(super) async fn simulated_agent(
    target: Target,
    token: String,
    schedule: AgentSchedule,
    start_at: Instant,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    // Keys made before the clock starts: one for the agent, one per entry (reused each round,
    // the server does not care), and the next agent key.
    let (agent_csr, agent_key) = csr();
    let entry_csrs: Vec<Vec<u8>> = (0..schedule.expected_entries).map(|_| csr().0).collect();
    let mut next_key = csr();
    tokio::time::sleep_until(start_at).await;

    let started = Instant::now();
    let svid = match bounded(attest_join_token(&target, &token, agent_csr, &agent_key)).await {
        Ok(svid) => {
            rec.ok(op::ATTEST, started);
            svid
        }
        Err(s) => {
            rec.status(op::ATTEST, &s);
            return;
        }
    };
    let mut channel = mtls_channel(target.addr, target.bundle.clone(), &svid);
    let mut known: HashMap<String, i64> = HashMap::new();
    let now = Instant::now();
    let (mut next_sync, mut next_svid, mut next_renew) =
        (now, now + schedule.svid / 2, now + schedule.renew);
    loop {
        let at = next_sync.min(next_svid).min(next_renew);
        if at >= deadline || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(at).await;
        // Slow answers make missed slots lapse instead of queueing calls past the deadline.
        let now = Instant::now();
        if now >= next_sync {
            next_sync = (next_sync + schedule.sync).max(now);
            let started = Instant::now();
            match bounded(sync(&channel, &mut known)).await {
                Ok(full) => {
                    rec.ok(op::SYNC, started);
                    rec.add(counter::ENTRIES_SYNCED, full as u64);
                    if known.len() != schedule.expected_entries {
                        rec.error(
                            op::SYNC,
                            "wrong entry count",
                            format!(
                                "{} authorized entries, expected {}",
                                known.len(),
                                schedule.expected_entries
                            ),
                        );
                    }
                }
                Err(s) => rec.status(op::SYNC, &s),
            }
        }
        if now >= next_svid && !known.is_empty() {
            next_svid = (next_svid + schedule.svid).max(now);
            let params = known
                .keys()
                .zip(entry_csrs.iter().cycle())
                .map(|(id, csr)| NewX509svidParams {
                    entry_id: id.clone(),
                    csr: csr.clone(),
                })
                .collect::<Vec<_>>();
            let wanted = params.len();
            let started = Instant::now();
            match bounded(
                SvidClient::new(channel.clone())
                    .batch_new_x509svid(BatchNewX509svidRequest { params }),
            )
            .await
            {
                Ok(r) => {
                    let results = r.into_inner().results;
                    let minted = results.iter().filter(|r| r.svid.is_some()).count();
                    if minted == wanted {
                        rec.ok(op::BATCH_SVID, started);
                    }
                    rec.add(counter::SVIDS_SIGNED, minted as u64);
                    for result in results.iter().filter(|r| r.svid.is_none()) {
                        let status = result.status.clone().unwrap_or_default();
                        rec.error(
                            op::BATCH_SVID,
                            &format!("result code {}", status.code),
                            status.message,
                        );
                    }
                    if results.len() != wanted {
                        rec.error(
                            op::BATCH_SVID,
                            "wrong result count",
                            format!("{} results for {wanted} params", results.len()),
                        );
                    }
                }
                Err(s) => rec.status(op::BATCH_SVID, &s),
            }
        } else if now >= next_svid {
            next_svid = (next_svid + schedule.svid).max(now);
        }
        if now >= next_renew {
            next_renew = (next_renew + schedule.renew).max(now);
            let (csr_der, key) = std::mem::replace(&mut next_key, csr());
            let started = Instant::now();
            let renewed = bounded(AgentClient::new(channel.clone()).renew_agent(
                RenewAgentRequest {
                    params: Some(AgentX509svidParams { csr: csr_der }),
                },
            ))
            .await;
            match renewed {
                Ok(r) => {
                    let chain: Vec<u8> = r
                        .into_inner()
                        .svid
                        .map(|s| s.cert_chain.concat())
                        .unwrap_or_default();
                    match X509Svid::parse_der(&chain, &key) {
                        Ok(svid) => {
                            rec.ok(op::RENEW, started);
                            // As an agent: the next calls go over a connection with the new SVID.
                            channel = mtls_channel(target.addr, target.bundle.clone(), &svid);
                        }
                        Err(e) => rec.error(op::RENEW, "bad SVID", e),
                    }
                }
                Err(s) => rec.status(op::RENEW, &s),
            }
        }
    }
}
