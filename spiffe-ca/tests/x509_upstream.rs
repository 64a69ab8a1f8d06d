//! Intermediate X.509 authorities under a `DiskUpstreamAuthority`: an upstream PKI generated
//! here with rcgen (root, and root → intermediate), written as PEM files, loaded, and the
//! minted SVIDs verified to the upstream root with spiffe-core and `openssl verify`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{DiskUpstreamAuthority, X509SvidIssuer, X509SvidRequest};
use spiffe_ca::CaError;
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{x509, Certificate, SpiffeId, TrustDomain, X509Bundle};

/// 2027-01-15, inside the upstream PKI's validity (2025 to 2030).
const NOW: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = true;
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p
}

/// Upstream PKI files: `root.pem`, and `upstream.pem` + `upstream.key` for the CA that signs
/// (the root itself when `depth == 1`, else an intermediate under it, the file then holding
/// the intermediate and the root).
struct Upstream {
    dir: PathBuf,
    root_pem: String,
}

fn upstream(name: &str, depth: usize) -> Upstream {
    let dir = temp_dir(name);
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let root_params = ca_params("upstream root");
    let root = root_params.self_signed(&root_key).unwrap();
    std::fs::write(dir.join("root.pem"), root.pem()).unwrap();
    if depth == 1 {
        std::fs::write(dir.join("upstream.pem"), root.pem()).unwrap();
        std::fs::write(dir.join("upstream.key"), root_key.serialize_pem()).unwrap();
    } else {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let issuer = Issuer::from_params(&root_params, &root_key);
        let inter = ca_params("upstream intermediate")
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join("upstream.pem"), inter.pem() + &root.pem()).unwrap();
        std::fs::write(dir.join("upstream.key"), key.serialize_pem()).unwrap();
    }
    Upstream {
        dir,
        root_pem: root.pem(),
    }
}

impl Upstream {
    fn load(&self) -> DiskUpstreamAuthority {
        DiskUpstreamAuthority::load(
            &self.dir.join("upstream.pem"),
            &self.dir.join("upstream.key"),
        )
        .unwrap()
    }

    fn root(&self) -> Certificate {
        x509::parse_certificates(self.root_pem.as_bytes())
            .unwrap()
            .remove(0)
    }
}

async fn intermediate(up: &DiskUpstreamAuthority, key_type: KeyType, ttl: u64) -> X509SvidIssuer {
    let signer = Arc::new(SoftwareSigner::generate("ca", key_type).unwrap());
    X509SvidIssuer::intermediate(&td(), signer, up, Duration::from_secs(ttl), at(NOW))
        .await
        .unwrap()
}

fn write_pems(path: &Path, certs: &[CertificateDer<'static>]) {
    use base64::Engine;
    let mut out = String::new();
    for der in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    std::fs::write(path, out).unwrap();
}

fn mint_and_check(up: &Upstream, ca: &X509SvidIssuer, presented_len: usize) {
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let id = SpiffeId::new("spiffe://example.org/w").unwrap();
    let svid = ca
        .mint(
            &X509SvidRequest::new(id.clone(), key.public_key(), Duration::from_secs(600)),
            at(NOW),
        )
        .unwrap();
    // Leaf, this CA, upstream intermediates; never the root.
    assert_eq!(svid.chain().len(), presented_len);
    assert_eq!(&svid.chain()[1], ca.certificate().der());
    assert!(svid.chain().iter().all(|c| c != up.root().der()));

    let bundle = Arc::new(X509Bundle::from_authorities(td(), vec![up.root()]));
    let verified = x509::verify(svid.chain(), &bundle, at(NOW)).unwrap();
    assert_eq!(verified.spiffe_id(), &id);
    assert_eq!(verified.chain().last().unwrap(), &up.root());

    write_pems(&up.dir.join("leaf.pem"), &svid.chain()[..1]);
    write_pems(&up.dir.join("untrusted.pem"), &svid.chain()[1..]);
    let out = Command::new("openssl")
        .args([
            "verify",
            "-x509_strict",
            "-attime",
            &NOW.to_string(),
            "-CAfile",
        ])
        .arg(up.dir.join("root.pem"))
        .arg("-untrusted")
        .arg(up.dir.join("untrusted.pem"))
        .arg(up.dir.join("leaf.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn intermediate_under_an_upstream_root() {
    let up = upstream("upstream-root", 1);
    let disk = up.load();
    assert_eq!(disk.root(), &up.root());
    let ca = intermediate(&disk, KeyType::EcP256, 86_400).await;

    let cert = ca.certificate();
    assert!(cert.is_ca() && cert.key_usage().unwrap().key_cert_sign());
    assert!(!cert.key_usage().unwrap().digital_signature());
    assert_eq!(cert.spiffe_id().unwrap().unwrap(), td().id());
    assert_eq!(cert.issuer_der(), up.root().subject_der());
    assert_eq!(cert.authority_key_id(), up.root().subject_key_id());
    assert_eq!(cert.not_before(), at(NOW - 10));
    assert_eq!(ca.not_after(), at(NOW + 86_400));
    assert_eq!(ca.trust_anchor(), &up.root());
    assert_eq!(ca.chain(), std::slice::from_ref(cert));
    mint_and_check(&up, &ca, 2);
}

#[tokio::test]
async fn intermediate_under_an_upstream_intermediate() {
    let up = upstream("upstream-inter", 2);
    let disk = up.load();
    assert!(!disk.certificate().is_self_issued());
    for key_type in [KeyType::EcP256, KeyType::Rsa2048] {
        let ca = intermediate(&disk, key_type, 86_400).await;
        assert_eq!(ca.chain().len(), 2, "this CA and the upstream intermediate");
        assert_eq!(&ca.chain()[1], disk.certificate());
        assert_eq!(ca.trust_anchor(), &up.root());
        mint_and_check(&up, &ca, 3);
    }
}

#[tokio::test]
async fn never_outlives_the_upstream() {
    let up = upstream("upstream-clamp", 1);
    let ca = intermediate(&up.load(), KeyType::EcP256, 100 * 365 * 86_400).await;
    assert_eq!(ca.not_after(), up.root().not_after());
}

#[tokio::test]
async fn sec1_key_files_load() {
    let up = upstream("upstream-sec1", 1);
    let out = Command::new("openssl")
        .args(["ec", "-in"])
        .arg(up.dir.join("upstream.key"))
        .arg("-out")
        .arg(up.dir.join("sec1.key"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let sec1 = std::fs::read_to_string(up.dir.join("sec1.key")).unwrap();
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
    let disk = DiskUpstreamAuthority::load(&up.dir.join("upstream.pem"), &up.dir.join("sec1.key"))
        .unwrap();
    let ca = intermediate(&disk, KeyType::EcP384, 3600).await;
    mint_and_check(&up, &ca, 2);
}

#[tokio::test]
async fn bad_upstream_files_are_errors() {
    let up = upstream("upstream-bad", 2);
    let other = upstream("upstream-bad-other", 2);
    // The key of another CA.
    let err = DiskUpstreamAuthority::load(
        &up.dir.join("upstream.pem"),
        &other.dir.join("upstream.key"),
    )
    .unwrap_err();
    assert!(matches!(err, CaError::SignerMismatch), "{err:?}");
    // The intermediate without its root.
    let pem = std::fs::read_to_string(up.dir.join("upstream.pem")).unwrap();
    let first = pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap();
    let key = std::fs::read(up.dir.join("upstream.key")).unwrap();
    assert!(matches!(
        DiskUpstreamAuthority::from_pem(first.as_bytes(), &key).unwrap_err(),
        CaError::UpstreamChainIncomplete
    ));
    // Missing and garbage files.
    assert!(matches!(
        DiskUpstreamAuthority::load(&up.dir.join("nope.pem"), &up.dir.join("upstream.key"))
            .unwrap_err(),
        CaError::Io { .. }
    ));
    assert!(matches!(
        DiskUpstreamAuthority::from_pem(pem.as_bytes(), b"not a key").unwrap_err(),
        CaError::MalformedKey
    ));
    // An expired upstream cannot sign.
    let disk = up.load();
    let signer: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    let late = disk.certificate().not_after().as_secs() + 1;
    let err = X509SvidIssuer::intermediate(&td(), signer, &disk, Duration::from_secs(60), at(late))
        .await
        .unwrap_err();
    assert!(matches!(err, CaError::AuthorityExpired { .. }));
}
