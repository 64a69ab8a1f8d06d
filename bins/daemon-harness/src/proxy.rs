//! A TCP proxy on loopback that misbehaves on command: a flaky network between an agent and
//! its server (or any client and server) for fault tests.
//!
//! The proxy listens on `127.0.0.1:<free port>` and forwards every connection to one upstream
//! address. Its current [`Fault`] decides what happens to the bytes: forwarded as they come,
//! held back a while, held until the fault changes, or the connection reset after some bytes;
//! or no listener at all (new connections refused). [`FlakyProxy::cut_all`] resets every open
//! connection at once; [`FlakyProxy::silence_all`] turns every open connection into a black hole
//! for good (a dropped NAT mapping, a server host gone without a reset) while new connections
//! are served as the current fault says. [`FlakyProxy::play`] runs a schedule of faults on a
//! thread of its own and ends healthy.
//!
//! Connections are cut with a TCP reset on both sides (`SO_LINGER` 0), as a dropped NAT entry
//! or a crashed middlebox would, never with a clean close.
//!
//! ```no_run
//! use std::time::Duration;
//! use daemon_harness::proxy::{Fault, FlakyProxy, Step};
//!
//! let proxy = FlakyProxy::start("127.0.0.1:8081".parse()?)?;
//! // point the client at proxy.port() …
//! let schedule = proxy.play(vec![
//!     Step::new(Fault::Delay(Duration::from_millis(300)), Duration::from_secs(5)),
//!     Step::new(Fault::Down, Duration::from_secs(3)),
//! ]);
//! schedule.join().expect("the schedule ran");
//! assert!(proxy.stats().cut > 0 || proxy.stats().accepted > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long the proxy keeps trying to listen on its port again after [`Fault::Refuse`] or
/// [`Fault::Down`] (the port is its own; only another process taking it meanwhile fails this).
const REBIND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest chunk forwarded at once.
const CHUNK: usize = 16 * 1024;

/// What the proxy does to connections, until the next [`FlakyProxy::set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Forward bytes as they come.
    Healthy,
    /// Hold every chunk this long before forwarding it, in each direction.
    Delay(Duration),
    /// Accept and keep connections, forward nothing until the fault changes (a black hole that
    /// heals: the held bytes go through afterwards).
    Stall,
    /// Reset each connection once it has forwarded between `min_bytes` and `max_bytes` (both
    /// directions, counted while this fault holds; each connection draws its own limit).
    CutAfter {
        /// The smallest limit.
        min_bytes: u64,
        /// The largest limit.
        max_bytes: u64,
    },
    /// No listener: new connections are refused (open ones are left alone).
    Refuse,
    /// Every open connection is reset and new ones are refused: the server seems gone.
    Down,
}

/// One step of a schedule: a fault held for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The fault.
    pub fault: Fault,
    /// How long it holds.
    pub duration: Duration,
}

impl Step {
    /// `fault` for `duration`.
    pub fn new(fault: Fault, duration: Duration) -> Self {
        Self { fault, duration }
    }
}

/// What the proxy did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections the proxy reset on purpose ([`Fault::CutAfter`], [`Fault::Down`],
    /// [`FlakyProxy::cut_all`]).
    pub cut: u64,
    /// Connections the proxy silenced ([`FlakyProxy::silence_all`]).
    pub silenced: u64,
    /// Bytes forwarded, both directions.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    cut: AtomicU64,
    silenced: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    fault: watch::Sender<Fault>,
    /// Bumped by every cut of all connections; each connection watches it.
    cuts: watch::Sender<u64>,
    /// Bumped by every silencing of all connections; each connection watches it.
    silences: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    counters: Counters,
}

impl Shared {
    fn set(&self, fault: Fault) {
        if fault == Fault::Down {
            self.cuts.send_modify(|g| *g += 1);
        }
        self.fault.send_replace(fault);
    }
}

/// A running proxy; it stops (and resets its connections) when dropped.
#[derive(Debug)]
pub struct FlakyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

// === impl FlakyProxy ===

impl FlakyProxy {
    /// Listens on a free loopback port and forwards to `upstream`, healthy, on a thread and a
    /// Tokio runtime of its own (usable from sync and async tests alike).
    pub fn start(upstream: SocketAddr) -> io::Result<Self> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            fault: watch::channel(Fault::Healthy).0,
            cuts: watch::channel(0).0,
            silences: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            counters: Counters::default(),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("flaky-proxy-{}", addr.port()))
            .spawn(move || {
                let mut shutdown = thread_shared.shutdown.subscribe();
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(_) => return,
                    };
                    tokio::select! {
                        () = serve(listener, addr, upstream, thread_shared) => {}
                        _ = shutdown.wait_for(|stop| *stop) => {}
                    }
                });
                // Dropping the runtime drops every connection task, closing their sockets.
            })?;
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Switches to `fault` now.
    pub fn set(&self, fault: Fault) {
        self.shared.set(fault);
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        *self.shared.fault.borrow()
    }

    /// Resets every open connection now; new ones are accepted as the current fault says.
    pub fn cut_all(&self) {
        self.shared.cuts.send_modify(|g| *g += 1);
    }

    /// Silences every open connection for good: from now on it forwards nothing either way,
    /// and the client's bytes are read and dropped (so its TCP stack sees them acknowledged
    /// and reports no error), until the client closes it or the proxy stops. New connections
    /// are served as the current fault says.
    pub fn silence_all(&self) {
        self.shared.silences.send_modify(|g| *g += 1);
    }

    /// Runs `steps` on a thread of their own (each fault for its duration, then
    /// [`Fault::Healthy`]); join the handle to wait for the end.
    pub fn play(&self, steps: Vec<Step>) -> JoinHandle<()> {
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            for step in steps {
                shared.set(step.fault);
                let end = Instant::now() + step.duration;
                // Stop early when the proxy itself stops.
                while Instant::now() < end && !*shared.shutdown.borrow() {
                    std::thread::sleep(Duration::from_millis(20).min(step.duration));
                }
            }
            shared.set(Fault::Healthy);
        })
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            cut: c.cut.load(Ordering::Relaxed),
            silenced: c.silenced.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts while the fault allows a listener; closes it during [`Fault::Refuse`] and
/// [`Fault::Down`] and listens again afterwards.
async fn serve(listener: TcpListener, addr: SocketAddr, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    let mut faults = shared.fault.subscribe();
    let mut index = 0u64;
    loop {
        let refusing = matches!(*faults.borrow_and_update(), Fault::Refuse | Fault::Down);
        if refusing {
            listener = None;
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        }
        let current = match listener.take() {
            Some(l) => l,
            None => match rebind(addr).await {
                Ok(l) => l,
                // The port was taken meanwhile: clients see refusals from now on.
                Err(_) => return,
            },
        };
        tokio::select! {
            accepted = current.accept() => {
                listener = Some(current);
                if let Ok((client, _)) = accepted {
                    index += 1;
                    shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(client, upstream, shared.clone(), index));
                }
            }
            changed = faults.changed() => {
                if changed.is_err() {
                    return;
                }
                // Looked at again at the top of the loop (closed when refusing).
                listener = Some(current);
            }
        }
    }
}

async fn rebind(addr: SocketAddr) -> io::Result<TcpListener> {
    let deadline = Instant::now() + REBIND_TIMEOUT;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Why a connection ended.
enum End {
    /// Both directions closed (or failed) on their own.
    Closed,
    /// The proxy cut it.
    Cut,
    /// The proxy silenced it.
    Silenced,
}

async fn connection(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>, index: u64) {
    let mut cuts = shared.cuts.subscribe();
    cuts.borrow_and_update();
    let mut silences = shared.silences.subscribe();
    silences.borrow_and_update();
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(_) => {
            // Nothing to forward to: the client sees a reset, as it would from the server.
            let _ = client.set_zero_linger();
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Bytes forwarded while a `CutAfter` fault holds, both directions together.
    let budget_used = AtomicU64::new(0);
    let limit = |min: u64, max: u64| min + index.wrapping_mul(7919) % (max.saturating_sub(min) + 1);
    let end = {
        let up = pump(
            &mut client_read,
            &mut server_write,
            &shared,
            &budget_used,
            &limit,
        );
        let down = pump(
            &mut server_read,
            &mut client_write,
            &shared,
            &budget_used,
            &limit,
        );
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        // A cut in either direction resets both at once; a close in one direction leaves the
        // other forwarding (a half-closed connection).
        loop {
            let end = tokio::select! {
                end = &mut up, if !up_done => {
                    up_done = true;
                    end
                }
                end = &mut down, if !down_done => {
                    down_done = true;
                    end
                }
                _ = cuts.changed() => End::Cut,
                _ = silences.changed() => End::Silenced,
            };
            if matches!(end, End::Cut | End::Silenced) {
                break end;
            }
            if up_done && down_done {
                break End::Closed;
            }
        }
    };
    match end {
        End::Cut => {
            shared.counters.cut.fetch_add(1, Ordering::Relaxed);
            let _ = AsRef::<TcpStream>::as_ref(&client_write).set_zero_linger();
            let _ = AsRef::<TcpStream>::as_ref(&server_write).set_zero_linger();
        }
        End::Silenced => {
            shared.counters.silenced.fetch_add(1, Ordering::Relaxed);
            // A black hole: both sockets stay open, the client's bytes are swallowed, nothing
            // is sent either way. The client's close (or the proxy's end, which drops this
            // task) ends it.
            let mut buf = vec![0u8; CHUNK];
            while let Ok(n) = client_read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            drop((server_read, server_write, client_write));
        }
        End::Closed => {}
    }
}

/// Forwards `from` to `to` under the current fault until EOF, an error or a cut.
async fn pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    shared: &Shared,
    budget_used: &AtomicU64,
    limit: &impl Fn(u64, u64) -> u64,
) -> End {
    let mut faults = shared.fault.subscribe();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return End::Closed;
            }
            Ok(n) => n,
        };
        loop {
            let fault = *faults.borrow_and_update();
            match fault {
                Fault::Healthy | Fault::Refuse => break,
                Fault::Delay(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Fault::Stall => {
                    if faults.changed().await.is_err() {
                        return End::Closed;
                    }
                }
                Fault::CutAfter {
                    min_bytes,
                    max_bytes,
                } => {
                    let used = budget_used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                    if used > limit(min_bytes, max_bytes) {
                        return End::Cut;
                    }
                    break;
                }
                Fault::Down => return End::Cut,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return End::Closed;
        }
        shared.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An upstream echoing every byte back.
    fn echo_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                std::thread::spawn(move || {
                    let mut read = stream.try_clone().unwrap();
                    let mut write = stream;
                    let _ = std::io::copy(&mut read, &mut write);
                });
            }
        });
        addr
    }

    fn roundtrip(stream: &mut std::net::TcpStream, data: &[u8]) -> io::Result<Vec<u8>> {
        use std::io::{Read, Write};
        stream.write_all(data)?;
        let mut back = vec![0; data.len()];
        stream.read_exact(&mut back)?;
        Ok(back)
    }

    /// Waits (at most 5 s) until the proxy has cut `n` connections.
    fn wait_for_cuts(proxy: &FlakyProxy, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.stats().cut < n {
            assert!(Instant::now() < deadline, "{:?}", proxy.stats());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn connect(proxy: &FlakyProxy) -> io::Result<std::net::TcpStream> {
        let stream = std::net::TcpStream::connect(proxy.addr())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(stream)
    }

    #[test]
    fn healthy_forwards_and_delay_holds_bytes_back() {
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut stream = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut stream, b"hello").unwrap(), b"hello");
        proxy.set(Fault::Delay(Duration::from_millis(200)));
        let started = Instant::now();
        assert_eq!(roundtrip(&mut stream, b"slow").unwrap(), b"slow");
        // Held once each way.
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert_eq!(proxy.stats().accepted, 1);
        assert_eq!(proxy.stats().cut, 0);
    }

    #[test]
    fn down_resets_open_connections_and_refuses_new_ones_until_healthy() {
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut stream = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut stream, b"a").unwrap(), b"a");
        proxy.set(Fault::Down);
        wait_for_cuts(&proxy, 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        // The open connection is reset …
        assert!(roundtrip(&mut stream, b"b").is_err());
        // … and new ones are refused.
        loop {
            match std::net::TcpStream::connect(proxy.addr()) {
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
                    break;
                }
                Ok(_) => assert!(Instant::now() < deadline, "the listener stayed open"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(proxy.stats().cut, 1);
        proxy.set(Fault::Healthy);
        loop {
            if let Ok(mut stream) = connect(&proxy) {
                assert_eq!(roundtrip(&mut stream, b"c").unwrap(), b"c");
                break;
            }
            assert!(Instant::now() < deadline, "the proxy did not listen again");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn silenced_connections_stay_open_and_quiet_while_new_ones_work() {
        use std::io::Write;
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut old = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut old, b"a").unwrap(), b"a");
        proxy.silence_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        while proxy.stats().silenced < 1 {
            assert!(Instant::now() < deadline, "{:?}", proxy.stats());
            std::thread::sleep(Duration::from_millis(10));
        }
        // Writes still succeed (swallowed), nothing comes back, and there is no reset.
        old.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        old.write_all(b"b").unwrap();
        let mut back = [0u8; 1];
        let err = std::io::Read::read(&mut old, &mut back).expect_err("silence");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
        // A new connection is forwarded.
        let mut new = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut new, b"c").unwrap(), b"c");
        assert_eq!(proxy.stats().cut, 0);
        assert_eq!(proxy.stats().silenced, 1);
    }

    #[test]
    fn cut_after_resets_a_connection_mid_stream() {
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut stream = connect(&proxy).unwrap();
        proxy.set(Fault::CutAfter {
            min_bytes: 100,
            max_bytes: 100,
        });
        // 60 bytes up and 60 back: over the limit of 100 on the way back.
        assert!(roundtrip(&mut stream, &[7; 60]).is_err());
        assert_eq!(proxy.stats().cut, 1);
        // A new connection gets a budget of its own.
        let mut stream = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut stream, &[1; 10]).unwrap(), [1; 10]);
    }

    #[test]
    fn stall_holds_bytes_until_the_fault_changes() {
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut stream = connect(&proxy).unwrap();
        proxy.set(Fault::Stall);
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(
            roundtrip(&mut stream, b"held").is_err(),
            "forwarded while stalled"
        );
        proxy.set(Fault::Healthy);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut back = [0u8; 4];
        std::io::Read::read_exact(&mut stream, &mut back).unwrap();
        assert_eq!(&back, b"held");
    }

    #[test]
    fn cut_all_resets_every_connection_but_keeps_listening() {
        let proxy = FlakyProxy::start(echo_server()).unwrap();
        let mut streams: Vec<_> = (0..3).map(|_| connect(&proxy).unwrap()).collect();
        for s in &mut streams {
            assert_eq!(roundtrip(s, b"x").unwrap(), b"x");
        }
        proxy.cut_all();
        wait_for_cuts(&proxy, 3);
        for s in &mut streams {
            assert!(roundtrip(s, b"y").is_err());
        }
        assert_eq!(proxy.stats().cut, 3);
        let mut fresh = connect(&proxy).unwrap();
        assert_eq!(roundtrip(&mut fresh, b"z").unwrap(), b"z");
    }
}
