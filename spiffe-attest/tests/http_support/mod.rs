//! The in-test servers (`spiffe_attest::testing::http`: the Docker Engine on a Unix socket, the
//! kubelet and the Kubernetes API server over real TLS) and this crate's test data.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::{Path, PathBuf};

pub use spiffe_attest::testing::http::{
    serve_plain, serve_tls, serve_unix, test_pki, Counter, Handler, Seen, TestPki,
};

/// A proc root with one process: `<pid>/cgroup` with `cgroup` and a `<pid>/stat` whose start
/// time is `start_time`.
pub fn proc_root(pid: i32, cgroup: &str, start_time: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_dir = dir.path().join(pid.to_string());
    std::fs::create_dir(&pid_dir).expect("mkdir");
    std::fs::write(pid_dir.join("cgroup"), cgroup).expect("write cgroup");
    let stat = format!(
        "{pid} (workload) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 {start_time} 100 10\n"
    );
    std::fs::write(pid_dir.join("stat"), stat).expect("write stat");
    let root = dir.path().to_owned();
    (dir, root)
}

pub fn data(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
