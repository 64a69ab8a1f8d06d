//! The Workload API clients of a load run.

use super::*;

// --- the load ------------------------------------------------------------------------------

pub(super) fn workload_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        SECURITY_HEADER,
        tonic::metadata::MetadataValue::from_static("true"),
    );
    request
}

/// Checks that `got` names exactly the `expected` SPIFFE IDs.
pub(super) fn same_ids<'a>(
    got: impl Iterator<Item = &'a str>,
    expected: &[String],
) -> Result<(), String> {
    let mut got: Vec<&str> = got.collect();
    got.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    if got == want {
        Ok(())
    } else {
        Err(format!("got SVIDs for {got:?}, expected {want:?}"))
    }
}

/// One Workload API client: its `FetchX509SVID` streams until `deadline`.
pub(super) async fn x509_streams(
    client: SpiffeWorkloadApiClient<Channel>,
    expected: Arc<Vec<String>>,
    lifetime: Duration,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut stream = match bounded(
            client
                .clone()
                .fetch_x509svid(workload_request(proto::X509svidRequest {})),
        )
        .await
        {
            Ok(r) => r.into_inner(),
            Err(s) => {
                rec.status(op::FETCH_X509, &s);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut first = true;
        let close_at = (started + lifetime).min(deadline);
        loop {
            let message = match tokio::time::timeout_at(close_at, stream.message()).await {
                Err(_) => break, // the stream's time is up: close it, open the next
                Ok(Ok(Some(m))) => m,
                Ok(Ok(None)) => {
                    rec.error(op::FETCH_X509, "stream ended", "the agent ended the stream");
                    break;
                }
                Ok(Err(s)) => {
                    rec.status(op::FETCH_X509, &s);
                    break;
                }
            };
            match same_ids(
                message.svids.iter().map(|s| s.spiffe_id.as_str()),
                &expected,
            ) {
                Ok(()) if first => rec.ok(op::FETCH_X509, started),
                Ok(()) => rec.add(counter::X509_UPDATES, 1),
                Err(e) => rec.error(op::FETCH_X509, "wrong SVIDs", e),
            }
            first = false;
        }
    }
}

/// One Workload API client: `FetchJWTSVID` every `interval` until `deadline`.
pub(super) async fn jwt_calls(
    client: SpiffeWorkloadApiClient<Channel>,
    audience: String,
    expected: Arc<Vec<String>>,
    interval: Duration,
    first_at: Instant,
    deadline: Instant,
    rec: Arc<Recorder>,
) {
    let mut at = first_at;
    while at < deadline {
        tokio::time::sleep_until(at).await;
        // A slow answer makes the missed slots lapse: no catching up after the deadline.
        at = (at + interval).max(Instant::now());
        if Instant::now() >= deadline {
            return;
        }
        let started = Instant::now();
        let request = workload_request(proto::JwtsvidRequest {
            audience: vec![audience.clone()],
            spiffe_id: String::new(),
        });
        match bounded(client.clone().fetch_jwtsvid(request)).await {
            Ok(r) => {
                let svids = r.into_inner().svids;
                if svids.iter().any(|s| s.svid.split('.').count() != 3) {
                    rec.error(op::FETCH_JWT, "malformed token", "a JWT-SVID is not a JWS");
                } else {
                    match same_ids(svids.iter().map(|s| s.spiffe_id.as_str()), &expected) {
                        Ok(()) => rec.ok(op::FETCH_JWT, started),
                        Err(e) => rec.error(op::FETCH_JWT, "wrong SVIDs", e),
                    }
                }
            }
            Err(s) => rec.status(op::FETCH_JWT, &s),
        }
    }
}
