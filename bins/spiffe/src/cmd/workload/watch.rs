//! `spiffe workload watch`: every update of a Workload API stream, a line (or JSON object)
//! each, as the agent pushes them (rotations, new bundles). Reconnects with backoff.

use std::io::Write;

use clap::{Args, ValueEnum};
use spiffe_workload::ClientError;

use crate::output::{ErrorChain, Failure, Output};

use super::fetch::{BundlesUpdate, X509Answer};
use super::ClientArgs;

/// Arguments of `spiffe workload watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    client: ClientArgs,

    /// The stream: `x509` (X.509-SVIDs and bundles), `bundles` (X.509 bundles) or
    /// `jwt-bundles`.
    #[arg(value_enum, default_value_t = WatchKind::X509)]
    kind: WatchKind,

    /// Stop after this many updates (default: until interrupted or the stream ends for good).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

/// Which stream `watch` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WatchKind {
    /// `FetchX509SVID`.
    X509,
    /// `FetchX509Bundles`.
    Bundles,
    /// `FetchJWTBundles`.
    JwtBundles,
}

/// Follows the stream until `--count` updates, SIGINT, or a final error.
pub(crate) fn watch<W: Write>(args: &WatchArgs, out: &mut Output<W>) -> Result<(), Failure> {
    super::block_on(async {
        let client = args.client.connect().await?;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut seen = 0u64;
        let mut last_error: Option<ClientError> = None;
        let mut x509 = (args.kind == WatchKind::X509).then(|| client.watch_x509_context());
        let mut bundles = match args.kind {
            WatchKind::Bundles => Some(client.watch_x509_bundles()),
            WatchKind::JwtBundles => Some(client.watch_jwt_bundles()),
            WatchKind::X509 => None,
        };
        while args.count.is_none_or(|count| seen < count) {
            let next = async {
                match (&mut x509, &mut bundles) {
                    (Some(watch), _) => watch.next().await.map(|r| r.map(Update::X509)),
                    (None, Some(watch)) => watch.next().await.map(|r| r.map(Update::Bundles)),
                    (None, None) => None,
                }
            };
            let update = tokio::select! {
                update = next => update,
                _ = &mut interrupted => return Ok(()),
            };
            match update {
                Some(Ok(Update::X509(context))) => out.answer(&X509Answer::new(&context, None)?)?,
                Some(Ok(Update::Bundles(set))) => out.answer(&BundlesUpdate::new(&set))?,
                Some(Err(error)) => {
                    eprintln!("spiffe: warning: {}", ErrorChain(&error));
                    last_error = Some(error);
                    continue;
                }
                None => {
                    return Err(match last_error {
                        Some(error) => super::call_failure("watch")(error),
                        None => Failure::Input {
                            what: "Workload API watch".into(),
                            error: "the stream ended".into(),
                        },
                    })
                }
            }
            out.flush()?;
            seen += 1;
        }
        Ok(())
    })
}

/// One update of either kind of stream.
enum Update {
    X509(spiffe_workload::X509Context),
    Bundles(spiffe_core::BundleSet),
}
