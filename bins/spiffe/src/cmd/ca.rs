//! `spiffe ca …`: a local CA in a directory (keys, journal, `bundle.json`), and the minting
//! that `spiffe x509 mint` and `spiffe jwt mint` do with it.
//!
//! Layout of a CA directory: `keys/` (a `DiskKeyManager`), `journal.json` (the CA manager's
//! journal), `ca.json` (trust domain, key type and TTL given to `ca init`), and `bundle.json`
//! (the trust domain's SPIFFE bundle, rewritten atomically whenever it changes).
//!
//! The local-authority operations (`show`, `prepare`, `activate`, `taint`, `revoke`) are in
//! [`local`].

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use spiffe_ca::keys::{DiskKeyManager, KeyType};
use spiffe_ca::manager::{CaManager, CaManagerConfig, FileJournal};
use spiffe_ca::SystemClock;
use spiffe_core::jwt::JwtAlg;
use spiffe_core::TrustDomain;

use crate::output::{Answer, Failure, Output};

mod local;

use local::Operation;

/// Subcommands of `spiffe ca`.
#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// Create a CA for a trust domain in a directory: keys, journal and `bundle.json`.
    ///
    /// The CA rotates as it is used: `spiffe x509 mint` and `spiffe jwt mint` prepare and
    /// activate new authorities at 1/2 and 5/6 of the current one's lifetime and rewrite
    /// `bundle.json`.
    #[command(after_help = "Examples:\n  \
        spiffe ca init --trust-domain example.org --dir ./ca\n  \
        spiffe ca init --trust-domain example.org --dir ./ca --key-type ec-p384 --ttl 7d")]
    Init(InitArgs),

    /// List the X.509 and JWT authorities: id, status (prepared, active, old), tainted,
    /// validity.
    #[command(after_help = "Example:\n  spiffe ca show --dir ./ca")]
    Show(local::ShowArgs),

    /// Prepare a new authority now (replacing any prepared one); it is published in
    /// `bundle.json` at once and signs nothing until activated.
    #[command(after_help = "Examples:\n  \
        spiffe ca prepare --dir ./ca\n  \
        spiffe ca prepare --dir ./ca --jwt")]
    Prepare(local::StepArgs),

    /// Activate the prepared authority; the active one becomes old (still in the bundle).
    #[command(after_help = "Examples:\n  \
        spiffe ca activate --dir ./ca\n  \
        spiffe ca activate --dir ./ca --jwt")]
    Activate(local::StepArgs),

    /// Taint an old authority: what it signed should be replaced. The active or a prepared
    /// authority cannot be tainted.
    #[command(after_help = "Example:\n  spiffe ca taint --dir ./ca 3f2a…")]
    Taint(local::TargetArgs),

    /// Revoke a tainted authority: it leaves `bundle.json` and its key is deleted.
    #[command(after_help = "Example:\n  spiffe ca revoke --dir ./ca 3f2a…")]
    Revoke(local::TargetArgs),
}

/// Arguments of `spiffe ca init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The trust domain, e.g. `example.org`.
    #[arg(long, value_name = "TD")]
    trust_domain: String,

    /// The CA directory (created; must not hold a CA already).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,

    /// The key type of the X.509 CA and JWT keys: ec-p256, ec-p384, rsa-2048, rsa-4096.
    #[arg(long, value_name = "TYPE", default_value = "ec-p256", value_parser = parse_key_type)]
    key_type: KeyType,

    /// The lifetime of each X.509 CA and JWT key (e.g. 24h, 7d, 90m).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    ttl: Duration,

    /// The JWT-SVID algorithm: ES256 (ec-p256), ES384 (ec-p384), RS256 or PS256 (RSA keys).
    /// Default: the key type's, ES256, ES384 or RS256.
    #[arg(long, value_name = "ALG", value_parser = parse_jwt_alg)]
    jwt_alg: Option<JwtAlg>,
}

/// What `ca.json` records.
#[derive(Debug, Serialize, Deserialize)]
struct CaFile {
    trust_domain: String,
    key_type: String,
    ttl_secs: u64,
    /// Absent in files written before the option existed: the key type's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwt_alg: Option<String>,
}

/// The answer of `ca init`.
#[derive(Debug, Serialize)]
struct InitAnswer {
    valid: bool,
    trust_domain: String,
    dir: PathBuf,
    x509_authority: String,
    jwt_kid: String,
    bundle: PathBuf,
}

impl Answer for InitAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(
            w,
            "CA for {} in {} (X.509 authority {}, JWT kid {}); bundle: {}",
            self.trust_domain,
            self.dir.display(),
            self.x509_authority,
            self.jwt_kid,
            self.bundle.display()
        )
    }
}

// === impl CaCommand ===

impl CaCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Init(args) => {
                let answer = init(&args)?;
                out.answer(&answer)
            }
            Self::Show(args) => out.answer(&local::show(&args)?),
            Self::Prepare(args) => out.answer(&local::step(Operation::Prepare, &args)?),
            Self::Activate(args) => out.answer(&local::step(Operation::Activate, &args)?),
            Self::Taint(args) => out.answer(&local::target(Operation::Taint, &args)?),
            Self::Revoke(args) => out.answer(&local::target(Operation::Revoke, &args)?),
        }
    }
}

fn init(args: &InitArgs) -> Result<InitAnswer, Failure> {
    let trust_domain = TrustDomain::new(&args.trust_domain).map_err(|e| Failure::Input {
        what: format!("trust domain `{}`", args.trust_domain),
        error: Box::new(e),
    })?;
    if args.dir.join("ca.json").exists() {
        return Err(input_error(
            &args.dir,
            "already holds a CA (ca.json exists)",
        ));
    }
    fs::create_dir_all(&args.dir).map_err(file_error(&args.dir, "creating"))?;
    let file = CaFile {
        trust_domain: trust_domain.as_str().to_owned(),
        key_type: args.key_type.name().to_owned(),
        ttl_secs: args.ttl.as_secs(),
        jwt_alg: args.jwt_alg.map(|alg| alg.name().to_owned()),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| Failure::Input {
        what: "ca.json".into(),
        error: Box::new(e),
    })?;
    let manager = open_with(&args.dir, &file)?;
    // Written last: a directory without ca.json is not a CA, so a failed init can be retried.
    let path = args.dir.join("ca.json");
    fs::write(&path, json).map_err(file_error(&path, "writing"))?;
    Ok(InitAnswer {
        valid: true,
        trust_domain: trust_domain.as_str().to_owned(),
        dir: args.dir.clone(),
        x509_authority: manager.x509_svid_issuer().authority_id().to_owned(),
        jwt_kid: manager.jwt_svid_issuer().kid().to_owned(),
        bundle: args.dir.join("bundle.json"),
    })
}

/// Opens the CA in `dir`, rotates what is due and rewrites `bundle.json` if it changed.
pub(crate) fn open(dir: &Path) -> Result<CaManager, Failure> {
    let path = dir.join("ca.json");
    let bytes = fs::read(&path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            input_error(
                dir,
                "is not a CA directory (no ca.json; run `spiffe ca init`)",
            )
        } else {
            file_error(&path, "reading")(source)
        }
    })?;
    let file: CaFile = serde_json::from_slice(&bytes).map_err(|e| Failure::Input {
        what: format!("CA file `{}`", path.display()),
        error: Box::new(e),
    })?;
    open_with(dir, &file)
}

fn open_with(dir: &Path, file: &CaFile) -> Result<CaManager, Failure> {
    let ca_failure = |error: Box<dyn std::error::Error + Send + Sync>| Failure::Input {
        what: format!("CA `{}`", dir.display()),
        error,
    };
    let trust_domain = TrustDomain::new(&file.trust_domain).map_err(|e| ca_failure(Box::new(e)))?;
    let key_type = parse_key_type(&file.key_type).map_err(|e| ca_failure(e.into()))?;
    let ttl = Duration::from_secs(file.ttl_secs);
    let mut config = CaManagerConfig::new(trust_domain)
        .with_x509(key_type, ttl)
        .with_jwt(key_type, ttl);
    if let Some(name) = &file.jwt_alg {
        let alg = parse_jwt_alg(name).map_err(|e| ca_failure(e.into()))?;
        config = config.with_jwt_alg(alg);
    }
    let keys = DiskKeyManager::open(dir.join("keys")).map_err(|e| ca_failure(Box::new(e)))?;
    let journal = FileJournal::new(dir.join("journal.json"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(Failure::io("starting the async runtime"))?;
    let manager = runtime
        .block_on(async {
            let manager = CaManager::load_or_init(
                config,
                Arc::new(keys),
                Arc::new(journal),
                Arc::new(SystemClock),
            )
            .await?;
            manager.rotate().await?;
            Ok::<_, spiffe_ca::manager::ManagerError>(manager)
        })
        .map_err(|e| ca_failure(Box::new(e)))?;
    publish_bundle(dir, &manager)?;
    Ok(manager)
}

/// Rewrites `DIR/bundle.json` atomically when its content differs from the CA's bundle.
fn publish_bundle(dir: &Path, manager: &CaManager) -> Result<(), Failure> {
    let path = dir.join("bundle.json");
    let json = manager.bundle().to_json();
    if fs::read(&path).is_ok_and(|current| current == json) {
        return Ok(());
    }
    let tmp = dir.join(".bundle.json.tmp");
    let write = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(file_error(&path, "writing"))
}

/// PEM blocks of `label` for each DER.
pub(crate) fn pem<'a>(label: &str, ders: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for der in ders {
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        let b64 = STANDARD.encode(der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
    }
    out
}

/// A usable CA or mint input failure naming `path`.
pub(crate) fn input_error(path: &Path, why: &'static str) -> Failure {
    Failure::Input {
        what: format!("`{}`", path.display()),
        error: why.into(),
    }
}

pub(crate) fn file_error<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> Failure + 'a {
    move |source| Failure::File {
        path: path.to_owned(),
        action,
        source,
    }
}

fn parse_jwt_alg(s: &str) -> Result<JwtAlg, String> {
    JwtAlg::from_name(s)
        .filter(|alg| matches!(alg.name(), "ES256" | "ES384" | "RS256" | "PS256"))
        .ok_or_else(|| {
            format!(
                "`{s}` is not a JWT-SVID algorithm a CA signs with: ES256, ES384, RS256 or PS256"
            )
        })
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    KeyType::from_name(s)
        .ok_or_else(|| format!("unknown key type `{s}` (ec-p256, ec-p384, rsa-2048, rsa-4096)"))
}

/// A duration like `90s`, `5m`, `1h`, `7d` (a positive whole number and a unit).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 5m, 1h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
    };
    match n.checked_mul(unit_secs) {
        Some(0) => Err("the duration must be greater than zero".into()),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("`{s}` is too long")),
    }
}
