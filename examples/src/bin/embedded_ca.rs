//! An embedded CA: a trust domain in one process, with no server and no agent. It mints a root
//! CA and a JWT signing key with `spiffe-ca`, mints X.509-SVIDs (rotated on a short schedule)
//! and JWT-SVIDs (on request) for the given identities, and serves each identity on its own
//! Unix socket with `spiffe-workload`'s server kit, as an agent serves each workload its own.
//! Then it is its own first client: it fetches each identity from its socket, has each
//! identity's JWT-SVID validated by the next one, and prints every rotation the clients see.
//!
//! ```text
//! embedded_ca --trust-domain example.org --dir /tmp/ca \
//!     --id spiffe://example.org/web --id spiffe://example.org/db --rotate-every 5s
//! SPIFFE_ENDPOINT_SOCKET=unix:///tmp/ca/web.sock watcher   # another program, as that identity
//! ```
//!
//! Good for tests and demos, and for a closed system that wants SPIFFE identities without a
//! SPIRE deployment. The keys live in memory only: a restart makes a new trust domain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::Parser;
use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::json::JsonObject;
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use spiffe_core::time::CivilTime;
use spiffe_core::{
    Certificate, JwtBundle, JwtSvid, SpiffeId, TrustDomain, X509Bundle, X509Svid, X509SvidSource,
};
use spiffe_workload::{
    CallerInfo, EndpointAddress, IdentityProvider, JwtBundles, JwtSource, JwtSvidEntry,
    ProviderError, WorkloadApiClient, WorkloadApiServer, X509Context, X509Source, X509SvidEntry,
};
use tokio::net::UnixListener;
use tokio::sync::watch;

/// A trust domain in one process: mints a CA, SVIDs for each --id, and serves each on its own
/// Workload API socket in --dir.
#[derive(Parser, Debug)]
struct Cli {
    /// The trust domain of the CA.
    #[arg(long, value_name = "NAME")]
    trust_domain: TrustDomain,
    /// The directory for the sockets (`<dir>/<path of the ID>.sock`); it must exist.
    #[arg(long)]
    dir: PathBuf,
    /// An identity to mint and serve; repeat for several.
    #[arg(long = "id", value_name = "SPIFFE_ID", required = true)]
    ids: Vec<SpiffeId>,
    /// How often to mint new X.509-SVIDs; each is valid twice as long, so it is replaced at
    /// half its life, as an agent does (`500ms`, `5s`, `1m`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    rotate_every: Duration,
    /// Exit after every client saw this many rotations (default: serve until interrupted).
    #[arg(long, value_name = "N")]
    rotations: Option<u64>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    for id in &cli.ids {
        if id.trust_domain() != cli.trust_domain {
            return Err(format!("{id} is not in trust domain {}", cli.trust_domain).into());
        }
    }
    let ca = Arc::new(Ca::new(&cli.trust_domain, &cli.ids, cli.rotate_every * 2)?);
    let root = ca.x509.trust_anchor();
    println!(
        "root CA of {}: serial {}, expires {}",
        cli.trust_domain,
        root.serial_hex(),
        CivilTime::from_unix(root.not_after())
    );

    // The Workload API, one socket per identity; the servers stop when `stop` is dropped.
    let (stop, stopped) = watch::channel(());
    let mut endpoints = Vec::new();
    for id in &cli.ids {
        let path = socket_path(&cli.dir, id);
        let listener = UnixListener::bind(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "cannot listen on {}: it exists (another embedded_ca, or a stale socket to remove)",
                path.display()
            ),
            _ => format!("cannot listen on {}: {error}", path.display()),
        })?;
        let provider = Arc::new(Workload {
            ca: ca.clone(),
            id: id.clone(),
        });
        let mut stopped = stopped.clone();
        tokio::spawn(
            WorkloadApiServer::new(provider).serve_unix(listener, async move {
                let _ = stopped.changed().await;
            }),
        );
        let endpoint = format!("unix://{}", path.display());
        println!("serving {id} at {endpoint}");
        endpoints.push(endpoint);
    }

    // The rotation schedule.
    let rotating = ca.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(rotating.ttl / 2);
        every.tick().await; // the first tick is now: the SVIDs are new already
        loop {
            every.tick().await;
            if let Err(error) = rotating.rotate() {
                eprintln!("rotation failed: {error}");
            }
        }
    });

    // The clients, one per identity, each on its own socket.
    let mut clients = Vec::new();
    for endpoint in &endpoints {
        let client = WorkloadApiClient::connect(&EndpointAddress::parse(endpoint)?).await?;
        let x509 = X509Source::builder()
            .with_client(client.clone())
            .build()
            .await?;
        let jwt = JwtSource::builder().with_client(client).build().await?;
        let svid = x509.x509_svid().ok_or("no X.509-SVID")?;
        println!("fetched {}", describe(&svid));
        clients.push((x509, jwt));
    }
    // Each identity's JWT-SVID, for the next identity as audience, validated by that one.
    for (i, (_, jwt)) in clients.iter().enumerate() {
        let (next_x509, next_jwt) = &clients[(i + 1) % clients.len()];
        let audience = next_x509.x509_svid().ok_or("no X.509-SVID")?;
        let audience = audience.spiffe_id().to_string();
        let token = jwt.fetch_jwt_svid(&[audience.as_str()]).await?;
        let svid = JwtSvid::validate_now(token.token(), next_jwt, &[audience.as_str()])?;
        println!(
            "{audience} validated a JWT-SVID of {}, expires {}",
            svid.spiffe_id(),
            CivilTime::from_unix(svid.expiry())
        );
    }

    // Every rotation each client sees, until enough or Ctrl-C.
    let mut watching = tokio::task::JoinSet::new();
    for (x509, _) in &clients {
        let mut updates = x509.subscribe();
        let wanted = cli.rotations;
        watching.spawn(async move {
            let mut seen = 0;
            while wanted.is_none_or(|wanted| seen < wanted) {
                if updates.changed().await.is_err() {
                    break;
                }
                seen += 1;
                let context = updates.borrow_and_update().clone();
                if let Some(entry) = context.svids.first() {
                    println!("rotated: {}", describe(&entry.svid));
                }
            }
        });
    }
    tokio::select! {
        _ = async { while watching.join_next().await.is_some() {} } => {}
        interrupted = tokio::signal::ctrl_c() => interrupted?,
    }
    drop(stop);
    Ok(())
}

fn describe(svid: &X509Svid) -> String {
    format!(
        "{} serial {} expires {}",
        svid.spiffe_id(),
        svid.leaf().serial_hex(),
        CivilTime::from_unix(svid.leaf().not_after())
    )
}

/// `<dir>/web.sock` for `spiffe://example.org/web`, `<dir>/a-b.sock` for `.../a/b`.
fn socket_path(dir: &Path, id: &SpiffeId) -> PathBuf {
    let name = id.path().trim_start_matches('/').replace('/', "-");
    let name = if name.is_empty() { "root" } else { &name };
    dir.join(format!("{name}.sock"))
}

/// `500ms`, `5s`, `2m`, `1h`.
fn duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or((value, ""), |at| value.split_at(at));
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration such as 500ms, 5s, 2m or 1h"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => return Err(format!("{value:?}: the unit must be ms, s, m or h")),
    };
    if duration < Duration::from_millis(100) {
        return Err(format!("{value:?} is too short; at least 100ms"));
    }
    Ok(duration)
}

// === the CA ===

/// The trust domain's keys, and the current X.509-SVID of each identity.
struct Ca {
    x509: X509SvidIssuer,
    jwt: JwtSvidIssuer,
    ttl: Duration,
    svids: RwLock<HashMap<SpiffeId, Arc<X509Svid>>>,
    /// Tells the Workload API servers to send every open stream the new SVIDs.
    changes: watch::Sender<()>,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Ca {
    fn new(trust_domain: &TrustDomain, ids: &[SpiffeId], ttl: Duration) -> Result<Self, Error> {
        let now = UnixTime::now().as_secs();
        // Valid from an hour ago (clocks differ a little) for 30 days.
        let from = UnixTime::since_unix_epoch(Duration::from_secs(now - 3600));
        let until = UnixTime::since_unix_epoch(Duration::from_secs(now) + 30 * DAY);
        // The root CA: a self-signed certificate for the trust domain, its key in memory.
        let root_key = SoftwareSigner::generate("root", KeyType::EcP256)?;
        let x509 = X509SvidIssuer::self_signed(trust_domain, Arc::new(root_key), from, until)?;
        // The JWT signing key; its public half goes in the JWT bundle.
        let jwt_key = SoftwareSigner::generate("jwt", KeyType::EcP256)?;
        let jwt = JwtSvidIssuer::new(trust_domain, Arc::new(jwt_key), until)?;
        let ca = Self {
            x509,
            jwt,
            ttl,
            svids: RwLock::new(HashMap::new()),
            changes: watch::channel(()).0,
        };
        for id in ids {
            let svid = ca.mint(id)?;
            ca.svids
                .write()
                .map_err(|_| "poisoned")?
                .insert(id.clone(), svid);
        }
        Ok(ca)
    }

    /// A new key and X.509-SVID for `id`.
    fn mint(&self, id: &SpiffeId) -> Result<Arc<X509Svid>, Error> {
        let key = SoftwareSigner::generate("svid", KeyType::EcP256)?;
        let request = X509SvidRequest::new(id.clone(), key.public_key(), self.ttl);
        let minted = self.x509.mint(&request, UnixTime::now())?;
        let chain = minted
            .chain()
            .iter()
            .map(|der| Certificate::from_der(der.clone()))
            .collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8()?));
        Ok(Arc::new(X509Svid::from_parts(chain, key)?))
    }

    /// New X.509-SVIDs for every identity, pushed to every open stream.
    fn rotate(&self) -> Result<(), Error> {
        let ids: Vec<SpiffeId> = self
            .svids
            .read()
            .map_err(|_| "poisoned")?
            .keys()
            .cloned()
            .collect();
        for id in ids {
            let svid = self.mint(&id)?;
            self.svids.write().map_err(|_| "poisoned")?.insert(id, svid);
        }
        self.changes.send_replace(());
        Ok(())
    }
}

/// The Workload API of one socket: every caller on it is that identity.
struct Workload {
    ca: Arc<Ca>,
    id: SpiffeId,
}

impl IdentityProvider for Workload {
    async fn x509_context(&self, _caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        let svids = self
            .ca
            .svids
            .read()
            .map_err(|_| ProviderError::Unavailable)?;
        let svid = svids.get(&self.id).ok_or(ProviderError::NoIdentity)?;
        let bundle = X509Bundle::from_authorities(
            self.ca.x509.trust_domain().clone(),
            vec![self.ca.x509.trust_anchor().clone()],
        );
        Ok(X509Context {
            svids: vec![X509SvidEntry::new(svid.clone())],
            bundles: vec![Arc::new(bundle)],
        })
    }

    async fn jwt_svids(
        &self,
        _caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        if let Some(other) = spiffe_id.filter(|id| **id != self.id) {
            return Err(ProviderError::NotEntitled {
                spiffe_id: other.clone(),
            });
        }
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        let token = self
            .ca
            .jwt
            .mint(
                &self.id,
                &audience,
                Duration::from_secs(300),
                &JsonObject::new(),
                UnixTime::now(),
            )
            .map_err(|error| ProviderError::Internal(Box::new(error)))?;
        Ok(vec![JwtSvidEntry {
            spiffe_id: self.id.clone(),
            token,
            hint: String::new(),
        }])
    }

    async fn jwt_bundles(&self, _caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        let mut bundle = JwtBundle::new(self.ca.jwt.trust_domain().clone());
        bundle.insert(self.ca.jwt.jwt_authority());
        Ok(vec![Arc::new(bundle)])
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.ca.changes.subscribe()
    }
}
