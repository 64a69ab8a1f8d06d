//! A private `dbus-daemon` (Debian package `dbus-daemon`) and a stand-in
//! `org.freedesktop.systemd1` served on it with zbus: `Manager.GetUnitByPID` answers from a
//! pid → unit map the test fills in, and each unit object has the `Id` and `FragmentPath`
//! properties the systemd attestor reads.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use zbus::zvariant::OwnedObjectPath;

/// A private `dbus-daemon` in a temporary directory, killed on drop.
#[derive(Debug)]
pub struct DbusDaemon {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl DbusDaemon {
    /// Starts `dbus-daemon` on a socket in a new temporary directory, with a policy that lets
    /// every connection own any name and call anything; waits until it prints its address.
    ///
    /// # Panics
    ///
    /// When `dbus-daemon` is not installed or does not start.
    pub fn start() -> Self {
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
        .expect("write the bus config");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--print-address=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the bus address");
        assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
        Self {
            child,
            address: line.trim().to_owned(),
            _dir: dir,
        }
    }

    /// The bus's D-Bus address (`unix:path=…,guid=…`), as `DBUS_SYSTEM_BUS_ADDRESS` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A unit the stand-in systemd knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    /// `Id` (`nginx.service`).
    pub id: String,
    /// `FragmentPath`; empty for a unit without a unit file.
    pub fragment_path: String,
}

impl UnitInfo {
    /// A unit named `id` loaded from `fragment_path` (empty: no file).
    pub fn new(id: &str, fragment_path: &str) -> Self {
        Self {
            id: id.to_owned(),
            fragment_path: fragment_path.to_owned(),
        }
    }
}

type PidMap = Arc<Mutex<HashMap<u32, OwnedObjectPath>>>;

struct Manager {
    pids: PidMap,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    #[zbus(name = "GetUnitByPID")]
    fn get_unit_by_pid(&self, pid: u32) -> zbus::fdo::Result<OwnedObjectPath> {
        let pids = self.pids.lock().unwrap_or_else(PoisonError::into_inner);
        pids.get(&pid).cloned().ok_or_else(|| {
            // systemd's own message for a process outside every unit.
            zbus::fdo::Error::Failed(format!("PID {pid} does not belong to any loaded unit."))
        })
    }
}

struct Unit {
    info: UnitInfo,
}

#[zbus::interface(name = "org.freedesktop.systemd1.Unit")]
impl Unit {
    #[zbus(property)]
    fn id(&self) -> String {
        self.info.id.clone()
    }

    #[zbus(property)]
    fn fragment_path(&self) -> String {
        self.info.fragment_path.clone()
    }
}

/// The stand-in `org.freedesktop.systemd1`, served while this value lives.
#[derive(Debug)]
pub struct StandInSystemd {
    _connection: zbus::Connection,
    pids: PidMap,
}

impl StandInSystemd {
    /// Takes the name `org.freedesktop.systemd1` on the bus at `address` and serves the
    /// manager and one object per unit of `units` (at systemd's object paths,
    /// `/org/freedesktop/systemd1/unit/<escaped id>`). No pid belongs to a unit until
    /// [`assign`](Self::assign).
    ///
    /// # Panics
    ///
    /// When the bus cannot be reached or the name is taken.
    pub async fn serve(address: &str, units: &[UnitInfo]) -> Self {
        let pids = PidMap::default();
        let mut builder = zbus::connection::Builder::address(address)
            .expect("bus address")
            .name("org.freedesktop.systemd1")
            .expect("name")
            .serve_at("/org/freedesktop/systemd1", Manager { pids: pids.clone() })
            .expect("manager");
        for unit in units {
            builder = builder
                .serve_at(unit_path(&unit.id), Unit { info: unit.clone() })
                .expect("unit object");
        }
        let connection = builder.build().await.expect("serve systemd1");
        Self {
            _connection: connection,
            pids,
        }
    }

    /// From now on `GetUnitByPID(pid)` answers `unit_id`'s object.
    pub fn assign(&self, pid: u32, unit_id: &str) {
        self.pids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid, unit_path(unit_id));
    }
}

/// systemd's object path of a unit: `/org/freedesktop/systemd1/unit/` and the id with every
/// byte outside `[A-Za-z0-9]` written `_xx` (lowercase hex), as `sd_bus_path_encode`.
fn unit_path(unit_id: &str) -> OwnedObjectPath {
    let mut path = String::from("/org/freedesktop/systemd1/unit/");
    for b in unit_id.bytes() {
        if b.is_ascii_alphanumeric() {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("_{b:02x}"));
        }
    }
    OwnedObjectPath::try_from(path).expect("an object path")
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_paths_are_escaped_as_systemd_does() {
        assert_eq!(
            super::unit_path("nginx.service").as_str(),
            "/org/freedesktop/systemd1/unit/nginx_2eservice"
        );
        assert_eq!(
            super::unit_path("session-2.scope").as_str(),
            "/org/freedesktop/systemd1/unit/session_2d2_2escope"
        );
    }
}
