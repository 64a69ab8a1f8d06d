//! Inputs shared by the subcommands: files (or `-` for stdin), `--bundle TD=FILE` flags and
//! the trust bundles they name.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use spiffe_core::bundle::{BundleFormat, BundleSet};
use spiffe_core::{SpiffeBundle, TrustDomain};

use crate::output::Failure;

/// Inputs larger than this are refused rather than read into memory.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Reads `path`, or stdin when `path` is `-`.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    let failure = |source| Failure::File {
        path: path.to_owned(),
        action: "reading",
        source,
    };
    let mut data = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut data)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut data))
    };
    read.map_err(failure)?;
    if data.len() as u64 > MAX_INPUT {
        return Err(failure(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_INPUT} bytes"),
        )));
    }
    Ok(data)
}

/// Writes `data` to `path`.
pub(crate) fn write_output(path: &Path, data: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, data).map_err(|source| Failure::File {
        path: path.to_owned(),
        action: "writing",
        source,
    })
}

/// One `--bundle TD=FILE` flag.
#[derive(Debug, Clone)]
pub(crate) struct BundleArg {
    /// The trust domain the file's authorities belong to.
    pub(crate) trust_domain: TrustDomain,
    /// The file.
    pub(crate) path: PathBuf,
}

// === impl BundleArg ===

impl BundleArg {
    /// Parses `TD=FILE` (a clap value parser).
    pub(crate) fn parse(arg: &str) -> Result<Self, String> {
        let Some((td, path)) = arg.split_once('=') else {
            return Err("expected TD=FILE, e.g. example.org=bundle.json".into());
        };
        if path.is_empty() {
            return Err("expected TD=FILE: the file name is empty".into());
        }
        let trust_domain = TrustDomain::new(td)
            .map_err(|e| format!("`{td}` is not a valid trust domain name: {e}"))?;
        Ok(Self {
            trust_domain,
            path: PathBuf::from(path),
        })
    }
}

/// Reads every `--bundle` file (any format [`SpiffeBundle::parse_any`] reads) into a
/// [`BundleSet`]. Several files for one trust domain are merged (e.g. old and new roots
/// during a rotation).
pub(crate) fn load_bundles(args: &[BundleArg]) -> Result<BundleSet, Failure> {
    let mut merged: BTreeMap<TrustDomain, SpiffeBundle> = BTreeMap::new();
    for arg in args {
        let data = read_input(&arg.path)?;
        let what = || {
            format!(
                "bundle file `{}` (trust domain {})",
                arg.path.display(),
                arg.trust_domain
            )
        };
        let (bundle, _format): (SpiffeBundle, BundleFormat) =
            SpiffeBundle::parse_any(arg.trust_domain.clone(), &data).map_err(|e| {
                Failure::Input {
                    what: what(),
                    error: Box::new(e),
                }
            })?;
        let bundle = match merged.remove(&arg.trust_domain) {
            None => bundle,
            Some(earlier) => merge(earlier, bundle).map_err(|e| Failure::Input {
                what: what(),
                error: Box::new(e),
            })?,
        };
        merged.insert(arg.trust_domain.clone(), bundle);
    }
    let mut set = BundleSet::new();
    for bundle in merged.into_values() {
        set.insert_bundle(bundle);
    }
    Ok(set)
}

/// The authorities of both bundles (of one trust domain); `later` wins a `kid` clash.
fn merge(
    earlier: SpiffeBundle,
    later: SpiffeBundle,
) -> Result<SpiffeBundle, spiffe_core::bundle::BundleError> {
    let (mut x509, mut jwt) = earlier.into_parts();
    let (later_x509, later_jwt) = later.into_parts();
    for authority in later_x509.authorities() {
        x509.add_authority(authority.clone());
    }
    for authority in later_jwt.authorities() {
        jwt.insert(authority.clone());
    }
    SpiffeBundle::from_parts(x509, jwt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_arg_parses_td_and_file() {
        let arg = BundleArg::parse("example.org=a=b.pem").expect("valid");
        assert_eq!(arg.trust_domain.to_string(), "example.org");
        assert_eq!(arg.path, PathBuf::from("a=b.pem"));
        for bad in ["example.org", "=x.pem", "Example.org=x.pem", "example.org="] {
            assert!(BundleArg::parse(bad).is_err(), "{bad}");
        }
    }
}
