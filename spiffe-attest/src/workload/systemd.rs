//! The `systemd` workload attestor: the systemd unit the caller runs in, asked of systemd over
//! D-Bus.
//!
//! `org.freedesktop.systemd1.Manager.GetUnitByPID(pid)` on the system bus names the unit's
//! object; its `org.freedesktop.systemd1.Unit` properties `Id` and `FragmentPath` give the
//! selectors (type `systemd`, SPIRE's names):
//! - `id:<unit id>` (`nginx.service`),
//! - `fragment_path:<unit file>` (`/lib/systemd/system/nginx.service`); none for a unit
//!   without a file (a transient scope).
//!
//! SPIRE's plugin takes no configuration. The caller's pid must still belong to the process
//! that connected (its start time is checked before and after asking systemd, as in the
//! `unix` attestor).

use std::path::PathBuf;
use std::time::Duration;

use spiffe_core::BoxFuture;
use zbus::zvariant::OwnedObjectPath;

use super::unix::{same_process, UnixAttestorError};
use super::{CallerInfo, WorkloadAttestor};
use crate::{AttestError, Selector};

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "systemd";

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER_INTERFACE: &str = "org.freedesktop.systemd1.Manager";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";

/// Which bus to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, or `/run/dbus/system_bus_socket`).
    System,
    /// The bus at this D-Bus address (`unix:path=/run/test/bus`).
    Address(String),
}

/// The systemd workload attestor.
#[derive(Debug, Clone)]
pub struct SystemdAttestor {
    bus: Bus,
    proc_root: PathBuf,
    timeout: Duration,
}

/// Why the systemd attestor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SystemdError {
    /// The caller's process cannot be inspected, or is no longer the one that connected.
    #[error(transparent)]
    Process(#[from] UnixAttestorError),
    /// The bus could not be reached.
    #[error("cannot connect to the D-Bus {bus}: {reason}")]
    Connect {
        /// Which bus.
        bus: String,
        /// Why.
        reason: String,
    },
    /// systemd answered with an error or not at all.
    #[error("systemd {call} failed for pid {pid}: {reason}")]
    Call {
        /// What was asked.
        call: &'static str,
        /// The caller's pid.
        pid: i32,
        /// The D-Bus error.
        reason: String,
    },
    /// No answer within the deadline.
    #[error("systemd did not answer within {0:?}")]
    Timeout(Duration),
    /// The unit's `Id` is empty or cannot be a selector.
    #[error("unit of pid {pid} has an unusable Id")]
    BadUnitId {
        /// The caller's pid.
        pid: i32,
    },
}

// === impl SystemdAttestor ===

impl Default for SystemdAttestor {
    fn default() -> Self {
        Self::new(Bus::System)
    }
}

impl SystemdAttestor {
    /// An attestor asking systemd on `bus`.
    pub fn new(bus: Bus) -> Self {
        Self {
            bus,
            proc_root: PathBuf::from("/proc"),
            timeout: Duration::from_secs(10),
        }
    }

    /// Reads processes under `proc_root` instead of `/proc` (for the pid reuse check).
    pub fn with_proc_root(mut self, proc_root: impl Into<PathBuf>) -> Self {
        self.proc_root = proc_root.into();
        self
    }

    /// Sets the deadline of the whole exchange with systemd (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The selectors of `caller`'s unit.
    pub async fn attest_caller(&self, caller: &CallerInfo) -> Result<Vec<Selector>, SystemdError> {
        let pid = same_process(&self.proc_root, caller)?;
        let (id, fragment) = tokio::time::timeout(self.timeout, self.ask(pid))
            .await
            .map_err(|_| SystemdError::Timeout(self.timeout))??;
        same_process(&self.proc_root, caller)?;
        let mut out = vec![Selector::new(PLUGIN_NAME, &format!("id:{id}"))
            .ok()
            .filter(|_| !id.is_empty())
            .ok_or(SystemdError::BadUnitId { pid })?];
        if !fragment.is_empty() {
            // A path that cannot be a selector gives none: fewer selectors match fewer entries.
            if let Ok(s) = Selector::new(PLUGIN_NAME, &format!("fragment_path:{fragment}")) {
                out.push(s);
            }
        }
        Ok(out)
    }

    async fn ask(&self, pid: i32) -> Result<(String, String), SystemdError> {
        let connect_err = |e: zbus::Error| SystemdError::Connect {
            bus: match &self.bus {
                Bus::System => "system bus".to_owned(),
                Bus::Address(a) => format!("bus at {a}"),
            },
            reason: e.to_string(),
        };
        let conn = match &self.bus {
            Bus::System => zbus::Connection::system().await.map_err(connect_err)?,
            Bus::Address(address) => zbus::connection::Builder::address(address.as_str())
                .map_err(connect_err)?
                .build()
                .await
                .map_err(connect_err)?,
        };
        let call_err = |call: &'static str| {
            move |e: zbus::Error| SystemdError::Call {
                call,
                pid,
                reason: e.to_string(),
            }
        };
        let manager = zbus::Proxy::new(&conn, DESTINATION, MANAGER_PATH, MANAGER_INTERFACE)
            .await
            .map_err(call_err("GetUnitByPID"))?;
        let pid_arg = u32::try_from(pid).map_err(|_| UnixAttestorError::InvalidPid { pid })?;
        let unit: OwnedObjectPath = manager
            .call("GetUnitByPID", &(pid_arg,))
            .await
            .map_err(call_err("GetUnitByPID"))?;
        // The properties are read directly each time (no cache: a unit's properties may change).
        let unit = zbus::proxy::Builder::<zbus::Proxy<'_>>::new(&conn)
            .destination(DESTINATION)
            .and_then(|b| b.path(unit))
            .and_then(|b| b.interface(UNIT_INTERFACE))
            .map_err(call_err("Unit properties"))?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(call_err("Unit properties"))?;
        let id: String = unit.get_property("Id").await.map_err(call_err("Get Id"))?;
        let fragment: String = unit
            .get_property("FragmentPath")
            .await
            .map_err(call_err("Get FragmentPath"))?;
        Ok((id, fragment))
    }
}

impl WorkloadAttestor for SystemdAttestor {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn attest<'a>(
        &'a self,
        caller: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        Box::pin(async move {
            self.attest_caller(caller)
                .await
                .map_err(|e| AttestError::plugin(PLUGIN_NAME, e))
        })
    }
}
