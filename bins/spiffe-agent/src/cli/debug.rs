//! `spiffe-agent debug getinfo`: the agent's Debug API on its admin socket, printed as SPIRE's
//! `cmd/spire-agent/cli/debug` prints it (pretty) or as protojson (`-output json`).

use std::time::Duration;

use serde_json::{json, Value};
use spire_api_proto::agent::debug::v1 as debugv1;
use spire_api_proto::cli_text::debug::{rfc3339, svid_chain_json, svid_chain_pretty, ChainCert};
use spire_api_proto::cli_text::json::int64;

use super::admin::{run_admin, AdminFlags, Printed};
use super::{Command, Env};

/// `debug getinfo`.
#[derive(Debug)]
pub(super) struct DebugGetInfoCommand;

fn flags() -> AdminFlags {
    AdminFlags::new("debug getinfo", |_| {})
}

fn chain(r: &debugv1::GetInfoResponse) -> Vec<ChainCert<'_>> {
    r.svid_chain
        .iter()
        .map(|c| ChainCert {
            id: c.id.as_ref(),
            expires_at: c.expires_at,
            subject: &c.subject,
        })
        .collect()
}

/// SPIRE's `prettyPrintGetInfo`.
fn pretty(r: &debugv1::GetInfoResponse) -> String {
    let uptime =
        spire_config::format_duration(Duration::from_secs(u64::try_from(r.uptime).unwrap_or(0)));
    let last_sync = match r.last_sync_success {
        0 => "(never)".to_owned(),
        secs => rfc3339(secs),
    };
    format!(
        "Agent Debug Info:\n  Uptime:                          {uptime}\n  Last Sync Success:               {last_sync}\n  Cached X.509 SVIDs:              {}\n  Cached JWT SVIDs:                {}\n  Cached SVID Store X.509 SVIDs:   {}\n{}",
        r.cached_x509_svids_count,
        r.cached_jwt_svids_count,
        r.cached_svidstore_x509_svids_count,
        svid_chain_pretty(&chain(r))
    )
}

/// `GetInfoResponse` as protojson (every field, int64s as strings).
fn as_json(r: &debugv1::GetInfoResponse) -> Value {
    #[allow(deprecated)]
    let svids_count = r.svids_count;
    json!({
        "svid_chain": svid_chain_json(&chain(r)),
        "uptime": r.uptime,
        "svids_count": svids_count,
        "last_sync_success": int64(r.last_sync_success),
        "cached_x509_svids_count": r.cached_x509_svids_count,
        "cached_jwt_svids_count": r.cached_jwt_svids_count,
        "cached_svidstore_x509_svids_count": r.cached_svidstore_x509_svids_count,
    })
}

impl Command for DebugGetInfoCommand {
    fn name(&self) -> &'static str {
        "debug getinfo"
    }

    fn synopsis(&self) -> &'static str {
        "Prints debug information about the agent"
    }

    fn help(&self) -> String {
        flags().fs.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        run_admin(&flags(), args, env, |call| {
            let r = call.call(|c| async move {
                debugv1::debug_client::DebugClient::new(c)
                    .get_info(debugv1::GetInfoRequest {})
                    .await
            })?;
            Ok(Printed {
                pretty: Ok(pretty(&r)),
                json: as_json(&r),
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use spire_api_proto::cli_text::json::json_line;
    use spire_api_proto::types;

    // SPIRE's debug_test.go: now = 2024-01-15T12:00:00Z, last sync 30 s before, the SVID
    // expiring 24 h after.
    fn response() -> debugv1::GetInfoResponse {
        debugv1::GetInfoResponse {
            uptime: 42,
            last_sync_success: 1_705_320_000 - 30,
            cached_x509_svids_count: 3,
            cached_jwt_svids_count: 1,
            cached_svidstore_x509_svids_count: 0,
            svid_chain: vec![debugv1::get_info_response::Cert {
                id: Some(types::Spiffeid {
                    trust_domain: "example.org".into(),
                    path: "/spire/agent/foo".into(),
                }),
                expires_at: 1_705_320_000 + 86_400,
                subject: "CN=agent".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn pretty_output_is_spires() {
        assert_eq!(
            pretty(&response()),
            "Agent Debug Info:\n  Uptime:                          42s\n  Last Sync Success:               2024-01-15T11:59:30Z\n  Cached X.509 SVIDs:              3\n  Cached JWT SVIDs:                1\n  Cached SVID Store X.509 SVIDs:   0\n  SVID Chain:\n    [0] SPIFFE ID:  spiffe://example.org/spire/agent/foo\n        Subject:    CN=agent\n        Expires At: 2024-01-16T12:00:00Z\n"
        );
    }

    #[test]
    fn never_synced_and_no_chain() {
        let r = debugv1::GetInfoResponse {
            uptime: 3_725,
            cached_x509_svids_count: 3,
            ..Default::default()
        };
        let text = pretty(&r);
        assert!(
            text.contains("  Uptime:                          1h2m5s\n"),
            "{text}"
        );
        assert!(
            text.contains("  Last Sync Success:               (never)\n"),
            "{text}"
        );
        assert!(!text.contains("SVID Chain"), "{text}");
    }

    #[test]
    fn json_output_has_every_field() {
        let r = debugv1::GetInfoResponse {
            uptime: 10,
            last_sync_success: 1_705_320_000,
            cached_x509_svids_count: 2,
            ..Default::default()
        };
        assert_eq!(
            json_line(as_json(&r)),
            r#"{"cached_jwt_svids_count":0,"cached_svidstore_x509_svids_count":0,"cached_x509_svids_count":2,"last_sync_success":"1705320000","svid_chain":[],"svids_count":0,"uptime":10}"#
        );
    }

    #[test]
    fn usage_and_synopsis_are_spires() {
        assert_eq!(
            flags().fs.usage(),
            "Usage of debug getinfo:\n  -output value\n    \tDesired output format (pretty, json); default: pretty.\n  -socketPath string\n    \tPath to the SPIRE Agent admin API socket (default \"/tmp/spire-agent/private/admin.sock\")\n"
        );
        assert_eq!(
            DebugGetInfoCommand.synopsis(),
            "Prints debug information about the agent"
        );
    }
}
