//! What the `debug getinfo` commands of both daemons print alike: the daemon's SVID chain
//! (SPIRE's `cmd/spire-{server,agent}/cli/debug`), in the pretty layout and as protojson.

use std::time::Duration;

use serde_json::{json, Value};
use spiffe_core::pki_types::UnixTime;

use super::json::{id_json, int64};
use crate::types;

/// One certificate of a `GetInfo` SVID chain (the server's and the agent's messages differ in
/// type only).
#[derive(Debug, Clone, Copy)]
pub struct ChainCert<'a> {
    /// The SPIFFE ID (only the leaf has one).
    pub id: Option<&'a types::Spiffeid>,
    /// `NotAfter`, in seconds since the Unix epoch.
    pub expires_at: i64,
    /// The subject's distinguished name.
    pub subject: &'a str,
}

/// Go's `time.Unix(secs, 0).UTC().Format(time.RFC3339)` (times before 1970 print as 1970).
pub fn rfc3339(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or_default();
    spiffe_core::time::format_rfc3339(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// The `  SVID Chain:` block, one entry per certificate (`(none)` for a certificate without a
/// SPIFFE ID); empty for an empty chain.
pub fn svid_chain_pretty(chain: &[ChainCert<'_>]) -> String {
    if chain.is_empty() {
        return String::new();
    }
    let mut out = String::from("  SVID Chain:\n");
    for (i, cert) in chain.iter().enumerate() {
        let id = cert.id.map_or_else(
            || "(none)".to_owned(),
            |id| format!("spiffe://{}{}", id.trust_domain, id.path),
        );
        out.push_str(&format!(
            "    [{i}] SPIFFE ID:  {id}\n        Subject:    {}\n        Expires At: {}\n",
            cert.subject,
            rfc3339(cert.expires_at)
        ));
    }
    out
}

/// The chain as protojson (`svid_chain`).
pub fn svid_chain_json(chain: &[ChainCert<'_>]) -> Value {
    Value::Array(
        chain
            .iter()
            .map(|c| {
                json!({
                    "id": id_json(c.id),
                    "expires_at": int64(c.expires_at),
                    "subject": c.subject,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chain_prints_ids_subjects_and_rfc3339_times() {
        let id = types::Spiffeid {
            trust_domain: "example.org".into(),
            path: "/spire/agent/foo".into(),
        };
        // 2024-01-16T12:00:00Z, SPIRE's debug_test.go's `now + 24h`.
        let chain = [
            ChainCert {
                id: Some(&id),
                expires_at: 1_705_406_400,
                subject: "CN=agent",
            },
            ChainCert {
                id: None,
                expires_at: 0,
                subject: "CN=ca",
            },
        ];
        assert_eq!(
            svid_chain_pretty(&chain),
            "  SVID Chain:\n    [0] SPIFFE ID:  spiffe://example.org/spire/agent/foo\n        Subject:    CN=agent\n        Expires At: 2024-01-16T12:00:00Z\n    [1] SPIFFE ID:  (none)\n        Subject:    CN=ca\n        Expires At: 1970-01-01T00:00:00Z\n"
        );
        assert_eq!(svid_chain_pretty(&[]), "");
        assert_eq!(
            super::super::json::json_line(svid_chain_json(&chain)),
            r#"[{"expires_at":"1705406400","id":{"path":"/spire/agent/foo","trust_domain":"example.org"},"subject":"CN=agent"},{"expires_at":"0","subject":"CN=ca"}]"#
        );
    }
}
