//! The health listener answers 200 or 500 as the checks say, with SPIRE's JSON details.

mod common;

use daemon_telemetry::health::{Details, DuplicateCheck};
use daemon_telemetry::{Health, HealthConfig, HealthServer, HealthState};
use spire_config::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn health_endpoints_follow_the_checks() {
    let health = Arc::new(Health::new());
    let datastore_up = Arc::new(AtomicBool::new(true));
    let ca_active = Arc::new(AtomicBool::new(false));
    let up = datastore_up.clone();
    health
        .add_check("catalog.datastore", move || {
            let ok = up.load(Ordering::SeqCst);
            HealthState {
                live: ok,
                ready: ok,
                live_details: Details::new(),
                ready_details: if ok {
                    Details::new()
                } else {
                    Details::new().with("message", "datastore unreachable")
                },
            }
        })
        .expect("add");
    let active = ca_active.clone();
    health
        .add_check("server.ca", move || HealthState {
            live: true,
            ready: active.load(Ordering::SeqCst),
            ..HealthState::default()
        })
        .expect("add");
    assert_eq!(
        health.add_check("server.ca", HealthState::healthy),
        Err(DuplicateCheck("server.ca".into()))
    );

    let config = Config::parse("health_checks {\n listener_enabled = true\n bind_address = \"127.0.0.1\"\n bind_port = \"0\"\n live_path = \"/alive\"\n}")
        .and_then(|c| c.decode(|top| top.required_block::<HealthConfig>("health_checks")))
        .expect("decodes");
    assert_eq!(config.ready_path, "/ready");
    let server = HealthServer::bind(&config, health.clone())
        .await
        .expect("bind");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let live = common::get(addr, "/alive").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.header("content-type"), Some("application/json"));
    assert_eq!(live.body, "{\"catalog.datastore\":{},\"server.ca\":{}}\n");
    let ready = common::get(addr, "/ready").await;
    assert_eq!(ready.status, 500, "CA not active yet");

    ca_active.store(true, Ordering::SeqCst);
    assert_eq!(common::get(addr, "/ready").await.status, 200);

    datastore_up.store(false, Ordering::SeqCst);
    let ready = common::get(addr, "/ready").await;
    assert_eq!(ready.status, 500);
    assert_eq!(
        ready.body,
        "{\"catalog.datastore\":{\"message\":\"datastore unreachable\"},\"server.ca\":{}}\n"
    );
    assert_eq!(common::get(addr, "/alive").await.status, 500);

    let other = common::get(addr, "/live").await;
    assert_eq!(
        (other.status, other.body.as_str()),
        (404, "404 page not found\n")
    );

    stop.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("joins")
        .expect("serves");
}

#[test]
fn no_checks_is_healthy() {
    let health = Health::new();
    let report = health.ready();
    assert!(report.ok);
    assert_eq!(report.body, "{}\n");
}

#[test]
fn health_config_defaults_are_spire_s() {
    let config = Config::parse("health_checks {}")
        .and_then(|c| c.decode(|top| top.required_block::<HealthConfig>("health_checks")))
        .expect("decodes");
    assert_eq!(config, HealthConfig::default());
    assert_eq!(
        (
            config.listener_enabled,
            config.bind_address.as_str(),
            config.bind_port,
            config.live_path.as_str(),
            config.ready_path.as_str()
        ),
        (false, "localhost", 80, "/live", "/ready")
    );
    let err = Config::parse("health_checks {\n listener_enabld = true\n}")
        .and_then(|c| c.decode(|top| top.required_block::<HealthConfig>("health_checks")))
        .expect_err("typo");
    assert_eq!(
        err.to_string(),
        "unknown key \"listener_enabld\" in health_checks block at line 2"
    );
}
