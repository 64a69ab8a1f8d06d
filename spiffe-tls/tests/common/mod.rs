//! Shared test fixtures: CAs and SVIDs minted with spiffe-ca, a rotating SVID source, and an
//! in-memory handshake driver.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};
use spiffe_core::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use spiffe_core::{
    BundleSet, Certificate, SpiffeId, TrustDomain, X509Bundle, X509Svid, X509SvidSource,
};

pub const DAY: u64 = 86_400;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub fn now() -> UnixTime {
    UnixTime::now()
}

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub fn id(s: &str) -> SpiffeId {
    SpiffeId::new(s).unwrap()
}

/// A self-signed CA of a trust domain, valid from ten days ago for twenty days.
pub struct Ca {
    pub authority: X509SvidIssuer,
}

impl Ca {
    pub fn new(td: &str) -> Self {
        let td = TrustDomain::new(td).unwrap();
        let key = Arc::new(SoftwareSigner::generate("ca", KeyType::EcP256).unwrap());
        let start = now().as_secs() - 10 * DAY;
        let authority =
            X509SvidIssuer::self_signed(&td, key, at(start), at(start + 20 * DAY)).unwrap();
        Self { authority }
    }

    pub fn bundle(&self) -> Arc<X509Bundle> {
        Arc::new(X509Bundle::from_authorities(
            self.authority.trust_domain().clone(),
            vec![self.authority.trust_anchor().clone()],
        ))
    }

    /// An SVID for `spiffe_id` minted at `minted` (valid for one hour from then).
    pub fn svid_at(&self, spiffe_id: &str, minted: UnixTime) -> Arc<X509Svid> {
        let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
        let request =
            X509SvidRequest::new(id(spiffe_id), key.public_key(), Duration::from_secs(3600));
        let minted = self.authority.mint(&request, minted).unwrap();
        let chain = minted
            .chain()
            .iter()
            .map(|c| Certificate::from_der(c.clone()).unwrap())
            .collect();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().unwrap()));
        Arc::new(X509Svid::from_parts(chain, pkcs8).unwrap())
    }

    pub fn svid(&self, spiffe_id: &str) -> Arc<X509Svid> {
        self.svid_at(spiffe_id, now())
    }
}

pub fn bundles(cas: &[&Ca]) -> Arc<BundleSet> {
    let mut set = BundleSet::new();
    for ca in cas {
        set.insert_x509(ca.bundle());
    }
    Arc::new(set)
}

/// An SVID source whose SVID the test swaps, as a Workload API client does on rotation.
pub struct RotatingSvid(RwLock<Arc<X509Svid>>);

impl RotatingSvid {
    pub fn new(svid: Arc<X509Svid>) -> Arc<Self> {
        Arc::new(Self(RwLock::new(svid)))
    }

    pub fn rotate(&self, svid: Arc<X509Svid>) {
        *self.0.write().unwrap() = svid;
    }

    /// The current SVID's leaf certificate.
    pub fn x509_svid_leaf(&self) -> spiffe_core::pki_types::CertificateDer<'static> {
        self.0.read().unwrap().leaf().der().clone()
    }
}

impl X509SvidSource for RotatingSvid {
    fn x509_svid(&self) -> Option<Arc<X509Svid>> {
        Some(self.0.read().unwrap().clone())
    }
}

/// Which side failed a handshake, with the error that side's application sees.
#[derive(Debug)]
pub enum Failed {
    Client(rustls::Error),
    Server(rustls::Error),
}

impl Failed {
    pub fn client(self) -> rustls::Error {
        match self {
            Failed::Client(e) => e,
            Failed::Server(e) => panic!("expected the client to fail, the server did: {e}"),
        }
    }

    pub fn server(self) -> rustls::Error {
        match self {
            Failed::Server(e) => e,
            Failed::Client(e) => panic!("expected the server to fail, the client did: {e}"),
        }
    }
}

pub struct Pair {
    pub client: ClientConnection,
    pub server: ServerConnection,
}

/// Connects a client and a server over in-memory buffers and runs the handshake to the end.
pub fn handshake(client: ClientConfig, server: ServerConfig) -> Result<Pair, Failed> {
    // Any name: SPIFFE verifiers ignore it.
    handshake_named(client, server, "ignored.invalid")
}

/// [`handshake`], connecting to `server_name`.
pub fn handshake_named(
    client: ClientConfig,
    server: ServerConfig,
    server_name: &str,
) -> Result<Pair, Failed> {
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut pair = Pair {
        client: ClientConnection::new(Arc::new(client), name).unwrap(),
        server: ServerConnection::new(Arc::new(server)).unwrap(),
    };
    for _ in 0..20 {
        let mut buf = Vec::new();
        while pair.client.wants_write() {
            pair.client.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            pair.server.read_tls(&mut rd).unwrap();
        }
        let server_result = pair.server.process_new_packets().map(|_| ());

        let mut buf = Vec::new();
        while pair.server.wants_write() {
            pair.server.write_tls(&mut buf).unwrap();
        }
        if let Err(e) = server_result {
            return Err(Failed::Server(e));
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            pair.client.read_tls(&mut rd).unwrap();
        }
        if let Err(e) = pair.client.process_new_packets() {
            return Err(Failed::Client(e));
        }
        let done = !pair.client.is_handshaking() && !pair.server.is_handshaking();
        if done && !pair.client.wants_write() && !pair.server.wants_write() {
            return Ok(pair);
        }
    }
    panic!("handshake did not finish");
}

/// Sends `data` from client to server after a handshake and returns what the server read.
pub fn client_to_server(pair: &mut Pair, data: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    pair.client.writer().write_all(data).unwrap();
    let mut buf = Vec::new();
    while pair.client.wants_write() {
        pair.client.write_tls(&mut buf).unwrap();
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        pair.server.read_tls(&mut rd).unwrap();
    }
    pair.server.process_new_packets().unwrap();
    let mut out = vec![0; data.len()];
    pair.server.reader().read_exact(&mut out).unwrap();
    out
}
