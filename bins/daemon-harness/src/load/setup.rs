//! Starting the daemons of a load run and creating what the load needs (databases, join
//! tokens, entries).

use super::*;

// --- setup ---------------------------------------------------------------------------------

/// A server the simulated agents talk to.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) addr: std::net::SocketAddr,
    pub(super) bundle: Arc<X509Bundle>,
    pub(super) admin: Channel,
}

pub(super) struct Daemons {
    pub(super) domain: Domain,
    pub(super) second: Option<ServerProcess>,
    pub(super) database: Option<(String, String)>,
}

/// Creates database `name` in the cluster at `admin_url`; the URL of the new database.
pub(super) async fn create_database(admin_url: &str, name: &str) -> io::Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|e| io::Error::other(format!("connect to PostgreSQL at the admin URL: {e}")))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| io::Error::other(format!("CREATE DATABASE {name}: {e}")))?;
    let (base, _) = admin_url
        .split('?')
        .next()
        .unwrap_or(admin_url)
        .rsplit_once('/')
        .ok_or_else(|| io::Error::other("the PostgreSQL URL names no database"))?;
    Ok(format!("{base}/{name}"))
}

pub(super) async fn drop_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await;
    }
}

pub(super) async fn join_token(admin: &Channel) -> Result<String, tonic::Status> {
    Ok(AgentClient::new(admin.clone())
        .create_join_token(CreateJoinTokenRequest {
            ttl: 3600,
            ..Default::default()
        })
        .await?
        .into_inner()
        .value)
}

pub(super) fn spiffeid(path: &str) -> types::Spiffeid {
    types::Spiffeid {
        trust_domain: TRUST_DOMAIN.into(),
        path: path.into(),
    }
}

/// Creates `per_agent` entries under each of `tokens`' agents, 500 per call.
pub(super) async fn create_agent_entries(
    admin: &Channel,
    tokens: &[String],
    per_agent: usize,
) -> io::Result<()> {
    let mut entries = Vec::new();
    for (a, token) in tokens.iter().enumerate() {
        for n in 0..per_agent {
            entries.push(types::Entry {
                spiffe_id: Some(spiffeid(&format!("/load/agent{a}/w{n}"))),
                parent_id: Some(spiffeid(&format!("/spire/agent/join_token/{token}"))),
                selectors: vec![types::Selector {
                    r#type: "unix".into(),
                    value: format!("uid:{}", 10_000 + n),
                }],
                ..Default::default()
            });
        }
    }
    for chunk in entries.chunks(500) {
        let response = EntryClient::new(admin.clone())
            .batch_create_entry(BatchCreateEntryRequest {
                entries: chunk.to_vec(),
                output_mask: None,
            })
            .await
            .map_err(|s| io::Error::other(format!("BatchCreateEntry: {s}")))?
            .into_inner();
        for result in response.results {
            let status = result.status.unwrap_or_default();
            if status.code != 0 {
                return Err(io::Error::other(format!(
                    "BatchCreateEntry: code {}: {}",
                    status.code, status.message
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn server_config(
    config: &mut ServerConfigFile,
    load: &LoadConfig,
    datastore: &DataStoreKind,
) {
    config.trust_domain = TRUST_DOMAIN.into();
    config.datastore = datastore.clone();
    config.cache_reload_interval = Some(load.cache_reload_interval.clone());
    config.extra_server = RATELIMIT_OFF.into();
}

/// Starts the daemons: the domain (server A and the real agent), server B on PostgreSQL, and
/// the workload entries, waiting until the agent serves them.
pub(super) fn start_daemons(
    dir: &Path,
    load: &LoadConfig,
    rt: &tokio::runtime::Runtime,
) -> io::Result<(Daemons, Vec<String>)> {
    let (datastore, database) = match &load.topology {
        Topology::Sqlite => (DataStoreKind::Sqlite, None),
        Topology::Postgres(admin_url) => {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let name = format!(
                "load_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let url = rt.block_on(create_database(admin_url, &name))?;
            (
                DataStoreKind::Postgres(url),
                Some((admin_url.clone(), name)),
            )
        }
    };
    let domain = Domain::start(dir, TRUST_DOMAIN, |server, agent| {
        server_config(server, load, &datastore);
        // DEBUG lines for every workload call would cost the agent (and this process, which
        // keeps the output) more than the calls.
        agent.log_level = "INFO".into();
    })?;
    let second = match &load.topology {
        Topology::Sqlite => None,
        Topology::Postgres(_) => {
            let mut config = ServerConfigFile::new(&dir.join("server-b"));
            server_config(&mut config, load, &datastore);
            Some(ServerProcess::start(&ServerProcess::binary(), &config)?)
        }
    };
    let daemons = Daemons {
        domain,
        second,
        database,
    };

    let uid = current_uid();
    let gid = std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.gid()
    });
    let ttls = [
        "-x509SVIDTTL".to_owned(),
        load.workload_x509_ttl.to_string(),
        "-jwtSVIDTTL".to_owned(),
        load.workload_jwt_ttl.to_string(),
    ];
    let ttls: Vec<&str> = ttls.iter().map(String::as_str).collect();
    let mut ids = Vec::new();
    for n in 0..load.workload_entries.max(1) {
        let id = format!("spiffe://{TRUST_DOMAIN}/load/workload/{n}");
        let selector = if n % 2 == 1 {
            format!("unix:gid:{gid}")
        } else {
            format!("unix:uid:{uid}")
        };
        daemons.domain.create_entry(&id, &[&selector], &ttls)?;
        ids.push(id);
    }
    // Every workload entry has reached the agent once the last one is served.
    if let Some(last) = ids.last() {
        daemons.domain.wait_for_svid(last)?;
    }
    Ok((daemons, ids))
}
