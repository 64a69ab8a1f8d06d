//! The systemd workload attestor against a real `dbus-daemon` on a private bus started by the
//! test, with a stand-in `org.freedesktop.systemd1` served on it by the test (zbus).

use std::time::Duration;

use spiffe_attest::testing::systemd::{DbusDaemon, StandInSystemd, UnitInfo};
use spiffe_attest::workload::systemd::{Bus, SystemdAttestor, SystemdError};
use spiffe_attest::workload::unix::process_start_time;
use spiffe_attest::workload::CallerInfo;

/// Serves the stand-in systemd on `address`: `me` in `nginx.service`, pid 1 in a scope
/// without a unit file.
async fn serve_systemd(address: &str, me: u32) -> StandInSystemd {
    let systemd = StandInSystemd::serve(
        address,
        &[
            UnitInfo::new("nginx.service", "/lib/systemd/system/nginx.service"),
            UnitInfo::new("session-2.scope", ""),
        ],
    )
    .await;
    systemd.assign(me, "nginx.service");
    systemd.assign(1, "session-2.scope");
    systemd
}

fn me() -> CallerInfo {
    let pid = i32::try_from(std::process::id()).expect("pid");
    CallerInfo::new(Some(pid), 0, 0).with_start_time(process_start_time(pid).expect("start time"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_of_the_caller() {
    let bus = DbusDaemon::start();
    let _systemd = serve_systemd(bus.address(), std::process::id()).await;
    let attestor = SystemdAttestor::new(Bus::Address(bus.address().to_owned()))
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
    let bus = DbusDaemon::start();
    // systemd1 serves no unit for our pid.
    let _systemd = serve_systemd(bus.address(), u32::MAX).await;
    let attestor = SystemdAttestor::new(Bus::Address(bus.address().to_owned()));
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
    let empty = DbusDaemon::start();
    let attestor = SystemdAttestor::new(Bus::Address(empty.address().to_owned()));
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
    let attestor = SystemdAttestor::new(Bus::Address(bus.address().to_owned()));
    let mut stale = me();
    stale.start_time = stale.start_time.map(|t| t + 1);
    assert!(matches!(
        attestor.attest_caller(&stale).await,
        Err(SystemdError::Process(_))
    ));
}
