//! `spiffe jwt …`: JWT-SVIDs (JWT-SVID.md, requirements JWT-1..JWT-20).

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;
use spiffe_core::json::JsonObject;
use spiffe_core::jwt::JwtSvidError;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};

use crate::input::{self, BundleArg};
use crate::output::{error_code, Answer, ErrorChain, Failure, Output};
use crate::time::{format_rfc3339, parse_rfc3339};

/// Subcommands of `spiffe jwt`.
#[derive(Debug, Subcommand)]
pub(crate) enum JwtCommand {
    /// Decode a JWT-SVID and show its header and claims. The signature is NOT verified.
    ///
    /// Valid when the token is structurally a JWT-SVID: compact JWS, an allowed `alg`, a `kid`,
    /// `typ` absent/JWT/JOSE, `sub` a SPIFFE ID, an `aud` and an `exp`. Expiry, audience and
    /// signature are not checked (`expired` says whether `exp` has passed); use
    /// `spiffe jwt validate` for that.
    #[command(after_help = "Examples:\n  \
        spiffe jwt inspect eyJhbGciOi...\n  \
        spiffe jwt inspect - < token.jwt")]
    Inspect(InspectArgs),

    /// Validate a JWT-SVID as a relying party would: signature with the key from the JWT
    /// bundle of its `sub`'s trust domain, lifetime, audience and the JWT-SVID profile.
    #[command(after_help = "Examples:\n  \
        spiffe jwt validate --bundle example.org=bundle.json --audience api - < token.jwt\n  \
        spiffe jwt validate --bundle example.org=jwks.json --audience a --audience b \\\n      \
        --at 2026-01-01T00:00:00Z --leeway 30 eyJhbGciOi...")]
    Validate(ValidateArgs),

    /// Mint a JWT-SVID with a CA made by `spiffe ca init` (which rotates first if due) and
    /// print it.
    #[command(after_help = "Examples:\n  \
        spiffe jwt mint --ca ./ca --id spiffe://example.org/web --audience api\n  \
        spiffe --output json jwt mint --ca ./ca --id spiffe://example.org/web --audience a --ttl 1m")]
    Mint(MintArgs),
}

/// Arguments of `spiffe jwt mint`.
#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The CA directory made by `spiffe ca init`.
    #[arg(long, value_name = "DIR")]
    ca: std::path::PathBuf,

    /// The SPIFFE ID (`sub`), in the CA's trust domain.
    #[arg(long, value_name = "ID")]
    id: String,

    /// An audience (`aud`); repeat for more.
    #[arg(long = "audience", value_name = "AUDIENCE", required = true)]
    audiences: Vec<String>,

    /// The lifetime (clamped to 1/6 of the CA's TTL, at most 7 days).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::ca::parse_duration)]
    ttl: Duration,
}

/// The answer of `spiffe jwt mint`: the token (human form: the token alone).
#[derive(Debug, Serialize)]
struct MintAnswer {
    valid: bool,
    token: String,
}

impl Answer for MintAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.token.as_bytes())
    }
}

fn mint(args: &MintArgs) -> Result<MintAnswer, Failure> {
    let id = spiffe_core::SpiffeId::new(&args.id).map_err(|e| Failure::Input {
        what: format!("SPIFFE ID `{}`", args.id),
        error: Box::new(e),
    })?;
    let manager = super::ca::open(&args.ca)?;
    let audiences: Vec<&str> = args.audiences.iter().map(String::as_str).collect();
    let token = manager
        .mint_jwt_svid(
            &id,
            &audiences,
            args.ttl,
            &spiffe_core::json::JsonObject::new(),
        )
        .map_err(|e| Failure::Input {
            what: format!("minting `{}`", args.id),
            error: Box::new(e),
        })?;
    Ok(MintAnswer { valid: true, token })
}

/// Arguments of `spiffe jwt inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token, or `-` to read it from stdin (surrounding whitespace is ignored).
    token: String,
}

/// Arguments of `spiffe jwt validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The token, or `-` to read it from stdin (surrounding whitespace is ignored).
    token: String,

    /// The JWT bundle of trust domain TD: a SPIFFE bundle JSON or a plain JWK Set. Repeat for
    /// more trust domains; several files for one trust domain are merged.
    #[arg(long = "bundle", value_name = "TD=FILE", required = true, value_parser = BundleArg::parse)]
    bundles: Vec<BundleArg>,

    /// An audience this relying party accepts; the token's `aud` must contain one of them.
    #[arg(long = "audience", value_name = "AUDIENCE", required = true)]
    audiences: Vec<String>,

    /// Validate at this time (RFC 3339, e.g. 2026-01-02T03:04:05Z) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    at: Option<UnixTime>,

    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    leeway: u64,
}

// === impl JwtCommand ===

impl JwtCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Inspect(args) => {
                let token = read_token(&args.token)?;
                let answer = match UnverifiedJwtSvid::parse_insecure(&token) {
                    Ok(svid) => InspectAnswer::parsed(&svid, UnixTime::now()),
                    Err(e) => InspectAnswer::invalid(&e),
                };
                out.answer(&answer)
            }
            Self::Mint(args) => {
                let answer = mint(&args)?;
                out.answer(&answer)
            }
            Self::Validate(args) => {
                let bundles = input::load_bundles(&args.bundles)?;
                let token = read_token(&args.token)?;
                let audiences: Vec<&str> = args.audiences.iter().map(String::as_str).collect();
                let now = args.at.unwrap_or_else(UnixTime::now);
                let opts =
                    JwtValidationOptions::new(now).with_leeway(Duration::from_secs(args.leeway));
                let result = JwtSvid::validate(&token, &bundles, &audiences, &opts);
                out.answer(&ValidateAnswer::new(&result, now))
            }
        }
    }
}

/// The token argument, or stdin for `-`, trimmed.
fn read_token(arg: &str) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let data = input::read_input(Path::new("-"))?;
    let text = String::from_utf8(data).map_err(|_| Failure::Input {
        what: "token on stdin".into(),
        error: "not UTF-8 text".into(),
    })?;
    Ok(text.trim().to_owned())
}

/// The answer of `jwt inspect`.
///
/// JSON: `{"valid", "signature_verified": false, "header": {"alg", "kid", "typ"}, "spiffe_id",
/// "audience", "expiry", "expired", "not_before", "claims"}`, or `{"valid": false,
/// "signature_verified": false, "error", "code", "requirement"}`.
#[derive(Serialize)]
struct InspectAnswer {
    valid: bool,
    signature_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spiffe_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requirement: Option<&'static str>,
}

/// The JOSE header of a JWT-SVID.
#[derive(Serialize)]
struct Header {
    alg: &'static str,
    kid: String,
    typ: Option<&'static str>,
}

// === impl InspectAnswer ===

impl InspectAnswer {
    fn parsed(svid: &UnverifiedJwtSvid, now: UnixTime) -> Self {
        Self {
            valid: true,
            signature_verified: false,
            header: Some(Header {
                alg: svid.alg().name(),
                kid: svid.kid().to_owned(),
                typ: svid.typ(),
            }),
            spiffe_id: Some(svid.spiffe_id().to_string()),
            audience: Some(svid.audience().to_vec()),
            expiry: Some(format_rfc3339(svid.expiry().as_secs())),
            expired: Some(now.as_secs() >= svid.expiry().as_secs()),
            not_before: Some(svid.not_before().map(|t| format_rfc3339(t.as_secs()))),
            claims: Some(svid.claims().clone()),
            error: None,
            code: None,
            requirement: None,
        }
    }

    fn invalid(error: &JwtSvidError) -> Self {
        Self {
            valid: false,
            signature_verified: false,
            header: None,
            spiffe_id: None,
            audience: None,
            expiry: None,
            expired: None,
            not_before: None,
            claims: None,
            error: Some(ErrorChain(error).to_string()),
            code: Some(error_code(error)),
            requirement: Some(error.requirement()),
        }
    }
}

impl Answer for InspectAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let (Some(header), Some(id)) = (&self.header, &self.spiffe_id) else {
            let error = self.error.as_deref().unwrap_or("not a JWT-SVID");
            return write!(w, "INVALID token: {error}");
        };
        write!(w, "VALID JWT-SVID for {id} (signature NOT verified)")?;
        write!(
            w,
            "\n  header:     alg {}, kid {}, typ {}",
            header.alg,
            header.kid.escape_debug(),
            header.typ.unwrap_or("(absent)")
        )?;
        if let Some(audience) = &self.audience {
            let list: Vec<String> = audience
                .iter()
                .map(|a| a.escape_debug().to_string())
                .collect();
            write!(w, "\n  audience:   {}", list.join(", "))?;
        }
        if let Some(expiry) = &self.expiry {
            let expired = if self.expired == Some(true) {
                " (EXPIRED)"
            } else {
                ""
            };
            write!(w, "\n  expires:    {expiry}{expired}")?;
        }
        if let Some(Some(nbf)) = &self.not_before {
            write!(w, "\n  not before: {nbf}")?;
        }
        if let Some(claims) = &self.claims {
            write!(w, "\n  claims:     {}", claims.to_json())?;
        }
        Ok(())
    }
}

/// The answer of `jwt validate`.
///
/// JSON: `{"valid": true, "spiffe_id", "audience", "expiry", "claims", "at"}` or
/// `{"valid": false, "error", "code", "requirement", "at"}`.
#[derive(Serialize)]
struct ValidateAnswer {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    spiffe_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<JsonObject>,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requirement: Option<&'static str>,
}

// === impl ValidateAnswer ===

impl ValidateAnswer {
    fn new(result: &Result<JwtSvid, JwtSvidError>, now: UnixTime) -> Self {
        let at = format_rfc3339(now.as_secs());
        match result {
            Ok(svid) => Self {
                valid: true,
                spiffe_id: Some(svid.spiffe_id().to_string()),
                audience: Some(svid.audience().to_vec()),
                expiry: Some(format_rfc3339(svid.expiry().as_secs())),
                claims: Some(svid.claims().clone()),
                at,
                error: None,
                code: None,
                requirement: None,
            },
            Err(e) => Self {
                valid: false,
                spiffe_id: None,
                audience: None,
                expiry: None,
                claims: None,
                at,
                error: Some(ErrorChain(e).to_string()),
                code: Some(error_code(e)),
                requirement: Some(e.requirement()),
            },
        }
    }
}

impl Answer for ValidateAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        match (&self.spiffe_id, &self.error) {
            (Some(id), None) => {
                write!(w, "VALID JWT-SVID for {id} (validated at {})", self.at)?;
                if let Some(expiry) = &self.expiry {
                    write!(w, "\n  expires: {expiry}")?;
                }
                if let Some(claims) = &self.claims {
                    write!(w, "\n  claims:  {}", claims.to_json())?;
                }
                Ok(())
            }
            (_, error) => write!(
                w,
                "INVALID token: {} (at {})",
                error.as_deref().unwrap_or("not valid"),
                self.at
            ),
        }
    }
}
