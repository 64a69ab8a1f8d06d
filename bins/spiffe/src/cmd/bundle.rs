//! `spiffe bundle …`: SPIFFE bundles (SPIFFE_Trust_Domain_and_Bundle.md, BUNDLE-1..BUNDLE-18).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use spiffe_core::bundle::{BundleFile, BundleFormat, KeyIssue};
use spiffe_core::{BundleMap, Certificate, JwtAuthority, SpiffeBundle, TrustDomain};

use crate::input;
use crate::output::{error_code, Answer, ErrorChain, Failure, Output};
use crate::time::format_rfc3339;

/// Subcommands of `spiffe bundle`.
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Read a trust bundle and say what it holds and which keys were skipped, and why.
    ///
    /// FILE may be a SPIFFE bundle (JWK Set with `use` members), a plain JWK Set, PEM or DER
    /// certificates, or a Bundle Map (`{"trust_domains": {...}}`, or any JSON with --map).
    /// A bundle does not name its own trust domain (BUNDLE-1): without --trust-domain it is
    /// taken from the SPIFFE IDs (URI SANs) of the X.509 authorities when they all share one
    /// trust domain, and reported as null otherwise; it only labels the answer.
    #[command(after_help = "Examples:\n  \
        spiffe bundle inspect bundle.json\n  \
        spiffe bundle inspect --trust-domain example.org --output json ca.pem")]
    Inspect(InspectArgs),

    /// Convert between PEM certificates and SPIFFE bundle JSON.
    ///
    /// Certificates (PEM or DER) become a SPIFFE bundle document; a SPIFFE bundle (or plain
    /// JWK Set) becomes PEM of its X.509 authorities (JWT authorities cannot be written as PEM
    /// and are dropped with a warning). --to overrides the direction, e.g. `--to json` on a
    /// bundle JSON normalizes it. Writes to stdout, or to --out (then an answer is printed).
    #[command(after_help = "Examples:\n  \
        spiffe bundle convert --trust-domain example.org --sequence 3 --refresh-hint 300 ca.pem\n  \
        spiffe bundle convert --trust-domain example.org --out ca.pem bundle.json")]
    Convert(ConvertArgs),
}

/// Arguments of `spiffe bundle inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The bundle file (`-` for stdin).
    file: PathBuf,

    /// The trust domain the bundle belongs to (only labels the answer).
    #[arg(long, value_name = "TD", value_parser = parse_trust_domain, conflicts_with = "map")]
    trust_domain: Option<TrustDomain>,

    /// Read FILE as a Bundle Map (BUNDLE-14). Without this flag a map is recognised by its
    /// `trust_domains` member.
    #[arg(long)]
    map: bool,
}

/// Arguments of `spiffe bundle convert`.
#[derive(Debug, Args)]
pub(crate) struct ConvertArgs {
    /// The bundle file (`-` for stdin).
    file: PathBuf,

    /// The trust domain the bundle belongs to.
    #[arg(long, value_name = "TD", required = true, value_parser = parse_trust_domain)]
    trust_domain: TrustDomain,

    /// Output format; by default PEM input becomes JSON and JSON input becomes PEM.
    #[arg(long, value_enum, value_name = "FORMAT")]
    to: Option<Target>,

    /// `spiffe_sequence` of the written bundle JSON (BUNDLE-5).
    #[arg(long, value_name = "N")]
    sequence: Option<u64>,

    /// `spiffe_refresh_hint` of the written bundle JSON, in seconds (BUNDLE-6).
    #[arg(long, value_name = "SECS")]
    refresh_hint: Option<u64>,

    /// Write the result to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// What `bundle convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    /// A SPIFFE bundle document.
    Json,
    /// PEM `CERTIFICATE` blocks of the X.509 authorities.
    Pem,
}

fn parse_trust_domain(s: &str) -> Result<TrustDomain, String> {
    TrustDomain::new(s).map_err(|e| format!("`{s}` is not a valid trust domain name: {e}"))
}

// === impl BundleCommand ===

impl BundleCommand {
    /// Runs the subcommand, writing answers (or the converted bundle) to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Inspect(args) => {
                let data = input::read_input(&args.file)?;
                let file = args.file.display().to_string();
                let answer = inspect(file, args.trust_domain, args.map, &data);
                out.answer(&answer)
            }
            Self::Convert(args) => convert(&args, out),
        }
    }
}

/// `bundle inspect` of the bytes of `file`: the format recognised and the input parsed once.
fn inspect(
    file: String,
    trust_domain: Option<TrustDomain>,
    map: bool,
    data: &[u8],
) -> InspectAnswer {
    let mut answer = InspectAnswer::new(file);
    if map {
        match BundleMap::parse(data) {
            Ok(map) => answer.fill_map(&map),
            Err(e) => answer.fail(&e),
        }
        return answer;
    }
    match BundleFile::parse(data, trust_domain.as_ref()) {
        Ok(parsed) => match parsed.map() {
            Some(map) => answer.fill_map(map),
            None => answer.fill(&parsed),
        },
        Err(e) => answer.fail(&e),
    }
    answer
}

/// `bundle convert`.
fn convert<W: Write>(args: &ConvertArgs, out: &mut Output<W>) -> Result<(), Failure> {
    let data = input::read_input(&args.file)?;
    let what = || format!("bundle file `{}`", args.file.display());
    let (mut bundle, format) =
        SpiffeBundle::parse_any(args.trust_domain.clone(), &data).map_err(|e| Failure::Input {
            what: what(),
            error: Box::new(e),
        })?;
    let target = args.to.unwrap_or(match format {
        BundleFormat::Pem | BundleFormat::Der => Target::Json,
        _ => Target::Pem,
    });
    let document = match target {
        Target::Json => {
            if let Some(sequence) = args.sequence {
                bundle.set_sequence(Some(sequence));
            }
            if let Some(secs) = args.refresh_hint {
                bundle.set_refresh_hint(Some(Duration::from_secs(secs)));
            }
            let mut json = bundle.to_json();
            json.push(b'\n');
            json
        }
        Target::Pem => {
            if args.sequence.is_some() || args.refresh_hint.is_some() {
                return Err(Failure::Input {
                    what: "--sequence/--refresh-hint".into(),
                    error: "only apply to --to json".into(),
                });
            }
            let x509 = bundle.x509_authorities();
            if x509.is_empty() {
                return Err(Failure::Input {
                    what: what(),
                    error: "has no X.509 authorities to write as PEM".into(),
                });
            }
            let jwt = bundle.jwt_authorities().len();
            if jwt > 0 {
                eprintln!("spiffe: warning: {jwt} JWT authorities not written (PEM holds certificates only)");
            }
            x509.to_pem().into_bytes()
        }
    };
    match &args.out {
        None => out.write_raw(&document),
        Some(path) => {
            input::write_output(path, &document)?;
            out.answer(&ConvertAnswer {
                valid: true,
                file: args.file.display().to_string(),
                out: path.display().to_string(),
                format: target,
                trust_domain: bundle.trust_domain().to_string(),
                x509_authorities: bundle.x509_authorities().len(),
                jwt_authorities: if target == Target::Json {
                    bundle.jwt_authorities().len()
                } else {
                    0
                },
            })
        }
    }
}

/// The answer of `bundle inspect`.
///
/// JSON: `{"file", "valid", "format", "trust_domain", "x509_authorities", "jwt_authorities",
/// "refresh_hint", "sequence", "skipped_keys", "diagnostics": [{"index", "issue", "code",
/// "requirement", "skipped"}]}` (counts; `refresh_hint` in seconds; null when absent), plus
/// `"trust_domains"` and `"bundles"` for a Bundle Map; or `{"file", "valid": false, "error",
/// "code"}`.
#[derive(Serialize)]
struct InspectAnswer {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    trust_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x509_authorities: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt_authorities: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_hint: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_keys: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diagnostics: Vec<Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_domains: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bundles: Vec<MapEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    /// Human output only: one line per authority.
    #[serde(skip)]
    authorities: Vec<String>,
}

/// One entry of `keys` that was skipped or partly ignored.
#[derive(Serialize)]
struct Diagnostic {
    index: usize,
    issue: &'static str,
    code: String,
    requirement: &'static str,
    skipped: bool,
}

/// One trust domain's bundle in a Bundle Map.
#[derive(Serialize)]
struct MapEntry {
    trust_domain: String,
    x509_authorities: usize,
    jwt_authorities: usize,
    refresh_hint: Option<u64>,
    sequence: Option<u64>,
}

// === impl InspectAnswer ===

impl InspectAnswer {
    fn new(file: String) -> Self {
        Self {
            file,
            valid: false,
            format: None,
            trust_domain: None,
            x509_authorities: None,
            jwt_authorities: None,
            refresh_hint: None,
            sequence: None,
            skipped_keys: None,
            diagnostics: Vec::new(),
            trust_domains: None,
            bundles: Vec::new(),
            error: None,
            code: None,
            authorities: Vec::new(),
        }
    }

    fn fail(&mut self, error: &(dyn std::error::Error + 'static)) {
        self.valid = false;
        self.code = Some(error_code(&error));
        self.error = Some(ErrorChain(error).to_string());
    }

    fn fill(&mut self, file: &BundleFile) {
        self.valid = true;
        self.format = Some(format_name(file.format()));
        self.trust_domain = file.trust_domain().map(ToString::to_string);
        self.x509_authorities = Some(file.x509_authorities().len());
        self.jwt_authorities = Some(file.jwt_authorities().count());
        self.refresh_hint = Some(file.refresh_hint().map(|hint| hint.as_secs()));
        self.sequence = Some(file.sequence());
        let diags = file.diagnostics();
        self.skipped_keys = Some(diags.iter().filter(|d| d.issue.skips_key()).count());
        self.diagnostics = diags
            .iter()
            .map(|d| Diagnostic {
                index: d.index,
                issue: describe_issue(d.issue),
                code: error_code(&d.issue),
                requirement: d.issue.requirement(),
                skipped: d.issue.skips_key(),
            })
            .collect();
        self.add_authorities(file.x509_authorities(), file.jwt_authorities(), "");
    }

    fn fill_map(&mut self, map: &BundleMap) {
        self.valid = true;
        self.format = Some("bundle-map");
        self.trust_domains = Some(map.len());
        self.bundles = map
            .iter()
            .map(|bundle| MapEntry {
                trust_domain: bundle.trust_domain().to_string(),
                x509_authorities: bundle.x509_authorities().len(),
                jwt_authorities: bundle.jwt_authorities().len(),
                refresh_hint: bundle.refresh_hint_secs(),
                sequence: bundle.sequence(),
            })
            .collect();
        self.x509_authorities = Some(self.bundles.iter().map(|b| b.x509_authorities).sum());
        self.jwt_authorities = Some(self.bundles.iter().map(|b| b.jwt_authorities).sum());
        for bundle in map.iter() {
            let prefix = format!("{}: ", bundle.trust_domain());
            let jwt = bundle.jwt_authorities().authorities();
            self.add_authorities(bundle.x509_authorities().authorities(), jwt, &prefix);
        }
    }

    fn add_authorities<'a>(
        &mut self,
        x509: &[Certificate],
        jwt: impl Iterator<Item = &'a JwtAuthority>,
        prefix: &str,
    ) {
        for cert in x509 {
            self.authorities.push(format!(
                "{prefix}X.509 authority {} (until {})",
                cert.subject().escape_debug(),
                format_rfc3339(cert.not_after().as_secs())
            ));
        }
        for authority in jwt {
            self.authorities.push(format!(
                "{prefix}JWT authority kid {} ({})",
                authority.kid().escape_debug(),
                authority.public_key_algorithm()
            ));
        }
    }
}

impl Answer for InspectAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let file = self.file.escape_debug();
        if let Some(error) = &self.error {
            return write!(w, "INVALID {file}: {error}");
        }
        write!(w, "VALID {file}: {}", self.format.unwrap_or("bundle"))?;
        if let Some(count) = self.trust_domains {
            write!(w, " of {count} trust domains")?;
        }
        if let Some(td) = &self.trust_domain {
            write!(w, " (trust domain {td})")?;
        }
        write!(
            w,
            ", {} X.509 and {} JWT authorities",
            self.x509_authorities.unwrap_or(0),
            self.jwt_authorities.unwrap_or(0)
        )?;
        if let Some(Some(hint)) = self.refresh_hint {
            write!(w, ", refresh hint {hint} s")?;
        }
        if let Some(Some(sequence)) = self.sequence {
            write!(w, ", sequence {sequence}")?;
        }
        for line in &self.authorities {
            write!(w, "\n  {line}")?;
        }
        for d in &self.diagnostics {
            let what = if d.skipped { "skipped" } else { "note" };
            write!(
                w,
                "\n  keys[{}] {what}: {} ({})",
                d.index, d.issue, d.requirement
            )?;
        }
        Ok(())
    }
}

/// The answer of `bundle convert --out`.
#[derive(Serialize)]
struct ConvertAnswer {
    valid: bool,
    file: String,
    out: String,
    #[serde(serialize_with = "serialize_target")]
    format: Target,
    trust_domain: String,
    x509_authorities: usize,
    jwt_authorities: usize,
}

fn serialize_target<S: serde::Serializer>(target: &Target, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match target {
        Target::Json => "json",
        Target::Pem => "pem",
    })
}

impl Answer for ConvertAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let kind = match self.format {
            Target::Json => "SPIFFE bundle JSON",
            Target::Pem => "PEM",
        };
        write!(
            w,
            "wrote {} ({kind} for trust domain {}: {} X.509 and {} JWT authorities)",
            self.out.escape_debug(),
            self.trust_domain,
            self.x509_authorities,
            self.jwt_authorities
        )
    }
}

/// The `format` of the answer.
fn format_name(format: BundleFormat) -> &'static str {
    match format {
        BundleFormat::SpiffeBundle => "spiffe-bundle",
        BundleFormat::Jwks => "jwks",
        BundleFormat::Pem | BundleFormat::Der => "certificates",
        BundleFormat::BundleMap => "bundle-map",
        _ => "other",
    }
}

/// Why an entry of `keys` was ignored, for people.
fn describe_issue(issue: KeyIssue) -> &'static str {
    match issue {
        KeyIssue::MissingUse => "no `use` member",
        KeyIssue::UnknownUse => "`use` is neither x509-svid nor jwt-svid",
        KeyIssue::MissingKty => "no `kty` member",
        KeyIssue::UnknownKty => "unsupported `kty`",
        KeyIssue::MissingX5c => "x509-svid entry without `x5c`",
        KeyIssue::EmptyX5c => "x509-svid entry with an empty `x5c`",
        KeyIssue::MalformedX5c => "`x5c` is not an array of strings",
        KeyIssue::X5cNotStandardBase64 => "`x5c[0]` is not standard base64",
        KeyIssue::X5cNotACertificate => "`x5c[0]` is not a certificate",
        KeyIssue::MissingKid => "jwt-svid entry without `kid`",
        KeyIssue::InvalidJwtKey => "jwt-svid entry without a usable public key",
        KeyIssue::ExtraX5cIgnored => "`x5c` certificates after the first ignored",
        KeyIssue::KidOnX509Ignored => "`kid` on an x509-svid entry ignored",
        KeyIssue::DuplicateAuthority => "same certificate as an earlier entry",
        _ => "ignored",
    }
}
