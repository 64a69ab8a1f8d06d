//! Daemon-level tests of the platform workload attestors (issue 17): a real `spiffe-agent`
//! process configured with SPIRE's `WorkloadAttestor "docker"`, `"k8s"` and `"systemd"`
//! plugins serves a real workload process (`spiffe-agent api fetch x509`), whose identity comes
//! from those attestors only.
//!
//! - docker and k8s: the workload moves itself into a real kernel cgroup named like a
//!   container's (`/docker/<id>`, `/kubepods/besteffort/pod<uid>/<id>`) before it execs the
//!   client, so the agent reads the container from `/proc/<pid>/cgroup` as on a node. The
//!   Docker Engine (a Unix socket) and the kubelet (HTTPS with a test CA and a bearer token)
//!   are in-test stand-ins (`spiffe_attest::testing::http`) answering constructed responses.
//!   These need root and a writable cgroup hierarchy; without one they are skipped with the
//!   reason printed, unless `SPIFFE_TEST_REQUIRE_CGROUPS=1`, which makes them fail instead.
//! - systemd: a private `dbus-daemon` with a stand-in `org.freedesktop.systemd1` answering
//!   `GetUnitByPID` for the workload's pid; the agent finds it through
//!   `DBUS_SYSTEM_BUS_ADDRESS`, as it would find the system bus.
//!
//! Every test also shows that a workload the attestors describe differently (another
//! container, another pod's service account, another unit) is refused (`PermissionDenied`).
//!
//! Needs the daemons built: `cargo build -p spiffe-server -p spiffe-agent`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daemon_harness::agent::agent_binary;
use daemon_harness::Domain;
use spiffe_attest::testing::http::{serve_plain, serve_tls, serve_unix, test_pki, Handler};
use spiffe_attest::testing::systemd::{DbusDaemon, StandInSystemd, UnitInfo};

/// Set to `1` to fail, rather than skip, when cgroups cannot be created here.
const REQUIRE_CGROUPS: &str = "SPIFFE_TEST_REQUIRE_CGROUPS";
/// How long a test waits for an entry to reach the agent and a workload to get it.
const GRANT_TIMEOUT: Duration = Duration::from_secs(25);
/// How long one workload process may run.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Cgroups

/// A mounted cgroup hierarchy the test can create cgroups in.
#[derive(Debug)]
struct Hierarchy {
    root: PathBuf,
}

/// Which hierarchy a test wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// cgroup v1's `pids` controller, else the v2 unified hierarchy.
    Any,
    /// The v2 unified hierarchy (on a hybrid host, the one beside the v1 controllers).
    V2,
}

/// The hierarchy, or why there is none usable here.
fn writable_hierarchy(want: Want) -> Result<Hierarchy, String> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .map_err(|e| format!("cannot read /proc/self: {e}"))?;
    if euid != 0 {
        return Err(format!(
            "creating cgroups needs root (running as uid {euid})"
        ));
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| format!("cannot read /proc/self/mounts: {e}"))?;
    let mut v1_pids = None;
    let mut v2 = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [_, mount_point, fs_type, options, ..] = fields[..] else {
            continue;
        };
        match fs_type {
            "cgroup" if options.split(',').any(|o| o == "pids") => {
                v1_pids = Some(PathBuf::from(mount_point))
            }
            "cgroup2" if v2.is_none() => v2 = Some(PathBuf::from(mount_point)),
            _ => {}
        }
    }
    let root = match want {
        Want::Any => v1_pids
            .or(v2)
            .ok_or("no cgroup v1 `pids` or cgroup v2 hierarchy is mounted")?,
        Want::V2 => v2.ok_or("no cgroup v2 hierarchy is mounted")?,
    };
    // Unique within the process too (`cargo test` runs tests as threads of one process).
    static PROBES: AtomicU32 = AtomicU32::new(0);
    let probe = root.join(format!(
        "spiffe-test-probe-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&probe).map_err(|e| {
        format!(
            "cannot create a cgroup in {} ({e}); is it mounted read-only?",
            root.display()
        )
    })?;
    let _ = std::fs::remove_dir(&probe);
    Ok(Hierarchy { root })
}

/// The hierarchy, or `None` after printing why the test is skipped; panics instead when
/// `SPIFFE_TEST_REQUIRE_CGROUPS=1`.
fn hierarchy_or_skip(test: &str, want: Want) -> Option<Hierarchy> {
    match writable_hierarchy(want) {
        Ok(h) => Some(h),
        Err(reason) if std::env::var(REQUIRE_CGROUPS).as_deref() == Ok("1") => {
            panic!("{test}: {REQUIRE_CGROUPS}=1 but cgroups cannot be created here: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED {test}: {reason} (set {REQUIRE_CGROUPS}=1 to make this a failure)");
            None
        }
    }
}

/// A cgroup the test created (with the ancestors it had to create), removed on drop: any
/// process still in one is moved back to the hierarchy's root cgroup first.
#[derive(Debug)]
struct TestCgroup {
    root: PathBuf,
    path: PathBuf,
    /// The directories this value created, outermost first.
    created: Vec<PathBuf>,
}

impl TestCgroup {
    /// Creates `<root>/<relative>` and whichever of its ancestors are missing.
    fn create(hierarchy: &Hierarchy, relative: &str) -> Self {
        let mut cgroup = Self {
            root: hierarchy.root.clone(),
            path: hierarchy.root.join(relative),
            created: Vec::new(),
        };
        // A test running at the same time may remove a shared ancestor (`kubepods`) it created
        // just after this one found it: start again from the top then.
        'attempt: for attempt in 1..=5 {
            let mut dir = hierarchy.root.clone();
            for part in relative.split('/').filter(|p| !p.is_empty()) {
                dir.push(part);
                match std::fs::create_dir(&dir) {
                    Ok(()) => cgroup.created.push(dir.clone()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 5 => {
                        continue 'attempt
                    }
                    Err(e) => panic!("cannot create the cgroup {}: {e}", dir.display()),
                }
            }
            break;
        }
        cgroup
    }

    /// Its `cgroup.procs`: a process writing its pid there moves itself in.
    fn procs(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for dir in self.created.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(pids) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                    for pid in pids.split_whitespace() {
                        let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
                    }
                }
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) if Instant::now() < deadline && dir == &self.path => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(e) if dir == &self.path => {
                        eprintln!("could not remove the test cgroup {}: {e}", dir.display());
                        break;
                    }
                    // A shared ancestor with another test's cgroup still below it.
                    Err(_) => break,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// A workload's result: its output and the SPIFFE IDs of the SVIDs it received.
struct Fetched {
    output: Output,
    ids: Vec<String>,
}

impl Fetched {
    fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    fn denied(&self) -> bool {
        !self.output.status.success() && self.text().contains("PermissionDenied")
    }
}

/// Runs `spiffe-agent api fetch x509` against `socket` as a workload process: a shell that
/// first moves itself into `cgroup` (its own pid into `cgroup.procs`), then waits until
/// `on_pid` has been told its pid, then execs the client, keeping its pid. So the process is
/// in the cgroup, and known to the stand-ins, before its first call to the Workload API.
/// Killed after [`WORKLOAD_TIMEOUT`].
fn fetch_as_workload(
    socket: &str,
    cgroup: Option<&TestCgroup>,
    on_pid: impl FnOnce(u32),
) -> Fetched {
    let procs = cgroup
        .map(|c| c.procs().display().to_string())
        .unwrap_or_default();
    let script = r#"if [ -n "$1" ]; then echo $$ > "$1" || exit 97; fi
read -r go || exit 98
exec "$2" api fetch x509 -socketPath "$3""#;
    let mut child = Command::new("/bin/sh")
        .args(["-c", script, "workload"])
        .arg(&procs)
        .arg(agent_binary())
        .arg(socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the workload");
    on_pid(child.id());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let deadline = Instant::now() + WORKLOAD_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let ids = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("SPIFFE ID:"))
        .map(|id| id.trim().to_owned())
        .collect();
    Fetched { output, ids }
}

/// Runs the workload (each time a new process) until it receives an SVID (the entry has to
/// reach the agent first), at most [`GRANT_TIMEOUT`].
fn fetch_until_granted(domain: &Domain, run: impl Fn() -> Fetched) -> Fetched {
    let deadline = Instant::now() + GRANT_TIMEOUT;
    loop {
        let fetched = run();
        if fetched.output.status.success() && !fetched.ids.is_empty() {
            return fetched;
        }
        assert!(
            Instant::now() < deadline,
            "the workload got no SVID: {}\n--- agent ---\n{}",
            fetched.text(),
            domain.agent.output()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A fresh 64-hex-digit container ID and a pod UID, unique to this run.
fn unique_ids(salt: u64) -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let seed = format!("{:08x}{:032x}{:016x}", std::process::id(), nanos, salt);
    let container = format!("{seed:0>64}");
    let h = &seed[seed.len() - 32..];
    let pod = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    (container, pod)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn start_domain(dir: &Path, td: &str, plugin: String, env: Vec<(String, String)>) -> Domain {
    Domain::start(dir, td, move |_, agent| {
        agent.extra_plugins = plugin;
        agent.env = env;
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// docker

/// The Engine's `GET /containers/<id>/json` for a container created from `image` with
/// `labels` (the fields the attestor reads, in Docker Engine API 1.43's shape; constructed).
fn inspect_body(id: &str, image: &str, labels: &[(&str, &str)]) -> Vec<u8> {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    one_line(&format!(
        r#"{{"Id":"{id}","Name":"/{name}","State":{{"Status":"running","Running":true}},
"Config":{{"Hostname":"{short}","Image":"{image}","Labels":{labels},
"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_ENV=test"]}}}}"#,
        name = &id[..12],
        short = &id[..12],
        labels = json_object(&labels),
    ))
}

fn json_object(map: &BTreeMap<&str, &str>) -> String {
    let fields: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn one_line(text: &str) -> Vec<u8> {
    text.replace('\n', "").into_bytes()
}

#[test]
fn docker_label_selects_the_workload_in_a_container_cgroup() {
    docker_case(
        "docker_label_selects_the_workload_in_a_container_cgroup",
        Want::Any,
    );
}

/// The same in the cgroup v2 hierarchy (`0::/docker/<id>` in `/proc/<pid>/cgroup`).
#[test]
fn docker_label_selects_the_workload_in_a_cgroup_v2_container_cgroup() {
    docker_case(
        "docker_label_selects_the_workload_in_a_cgroup_v2_container_cgroup",
        Want::V2,
    );
}

fn docker_case(test: &str, want: Want) {
    let Some(hierarchy) = hierarchy_or_skip(test, want) else {
        return;
    };
    let started = Instant::now();
    let (web, _) = unique_ids(1);
    let (db, _) = unique_ids(2);
    let rt = runtime();
    let _enter = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let engine_socket = dir.path().join("docker.sock");
    let (web_body, db_body) = (
        inspect_body(&web, "nginx:1.25", &[("app", "web"), ("team", "payments")]),
        inspect_body(&db, "postgres:16", &[("app", "db"), ("team", "payments")]),
    );
    let (web_path, db_path) = (
        format!("/containers/{web}/json"),
        format!("/containers/{db}/json"),
    );
    let handler: Handler = Arc::new(move |seen| match seen.path.as_str() {
        p if seen.method == "GET" && p == web_path => (200, web_body.clone()),
        p if seen.method == "GET" && p == db_path => (200, db_body.clone()),
        _ => (404, br#"{"message":"No such container"}"#.to_vec()),
    });
    let requests = serve_unix(&engine_socket, handler);

    let plugin = format!(
        "    WorkloadAttestor \"docker\" {{\n        plugin_data {{\n            docker_socket_path = \"unix://{}\"\n        }}\n    }}\n",
        engine_socket.display()
    );
    let domain = start_domain(dir.path(), "docker.test", plugin, Vec::new());
    let socket = domain.agent_config.socket_arg();
    domain
        .create_entry("spiffe://docker.test/web", &["docker:label:app:web"], &[])
        .unwrap();

    let web_cgroup = TestCgroup::create(&hierarchy, &format!("docker/{web}"));
    let db_cgroup = TestCgroup::create(&hierarchy, &format!("docker/{db}"));

    let granted = fetch_until_granted(&domain, || {
        fetch_as_workload(&socket, Some(&web_cgroup), |_| {})
    });
    assert_eq!(
        granted.ids,
        ["spiffe://docker.test/web"],
        "{}",
        granted.text()
    );
    assert!(requests.get() >= 1, "the agent never asked the engine");

    // Labels that match no entry: refused.
    let other = fetch_as_workload(&socket, Some(&db_cgroup), |_| {});
    assert!(other.denied(), "{}", other.text());
    // Outside any container (the docker attestor gives nothing): refused.
    let outside = fetch_as_workload(&socket, None, |_| {});
    assert!(outside.denied(), "{}", outside.text());
    // And the container's workload still is granted.
    let again = fetch_as_workload(&socket, Some(&web_cgroup), |_| {});
    assert_eq!(again.ids, ["spiffe://docker.test/web"], "{}", again.text());
    eprintln!("{test} took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// k8s

const KUBELET_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.daemon-test-service-account-token.c2ln";

/// One pod of a kubelet `/pods` list (core/v1 `Pod`, the fields the attestor reads plus a
/// few more; constructed).
fn pod_json(name: &str, uid: &str, sa: &str, container: &str, image: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"payments","uid":"{uid}","labels":{{"app":"{sa}"}}}},
"spec":{{"serviceAccountName":"{sa}","nodeName":"localhost","containers":[{{"name":"main","image":"{image}"}}]}},
"status":{{"phase":"Running","containerStatuses":[{{"name":"main","image":"{image}",
"imageID":"docker.io/library/{image}@sha256:{digest}","containerID":"containerd://{container}","ready":true}}]}}}}"#,
        digest = "0".repeat(64),
    )
}

/// A kubelet `/pods` body (`PodList`) of `pods`.
fn pod_list(pods: &[String]) -> Vec<u8> {
    format!(
        r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{}},"items":[{}]}}"#,
        pods.join(",")
    )
    .replace('\n', "")
    .into_bytes()
}

/// The kubelet: `GET /pods` answers `pods`; with `require_token` (the secure port) only with
/// `Authorization: Bearer <KUBELET_TOKEN>`, else 401.
fn kubelet(pods: Vec<u8>, require_token: bool) -> Handler {
    Arc::new(move |seen| {
        let auth = seen.header("authorization");
        if require_token && auth != Some(&format!("Bearer {KUBELET_TOKEN}")) {
            return (401, b"Unauthorized".to_vec());
        }
        match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", "/pods") => (200, pods.clone()),
            _ => (404, b"404 page not found".to_vec()),
        }
    })
}

/// `WorkloadAttestor "k8s"` with these `plugin_data` lines.
fn k8s_plugin(lines: &[String]) -> String {
    let body: String = lines.iter().map(|l| format!("            {l}\n")).collect();
    format!("    WorkloadAttestor \"k8s\" {{\n        plugin_data {{\n{body}        }}\n    }}\n")
}

#[test]
fn k8s_service_account_selects_the_workload_in_a_pod_cgroup() {
    let Some(hierarchy) = hierarchy_or_skip(
        "k8s_service_account_selects_the_workload_in_a_pod_cgroup",
        Want::Any,
    ) else {
        return;
    };
    let started = Instant::now();
    let (web_container, web_pod) = unique_ids(3);
    let (db_container, db_pod) = unique_ids(4);
    let rt = runtime();
    let _enter = rt.enter();
    let dir = tempfile::tempdir().unwrap();

    let pods = pod_list(&[
        pod_json("web-7d4b9", &web_pod, "web", &web_container, "nginx:1.25"),
        pod_json("db-0", &db_pod, "db", &db_container, "postgres:16"),
    ]);
    let handler = kubelet(pods, true);
    let pki = test_pki();
    let (port, requests) = rt.block_on(serve_tls(&pki, handler));
    let ca_path = dir.path().join("kubelet-ca.pem");
    std::fs::write(&ca_path, &pki.ca_pem).unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, format!("{KUBELET_TOKEN}\n")).unwrap();

    // SPIRE's keys; the node name comes from $MY_NODE_NAME (the downward API in a DaemonSet)
    // and is also the name the kubelet's certificate must carry.
    let plugin = format!(
        "    WorkloadAttestor \"k8s\" {{\n        plugin_data {{\n            kubelet_secure_port = {port}\n            kubelet_ca_path = \"{}\"\n            token_path = \"{}\"\n            max_poll_attempts = 3\n            poll_retry_interval = \"100ms\"\n        }}\n    }}\n",
        ca_path.display(),
        token_path.display()
    );
    let env = vec![("MY_NODE_NAME".to_owned(), "localhost".to_owned())];
    let domain = start_domain(dir.path(), "k8s.test", plugin, env);
    let socket = domain.agent_config.socket_arg();
    domain
        .create_entry(
            "spiffe://k8s.test/ns/payments/sa/web",
            &["k8s:ns:payments", "k8s:sa:web"],
            &[],
        )
        .unwrap();

    let web_cgroup = TestCgroup::create(
        &hierarchy,
        &format!("kubepods/besteffort/pod{web_pod}/{web_container}"),
    );
    let db_cgroup = TestCgroup::create(
        &hierarchy,
        &format!("kubepods/besteffort/pod{db_pod}/{db_container}"),
    );

    let granted = fetch_until_granted(&domain, || {
        fetch_as_workload(&socket, Some(&web_cgroup), |_| {})
    });
    assert_eq!(
        granted.ids,
        ["spiffe://k8s.test/ns/payments/sa/web"],
        "{}",
        granted.text()
    );
    assert!(requests.get() >= 1, "the agent never asked the kubelet");

    // Same namespace, another service account: refused.
    let other = fetch_as_workload(&socket, Some(&db_cgroup), |_| {});
    assert!(other.denied(), "{}", other.text());
    // Not in a pod: refused.
    let outside = fetch_as_workload(&socket, None, |_| {});
    assert!(outside.denied(), "{}", outside.text());
    eprintln!("k8s test took {:?}", started.elapsed());
}

/// The other ways to reach the kubelet, each with its own agent: the secure port without
/// verifying the kubelet's certificate (`skip_kubelet_verification`, the node name from
/// `node_name`), the read-only port (plain HTTP, no token), and the secure port with a CA that
/// did not sign the kubelet's certificate, which must fail the workload.
#[test]
fn k8s_kubelet_connection_settings() {
    let Some(hierarchy) = hierarchy_or_skip("k8s_kubelet_connection_settings", Want::Any) else {
        return;
    };
    let started = Instant::now();
    let (container, pod) = unique_ids(5);
    let rt = runtime();
    let _enter = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let pods = pod_list(&[pod_json("web-0", &pod, "web", &container, "nginx:1.25")]);
    let pki = test_pki();
    let (tls_port, tls_requests) = rt.block_on(serve_tls(&pki, kubelet(pods.clone(), true)));
    let (plain_port, plain_requests) = rt.block_on(serve_plain(kubelet(pods, false)));
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, KUBELET_TOKEN).unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, test_pki().ca_pem).unwrap();
    let cgroup = TestCgroup::create(
        &hierarchy,
        &format!("kubepods/besteffort/pod{pod}/{container}"),
    );
    let polls = [
        "max_poll_attempts = 2".to_owned(),
        "poll_retry_interval = \"100ms\"".to_owned(),
    ];

    let with = |name: &str, lines: &[String]| {
        let lines: Vec<String> = lines.iter().chain(&polls).cloned().collect();
        let domain = start_domain(&dir.path().join(name), name, k8s_plugin(&lines), Vec::new());
        domain
            .create_entry(
                &format!("spiffe://{name}/web"),
                &["k8s:pod-name:web-0", "k8s:container-image:nginx:1.25"],
                &[],
            )
            .unwrap();
        domain
    };

    let skip = with(
        "skip.test",
        &[
            format!("kubelet_secure_port = {tls_port}"),
            "skip_kubelet_verification = true".to_owned(),
            format!("token_path = \"{}\"", token_path.display()),
            "node_name = \"localhost\"".to_owned(),
        ],
    );
    let socket = skip.agent_config.socket_arg();
    let granted = fetch_until_granted(&skip, || fetch_as_workload(&socket, Some(&cgroup), |_| {}));
    assert_eq!(
        granted.ids,
        ["spiffe://skip.test/web"],
        "{}",
        granted.text()
    );
    assert!(tls_requests.get() >= 1);
    drop(skip);

    let read_only = with(
        "readonly.test",
        &[
            format!("kubelet_read_only_port = {plain_port}"),
            "node_name = \"127.0.0.1\"".to_owned(),
        ],
    );
    let socket = read_only.agent_config.socket_arg();
    let granted = fetch_until_granted(&read_only, || {
        fetch_as_workload(&socket, Some(&cgroup), |_| {})
    });
    assert_eq!(
        granted.ids,
        ["spiffe://readonly.test/web"],
        "{}",
        granted.text()
    );
    assert!(plain_requests.get() >= 1);
    drop(read_only);

    let mut wrong_ca = with(
        "wrongca.test",
        &[
            format!("kubelet_secure_port = {tls_port}"),
            format!("kubelet_ca_path = \"{}\"", other_ca.display()),
            format!("token_path = \"{}\"", token_path.display()),
            "node_name = \"localhost\"".to_owned(),
        ],
    );
    let before = tls_requests.get();
    let socket = wrong_ca.agent_config.socket_arg();
    let refused = fetch_as_workload(&socket, Some(&cgroup), |_| {});
    assert!(refused.denied(), "{}", refused.text());
    assert!(
        wrong_ca.agent.wait_for_line(Duration::from_secs(5), |l| {
            l.contains("Workload attestor failed") && l.contains("certificate")
        }),
        "no k8s attestor failure about the certificate in the agent's log:\n{}",
        wrong_ca.agent.output()
    );
    assert_eq!(
        tls_requests.get(),
        before,
        "a request passed the TLS handshake"
    );
    eprintln!("k8s settings test took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// systemd

#[test]
fn systemd_unit_selects_the_workload() {
    let started = Instant::now();
    let rt = runtime();
    let _enter = rt.enter();
    let bus = DbusDaemon::start();
    let systemd = rt.block_on(StandInSystemd::serve(
        bus.address(),
        &[
            UnitInfo::new("web.service", "/etc/systemd/system/web.service"),
            UnitInfo::new("db.service", "/lib/systemd/system/db.service"),
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    let plugin = "    WorkloadAttestor \"systemd\" {\n        plugin_data {}\n    }\n".to_owned();
    // The agent asks the system bus; here that is the private one.
    let env = vec![(
        "DBUS_SYSTEM_BUS_ADDRESS".to_owned(),
        bus.address().to_owned(),
    )];
    let domain = start_domain(dir.path(), "systemd.test", plugin, env);
    let socket = domain.agent_config.socket_arg();
    domain
        .create_entry(
            "spiffe://systemd.test/web",
            &["systemd:id:web.service"],
            &[],
        )
        .unwrap();

    let granted = fetch_until_granted(&domain, || {
        fetch_as_workload(&socket, None, |pid| systemd.assign(pid, "web.service"))
    });
    assert_eq!(
        granted.ids,
        ["spiffe://systemd.test/web"],
        "{}",
        granted.text()
    );

    // Another unit: refused.
    let other = fetch_as_workload(&socket, None, |pid| systemd.assign(pid, "db.service"));
    assert!(other.denied(), "{}", other.text());
    // In no unit (GetUnitByPID fails): refused.
    let outside = fetch_as_workload(&socket, None, |_| {});
    assert!(outside.denied(), "{}", outside.text());
    eprintln!("systemd test took {:?}", started.elapsed());
}
