//! `spiffe ca show|prepare|activate|taint|revoke`: SPIRE's local-authority operations on the
//! CA in a directory. Each operation that changes the trust bundle rewrites `bundle.json`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use spiffe_ca::manager::{AuthorityInfo, AuthorityKind, AuthorityStatus, CaManager, ManagerError};

use crate::output::{Answer, Failure};
use crate::time::format_rfc3339;

/// Arguments of `spiffe ca show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The CA directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

/// Arguments of `spiffe ca prepare` and `spiffe ca activate`.
#[derive(Debug, Args)]
pub(crate) struct StepArgs {
    /// The CA directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,

    /// Act on the JWT authority instead of the X.509 one.
    #[arg(long)]
    jwt: bool,
}

/// Arguments of `spiffe ca taint` and `spiffe ca revoke`.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// The CA directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,

    /// Act on a JWT authority (ID is its `kid`) instead of an X.509 one (ID is its authority
    /// id, the subject key identifier in hex).
    #[arg(long)]
    jwt: bool,

    /// The authority id, as `spiffe ca show` lists it.
    #[arg(value_name = "ID")]
    id: String,
}

/// A local-authority operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation {
    Prepare,
    Activate,
    Taint,
    Revoke,
}

/// One authority as listed.
#[derive(Debug, Serialize)]
struct Authority {
    id: String,
    status: &'static str,
    tainted: bool,
    not_before: String,
    not_after: String,
}

/// The answer of `ca show`.
#[derive(Debug, Serialize)]
pub(crate) struct ShowAnswer {
    valid: bool,
    trust_domain: String,
    x509: Vec<Authority>,
    jwt: Vec<Authority>,
}

/// The answer of an operation: the authority it concerned, after the operation.
#[derive(Debug, Serialize)]
pub(crate) struct OperationAnswer {
    valid: bool,
    operation: &'static str,
    kind: &'static str,
    authority: Authority,
    bundle: PathBuf,
    bundle_changed: bool,
}

// === impl ShowAnswer ===

impl Answer for ShowAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(w, "trust domain {}", self.trust_domain)?;
        for (title, list) in [
            ("X.509 authorities", &self.x509),
            ("JWT authorities", &self.jwt),
        ] {
            write!(w, "\n{title}:")?;
            for authority in list {
                write!(w, "\n  ")?;
                authority.write_human(w)?;
            }
        }
        Ok(())
    }
}

// === impl OperationAnswer ===

impl Answer for OperationAnswer {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(w, "{} {}: ", self.operation, self.kind)?;
        self.authority.write_human(w)?;
        if self.bundle_changed {
            write!(w, "\nbundle rewritten: {}", self.bundle.display())?;
        }
        Ok(())
    }
}

// === impl Authority ===

impl Authority {
    fn new(info: &AuthorityInfo) -> Self {
        Self {
            id: info.id.clone(),
            status: status_name(info.status),
            tainted: info.tainted,
            not_before: format_rfc3339(info.not_before.as_secs()),
            not_after: format_rfc3339(info.not_after.as_secs()),
        }
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        write!(w, "{} {}", self.id, self.status)?;
        if self.tainted {
            write!(w, " tainted")?;
        }
        write!(w, " (not after {})", self.not_after)
    }
}

// === impl Operation ===

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Activate => "activate",
            Self::Taint => "taint",
            Self::Revoke => "revoke",
        }
    }
}

/// `spiffe ca show`: the authorities held, oldest first.
pub(crate) fn show(args: &ShowArgs) -> Result<ShowAnswer, Failure> {
    let manager = super::open(&args.dir)?;
    Ok(ShowAnswer {
        valid: true,
        trust_domain: manager.config().trust_domain().as_str().to_owned(),
        x509: manager
            .x509_authorities()
            .iter()
            .map(Authority::new)
            .collect(),
        jwt: manager
            .jwt_authorities()
            .iter()
            .map(Authority::new)
            .collect(),
    })
}

/// `spiffe ca prepare` and `spiffe ca activate`.
pub(crate) fn step(operation: Operation, args: &StepArgs) -> Result<OperationAnswer, Failure> {
    run(operation, &args.dir, args.jwt, "")
}

/// `spiffe ca taint` and `spiffe ca revoke`.
pub(crate) fn target(operation: Operation, args: &TargetArgs) -> Result<OperationAnswer, Failure> {
    run(operation, &args.dir, args.jwt, &args.id)
}

fn run(operation: Operation, dir: &Path, jwt: bool, id: &str) -> Result<OperationAnswer, Failure> {
    let manager = super::open(dir)?;
    let before = manager.bundle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(Failure::io("starting the async runtime"))?;
    let info = runtime
        .block_on(apply(&manager, operation, jwt, id))
        .map_err(|e| Failure::Input {
            what: format!("{} in CA `{}`", operation.name(), dir.display()),
            error: Box::new(e),
        })?;
    let bundle_changed = manager.bundle() != before;
    super::publish_bundle(dir, &manager)?;
    Ok(OperationAnswer {
        valid: true,
        operation: operation.name(),
        kind: kind_name(info.kind),
        authority: Authority::new(&info),
        bundle: dir.join("bundle.json"),
        bundle_changed,
    })
}

async fn apply(
    manager: &CaManager,
    operation: Operation,
    jwt: bool,
    id: &str,
) -> Result<AuthorityInfo, ManagerError> {
    match (operation, jwt) {
        (Operation::Prepare, false) => manager.prepare_x509().await,
        (Operation::Prepare, true) => manager.prepare_jwt().await,
        (Operation::Activate, false) => manager.activate_x509().await,
        (Operation::Activate, true) => manager.activate_jwt().await,
        (Operation::Taint, false) => manager.taint_x509(id).await,
        (Operation::Taint, true) => manager.taint_jwt(id).await,
        (Operation::Revoke, false) => manager.revoke_x509(id).await,
        (Operation::Revoke, true) => manager.revoke_jwt(id).await,
    }
}

fn status_name(status: AuthorityStatus) -> &'static str {
    match status {
        AuthorityStatus::Prepared => "prepared",
        AuthorityStatus::Active => "active",
        _ => "old",
    }
}

fn kind_name(kind: AuthorityKind) -> &'static str {
    match kind {
        AuthorityKind::Jwt => "jwt",
        _ => "x509",
    }
}
