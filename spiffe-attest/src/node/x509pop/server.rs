//! The server half of x509pop.

use std::fmt::Write as _;
use std::sync::Arc;

use aws_lc_rs::digest;
use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::{x509, Certificate, SpiffeId, TrustDomain};

use super::proof::LeafKey;
use super::template::TemplateFacts;
use super::wire::{self, ChallengeKind};
use super::{AgentPathTemplate, X509PopError, PLUGIN_NAME};
use crate::node::{AttestedNode, NodeAttestorServer, ServerAttestation, ServerStep};
use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// The server half: verifies the agent's chain to the configured CA certificates and its
/// proof of possession of the leaf key.
///
/// ```no_run
/// # use spiffe_attest::node::x509pop::X509PopServer;
/// # use spiffe_core::TrustDomain;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cas = spiffe_core::x509::parse_certificates(&std::fs::read("/etc/spire/node-ca.pem")?)?;
/// let attestor = X509PopServer::new(TrustDomain::new("example.org")?, cas)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct X509PopServer {
    inner: Arc<Config>,
}

struct Config {
    trust_domain: TrustDomain,
    cas: Vec<Certificate>,
    template: AgentPathTemplate,
    clock: Clock,
}

// === impl X509PopServer ===

impl X509PopServer {
    /// An attestor for agents of `trust_domain` whose certificates chain to one of `cas`
    /// (at least one).
    pub fn new(trust_domain: TrustDomain, cas: Vec<Certificate>) -> Result<Self, X509PopError> {
        if cas.is_empty() {
            return Err(X509PopError::BadCaCertificates);
        }
        Ok(Self {
            inner: Arc::new(Config {
                trust_domain,
                cas,
                template: AgentPathTemplate::default(),
                clock: Arc::new(UnixTime::now),
            }),
        })
    }

    /// Uses `template` for agent IDs instead of SPIRE's default.
    pub fn with_agent_path_template(self, template: AgentPathTemplate) -> Self {
        self.map_config(|c| c.template = template)
    }

    /// Replaces the system clock used for certificate validity (tests).
    pub fn with_clock(self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.map_config(|c| c.clock = Arc::new(clock))
    }

    fn map_config(self, f: impl FnOnce(&mut Config)) -> Self {
        let c = &self.inner;
        let mut config = Config {
            trust_domain: c.trust_domain.clone(),
            cas: c.cas.clone(),
            template: c.template.clone(),
            clock: c.clock.clone(),
        };
        f(&mut config);
        Self {
            inner: Arc::new(config),
        }
    }
}

impl std::fmt::Debug for X509PopServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509PopServer")
            .field("trust_domain", &self.inner.trust_domain)
            .field("cas", &self.inner.cas.len())
            .field("template", &self.inner.template)
            .finish_non_exhaustive()
    }
}

impl NodeAttestorServer for X509PopServer {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn begin(&self) -> Box<dyn ServerAttestation> {
        Box::new(Attempt {
            config: self.inner.clone(),
            state: State::AwaitingPayload,
        })
    }
}

/// Where one attempt stands.
enum State {
    AwaitingPayload,
    /// A challenge went out; the node is what a valid answer establishes.
    AwaitingResponse {
        key: LeafKey,
        issued: ChallengeKind,
        node: AttestedNode,
    },
    Done,
}

struct Attempt {
    config: Arc<Config>,
    state: State,
}

impl ServerAttestation for Attempt {
    fn step<'a>(&'a mut self, message: &'a [u8]) -> BoxFuture<'a, Result<ServerStep, AttestError>> {
        let result = match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitingPayload => match self.config.challenge(message) {
                Ok((key, issued, node)) => {
                    self.state = State::AwaitingResponse { key, issued, node };
                    Ok(ServerStep::Challenge(wire::encode_challenge(issued)))
                }
                Err(e) => Err(AttestError::plugin(PLUGIN_NAME, e)),
            },
            State::AwaitingResponse { key, issued, node } => wire::parse_proof(message)
                .and_then(|proof| key.verify(issued, &proof))
                .map(|()| ServerStep::Attested(node))
                .map_err(|e| AttestError::plugin(PLUGIN_NAME, e)),
            State::Done => Err(AttestError::OutOfOrder("x509pop attempt already ended")),
        };
        Box::pin(std::future::ready(result))
    }
}

// === impl Config ===

impl Config {
    /// Validates the payload and prepares the challenge and the node it would attest.
    fn challenge(
        &self,
        payload: &[u8],
    ) -> Result<(LeafKey, ChallengeKind, AttestedNode), X509PopError> {
        let chain = wire::parse_payload(payload)?
            .into_iter()
            .enumerate()
            .map(|(index, der)| {
                Certificate::from_der(der).map_err(|_| X509PopError::MalformedCertificate { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let path = x509::verify_path(&chain, &self.cas, (self.clock)())
            .map_err(X509PopError::Untrusted)?;
        let leaf = &path[0];
        // SPIRE issues a challenge only to keys meant for digital signatures.
        if !leaf.key_usage().is_some_and(|ku| ku.digital_signature()) {
            return Err(X509PopError::NotForSignatures);
        }
        let key = LeafKey::of(leaf)?;
        let node = self.attested_node(&path)?;
        let issued = key.challenge()?;
        Ok((key, issued, node))
    }

    fn attested_node(&self, path: &[Certificate]) -> Result<AttestedNode, X509PopError> {
        let leaf = &path[0];
        let leaf_fingerprint = fingerprint(leaf.der());
        let serial = serial_number_hex(&leaf.serial_hex());
        let cn = leaf
            .subject_common_name()
            .map_err(|_| X509PopError::UnusableFact {
                what: "subject",
                used_in: "selectors",
            })?;
        let cn = cn.filter(|cn| !cn.is_empty());

        let rendered = self
            .template
            .render(&TemplateFacts {
                trust_domain: self.trust_domain.as_str(),
                fingerprint: &leaf_fingerprint,
                serial_number_hex: &serial,
                subject_common_name: cn.as_deref(),
            })
            .ok_or(X509PopError::UnusableFact {
                what: "subject common name",
                used_in: "agent ID",
            })?;
        let agent_id = SpiffeId::from_path(&self.trust_domain, &format!("/spire/agent{rendered}"))
            .map_err(|_| X509PopError::UnusableFact {
                what: "facts named by the template",
                used_in: "agent ID",
            })?;

        let mut values = Vec::new();
        if let Some(cn) = &cn {
            values.push(("subject common name", format!("subject:cn:{cn}")));
        }
        let mut seen = Vec::new();
        for ca in &path[1..] {
            let fp = fingerprint(ca.der());
            if !seen.contains(&fp) {
                values.push(("CA fingerprint", format!("ca:fingerprint:{fp}")));
                seen.push(fp);
            }
        }
        values.push(("serial number", format!("serialnumber:{serial}")));
        let mut sans = self.san_selectors(leaf);
        sans.sort();
        sans.dedup();
        values.extend(sans.into_iter().map(|v| ("URI SAN", v)));

        let selectors = values
            .into_iter()
            .map(|(what, value)| {
                Selector::new(PLUGIN_NAME, &value).map_err(|_| X509PopError::UnusableFact {
                    what,
                    used_in: "selectors",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AttestedNode::new(agent_id, selectors).reattestable())
    }

    /// `san:<key>:<value>` for each URI SAN `x509pop://<td>/<key>/<value...>`.
    fn san_selectors(&self, leaf: &Certificate) -> Vec<String> {
        let prefix = format!("x509pop://{}/", self.trust_domain.as_str());
        leaf.uri_sans()
            .filter_map(|uri| uri.strip_prefix(&prefix))
            .filter_map(|rest| {
                let rest = rest.trim_matches('/');
                let (key, value) = rest.split_once('/')?;
                Some(format!("san:{key}:{value}"))
            })
            .collect()
    }
}

/// SHA-1 of the DER, lowercase hex: SPIRE's certificate fingerprint.
fn fingerprint(der: &CertificateDer<'_>) -> String {
    let sum = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
    hex(sum.as_ref())
}

/// The serial number as Go's `%x` of a `big.Int` (SPIRE's selector): lowercase hex without
/// leading zeros, from the certificate's hex octets.
fn serial_number_hex(octets_hex: &str) -> String {
    match octets_hex.trim_start_matches('0') {
        "" => "0".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_hex_matches_go() {
        assert_eq!(serial_number_hex("8f01"), "8f01");
        assert_eq!(serial_number_hex("01"), "1");
        assert_eq!(serial_number_hex("00"), "0");
        assert_eq!(serial_number_hex("1000"), "1000");
    }
}
