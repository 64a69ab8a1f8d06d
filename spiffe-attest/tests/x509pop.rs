//! x509pop node attestation: both halves against certificates generated with rcgen.
#![allow(clippy::unwrap_used, missing_docs)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_RSA_SHA256,
};
use spiffe_attest::node::x509pop::{AgentPathTemplate, X509PopAgent, X509PopServer};
use spiffe_attest::node::{attest_in_process, NodeAttestorAgent, NodeAttestorServer, ServerStep};
use spiffe_attest::AttestError;
use spiffe_core::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spiffe_core::{Certificate, TrustDomain};

struct Pki {
    root: Certificate,
    root_issuer: Issuer<'static, KeyPair>,
    intermediate: CertificateDer<'static>,
    intermediate_issuer: Issuer<'static, KeyPair>,
}

fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    if alg == &PKCS_RSA_SHA256 {
        KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
    } else {
        KeyPair::generate_for(alg).unwrap()
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn pki() -> Pki {
    let root_key = key(&PKCS_ECDSA_P256_SHA256);
    let root_params = ca_params("root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = key(&PKCS_ECDSA_P384_SHA384);
    let int_params = ca_params("intermediate");
    let intermediate = int_params.signed_by(&int_key, &root_issuer).unwrap();
    Pki {
        root: Certificate::from_der(root.der().clone()).unwrap(),
        root_issuer,
        intermediate: intermediate.der().clone(),
        intermediate_issuer: Issuer::new(int_params, int_key),
    }
}

struct Leaf {
    der: CertificateDer<'static>,
    key: KeyPair,
}

fn leaf_with(
    issuer: &Issuer<'_, KeyPair>,
    alg: &'static SignatureAlgorithm,
    edit: impl FnOnce(&mut CertificateParams),
) -> Leaf {
    let key = key(alg);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![
        SanType::URI(
            "x509pop://example.org/datacenter/us-east-1"
                .try_into()
                .unwrap(),
        ),
        SanType::URI(
            "x509pop://other.org/datacenter/elsewhere"
                .try_into()
                .unwrap(),
        ),
        SanType::DnsName("node-1.example.org".try_into().unwrap()),
    ];
    params.distinguished_name.push(DnType::CommonName, "node-1");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x8f, 0x01]));
    edit(&mut params);
    let cert = params.signed_by(&key, issuer).unwrap();
    Leaf {
        der: cert.der().clone(),
        key,
    }
}

fn private_key(leaf: &Leaf) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der()))
}

fn agent(pki: &Pki, leaf: &Leaf) -> X509PopAgent {
    X509PopAgent::new(
        vec![leaf.der.clone(), pki.intermediate.clone()],
        &private_key(leaf),
    )
    .unwrap()
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn sha1_hex(der: &[u8]) -> String {
    let sum = openssl_sha1(der);
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

fn openssl_sha1(der: &[u8]) -> Vec<u8> {
    // openssl computes the same: `openssl x509 -fingerprint -sha1`.
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha1", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(der)?;
            child.wait_with_output()
        })
        .unwrap();
    out.stdout
}

fn plugin_error(err: AttestError) -> String {
    match err {
        AttestError::Plugin { plugin, source } => {
            assert_eq!(plugin, "x509pop");
            source.to_string()
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

async fn attests(alg: &'static SignatureAlgorithm) {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, alg, |_| {});
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    let node = attest_in_process(&agent(&pki, &leaf), &server)
        .await
        .unwrap();
    assert_eq!(
        node.agent_id.as_str(),
        format!(
            "spiffe://example.org/spire/agent/x509pop/{}",
            sha1_hex(&leaf.der)
        )
    );
    assert!(node.can_reattest);
    let selectors: Vec<String> = node.selectors.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        selectors,
        vec![
            "x509pop:subject:cn:node-1".to_owned(),
            format!("x509pop:ca:fingerprint:{}", sha1_hex(&pki.intermediate)),
            format!("x509pop:ca:fingerprint:{}", sha1_hex(pki.root.der())),
            "x509pop:serialnumber:8f01".to_owned(),
            "x509pop:san:datacenter:us-east-1".to_owned(),
        ]
    );
}

#[tokio::test]
async fn attests_with_ecdsa_p256() {
    attests(&PKCS_ECDSA_P256_SHA256).await;
}

#[tokio::test]
async fn attests_with_ecdsa_p384() {
    attests(&PKCS_ECDSA_P384_SHA384).await;
}

#[tokio::test]
async fn attests_with_rsa() {
    attests(&PKCS_RSA_SHA256).await;
}

#[tokio::test]
async fn loads_the_agent_from_pem() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let chain_pem = format!(
        "{}{}",
        pem("CERTIFICATE", &leaf.der),
        pem("CERTIFICATE", &pki.intermediate)
    );
    let agent =
        X509PopAgent::from_pem(chain_pem.as_bytes(), leaf.key.serialize_pem().as_bytes()).unwrap();
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    attest_in_process(&agent, &server).await.unwrap();

    let other = key(&PKCS_ECDSA_P256_SHA256);
    assert!(
        X509PopAgent::from_pem(chain_pem.as_bytes(), other.serialize_pem().as_bytes()).is_err()
    );
    assert!(X509PopAgent::from_pem(b"junk", leaf.key.serialize_pem().as_bytes()).is_err());
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[tokio::test]
async fn rejects_an_untrusted_chain() {
    let pki = pki();
    let other = pki_other_root();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let server = X509PopServer::new(td(), vec![other]).unwrap();
    let err = attest_in_process(&agent(&pki, &leaf), &server)
        .await
        .unwrap_err();
    assert!(plugin_error(err).contains("verification failed"));
}

fn pki_other_root() -> Certificate {
    let key = key(&PKCS_ECDSA_P256_SHA256);
    let cert = ca_params("root").self_signed(&key).unwrap();
    Certificate::from_der(cert.der().clone()).unwrap()
}

#[tokio::test]
async fn rejects_an_expired_leaf() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |p| {
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    let err = attest_in_process(&agent(&pki, &leaf), &server)
        .await
        .unwrap_err();
    let AttestError::Plugin { source, .. } = err else {
        panic!()
    };
    let source = source
        .downcast_ref::<spiffe_attest::node::x509pop::X509PopError>()
        .unwrap();
    assert!(matches!(
        source,
        spiffe_attest::node::x509pop::X509PopError::Untrusted(
            spiffe_core::x509::X509VerifyError::Expired { index: 0 }
        )
    ));
}

#[tokio::test]
async fn rejects_a_missing_intermediate_and_a_leaf_without_digital_signature() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    let lonely = X509PopAgent::new(vec![leaf.der.clone()], &private_key(&leaf)).unwrap();
    assert!(attest_in_process(&lonely, &server).await.is_err());

    let no_ds = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |p| {
        p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    });
    let err = attest_in_process(&agent(&pki, &no_ds), &server)
        .await
        .unwrap_err();
    assert!(plugin_error(err).contains("digital signatures"));
}

#[tokio::test]
async fn a_leaf_directly_under_the_root_has_one_ca_selector() {
    let pki = pki();
    let leaf = leaf_with(&pki.root_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    let agent = X509PopAgent::new(vec![leaf.der.clone()], &private_key(&leaf)).unwrap();
    let node = attest_in_process(&agent, &server).await.unwrap();
    let cas = node
        .selectors
        .iter()
        .filter(|s| s.value().starts_with("ca:fingerprint:"))
        .count();
    assert_eq!(cas, 1);
}

/// A response computed for another attempt's nonce is rejected (replay), and so is a
/// response signed by another key.
#[tokio::test]
async fn rejects_replay_and_wrong_key() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    let agent = agent(&pki, &leaf);

    // Attempt A runs to completion; its response is recorded.
    let mut agent_a = agent.begin().unwrap();
    let mut server_a = server.begin();
    let payload = agent_a.payload().unwrap();
    let ServerStep::Challenge(challenge_a) = server_a.step(&payload).await.unwrap() else {
        panic!("expected a challenge")
    };
    let response_a = agent_a.respond(&challenge_a).unwrap();
    assert!(matches!(
        server_a.step(&response_a).await.unwrap(),
        ServerStep::Attested(_)
    ));
    // A step after the end is out of order.
    assert!(matches!(
        server_a.step(&response_a).await,
        Err(AttestError::OutOfOrder(_))
    ));

    // Attempt B gets a fresh nonce; A's response does not answer it.
    let mut server_b = server.begin();
    let ServerStep::Challenge(challenge_b) = server_b.step(&payload).await.unwrap() else {
        panic!("expected a challenge")
    };
    assert_ne!(challenge_a, challenge_b);
    let err = server_b.step(&response_a).await.unwrap_err();
    assert!(plugin_error(err).contains("signature verification failed"));

    // Attempt C: the payload is the genuine chain, the answer comes from a different key
    // (an agent holding another certificate of the same CA).
    let thief = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let thief_agent = agent_for(&pki, &thief);
    let mut thief_side = thief_agent.begin().unwrap();
    let _ = thief_side.payload().unwrap();
    let mut server_c = server.begin();
    let ServerStep::Challenge(challenge_c) = server_c.step(&payload).await.unwrap() else {
        panic!("expected a challenge")
    };
    let forged = thief_side.respond(&challenge_c).unwrap();
    let err = server_c.step(&forged).await.unwrap_err();
    assert!(plugin_error(err).contains("signature verification failed"));
}

fn agent_for(pki: &Pki, leaf: &Leaf) -> X509PopAgent {
    agent(pki, leaf)
}

#[tokio::test]
async fn rejects_malformed_messages() {
    let pki = pki();
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    for payload in [
        &b""[..],
        b"{}",
        b"{\"certificates\":[]}",
        b"{\"certificates\":[\"AAAA\"]}",
        b"[1,2]",
    ] {
        let err = server.begin().step(payload).await.unwrap_err();
        let text = plugin_error(err);
        assert!(
            text.contains("malformed") || text.contains("no certificate"),
            "{text}"
        );
    }
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let payload = agent(&pki, &leaf).begin().unwrap().payload().unwrap();
    for response in [
        &b"{}"[..],
        b"{\"ecdsa_signature\":{\"nonce\":\"AA==\",\"r\":\"AQ==\",\"s\":\"AQ==\"}}",
        b"{\"rsa_signature\":{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"signature\":\"AQ==\"}}",
    ] {
        let mut attempt = server.begin();
        attempt.step(&payload).await.unwrap();
        assert!(attempt.step(response).await.is_err());
    }
}

#[tokio::test]
async fn agent_path_template_names_the_agent() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |_| {});
    let server = X509PopServer::new(td(), vec![pki.root.clone()])
        .unwrap()
        .with_agent_path_template(
            AgentPathTemplate::parse("/{{ .PluginName }}/cn/{{ .Subject.CommonName }}").unwrap(),
        );
    let node = attest_in_process(&agent(&pki, &leaf), &server)
        .await
        .unwrap();
    assert_eq!(
        node.agent_id.as_str(),
        "spiffe://example.org/spire/agent/x509pop/cn/node-1"
    );

    // A CN that is not a valid path segment fails attestation instead of forming a bad ID.
    let bad = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |p| {
        p.distinguished_name.push(DnType::CommonName, "a/../b");
    });
    assert!(attest_in_process(&agent(&pki, &bad), &server)
        .await
        .is_err());
}

#[tokio::test]
async fn clock_decides_validity() {
    let pki = pki();
    let leaf = leaf_with(&pki.intermediate_issuer, &PKCS_ECDSA_P256_SHA256, |p| {
        p.not_before = rcgen::date_time_ymd(2030, 1, 1);
    });
    let now = || {
        spiffe_core::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            1_900_000_000,
        ))
    };
    let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
    assert!(attest_in_process(&agent(&pki, &leaf), &server)
        .await
        .is_err());
    let later = server.with_clock(now);
    attest_in_process(&agent(&pki, &leaf), &later)
        .await
        .unwrap();
}

/// The checked-in fuzz seeds (payloads of the spiffe-core vector chains, which chain to
/// `root-td.pem`) reach the challenge step, so the fuzzer starts past the parser; none
/// attests.
#[tokio::test]
async fn fuzz_seeds_reach_the_challenge_and_never_attest() {
    let roots = spiffe_core::x509::parse_certificates(include_bytes!(
        "../../spiffe-core/tests/data/x509/root-td.pem"
    ))
    .unwrap();
    let server = X509PopServer::new(TrustDomain::new("td").unwrap(), roots)
        .unwrap()
        .with_clock(|| {
            spiffe_core::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_800_000_000,
            ))
        });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/x509pop");
    let mut challenged = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        let split = usize::from(u16::from_be_bytes([input[0], input[1]]));
        let (payload, response) = input[2..].split_at(split.min(input.len() - 2));
        let mut attempt = server.begin();
        if let Ok(ServerStep::Challenge(_)) = attempt.step(payload).await {
            challenged += 1;
            assert!(attempt.step(response).await.is_err());
        }
    }
    assert!(
        challenged >= 3,
        "only {challenged} seeds reached the challenge"
    );
}

/// Cross-check with an independent implementation: responses made the way a Go (SPIRE) agent
/// makes them (ECDSA over the digest with minimal r/s; RSA-PSS with Go's maximum salt length),
/// by pyca/cryptography in `tests/data/x509pop_sign.py`, verify on our server. Needs python3 with
/// `cryptography` (scripts/test.sh installs it); fails without it.
#[tokio::test]
async fn verifies_responses_signed_like_a_go_agent() {
    let has_python = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_python,
        "python3 with the `cryptography` package is needed (scripts/test.sh installs it)"
    );
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    for alg in [
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P384_SHA384,
        &PKCS_RSA_SHA256,
    ] {
        let leaf = leaf_with(&pki.intermediate_issuer, alg, |_| {});
        let key_path = dir.path().join("key.pem");
        std::fs::write(&key_path, leaf.key.serialize_pem()).unwrap();
        let server = X509PopServer::new(td(), vec![pki.root.clone()]).unwrap();
        for _ in 0..2 {
            let payload = agent(&pki, &leaf).begin().unwrap().payload().unwrap();
            let mut attempt = server.begin();
            let ServerStep::Challenge(challenge) = attempt.step(&payload).await.unwrap() else {
                panic!("expected a challenge")
            };
            let response = python_sign(&key_path, &challenge);
            let step = attempt.step(&response).await;
            assert!(
                matches!(step, Ok(ServerStep::Attested(_))),
                "{alg:?}: {step:?}"
            );

            // And the other way: our agent's answer verifies as a Go server checks it.
            let ours = agent(&pki, &leaf)
                .begin()
                .unwrap()
                .respond(&challenge)
                .unwrap();
            assert!(
                python_verify(dir.path(), &leaf.der, &challenge, &ours),
                "{alg:?}"
            );
            let mut tampered = ours.clone();
            let at = tampered.len() - 8;
            tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
            assert!(!python_verify(dir.path(), &leaf.der, &challenge, &tampered));
        }
    }
}

fn python_verify(dir: &std::path::Path, cert: &[u8], challenge: &[u8], response: &[u8]) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509pop_sign.py");
    let (c, ch, r) = (
        dir.join("cert.der"),
        dir.join("challenge.json"),
        dir.join("response.json"),
    );
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&ch, challenge).unwrap();
    std::fs::write(&r, response).unwrap();
    std::process::Command::new("python3")
        .arg(script)
        .arg("--verify")
        .args([&c, &ch, &r])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn python_sign(key: &std::path::Path, challenge: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509pop_sign.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(challenge).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}
