//! The systemd workload attestor against a real `dbus-daemon` on a private bus started by the
//! test, with a stand-in `org.freedesktop.systemd1` served on it by the test (zbus).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use spiffe_attest::workload::systemd::{Bus, SystemdAttestor, SystemdError};
use spiffe_attest::workload::unix::process_start_time;
use spiffe_attest::workload::CallerInfo;
use zbus::zvariant::OwnedObjectPath;

/// A private `dbus-daemon`, killed on drop.
struct DbusDaemon {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_bus() -> DbusDaemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bus.conf");
    let socket = dir.path().join("bus");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        ),
    )
    .expect("config");
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .arg("--nofork")
        .arg("--print-address=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address");
    assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
    DbusDaemon {
        child,
        address: line.trim().to_owned(),
        _dir: dir,
    }
}

struct Manager {
    units: HashMap<u32, OwnedObjectPath>,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    #[zbus(name = "GetUnitByPID")]
    fn get_unit_by_pid(&self, pid: u32) -> zbus::fdo::Result<OwnedObjectPath> {
        self.units.get(&pid).cloned().ok_or_else(|| {
            zbus::fdo::Error::Failed(format!("PID {pid} does not belong to any loaded unit."))
        })
    }
}

struct Unit {
    id: String,
    fragment_path: String,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Unit")]
impl Unit {
    #[zbus(property)]
    fn id(&self) -> String {
        self.id.clone()
    }

    #[zbus(property)]
    fn fragment_path(&self) -> String {
        self.fragment_path.clone()
    }
}

/// Serves the stand-in systemd on `address`: our pid in `nginx.service`, pid 1 in a scope
/// without a unit file.
async fn serve_systemd(address: &str, me: u32) -> zbus::Connection {
    let nginx =
        OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/nginx_2eservice").expect("path");
    let scope = OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/session_2d2_2escope")
        .expect("path");
    let units = HashMap::from([(me, nginx.clone()), (1, scope.clone())]);
    zbus::connection::Builder::address(address)
        .expect("address")
        .name("org.freedesktop.systemd1")
        .expect("name")
        .serve_at("/org/freedesktop/systemd1", Manager { units })
        .expect("manager")
        .serve_at(
            nginx,
            Unit {
                id: "nginx.service".to_owned(),
                fragment_path: "/lib/systemd/system/nginx.service".to_owned(),
            },
        )
        .expect("unit")
        .serve_at(
            scope,
            Unit {
                id: "session-2.scope".to_owned(),
                fragment_path: String::new(),
            },
        )
        .expect("scope")
        .build()
        .await
        .expect("serve systemd1")
}

fn me() -> CallerInfo {
    let pid = i32::try_from(std::process::id()).expect("pid");
    CallerInfo::new(Some(pid), 0, 0).with_start_time(process_start_time(pid).expect("start time"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_of_the_caller() {
    let bus = start_bus();
    let _systemd = serve_systemd(&bus.address, std::process::id()).await;
    let attestor = SystemdAttestor::new(Bus::Address(bus.address.clone()))
        .with_timeout(Duration::from_secs(10));
    let got: Vec<String> = attestor
        .attest_caller(&me())
        .await
        .expect("attested")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "systemd:id:nginx.service",
            "systemd:fragment_path:/lib/systemd/system/nginx.service"
        ]
    );

    // A unit without a unit file: only the id.
    let pid1 =
        CallerInfo::new(Some(1), 0, 0).with_start_time(process_start_time(1).expect("pid 1"));
    let got = attestor.attest_caller(&pid1).await.expect("attested");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to_string(), "systemd:id:session-2.scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pid_unreachable_bus_and_reused_pid_fail() {
    let bus = start_bus();
    // systemd1 serves no unit for our pid.
    let _systemd = serve_systemd(&bus.address, u32::MAX).await;
    let attestor = SystemdAttestor::new(Bus::Address(bus.address.clone()));
    let err = attestor.attest_caller(&me()).await.expect_err("no unit");
    assert!(
        matches!(
            err,
            SystemdError::Call {
                call: "GetUnitByPID",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("does not belong to any loaded unit"),
        "{err}"
    );

    // No systemd1 on the bus at all.
    let empty = start_bus();
    let attestor = SystemdAttestor::new(Bus::Address(empty.address.clone()));
    assert!(matches!(
        attestor.attest_caller(&me()).await,
        Err(SystemdError::Call { .. })
    ));

    // No bus.
    let attestor = SystemdAttestor::new(Bus::Address("unix:path=/nonexistent/bus".to_owned()));
    assert!(matches!(
        attestor.attest_caller(&me()).await,
        Err(SystemdError::Connect { .. })
    ));

    // The pid now belongs to another process.
    let attestor = SystemdAttestor::new(Bus::Address(bus.address.clone()));
    let mut stale = me();
    stale.start_time = stale.start_time.map(|t| t + 1);
    assert!(matches!(
        attestor.attest_caller(&stale).await,
        Err(SystemdError::Process(_))
    ));
}
