//! `Debug` for the messages that carry a credential, which are generated without one (see
//! `SECRET_MESSAGES` in `tests/proto_drift.rs`): every field is shown except the credential,
//! of which only the length is. Messages containing these (responses, batches) derive `Debug`
//! through them, so no token, private key, join token or attestation payload reaches a log.

use std::fmt;

use crate::agent::delegatedidentity::v1::X509svidWithKey;
use crate::server::agent::v1::CreateJoinTokenRequest;
use crate::types::{AttestationData, JoinToken, Jwtsvid, Witsvid};

/// Stands for a secret in `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0)
    }
}

impl fmt::Debug for Jwtsvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwtsvid")
            .field("token", &Redacted(self.token.len()))
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("hint", &self.hint)
            .finish()
    }
}

impl fmt::Debug for Witsvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Witsvid")
            .field("token", &Redacted(self.token.len()))
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("hint", &self.hint)
            .finish()
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("value", &Redacted(self.value.len()))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for AttestationData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload of a join_token attestation is the token itself.
        f.debug_struct("AttestationData")
            .field("type", &self.r#type)
            .field("payload", &Redacted(self.payload.len()))
            .finish()
    }
}

impl fmt::Debug for CreateJoinTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateJoinTokenRequest")
            .field("ttl", &self.ttl)
            .field("token", &Redacted(self.token.len()))
            .field("agent_id", &self.agent_id)
            .finish()
    }
}

impl fmt::Debug for X509svidWithKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509svidWithKey")
            .field("x509_svid", &self.x509_svid)
            .field("x509_svid_key", &Redacted(self.x509_svid_key.len()))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::agent::delegatedidentity::v1::FetchJwtsviDsResponse;
    use crate::server::agent::v1::{attest_agent_request, AttestAgentRequest};
    use crate::types::Spiffeid;

    const SECRET: &str = "s3cr3t-credential";

    fn id() -> Option<Spiffeid> {
        Some(Spiffeid {
            trust_domain: "example.org".into(),
            path: "/web".into(),
        })
    }

    fn assert_hidden(debug: String, shown: &str) {
        assert!(!debug.contains(SECRET), "secret leaked: {debug}");
        assert!(debug.contains("<redacted, 17 bytes>"), "{debug}");
        assert!(debug.contains(shown), "{shown} missing from {debug}");
    }

    #[test]
    fn tokens_keys_and_evidence_never_appear_in_debug() {
        let jwt = Jwtsvid {
            token: SECRET.into(),
            id: id(),
            expires_at: 1_700_000_000,
            issued_at: 1,
            hint: "internal".into(),
        };
        assert_hidden(format!("{jwt:?}"), "1700000000");
        // A message holding one derives its Debug through the redacting one.
        let response = FetchJwtsviDsResponse { svids: vec![jwt] };
        assert_hidden(format!("{response:?}"), "internal");
        let wit = Witsvid {
            token: SECRET.into(),
            id: id(),
            ..Default::default()
        };
        assert_hidden(format!("{wit:#?}"), "example.org");
        let join = JoinToken {
            value: SECRET.into(),
            expires_at: 42,
        };
        assert_hidden(format!("{join:?}"), "42");
        let attest = AttestAgentRequest {
            step: Some(attest_agent_request::Step::Params(
                attest_agent_request::Params {
                    data: Some(AttestationData {
                        r#type: "join_token".into(),
                        payload: SECRET.as_bytes().to_vec(),
                    }),
                    params: None,
                },
            )),
        };
        assert_hidden(format!("{attest:?}"), "join_token");
        let create = CreateJoinTokenRequest {
            ttl: 600,
            token: SECRET.into(),
            agent_id: id(),
        };
        assert_hidden(format!("{create:?}"), "600");
        let with_key = X509svidWithKey {
            x509_svid: None,
            x509_svid_key: SECRET.as_bytes().to_vec(),
        };
        assert_hidden(format!("{with_key:?}"), "x509_svid");
    }
}
