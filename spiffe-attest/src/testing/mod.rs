//! Stand-ins for the services the platform workload attestors talk to, for tests (feature
//! `testing`): HTTP/1.1 servers on a Unix socket (the Docker Engine) or over TLS with a test CA
//! (the kubelet, the Kubernetes API server) answering from a handler, and a private
//! `dbus-daemon` with a stand-in `org.freedesktop.systemd1` on it.
//!
//! Used by this crate's attestor tests and by the agent's daemon-level tests, so both speak to
//! the same servers. Nothing here is meant for production: the servers accept any request and
//! answer whatever the handler says.

pub mod http;
pub mod systemd;
