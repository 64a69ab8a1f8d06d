//! `spiffe x509 …`: X.509-SVIDs (X509-SVID.md, requirements X509-1..X509-31).

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::{self, Certificate, SignatureAlgorithm};
use spiffe_core::X509Svid;

use super::x509_mint::{mint, MintArgs};
use crate::input::{self, BundleArg};
use crate::output::{error_code, Answer, ErrorChain, Failure, Output};
use crate::time::{format_rfc3339, parse_rfc3339};

/// Subcommands of `spiffe x509`.
#[derive(Debug, Subcommand)]
pub(crate) enum X509Command {
    /// Show what an X.509-SVID (or any certificate chain) holds, certificate by certificate.
    ///
    /// Valid when the file parses and the leaf (first certificate) has exactly one URI SAN
    /// that is a valid SPIFFE ID; with `--key`, the key must also belong to the leaf. The
    /// chain is not verified: see `spiffe x509 verify`.
    #[command(after_help = "Examples:\n  \
        spiffe x509 inspect svid.pem\n  \
        spiffe x509 inspect --key svid.key --output json svid.pem")]
    Inspect(InspectArgs),

    /// Verify an X.509-SVID chain against trust bundles, as a relying party would.
    ///
    /// Checks the leaf's SPIFFE ID (X509-23/24/25), that the leaf is not a CA and cannot sign
    /// (X509-21/22), picks the bundle of the leaf's trust domain only, then validates the path
    /// (signatures, validity periods, CA flags, name constraints). On failure `error` names the
    /// broken rule and `code` is a stable name for it.
    #[command(after_help = "Examples:\n  \
        spiffe x509 verify --bundle example.org=bundle.pem svid.pem\n  \
        spiffe x509 verify --bundle example.org=bundle.json --at 2026-01-01T00:00:00Z svid.pem")]
    Verify(VerifyArgs),

    /// Mint an X.509-SVID with a CA made by `spiffe ca init` (which rotates first if due).
    #[command(after_help = "Examples:\n  \
        spiffe x509 mint --ca ./ca --id spiffe://example.org/web --out ./web\n  \
        spiffe x509 mint --ca ./ca --id spiffe://example.org/web --dns web.example.org \\\n      \
        --csr web.csr --ttl 30m --out ./web")]
    Mint(MintArgs),
}

/// Arguments of `spiffe x509 inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The certificates, leaf first: PEM or concatenated DER (`-` for stdin).
    file: PathBuf,

    /// A private key (PEM PKCS#8/SEC1/PKCS#1, or PKCS#8 DER) to check against the leaf.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

/// Arguments of `spiffe x509 verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The chain to verify, leaf first: PEM or concatenated DER (`-` for stdin).
    chain: PathBuf,

    /// The trust bundle of trust domain TD: PEM or DER certificates, or a SPIFFE bundle JSON.
    /// Repeat for more trust domains; several files for one trust domain are merged.
    #[arg(long = "bundle", value_name = "TD=FILE", required = true, value_parser = BundleArg::parse)]
    bundles: Vec<BundleArg>,

    /// Verify at this time (RFC 3339, e.g. 2026-01-02T03:04:05Z) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    at: Option<UnixTime>,

    /// Accept a leaf without keyUsage or without digitalSignature (X509-15/17), as go-spiffe's
    /// x509svid.Verify does. By default such a leaf is refused, as go-spiffe's ParseRaw does.
    #[arg(long)]
    allow_leaf_without_digital_signature: bool,
}

// === impl X509Command ===

impl X509Command {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Inspect(args) => {
                let answer = inspect(&args)?;
                out.answer(&answer)
            }
            Self::Verify(args) => {
                let answer = verify(&args)?;
                out.answer(&answer)
            }
            Self::Mint(args) => {
                let answer = mint(&args)?;
                out.answer(&answer)
            }
        }
    }
}

/// `x509 inspect`: parses the chain (and key) and describes it.
fn inspect(args: &InspectArgs) -> Result<InspectAnswer, Failure> {
    let data = input::read_input(&args.file)?;
    let key = args.key.as_deref().map(input::read_input).transpose()?;
    let mut answer = InspectAnswer {
        file: args.file.display().to_string(),
        valid: false,
        spiffe_id: None,
        key_matches: None,
        error: None,
        code: None,
        certificates: Vec::new(),
    };
    let chain = match x509::parse_certificates(&data) {
        Ok(chain) => chain,
        Err(e) => {
            answer.code = Some(error_code(&e));
            answer.error = Some(ErrorChain(&e).to_string());
            return Ok(answer);
        }
    };
    answer.certificates = chain.iter().map(CertInfo::new).collect();
    let Some(leaf) = chain.first() else {
        answer.error = Some("no certificates".into());
        return Ok(answer);
    };
    let mut errors = Vec::new();
    match leaf.spiffe_id() {
        Ok(Some(id)) => answer.spiffe_id = Some(id.to_string()),
        // X509-1: an SVID's leaf carries its SPIFFE ID as a URI SAN.
        Ok(None) => {
            answer.code = Some("MissingUriSan".into());
            errors.push("leaf has no URI SAN (X509-1)".to_owned());
        }
        Err(e) => {
            answer.code = Some(error_code(&e));
            errors.push(format!("leaf: {}", ErrorChain(&e)));
        }
    }
    if let (Some(key), Some(path)) = (key, &args.key) {
        // WAPI-13: the private key must belong to the leaf.
        let matched = X509Svid::parse_key(&key).and_then(|k| X509Svid::key_matches(leaf, &k));
        answer.key_matches = Some(matched.is_ok());
        if let Err(e) = matched {
            answer.code.get_or_insert_with(|| error_code(&e));
            errors.push(format!("key file `{}`: {}", path.display(), ErrorChain(&e)));
        }
    }
    answer.valid = errors.is_empty();
    if !errors.is_empty() {
        answer.error = Some(errors.join("; "));
    }
    Ok(answer)
}

/// `x509 verify`: verifies the chain against the bundles.
fn verify(args: &VerifyArgs) -> Result<VerifyAnswer, Failure> {
    let bundles = input::load_bundles(&args.bundles)?;
    let data = input::read_input(&args.chain)?;
    let now = args.at.unwrap_or_else(UnixTime::now);
    let mut answer = VerifyAnswer {
        file: args.chain.display().to_string(),
        valid: false,
        spiffe_id: None,
        at: format_rfc3339(now.as_secs()),
        error: None,
        code: None,
        path: None,
    };
    let chain = match x509::parse_certificates(&data) {
        Ok(chain) => chain,
        Err(e) => {
            // The code of the verifier's own `Malformed`, so answers compare across inputs.
            answer.code = Some("Malformed".into());
            answer.error = Some(format!("chain does not parse: {}", ErrorChain(&e)));
            return Ok(answer);
        }
    };
    // Reported even when verification fails, to say which identity was refused.
    answer.spiffe_id = chain
        .first()
        .and_then(|leaf| leaf.spiffe_id().ok().flatten())
        .map(|id| id.to_string());
    let mut options = x509::X509VerifyOptions::new();
    if args.allow_leaf_without_digital_signature {
        options = options.accept_leaves_without_digital_signature();
    }
    match x509::verify_parsed_with(&chain, &bundles, now, &options) {
        Ok(verified) => {
            answer.valid = true;
            answer.spiffe_id = Some(verified.spiffe_id().to_string());
            answer.path = Some(verified.chain().iter().map(display_name).collect());
        }
        Err(e) => {
            answer.code = Some(error_code(&e));
            answer.error = Some(ErrorChain(&e).to_string());
        }
    }
    Ok(answer)
}

/// The answer of `x509 inspect`.
///
/// JSON: `{"file", "valid", "spiffe_id", "key_matches"?, "error"?, "code"?, "certificates":
/// [...]}`; `spiffe_id` is the leaf's (null when it has none), `key_matches` is present with
/// `--key`.
#[derive(Serialize)]
struct InspectAnswer {
    file: String,
    valid: bool,
    spiffe_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_matches: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    certificates: Vec<CertInfo>,
}

impl Answer for InspectAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let file = self.file.escape_debug();
        match (&self.error, &self.spiffe_id) {
            (Some(error), _) => write!(w, "INVALID {file}: {error}")?,
            (None, Some(id)) => write!(w, "VALID {file}: {id}")?,
            (None, None) => write!(w, "VALID {file}")?,
        }
        for (index, cert) in self.certificates.iter().enumerate() {
            let role = if index == 0 { " (leaf)" } else { "" };
            write!(w, "\ncertificate {index}{role}:")?;
            cert.write_human(w)?;
        }
        match self.key_matches {
            Some(true) => write!(w, "\nprivate key: matches the leaf"),
            Some(false) => write!(w, "\nprivate key: does NOT match the leaf"),
            None => Ok(()),
        }
    }
}

/// What one certificate holds.
#[derive(Serialize)]
struct CertInfo {
    spiffe_id: Option<String>,
    subject: String,
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    key_type: String,
    signature_algorithm: &'static str,
    is_ca: bool,
    path_len_constraint: Option<u64>,
    key_usage: Option<Vec<&'static str>>,
    key_usage_critical: bool,
    extended_key_usage: Option<Vec<String>>,
    uri_sans: Vec<String>,
    dns_sans: Vec<String>,
    ip_sans: Vec<String>,
}

// === impl CertInfo ===

impl CertInfo {
    fn new(cert: &Certificate) -> Self {
        Self {
            spiffe_id: cert.spiffe_id().ok().flatten().map(|id| id.to_string()),
            subject: cert.subject(),
            issuer: cert.issuer(),
            serial: cert.serial_hex(),
            not_before: format_rfc3339(cert.not_before().as_secs()),
            not_after: format_rfc3339(cert.not_after().as_secs()),
            key_type: cert.public_key_algorithm().to_string(),
            signature_algorithm: signature_algorithm(cert.signature_algorithm()),
            is_ca: cert.is_ca(),
            path_len_constraint: cert.path_len_constraint(),
            key_usage: cert.key_usage().map(|ku| ku.names().collect()),
            key_usage_critical: cert.key_usage_critical(),
            extended_key_usage: cert.extended_key_usage().map(|eku| {
                let mut names = Vec::new();
                if eku.server_auth() {
                    names.push("serverAuth".to_owned());
                }
                if eku.client_auth() {
                    names.push("clientAuth".to_owned());
                }
                if eku.any() {
                    names.push("anyExtendedKeyUsage".to_owned());
                }
                if eku.other_count() > 0 {
                    names.push(format!("{} other", eku.other_count()));
                }
                names
            }),
            uri_sans: cert.uri_sans().map(str::to_owned).collect(),
            dns_sans: cert.dns_sans().map(str::to_owned).collect(),
            ip_sans: cert.ip_sans().map(|ip| ip.to_string()).collect(),
        }
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        if let Some(id) = &self.spiffe_id {
            write!(w, "\n  SPIFFE ID:     {id}")?;
        }
        write!(w, "\n  subject:       {}", self.subject.escape_debug())?;
        write!(w, "\n  issuer:        {}", self.issuer.escape_debug())?;
        write!(w, "\n  serial:        {}", self.serial)?;
        write!(
            w,
            "\n  validity:      {} to {}",
            self.not_before, self.not_after
        )?;
        write!(
            w,
            "\n  key:           {}, signed with {}",
            self.key_type, self.signature_algorithm
        )?;
        match (self.is_ca, self.path_len_constraint) {
            (true, Some(len)) => write!(w, "\n  CA:            yes (pathLenConstraint {len})")?,
            (true, None) => write!(w, "\n  CA:            yes")?,
            (false, _) => write!(w, "\n  CA:            no")?,
        }
        match &self.key_usage {
            Some(names) => {
                let critical = if self.key_usage_critical {
                    " (critical)"
                } else {
                    ""
                };
                write!(w, "\n  key usage:     {}{critical}", names.join(", "))?;
            }
            None => write!(w, "\n  key usage:     (none)")?,
        }
        match &self.extended_key_usage {
            Some(names) => write!(w, "\n  ext key usage: {}", names.join(", "))?,
            None => write!(w, "\n  ext key usage: (none)")?,
        }
        for (label, sans) in [
            ("URI SANs", &self.uri_sans),
            ("DNS SANs", &self.dns_sans),
            ("IP SANs", &self.ip_sans),
        ] {
            if !sans.is_empty() {
                let list: Vec<String> = sans.iter().map(|s| s.escape_debug().to_string()).collect();
                let label = format!("{label}:");
                write!(w, "\n  {label:<15}{}", list.join(", "))?;
            }
        }
        Ok(())
    }
}

/// The answer of `x509 verify`.
///
/// JSON: `{"file", "valid", "spiffe_id", "at", "path"?, "error"?, "code"?}`: `spiffe_id` is
/// the leaf's whenever it has a valid one, `at` the verification time, `path` the subjects
/// of the verified path (leaf to trust anchor).
#[derive(Serialize)]
struct VerifyAnswer {
    file: String,
    valid: bool,
    spiffe_id: Option<String>,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

impl Answer for VerifyAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let file = self.file.escape_debug();
        let id = self.spiffe_id.as_deref().unwrap_or("(no SPIFFE ID)");
        match &self.error {
            None => {
                write!(w, "VALID {file}: {id} (verified at {})", self.at)?;
                for (depth, subject) in self.path.iter().flatten().enumerate() {
                    write!(w, "\n  {depth}: {}", subject.escape_debug())?;
                }
                Ok(())
            }
            Some(error) => write!(w, "INVALID {file}: {id}: {error} (at {})", self.at),
        }
    }
}

/// A short name of a signature algorithm.
fn signature_algorithm(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::EcdsaSha256 => "ECDSA-SHA256",
        SignatureAlgorithm::EcdsaSha384 => "ECDSA-SHA384",
        SignatureAlgorithm::EcdsaSha512 => "ECDSA-SHA512",
        SignatureAlgorithm::RsaPkcs1Sha256 => "RSA-PKCS1-SHA256",
        SignatureAlgorithm::RsaPkcs1Sha384 => "RSA-PKCS1-SHA384",
        SignatureAlgorithm::RsaPkcs1Sha512 => "RSA-PKCS1-SHA512",
        SignatureAlgorithm::RsaPssSha256 => "RSA-PSS-SHA256",
        SignatureAlgorithm::RsaPssSha384 => "RSA-PSS-SHA384",
        SignatureAlgorithm::RsaPssSha512 => "RSA-PSS-SHA512",
        SignatureAlgorithm::Ed25519 => "Ed25519",
        _ => "other",
    }
}

/// A certificate's subject for display; SVIDs may have an empty subject (X509-6), so fall back
/// to the URI SAN.
fn display_name(cert: &Certificate) -> String {
    let subject = cert.subject();
    if !subject.is_empty() {
        return subject;
    }
    match cert.uri_sans().next() {
        Some(uri) => format!("(empty subject) URI:{uri}"),
        None => "(empty subject)".to_owned(),
    }
}
