//! The workload side of the benches: the generated Workload API client (no parsing of the
//! answers beyond counting SVIDs, so the client's own cost stays small), over a Unix socket or
//! TCP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use spiffe_workload::proto;
use spiffe_workload::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::transport::Channel;

pub(crate) type Client = SpiffeWorkloadApiClient<Channel>;

/// Streams per HTTP/2 connection (the server kit allows 1,024).
pub(crate) const STREAMS_PER_CONNECTION: usize = 1000;

pub(crate) async fn connect_unix(socket: &Path) -> Client {
    let socket = socket.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    SpiffeWorkloadApiClient::new(channel)
}

pub(crate) async fn connect_tcp(port: u16) -> Client {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    SpiffeWorkloadApiClient::new(channel)
}

pub(crate) fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "workload.spiffe.io",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    request
}

/// One message received: when, whose SVID, and its chain (to tell a rotated SVID).
pub(crate) struct Arrival {
    pub(crate) at: Instant,
    pub(crate) spiffe_id: String,
    pub(crate) svid_der: Vec<u8>,
}

/// Open FetchX509SVID streams, each reporting every message it receives.
pub(crate) struct Watchers {
    pub(crate) tasks: JoinSet<()>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    sender: mpsc::UnboundedSender<Arrival>,
    clients: Vec<Client>,
    count: usize,
    socket: PathBuf,
}

impl Watchers {
    pub(crate) fn new(socket: &Path) -> Self {
        let (sender, arrivals) = mpsc::unbounded_channel();
        Self {
            tasks: JoinSet::new(),
            arrivals,
            sender,
            clients: Vec::new(),
            count: 0,
            socket: socket.to_path_buf(),
        }
    }

    /// Opens streams until `n` are open and each has had its first message.
    pub(crate) async fn grow_to(&mut self, n: usize) {
        let added = n.saturating_sub(self.count);
        for i in self.count..n {
            let connection = i / STREAMS_PER_CONNECTION;
            while self.clients.len() <= connection {
                self.clients.push(connect_unix(&self.socket).await);
            }
            watch(
                &mut self.tasks,
                self.clients[connection].clone(),
                self.sender.clone(),
            );
        }
        self.count = n;
        self.wait(added).await;
    }

    /// The next `n` arrivals.
    pub(crate) async fn wait(&mut self, n: usize) -> Vec<Arrival> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(next_arrival(&mut self.arrivals).await);
        }
        out
    }
}

/// Opens one stream on `client` that reports each message to `sender`.
pub(crate) fn watch(
    tasks: &mut JoinSet<()>,
    mut client: Client,
    sender: mpsc::UnboundedSender<Arrival>,
) {
    tasks.spawn(async move {
        let mut stream = client
            .fetch_x509svid(request(proto::X509svidRequest {}))
            .await
            .unwrap()
            .into_inner();
        while let Ok(Some(message)) = stream.message().await {
            assert_eq!(message.svids.len(), 1, "one SVID per workload");
            let svid = message.svids.into_iter().next().unwrap();
            let arrival = Arrival {
                at: Instant::now(),
                spiffe_id: svid.spiffe_id,
                svid_der: svid.x509_svid,
            };
            if sender.send(arrival).is_err() {
                return;
            }
        }
    });
}

pub(crate) async fn next_arrival(arrivals: &mut mpsc::UnboundedReceiver<Arrival>) -> Arrival {
    tokio::time::timeout(Duration::from_secs(60), arrivals.recv())
        .await
        .expect("a message within 60 s")
        .unwrap()
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}
