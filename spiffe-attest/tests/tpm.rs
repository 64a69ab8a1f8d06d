//! The `tpm` node attestor against real TPMs (swtpm): success with a pinned EK and with an EK
//! certificate, PCR selectors, and the rejections — an EK neither pinned nor certified, a
//! replayed answer, a quote from another AK, a payload naming another TPM's AK, a certificate
//! for another EK.
#![cfg(feature = "tpm")]

mod tpm_support;

use spiffe_attest::node::tpm::{PcrSelection, TpmAgent, TpmError, TpmServer};
use spiffe_attest::node::{
    attest_in_process, NodeAttestorAgent, NodeAttestorServer, ServerAttestation, ServerStep,
};
use spiffe_attest::AttestError;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::TrustDomain;
use tpm_support::{run, Swtpm};

fn td() -> TrustDomain {
    TrustDomain::new("example.org").expect("trust domain")
}

fn tpm_error(err: &AttestError) -> &TpmError {
    match err {
        AttestError::Plugin { plugin, source } => {
            assert_eq!(*plugin, "tpm");
            source
                .downcast_ref::<TpmError>()
                .unwrap_or_else(|| panic!("not a TpmError: {source}"))
        }
        other => panic!("not a plugin error: {other}"),
    }
}

fn pinned_server(agent: &TpmAgent) -> (TpmServer, String) {
    let hash = agent.ek_pub_hash().expect("EK pub hash");
    let server = TpmServer::new(td())
        .with_pinned_ek_hash(&hash)
        .expect("pin");
    (server, hash)
}

async fn step(
    attempt: &mut Box<dyn ServerAttestation>,
    message: &[u8],
) -> Result<ServerStep, AttestError> {
    attempt.step(message).await
}

async fn challenge(attempt: &mut Box<dyn ServerAttestation>, payload: &[u8]) -> Vec<u8> {
    match step(attempt, payload).await.expect("payload accepted") {
        ServerStep::Challenge(c) => c,
        ServerStep::Attested(_) => panic!("attested without a challenge"),
    }
}

/// `response` with its secret field (the first field after the version byte) taken from
/// `secret_from`.
fn splice_secret(secret_from: &[u8], response: &[u8]) -> Vec<u8> {
    let field = |r: &[u8]| 3 + usize::from(u16::from_be_bytes([r[1], r[2]]));
    let mut out = secret_from[..field(secret_from)].to_vec();
    out.extend_from_slice(&response[field(response)..]);
    out
}

/// `challenge` with its 32-byte nonce (followed by the 6-byte PCR selection) taken from
/// `nonce_from`.
fn splice_nonce(challenge: &[u8], nonce_from: &[u8]) -> Vec<u8> {
    let (a, b) = (challenge.len(), nonce_from.len());
    let mut out = challenge.to_vec();
    out[a - 38..a - 6].copy_from_slice(&nonce_from[b - 38..b - 6]);
    out
}

#[tokio::test]
async fn attests_with_pinned_ek() {
    let tpm = Swtpm::start();
    let agent = TpmAgent::new(&tpm.tcti());
    let (server, hash) = pinned_server(&agent);

    // The pub hash is SPIRE's: SHA-256 of the EK's PKIX public key, checked here with
    // tpm2-tools and openssl rather than our own parser.
    let pem = tpm.ek_pem();
    let der = run(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            pem.to_str().expect("path"),
            "-outform",
            "DER",
        ],
    );
    let der_path = tpm.dir().join("ek.der");
    std::fs::write(&der_path, der).expect("write");
    let dgst = run(
        "openssl",
        &["dgst", "-sha256", "-r", der_path.to_str().expect("path")],
    );
    let expected = String::from_utf8(dgst).expect("utf-8");
    assert_eq!(hash, expected.split_whitespace().next().expect("digest"));

    let node = attest_in_process(&agent, &server).await.expect("attested");
    assert_eq!(
        node.agent_id.as_str(),
        format!("spiffe://example.org/spire/agent/tpm/{hash}")
    );
    let selectors: Vec<_> = node
        .selectors
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(selectors, [format!("tpm:pub_hash:{hash}")]);
    assert!(node.can_reattest);

    // Attempts are independent and flush their handles: a second one works on the same TPM.
    let again = attest_in_process(&agent, &server)
        .await
        .expect("attested again");
    assert_eq!(again.agent_id, node.agent_id);
}

#[tokio::test]
async fn pcr_values_become_selectors() {
    let tpm = Swtpm::start();
    let extend = [0x5au8; 32];
    let extend_hex: String = extend.iter().map(|b| format!("{b:02x}")).collect();
    tpm.tool("tpm2_pcrextend", &[&format!("16:sha256={extend_hex}")]);
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&[0u8; 32]);
    ctx.update(&extend);
    let pcr16: String = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let agent = TpmAgent::new(&tpm.tcti());
    let (server, hash) = pinned_server(&agent);
    let server = server
        .with_pcrs(PcrSelection::new([0, 16, 23]).expect("pcrs"))
        .with_pcr_selectors(true);
    let node = attest_in_process(&agent, &server).await.expect("attested");
    let selectors: Vec<_> = node
        .selectors
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let zeros = "0".repeat(64);
    assert_eq!(
        selectors,
        [
            format!("tpm:pub_hash:{hash}"),
            format!("tpm:pcr:0:{zeros}"),
            format!("tpm:pcr:16:{pcr16}"),
            format!("tpm:pcr:23:{zeros}"),
        ]
    );

    // Nine or more PCRs take several PCR_Read calls.
    let server = server.with_pcrs(PcrSelection::new(0..24).expect("pcrs"));
    let node = attest_in_process(&agent, &server).await.expect("attested");
    assert_eq!(node.selectors.len(), 25);
    assert!(selectors.contains(&format!("tpm:pcr:16:{pcr16}")));
}

#[tokio::test]
async fn ek_of_another_tpm_rejected() {
    let trusted = Swtpm::start();
    let other = Swtpm::start();
    let (server, _) = pinned_server(&TpmAgent::new(&trusted.tcti()));
    let agent = TpmAgent::new(&other.tcti());
    let other_hash = agent.ek_pub_hash().expect("hash");
    let err = attest_in_process(&agent, &server)
        .await
        .expect_err("untrusted EK");
    match tpm_error(&err) {
        TpmError::UntrustedEk { pub_hash } => assert_eq!(*pub_hash, other_hash),
        e => panic!("wrong error: {e}"),
    }
    // A server that trusts nothing rejects even the first TPM.
    let empty = TpmServer::new(td());
    let err = attest_in_process(&TpmAgent::new(&trusted.tcti()), &empty)
        .await
        .expect_err("nothing trusted");
    assert!(matches!(tpm_error(&err), TpmError::UntrustedEk { .. }));
}

#[tokio::test]
async fn replayed_answers_rejected() {
    let tpm = Swtpm::start();
    let agent = TpmAgent::new(&tpm.tcti());
    let (server, _) = pinned_server(&agent);

    let mut a1 = agent.begin().expect("agent attempt");
    let payload = a1.payload().expect("payload");
    let mut s1 = server.begin();
    let c1 = challenge(&mut s1, &payload).await;
    let r1 = a1.respond(&c1).expect("response");

    // The same payload again gets a new secret and nonce: the old answer does not fit.
    let mut s2 = server.begin();
    let c2 = challenge(&mut s2, &payload).await;
    let err = step(&mut s2, &r1).await.expect_err("replayed answer");
    assert!(
        matches!(tpm_error(&err), TpmError::ActivationFailed),
        "{err}"
    );

    // The right secret with the old quote: the quote is not over this attempt's nonce.
    let mut s3 = server.begin();
    let c3 = challenge(&mut s3, &payload).await;
    let r3 = a1.respond(&c3).expect("response");
    let spliced = splice_secret(&r3, &r1);
    let err = step(&mut s3, &spliced).await.expect_err("old quote");
    assert!(
        matches!(tpm_error(&err), TpmError::QuoteRejected { reason } if reason.contains("nonce")),
        "{err}"
    );

    // The genuine first answer still completes the first attempt, once.
    assert!(matches!(
        step(&mut s1, &r1).await,
        Ok(ServerStep::Attested(_))
    ));
    assert!(matches!(
        step(&mut s1, &r1).await,
        Err(AttestError::OutOfOrder(_))
    ));
    // An unspliced fresh answer to c2 is accepted (the splices above are what failed).
    let r2 = a1.respond(&c2).expect("response");
    let mut s4 = server.begin();
    let _ = challenge(&mut s4, &payload).await;
    assert!(
        step(&mut s4, &r2).await.is_err(),
        "an answer to c2 fits no other attempt"
    );
}

#[tokio::test]
async fn attestation_key_of_another_tpm_rejected() {
    let tpm_a = Swtpm::start();
    let tpm_b = Swtpm::start();
    let agent_a = TpmAgent::new(&tpm_a.tcti());
    let agent_b = TpmAgent::new(&tpm_b.tcti());
    let (server_a, _) = pinned_server(&agent_a);
    let (server_b, _) = pinned_server(&agent_b);

    let mut a = agent_a.begin().expect("attempt a");
    let mut b = agent_b.begin().expect("attempt b");
    let pa = a.payload().expect("payload a");
    let pb = b.payload().expect("payload b");

    // A payload pairing A's trusted EK with B's AK: the credential is bound to B's AK name and
    // A's EK, so neither TPM can activate it.
    let ek_len = 3 + usize::from(u16::from_be_bytes([pa[1], pa[2]]));
    let cert_len = 2 + usize::from(u16::from_be_bytes([pa[ek_len], pa[ek_len + 1]]));
    let cert_len_b = 2 + usize::from(u16::from_be_bytes([pb[ek_len], pb[ek_len + 1]]));
    let mut mixed = pa[..ek_len + cert_len].to_vec();
    mixed.extend_from_slice(&pb[ek_len + cert_len_b..]);
    let mut s = server_a.begin();
    let c = challenge(&mut s, &mixed).await;
    let err = a.respond(&c).expect_err("A's TPM: AK name mismatch");
    assert!(
        matches!(
            tpm_error(&err),
            TpmError::Tpm {
                operation: "ActivateCredential",
                ..
            }
        ),
        "{err}"
    );
    let err = b.respond(&c).expect_err("B's TPM: not its EK");
    assert!(
        matches!(
            tpm_error(&err),
            TpmError::Tpm {
                operation: "ActivateCredential",
                ..
            }
        ),
        "{err}"
    );

    // A's genuine secret with a quote by B's AK over A's nonce: the quote must be signed by
    // the AK that activated the credential.
    let mut s = server_a.begin();
    let ca = challenge(&mut s, &pa).await;
    let ra = a.respond(&ca).expect("response a");
    let mut sb = server_b.begin();
    let cb = challenge(&mut sb, &pb).await;
    let rb = b.respond(&splice_nonce(&cb, &ca)).expect("response b");
    let forged = splice_secret(&ra, &rb);
    let err = step(&mut s, &forged)
        .await
        .expect_err("quote by another AK");
    assert!(
        matches!(tpm_error(&err), TpmError::QuoteRejected { reason } if reason.contains("attestation key")),
        "{err}"
    );
    // A wrong secret with a valid quote fails too.
    let mut s = server_a.begin();
    let ca = challenge(&mut s, &pa).await;
    let ra2 = a.respond(&ca).expect("response a");
    let mut bad = ra2.clone();
    bad[3] ^= 1;
    let err = step(&mut s, &bad).await.expect_err("wrong secret");
    assert!(matches!(tpm_error(&err), TpmError::ActivationFailed));
}

/// A manufacturer CA made with openssl, and an EK certificate it issues for `ek_pem`.
fn manufacturer_ca(
    dir: &std::path::Path,
    name: &str,
    ek_pem: &std::path::Path,
) -> (Vec<u8>, Vec<u8>) {
    let p = |f: &str| {
        dir.join(format!("{name}-{f}"))
            .to_str()
            .expect("path")
            .to_owned()
    };
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-subj",
            &format!("/CN={name} TPM Manufacturer CA"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    run(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p("dummy.key"),
            "-out",
            &p("ek.csr"),
            "-subj",
            "/CN=tpm-ek",
        ],
    );
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\n",
    )
    .expect("write ext");
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &p("ek.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-force_pubkey",
            ek_pem.to_str().expect("path"),
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
            "-outform",
            "DER",
            "-out",
            &p("ek.der"),
        ],
    );
    let ca = run("openssl", &["x509", "-in", &p("ca.pem"), "-outform", "DER"]);
    let ek = std::fs::read(p("ek.der")).expect("read EK cert");
    (ca, ek)
}

#[tokio::test]
async fn attests_with_ek_certificate() {
    let tpm = Swtpm::start();
    let other = Swtpm::start();
    let ek_pem = tpm.ek_pem();
    let (ca, ek_cert) = manufacturer_ca(tpm.dir(), "good", &ek_pem);
    let (_, foreign_cert) = manufacturer_ca(tpm.dir(), "rogue", &ek_pem);

    let server = TpmServer::new(td())
        .with_manufacturer_ca(CertificateDer::from(ca))
        .expect("CA");
    let agent =
        TpmAgent::new(&tpm.tcti()).with_ek_certificate(CertificateDer::from(ek_cert.clone()));
    let hash = agent.ek_pub_hash().expect("hash");
    let node = attest_in_process(&agent, &server)
        .await
        .expect("certified EK");
    assert_eq!(
        node.agent_id.as_str(),
        format!("spiffe://example.org/spire/agent/tpm/{hash}")
    );

    // Without its certificate the EK is not trusted (nothing pinned).
    let bare = TpmAgent::new(&tpm.tcti());
    let err = attest_in_process(&bare, &server)
        .await
        .expect_err("no cert");
    assert!(
        matches!(tpm_error(&err), TpmError::UntrustedEk { .. }),
        "{err}"
    );

    // The same certificate stored in the TPM's NV index is found by an agent given none.
    tpm.store_ek_certificate(&ek_cert);
    let node = attest_in_process(&bare, &server)
        .await
        .expect("certificate from NV");
    assert_eq!(
        node.agent_id.as_str(),
        format!("spiffe://example.org/spire/agent/tpm/{hash}")
    );

    // A certificate from another CA is not trusted.
    let rogue = TpmAgent::new(&tpm.tcti()).with_ek_certificate(CertificateDer::from(foreign_cert));
    let err = attest_in_process(&rogue, &server)
        .await
        .expect_err("rogue CA");
    assert!(
        matches!(tpm_error(&err), TpmError::EkCertificate { reason } if reason.contains("CA")),
        "{err}"
    );

    // The certificate is valid for two days: a server clock ten days ahead rejects it.
    let later = server.clone().with_clock(|| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            UnixTime::now().as_secs() + 10 * 86_400,
        ))
    });
    let err = attest_in_process(&agent, &later)
        .await
        .expect_err("expired");
    assert!(
        matches!(tpm_error(&err), TpmError::EkCertificate { reason } if reason.contains("validity")),
        "{err}"
    );
    // Pinning the EK as well accepts it whatever its certificate says.
    let pinned = later.with_pinned_ek_hash(&hash).expect("pin");
    attest_in_process(&agent, &pinned).await.expect("pinned");

    // The good certificate presented by another TPM does not certify that TPM's EK.
    let thief = TpmAgent::new(&other.tcti()).with_ek_certificate(CertificateDer::from(ek_cert));
    let err = attest_in_process(&thief, &server)
        .await
        .expect_err("stolen cert");
    assert!(
        matches!(tpm_error(&err), TpmError::EkCertificateMismatch),
        "{err}"
    );
}

/// With `SPIFFE_REGENERATE_SEEDS=1`, writes the `tpm_messages` fuzz seeds (a payload, a
/// challenge and a response of a real attestation) to `fuzz/seeds/tpm_messages/`;
/// `tpm_fuzz_seeds.rs` checks them.
#[tokio::test]
async fn regenerate_fuzz_seeds() {
    if std::env::var_os("SPIFFE_REGENERATE_SEEDS").is_none() {
        return;
    }
    let tpm = Swtpm::start();
    let agent = TpmAgent::new(&tpm.tcti());
    let (server, _) = pinned_server(&agent);
    let mut a = agent.begin().expect("attempt");
    let payload = a.payload().expect("payload");
    let mut s = server.begin();
    let c = challenge(&mut s, &payload).await;
    let r = a.respond(&c).expect("response");
    assert!(matches!(
        step(&mut s, &r).await,
        Ok(ServerStep::Attested(_))
    ));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/tpm_messages");
    std::fs::create_dir_all(&dir).expect("seed dir");
    for (name, bytes) in [("payload", &payload), ("challenge", &c), ("response", &r)] {
        std::fs::write(dir.join(format!("{name}.bin")), bytes).expect("write seed");
    }
}
