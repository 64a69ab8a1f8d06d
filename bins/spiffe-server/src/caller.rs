//! Who is calling: established by the transport before any handler runs, never by what the
//! caller claims.

use std::net::SocketAddr;

use spiffe_core::SpiffeId;

/// The caller of one RPC, as the listener that accepted its connection established it.
///
/// Handlers read it from the request's extensions ([`Caller::of`]); the authorization layer
/// ([`crate::authz`]) has already decided that this caller may call the RPC and records the
/// role that allowed it as an [`Authorized`] extension.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Caller {
    /// A process on this host, over the admin Unix socket: the kernel's account of it
    /// (SO_PEERCRED). SPIRE's "local" callers.
    Local {
        /// The caller's process id, when the platform reports it.
        pid: Option<i32>,
        /// The caller's user id.
        uid: u32,
        /// The caller's group id.
        gid: u32,
    },
    /// A TCP peer over TLS. `spiffe_id` is set when the peer presented an X.509-SVID that
    /// verified against the trust domain's bundle; `serial` is that certificate's serial
    /// number (SPIRE's decimal string) and `not_after` its expiry (Unix seconds).
    Tls {
        /// The peer's address.
        addr: SocketAddr,
        /// The verified SPIFFE ID of the peer's client certificate, if it presented one.
        spiffe_id: Option<SpiffeId>,
        /// The client certificate's serial number, decimal.
        serial: Option<String>,
        /// The client certificate's expiry, seconds since the Unix epoch.
        not_after: Option<u64>,
    },
}

/// The role under which the authorization layer let the caller in (SPIRE's policy names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Anyone, authenticated or not (`allow_any`).
    Any,
    /// A local caller on the Unix socket (`allow_local`).
    Local,
    /// A TLS caller whose SPIFFE ID is an admin (`allow_admin`).
    Admin,
    /// A TLS caller whose SPIFFE ID is an attested, active, unbanned agent (`allow_agent`).
    Agent,
    /// A TLS caller whose SPIFFE ID belongs to a downstream entry (`allow_downstream`).
    Downstream,
}

/// The authorization decision attached to each request that passed the authorization layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorized(pub Role);

// === impl Caller ===

impl Caller {
    /// The caller recorded in a request's extensions. Every request that reaches a handler
    /// through the server's listeners has one; a request without one (only possible when a
    /// test serves the API without the listeners) is treated as an unauthenticated TLS peer.
    pub fn of<T>(request: &tonic::Request<T>) -> Caller {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Tls {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                spiffe_id: None,
                serial: None,
                not_after: None,
            })
    }

    /// The verified SPIFFE ID of a TLS caller.
    pub fn spiffe_id(&self) -> Option<&SpiffeId> {
        match self {
            Caller::Tls { spiffe_id, .. } => spiffe_id.as_ref(),
            Caller::Local { .. } => None,
        }
    }

    /// Whether the caller came through the admin Unix socket.
    pub fn is_local(&self) -> bool {
        matches!(self, Caller::Local { .. })
    }

    /// The caller's address, for logs and per-IP rate limits (`None` for local callers).
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Caller::Tls { addr, .. } => Some(*addr),
            Caller::Local { .. } => None,
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Local {
                pid: Some(pid),
                uid,
                gid,
            } => {
                write!(f, "local pid={pid} uid={uid} gid={gid}")
            }
            Caller::Local {
                pid: None,
                uid,
                gid,
            } => write!(f, "local uid={uid} gid={gid}"),
            Caller::Tls {
                addr,
                spiffe_id: Some(id),
                ..
            } => write!(f, "{id} at {addr}"),
            Caller::Tls {
                addr,
                spiffe_id: None,
                ..
            } => write!(f, "unauthenticated peer at {addr}"),
        }
    }
}
