//! `spiffe x509 mint`: an X.509-SVID from a local CA directory (`spiffe ca init`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::output::{Answer, Failure};

/// Arguments of `spiffe x509 mint`.
#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The CA directory made by `spiffe ca init`.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,

    /// The SPIFFE ID, in the CA's trust domain.
    #[arg(long, value_name = "ID")]
    id: String,

    /// The lifetime (clamped to 1/6 of the CA's TTL, at most 7 days).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = super::ca::parse_duration)]
    ttl: Duration,

    /// A DNS SAN; repeat for more.
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,

    /// Certify the key of this PKCS#10 CSR (PEM or DER; its signature is checked) instead of
    /// generating a key; no svid.key is written.
    #[arg(long, value_name = "FILE")]
    csr: Option<PathBuf>,

    /// Where to write svid.pem, svid.key (mode 0600) and bundle.pem (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// The answer of `spiffe x509 mint`.
#[derive(Debug, Serialize)]
struct MintAnswer {
    valid: bool,
    spiffe_id: String,
    expires_at: String,
    svid: PathBuf,
    key: Option<PathBuf>,
    bundle: PathBuf,
}

impl Answer for MintAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(
            w,
            "minted {} until {}: {}",
            self.spiffe_id,
            self.expires_at,
            self.svid.display()
        )?;
        if let Some(key) = &self.key {
            write!(w, ", {}", key.display())?;
        }
        write!(w, ", {}", self.bundle.display())
    }
}

pub(crate) fn mint(args: &MintArgs) -> Result<impl Answer, Failure> {
    use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
    use spiffe_ca::x509::X509SvidRequest;

    let id = spiffe_core::SpiffeId::new(&args.id).map_err(|e| Failure::Input {
        what: format!("SPIFFE ID `{}`", args.id),
        error: Box::new(e),
    })?;
    let manager = super::ca::open(&args.ca)?;
    let mint_failure = |e: Box<dyn std::error::Error + Send + Sync>| Failure::Input {
        what: format!("minting `{}`", args.id),
        error: e,
    };
    let (request, key) = match &args.csr {
        Some(path) => {
            let data = crate::input::read_input(path)?;
            let der = csr_der(&data)
                .ok_or_else(|| super::ca::input_error(path, "is not a PEM or DER CSR"))?;
            let request = X509SvidRequest::from_csr(id, &der, args.ttl)
                .map_err(|e| mint_failure(Box::new(e)))?;
            (request, None)
        }
        None => {
            let key = SoftwareSigner::generate("svid", KeyType::EcP256)
                .map_err(|e| mint_failure(Box::new(e)))?;
            let pkcs8 = key.to_pkcs8().map_err(|e| mint_failure(Box::new(e)))?;
            (
                X509SvidRequest::new(id, key.public_key(), args.ttl),
                Some(pkcs8),
            )
        }
    };
    let request = request.with_dns_names(args.dns.iter().cloned());
    let svid = manager
        .mint_x509_svid(&request)
        .map_err(|e| mint_failure(Box::new(e)))?;

    fs::create_dir_all(&args.out).map_err(super::ca::file_error(&args.out, "creating"))?;
    let svid_path = args.out.join("svid.pem");
    let chain = super::ca::pem("CERTIFICATE", svid.chain().iter().map(|c| c.as_ref()));
    crate::input::write_output(&svid_path, chain.as_bytes())?;
    let key_path = match key {
        Some(pkcs8) => {
            let path = args.out.join("svid.key");
            write_private(
                &path,
                super::ca::pem("PRIVATE KEY", [pkcs8.as_slice()]).as_bytes(),
            )?;
            Some(path)
        }
        None => None,
    };
    let bundle_path = args.out.join("bundle.pem");
    let bundle = manager.bundle();
    let anchors = bundle.x509_authorities().authorities();
    let bundle_pem = super::ca::pem("CERTIFICATE", anchors.iter().map(|c| c.der().as_ref()));
    crate::input::write_output(&bundle_path, bundle_pem.as_bytes())?;
    Ok(MintAnswer {
        valid: true,
        spiffe_id: args.id.clone(),
        expires_at: crate::time::format_rfc3339(svid.expires_at().as_secs()),
        svid: svid_path,
        key: key_path,
        bundle: bundle_path,
    })
}

/// The DER of a CSR given as PEM (`CERTIFICATE REQUEST`) or DER.
fn csr_der(data: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(data).ok();
    match text.and_then(|t| {
        t.find("-----BEGIN CERTIFICATE REQUEST-----")
            .map(|i| &t[i..])
    }) {
        Some(block) => {
            let body = block
                .lines()
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"));
            let b64: String = body.collect::<Vec<_>>().join("");
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        }
        None if data.first() == Some(&0x30) => Some(data.to_vec()),
        None => None,
    }
}

/// Writes a private key file readable by its owner only: a new file (mode 0600) renamed over
/// whatever was at `path`, never written through an existing file or symlink.
fn write_private(path: &Path, data: &[u8]) -> Result<(), Failure> {
    spiffe_ca::secret_file::write(path, data).map_err(super::ca::file_error(path, "writing"))
}
