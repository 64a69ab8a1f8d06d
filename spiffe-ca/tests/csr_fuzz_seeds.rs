//! The `csr` fuzz target's seeds (`fuzz/seeds/csr/`): CSRs made by OpenSSL for every key type
//! the CA issues for and some it refuses, plus broken ones. Keys are random, so the seeds are
//! regenerated only on request (`SPIFFE_REGENERATE_SEEDS=1`); otherwise this test checks that
//! every seed still gets its expected verdict (the file name's prefix: `ok-`, `refused-`,
//! `bad-`).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::X509SvidIssuer;
use spiffe_ca::CaError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::CertificateRequest;
use spiffe_core::{SpiffeId, TrustDomain};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/csr")
}

fn openssl_csr(newkey: &[&str], extra: &[&str]) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("csr-seeds");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-new", "-nodes", "-subj", "/CN=seed/O=spiffe"])
        .args(newkey)
        .args(extra)
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .args(["-outform", "DER", "-out"])
        .arg(dir.join("csr.der"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("csr.der")).unwrap()
}

fn regenerate(dir: &Path) {
    let p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let san = ["-addext", "subjectAltName=URI:spiffe://td/x,DNS:a.example"];
    let ok = openssl_csr(&p256, &san);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("ok-p256", ok.clone()),
        (
            "ok-p384",
            openssl_csr(
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
                &[],
            ),
        ),
        ("ok-rsa2048", openssl_csr(&["-newkey", "rsa:2048"], &san)),
        ("ok-p256-sha384", openssl_csr(&p256, &["-sha384"])),
        (
            "refused-p521",
            openssl_csr(
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"],
                &[],
            ),
        ),
        ("refused-ed25519", openssl_csr(&["-newkey", "ed25519"], &[])),
        ("bad-signature", {
            let mut bad = ok.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            bad
        }),
        ("bad-truncated", ok[..ok.len() - 5].to_vec()),
    ];
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, der) in seeds {
        std::fs::write(dir.join(name), der).unwrap();
    }
}

#[test]
fn seeds_have_their_verdicts() {
    let dir = seeds_dir();
    if std::env::var_os("SPIFFE_REGENERATE_SEEDS").is_some() {
        regenerate(&dir);
    }
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000));
    let later = UnixTime::since_unix_epoch(Duration::from_secs(1_800_003_600));
    let td = TrustDomain::new("td").unwrap();
    let signer = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
    let ca = X509SvidIssuer::self_signed(&td, signer, now, later).unwrap();
    let id = SpiffeId::new("spiffe://td/w").unwrap();

    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let der = std::fs::read(&path).unwrap();
        let result = ca.mint_from_csr(&der, id.clone(), Duration::from_secs(60), now);
        if name.starts_with("ok-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        } else if name.starts_with("refused-") {
            assert!(CertificateRequest::from_der(&der).is_ok(), "{name} parses");
            assert!(
                matches!(result, Err(CaError::KeyTypeNotAllowed { key_type: None })),
                "{name}: {result:?}"
            );
        } else {
            assert!(
                matches!(
                    result,
                    Err(CaError::CsrSignatureInvalid | CaError::MalformedCsr(_))
                ),
                "{name}: {result:?}"
            );
        }
        count += 1;
    }
    assert!(
        count >= 8,
        "seeds missing: regenerate with SPIFFE_REGENERATE_SEEDS=1"
    );
}
