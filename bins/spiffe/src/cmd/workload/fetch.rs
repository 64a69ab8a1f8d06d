//! `spiffe workload fetch x509|jwt|bundles`: one answer from a Workload API (an agent, or
//! `spiffe workload serve`), printed and optionally written to files as SPIRE's
//! `spire-agent api fetch x509 -write` does.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde::Serialize;
use spiffe_core::jwt::UnverifiedJwtSvid;
use spiffe_core::{BundleSet, SpiffeBundle, SpiffeId, X509Bundle};
use spiffe_workload::ClientError;
use spiffe_workload::{WorkloadApiClient, X509Context};

use crate::output::{Answer, Failure, Output};
use crate::time::format_rfc3339;

use super::ClientArgs;

/// What to fetch.
#[derive(Debug, Subcommand)]
pub(crate) enum FetchCommand {
    /// The X.509-SVIDs and X.509 bundles (`FetchX509SVID`).
    #[command(after_help = "Examples:\n  \
        spiffe workload fetch x509\n  \
        spiffe workload fetch x509 --socket unix:///tmp/agent.sock --write ./certs")]
    X509(X509Args),
    /// JWT-SVIDs for one or more audiences (`FetchJWTSVID`): the tokens, one a line.
    #[command(after_help = "Examples:\n  \
        spiffe workload fetch jwt --audience api\n  \
        spiffe --output json workload fetch jwt --audience api --spiffe-id spiffe://example.org/web")]
    Jwt(JwtArgs),
    /// The X.509 and JWT bundles, one answer per trust domain (`FetchX509Bundles`,
    /// `FetchJWTBundles`).
    #[command(after_help = "Example:\n  spiffe workload fetch bundles --write ./bundles")]
    Bundles(BundlesArgs),
}

/// Arguments of `fetch x509`.
#[derive(Debug, Args)]
pub(crate) struct X509Args {
    #[command(flatten)]
    client: ClientArgs,

    /// Write svid.N.pem (chain), svid.N.key (PKCS#8, mode 0600), bundle.pem (the default
    /// SVID's trust domain) and federated.TD.pem (each other trust domain) into DIR.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

/// Arguments of `fetch jwt`.
#[derive(Debug, Args)]
pub(crate) struct JwtArgs {
    #[command(flatten)]
    client: ClientArgs,

    /// An audience of the tokens; repeat for more (at least one).
    #[arg(long, value_name = "AUDIENCE", required = true)]
    audience: Vec<String>,

    /// Only a token for this SPIFFE ID (else one per identity the workload holds).
    #[arg(long, value_name = "ID")]
    spiffe_id: Option<String>,
}

/// Arguments of `fetch bundles`.
#[derive(Debug, Args)]
pub(crate) struct BundlesArgs {
    #[command(flatten)]
    client: ClientArgs,

    /// Write TD.json (a SPIFFE bundle document with the X.509 and JWT authorities) per trust
    /// domain into DIR.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

/// One X.509-SVID as fetched.
#[derive(Debug, Serialize)]
pub(super) struct SvidSummary {
    spiffe_id: String,
    hint: String,
    serial: String,
    expires_at: String,
    chain_length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<PathBuf>,
}

/// One trust domain's bundle as fetched.
#[derive(Debug, Serialize)]
pub(super) struct BundleSummary {
    trust_domain: String,
    x509_authorities: usize,
    jwt_authorities: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
}

/// The answer of `fetch x509` (and each update of `watch x509`).
#[derive(Debug, Serialize)]
pub(super) struct X509Answer {
    valid: bool,
    svids: Vec<SvidSummary>,
    bundles: Vec<BundleSummary>,
}

/// One token of `fetch jwt`.
#[derive(Debug, Serialize)]
struct JwtAnswer {
    valid: bool,
    spiffe_id: String,
    hint: String,
    expires_at: Option<String>,
    token: String,
}

// === impl FetchCommand ===

impl FetchCommand {
    /// Runs the fetch.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        super::block_on(async {
            match self {
                Self::X509(args) => {
                    let context = args
                        .client
                        .call("FetchX509SVID", |client| async move {
                            client.fetch_x509_context().await
                        })
                        .await?;
                    out.answer(&X509Answer::new(&context, args.write.as_deref())?)
                }
                Self::Jwt(args) => fetch_jwt(&args, out).await,
                Self::Bundles(args) => {
                    let set = args
                        .client
                        .call("FetchX509Bundles", |client| async move {
                            fetch_bundles(&client).await
                        })
                        .await?;
                    for answer in bundle_answers(&set, args.write.as_deref())? {
                        out.answer(&answer)?;
                    }
                    Ok(())
                }
            }
        })
    }
}

async fn fetch_jwt<W: Write>(args: &JwtArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let spiffe_id = args
        .spiffe_id
        .as_deref()
        .map(|id| {
            SpiffeId::new(id).map_err(|e| Failure::Input {
                what: format!("SPIFFE ID `{id}`"),
                error: Box::new(e),
            })
        })
        .transpose()?;
    let audience: Vec<&str> = args.audience.iter().map(String::as_str).collect();
    let (audience, spiffe_id) = (&audience, spiffe_id.as_ref());
    let svids = args
        .client
        .call("FetchJWTSVID", |client| async move {
            client.fetch_jwt_svids(audience, spiffe_id).await
        })
        .await?;
    for svid in svids {
        let expires_at = UnverifiedJwtSvid::parse_insecure(&svid.token)
            .ok()
            .map(|parsed| format_rfc3339(parsed.expiry().as_secs()));
        out.answer(&JwtAnswer {
            valid: true,
            spiffe_id: svid.spiffe_id.to_string(),
            hint: svid.hint.clone(),
            expires_at,
            token: svid.token.clone(),
        })?;
    }
    Ok(())
}

/// The X.509 and JWT bundles, merged by trust domain.
pub(super) async fn fetch_bundles(client: &WorkloadApiClient) -> Result<BundleSet, ClientError> {
    let mut set = client.fetch_x509_bundles().await?;
    // A workload without JWT bundles is answered PERMISSION_DENIED; that is no failure here.
    match client.fetch_jwt_bundles().await {
        Ok(jwt) => {
            for (_, entry) in jwt.iter() {
                if let Some(bundle) = entry.jwt() {
                    set.insert_jwt(bundle.clone());
                }
            }
        }
        Err(e) if e.is_permission_denied() => {}
        Err(e) => return Err(e),
    }
    Ok(set)
}

/// One answer per trust domain, writing TD.json into `dir` when given.
pub(super) fn bundle_answers(
    set: &BundleSet,
    dir: Option<&Path>,
) -> Result<Vec<BundleAnswer>, Failure> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(crate::cmd::ca::file_error(dir, "creating"))?;
    }
    let mut answers = Vec::new();
    for (trust_domain, entry) in set.iter() {
        let x509 = entry
            .x509()
            .map(|b| (**b).clone())
            .unwrap_or_else(|| X509Bundle::new(trust_domain.clone()));
        let jwt = entry
            .jwt()
            .map(|b| (**b).clone())
            .unwrap_or_else(|| spiffe_core::JwtBundle::new(trust_domain.clone()));
        let summary = BundleSummary {
            trust_domain: trust_domain.to_string(),
            x509_authorities: x509.authorities().len(),
            jwt_authorities: jwt.len(),
            file: None,
        };
        let file = match dir {
            Some(dir) => {
                let bundle = SpiffeBundle::from_parts(x509, jwt).map_err(|e| Failure::Input {
                    what: format!("bundle of {trust_domain}"),
                    error: Box::new(e),
                })?;
                let path = dir.join(format!("{trust_domain}.json"));
                crate::input::write_output(&path, &bundle.to_json())?;
                Some(path)
            }
            None => None,
        };
        answers.push(BundleAnswer {
            valid: true,
            bundle: BundleSummary { file, ..summary },
        });
    }
    Ok(answers)
}

/// One update of `watch bundles` / `watch jwt-bundles`: every trust domain's bundle.
#[derive(Debug, Serialize)]
pub(super) struct BundlesUpdate {
    valid: bool,
    bundles: Vec<BundleSummary>,
}

impl BundlesUpdate {
    /// Summarises `set`.
    pub(super) fn new(set: &BundleSet) -> Self {
        let bundles = set
            .iter()
            .map(|(trust_domain, entry)| BundleSummary {
                trust_domain: trust_domain.to_string(),
                x509_authorities: entry.x509().map_or(0, |b| b.authorities().len()),
                jwt_authorities: entry.jwt().map_or(0, |b| b.len()),
                file: None,
            })
            .collect();
        Self {
            valid: true,
            bundles,
        }
    }
}

impl Answer for BundlesUpdate {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        for (index, bundle) in self.bundles.iter().enumerate() {
            if index > 0 {
                writeln!(w)?;
            }
            bundle.write_human(w)?;
        }
        Ok(())
    }
}

/// The answer of `fetch bundles` for one trust domain.
#[derive(Debug, Serialize)]
pub(super) struct BundleAnswer {
    valid: bool,
    #[serde(flatten)]
    bundle: BundleSummary,
}

impl Answer for BundleAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        self.bundle.write_human(w)
    }
}

// === impl X509Answer ===

impl X509Answer {
    /// Summarises `context`, first writing its files into `dir` when given.
    pub(super) fn new(context: &X509Context, dir: Option<&Path>) -> Result<Self, Failure> {
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(crate::cmd::ca::file_error(dir, "creating"))?;
        }
        let mut svids = Vec::new();
        for (index, entry) in context.svids.iter().enumerate() {
            let svid = &entry.svid;
            let (certificate_file, key_file) = match dir {
                Some(dir) => {
                    let (cert, key) = write_svid(dir, index, svid)?;
                    (Some(cert), Some(key))
                }
                None => (None, None),
            };
            svids.push(SvidSummary {
                spiffe_id: svid.spiffe_id().to_string(),
                hint: entry.hint.clone(),
                serial: svid.leaf().serial_hex(),
                expires_at: format_rfc3339(svid.leaf().not_after().as_secs()),
                chain_length: svid.chain().len(),
                certificate_file,
                key_file,
            });
        }
        let own = context
            .svids
            .first()
            .map(|entry| entry.svid.spiffe_id().trust_domain().clone());
        let mut bundles = Vec::new();
        for bundle in &context.bundles {
            let file = match dir {
                Some(dir) => {
                    let td = bundle.trust_domain();
                    let name = if Some(td) == own.as_ref() {
                        "bundle.pem".to_owned()
                    } else {
                        format!("federated.{td}.pem")
                    };
                    let path = dir.join(name);
                    crate::input::write_output(&path, bundle.to_pem().as_bytes())?;
                    Some(path)
                }
                None => None,
            };
            bundles.push(BundleSummary {
                trust_domain: bundle.trust_domain().to_string(),
                x509_authorities: bundle.authorities().len(),
                jwt_authorities: 0,
                file,
            });
        }
        Ok(Self {
            valid: true,
            svids,
            bundles,
        })
    }
}

impl Answer for X509Answer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut first = true;
        let mut line = |w: &mut dyn Write| {
            let sep = if first { "" } else { "\n" };
            first = false;
            write!(w, "{sep}")
        };
        for svid in &self.svids {
            line(w)?;
            write!(w, "SVID {}", svid.spiffe_id)?;
            if !svid.hint.is_empty() {
                write!(w, " (hint {})", svid.hint)?;
            }
            write!(
                w,
                ": serial {}, expires {}, chain of {}",
                svid.serial, svid.expires_at, svid.chain_length
            )?;
            if let (Some(cert), Some(key)) = (&svid.certificate_file, &svid.key_file) {
                write!(w, "; written to {}, {}", cert.display(), key.display())?;
            }
        }
        for bundle in &self.bundles {
            line(w)?;
            bundle.write_human(w)?;
        }
        Ok(())
    }
}

// === impl BundleSummary ===

impl BundleSummary {
    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(
            w,
            "bundle {}: {} X.509 authorities, {} JWT authorities",
            self.trust_domain, self.x509_authorities, self.jwt_authorities
        )?;
        if let Some(file) = &self.file {
            write!(w, "; written to {}", file.display())?;
        }
        Ok(())
    }
}

impl Answer for JwtAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        // The token alone, so `TOKEN=$(spiffe workload fetch jwt --audience a)` works.
        write!(w, "{}", self.token)
    }
}

/// Writes svid.N.pem (chain) and svid.N.key (PKCS#8 PEM, 0600).
fn write_svid(
    dir: &Path,
    index: usize,
    svid: &Arc<spiffe_core::X509Svid>,
) -> Result<(PathBuf, PathBuf), Failure> {
    let cert = dir.join(format!("svid.{index}.pem"));
    let chain = crate::cmd::ca::pem("CERTIFICATE", svid.chain().iter().map(|c| c.der().as_ref()));
    crate::input::write_output(&cert, chain.as_bytes())?;
    let key = dir.join(format!("svid.{index}.key"));
    let pem = crate::cmd::ca::pem("PRIVATE KEY", [svid.private_key().secret_der()]);
    write_private(&key, pem.as_bytes())?;
    Ok((cert, key))
}

/// Writes a private key file readable by its owner only: a new file (mode 0600) renamed over
/// whatever was at `path`, never written through an existing file or symlink.
fn write_private(path: &Path, data: &[u8]) -> Result<(), Failure> {
    spiffe_ca::secret_file::write(path, data).map_err(crate::cmd::ca::file_error(path, "writing"))
}
