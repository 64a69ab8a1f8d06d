//! A private PostgreSQL cluster a test may stop and start again, made with the repository's
//! `scripts/postgres.sh` in a directory of the test's own.
//!
//! The shared test cluster (`SPIFFE_TEST_POSTGRES_URL`) serves every PostgreSQL test of a
//! `nextest` run at once, so a test that restarts PostgreSQL must not restart that one: it
//! makes its own with [`PgCluster::start`] (initdb, loopback only, a free port, fsync off;
//! a few seconds), [`stop`](PgCluster::stop)s and [`resume`](PgCluster::resume)s it with
//! `pg_ctl`, and the cluster is stopped and its directory removed when the [`PgCluster`] is
//! dropped, also when the test fails.
//!
//! `pg_ctl` restarts the server with the options the script started it with: the server
//! records them in `<data>/postmaster.opts`, which is read before each stop. As root (the
//! containers the tests run in) PostgreSQL runs as the `postgres` user, as the script does.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A running (or stopped) private PostgreSQL cluster; removed when dropped.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    url: String,
    /// The server's options as it recorded them (`postmaster.opts`), without its binary and
    /// data directory.
    options: String,
    /// `pg_ctl`, beside the server binary.
    pg_ctl: PathBuf,
}

impl PgCluster {
    /// Creates and starts a cluster in `dir` (which must not exist yet, or be empty) with
    /// `scripts/postgres.sh start`. Fails when PostgreSQL is not installed, with the script's
    /// message.
    pub fn start(dir: &Path) -> io::Result<Self> {
        // The cluster runs as `postgres` when this process is root: every directory above
        // `dir` must be searchable by that user (test temp dirs are 0700).
        if crate::current_uid() == 0 {
            if let Some(parent) = dir.parent() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        let out = script(dir, "start")?;
        let url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !out.status.success() || !url.starts_with("postgres://") {
            return Err(io::Error::other(format!(
                "scripts/postgres.sh start failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let (pg_ctl, options) = recorded_options(&dir.join("data"))?;
        Ok(Self {
            dir: dir.to_owned(),
            url,
            options,
            pg_ctl,
        })
    }

    /// The URL of the cluster's `postgres` database, as superuser `postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of database `name` on this cluster.
    pub fn database_url(&self, name: &str) -> String {
        let base = self.url.rsplit_once('/').map_or(&*self.url, |(b, _)| b);
        format!("{base}/{name}")
    }

    /// `pg_ctl stop -m fast`: open sessions are terminated (their clients see SQLSTATE 57P01
    /// or a closed connection), new ones refused, and the server exits; waits for the exit.
    pub fn stop(&self) -> io::Result<()> {
        let data = self.data_dir();
        let data = data.display().to_string();
        self.pg_ctl(&["-D", &data, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// `pg_ctl start` with the options of the first start (same port, same socket directory);
    /// waits until the server accepts connections.
    pub fn resume(&self) -> io::Result<()> {
        let data = self.data_dir().display().to_string();
        let log = self.dir.join("log").display().to_string();
        self.pg_ctl(&[
            "-D",
            &data,
            "-l",
            &log,
            "-w",
            "-t",
            "60",
            "-o",
            &self.options,
            "start",
        ])
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        let data = self.data_dir().display().to_string();
        self.pg_ctl(&["-D", &data, "status"]).is_ok()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, args: &[&str]) -> io::Result<()> {
        let out = as_owner(&self.pg_ctl, args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "pg_ctl {} failed ({}): {}{}",
                args.last().copied().unwrap_or_default(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Stops the server (whether running or not) and removes the directory.
        let _ = script(&self.dir, "stop");
    }
}

/// `scripts/postgres.sh <verb>` with `SPIFFE_PG_DIR=dir`.
fn script(dir: &Path, verb: &str) -> io::Result<Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
    Command::new("bash")
        .arg(script)
        .arg(verb)
        .env("SPIFFE_PG_DIR", dir)
        .stdin(Stdio::null())
        .output()
}

/// Runs a PostgreSQL program as the cluster's owner (`postgres` when this process is root).
fn as_owner(program: &Path, args: &[&str]) -> io::Result<Output> {
    let mut command = if crate::current_uid() == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).stdin(Stdio::null()).output()
}

/// `pg_ctl` beside the running server's binary, and the server's options without the binary
/// and `-D <data>`, as `postmaster.opts` records them (each argument double-quoted, the form
/// `pg_ctl -o` hands to the shell).
fn recorded_options(data: &Path) -> io::Result<(PathBuf, String)> {
    let text = std::fs::read_to_string(data.join("postmaster.opts"))?;
    let mut words = text.split_whitespace();
    let server = words
        .next()
        .ok_or_else(|| io::Error::other("postmaster.opts is empty"))?;
    let pg_ctl = Path::new(server.trim_matches('"')).with_file_name("pg_ctl");
    let mut options = Vec::new();
    let mut skip_next = false;
    for word in words {
        if skip_next {
            skip_next = false;
        } else if word == "\"-D\"" {
            skip_next = true;
        } else {
            options.push(word);
        }
    }
    Ok((pg_ctl, options.join(" ")))
}
