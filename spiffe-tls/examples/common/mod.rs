//! Options and file loading shared by the `mtls_server` and `mtls_client` examples.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use spiffe_core::x509::parse_certificates;
use spiffe_core::{BundleSet, SpiffeBundle, SpiffeId, TrustDomain, X509Bundle, X509Svid};
use spiffe_tls::Authorizer;

/// Where the SVID and bundles come from, and which peers are allowed.
///
/// Files mode only. The Workload API mode (`--socket ADDR`) needs the `spiffe-workload` crate,
/// which does not exist yet.
#[derive(Args, Debug)]
pub(crate) struct Identity {
    /// This workload's X.509-SVID chain (PEM, leaf first), e.g. `svid.pem` from `spiffe x509 mint`
    #[arg(long, value_name = "FILE")]
    pub(crate) svid: PathBuf,

    /// The SVID's private key (PEM, PKCS#8 or SEC1), e.g. `svid.key`
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,

    /// A trust bundle for trust domain TD: PEM certificates or a SPIFFE bundle (JSON); repeat
    /// for federated trust domains
    #[arg(long = "bundle", value_name = "TD=FILE", required = true)]
    pub(crate) bundles: Vec<String>,

    /// Accept a peer with exactly this SPIFFE ID; repeat to accept several
    #[arg(
        long = "authorize",
        value_name = "SPIFFE_ID",
        required_unless_present = "authorize_td"
    )]
    pub(crate) authorize: Vec<String>,

    /// Accept any peer in this trust domain
    #[arg(long = "authorize-td", value_name = "TD", conflicts_with = "authorize")]
    pub(crate) authorize_td: Option<String>,
}

/// An error message for the user.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

impl Identity {
    /// Reads the SVID, the bundles and the authorizer the options name.
    pub(crate) fn load(&self) -> Result<(Arc<X509Svid>, Arc<BundleSet>, Authorizer), Error> {
        let svid = X509Svid::parse_pem(&read(&self.svid)?, &read(&self.key)?)
            .map_err(|e| format!("{} / {}: {e}", self.svid.display(), self.key.display()))?;

        let mut set = BundleSet::new();
        for arg in &self.bundles {
            let (td, file) = arg
                .split_once('=')
                .ok_or_else(|| format!("--bundle {arg}: expected TD=FILE"))?;
            let td = TrustDomain::new(td).map_err(|e| format!("--bundle {arg}: {e}"))?;
            set.insert_x509(load_bundle(td, Path::new(file))?);
        }

        let authorizer = match &self.authorize_td {
            Some(td) => Authorizer::member_of(
                TrustDomain::new(td).map_err(|e| format!("--authorize-td {td}: {e}"))?,
            ),
            None => {
                let ids = self
                    .authorize
                    .iter()
                    .map(|s| SpiffeId::new(s).map_err(|e| format!("--authorize {s}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Authorizer::one_of(ids)
            }
        };
        Ok((Arc::new(svid), Arc::new(set), authorizer))
    }
}

/// A bundle file: a SPIFFE bundle document (JSON) or PEM certificates.
fn load_bundle(td: TrustDomain, path: &Path) -> Result<Arc<X509Bundle>, Error> {
    let bytes = read(path)?;
    let context = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    if bytes.trim_ascii_start().starts_with(b"{") {
        let (x509, _jwt) = SpiffeBundle::parse(td, &bytes)
            .map_err(|e| context(&e))?
            .into_parts();
        Ok(Arc::new(x509))
    } else {
        let certs = parse_certificates(&bytes).map_err(|e| context(&e))?;
        Ok(Arc::new(X509Bundle::from_authorities(td, certs)))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// The crypto provider of both examples.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
