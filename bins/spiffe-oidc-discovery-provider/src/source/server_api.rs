//! The server's Bundle API (`spire.api.server.bundle.v1.Bundle/GetBundle`) over its admin Unix
//! socket, asking for the JWT authorities only, as SPIRE's provider does.

use std::path::{Path, PathBuf};

use spiffe_core::{JwtBundle, TrustDomain};
use spire_api_proto::convert::jwt_authority_from_proto;
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::bundle::v1::GetBundleRequest;
use spire_api_proto::types::BundleMask;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{KeySource, PollError};

/// A client of the server's admin socket.
#[derive(Debug, Clone)]
pub struct ServerApiSource {
    client: BundleClient<Channel>,
    socket_path: PathBuf,
}

impl ServerApiSource {
    /// A client that connects (and reconnects) on use, so the server may start later.
    pub fn new(socket_path: &Path) -> Result<Self, PollError> {
        let path = socket_path.to_owned();
        let channel = Endpoint::from_static("http://localhost").connect_with_connector_lazy(
            tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(&path).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            }),
        );
        Ok(Self {
            client: BundleClient::new(channel),
            socket_path: socket_path.to_owned(),
        })
    }
}

impl KeySource for ServerApiSource {
    fn name(&self) -> &'static str {
        "server_api"
    }

    async fn fetch(&mut self) -> Result<JwtBundle, PollError> {
        let request = GetBundleRequest {
            output_mask: Some(BundleMask {
                jwt_authorities: true,
                ..BundleMask::default()
            }),
        };
        let bundle = self
            .client
            .get_bundle(request)
            .await
            .map_err(|status| {
                format!(
                    "GetBundle on {}: {}: {}",
                    self.socket_path.display(),
                    status.code(),
                    status.message()
                )
            })?
            .into_inner();
        let trust_domain = TrustDomain::new(&bundle.trust_domain)
            .map_err(|e| format!("the server's bundle names an invalid trust domain: {e}"))?;
        let mut jwt = JwtBundle::new(trust_domain);
        for key in &bundle.jwt_authorities {
            // As SPIRE: a malformed key is logged and skipped, the others are served.
            match jwt_authority_from_proto(key) {
                Ok((authority, _state)) => {
                    jwt.insert(authority);
                }
                Err(error) => {
                    tracing::warn!(kid = %key.key_id.escape_default(), error = %error, "Malformed public key in bundle");
                }
            }
        }
        Ok(jwt)
    }
}
