//! A [`Journal`] kept as one JSON file, replaced atomically on every save.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use spiffe_core::BoxFuture;

use super::journal::{Journal, JournalState, JOURNAL_FORMAT};
use super::JournalError;

/// A journal stored as JSON in one file.
///
/// A save writes a temporary file in the same directory, syncs it, renames it over the journal
/// and syncs the directory, so a crash leaves either the old or the new journal, never a torn
/// one. A journal file that does not parse is an error ([`JournalError::Corrupt`]); it is never
/// silently replaced by a fresh state, which would rotate every key of the trust domain.
///
/// The I/O is blocking (a journal is a few kilobytes, written when the CA rotates).
#[derive(Debug, Clone)]
pub struct FileJournal {
    path: PathBuf,
}

// === impl FileJournal ===

impl FileJournal {
    /// A journal in the file `path` (created on the first save; its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_blocking(&self) -> Result<Option<JournalState>, JournalError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(JournalError::Io {
                    operation: "read journal",
                    source,
                })
            }
        };
        let state: JournalState =
            serde_json::from_slice(&bytes).map_err(|e| JournalError::Corrupt {
                path: self.path.clone(),
                line: e.line(),
                column: e.column(),
            })?;
        if state.format != JOURNAL_FORMAT {
            return Err(JournalError::UnsupportedFormat {
                path: self.path.clone(),
                format: state.format,
            });
        }
        Ok(Some(state))
    }

    fn save_blocking(&self, state: &JournalState) -> Result<(), JournalError> {
        let json = serde_json::to_vec_pretty(state).map_err(|_| JournalError::Encode)?;
        write_atomically(&self.path, &json)
    }
}

impl Journal for FileJournal {
    fn load(&self) -> BoxFuture<'_, Result<Option<JournalState>, JournalError>> {
        Box::pin(async move { self.load_blocking() })
    }

    fn save<'a>(&'a self, state: &'a JournalState) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async move { self.save_blocking(state) })
    }
}

/// Replaces `path` with `contents` with [`secret_file::write`](crate::secret_file::write):
/// temporary file in the same directory (mode 0600), fsync, rename, fsync of the directory.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), JournalError> {
    crate::secret_file::write(path, contents).map_err(|source| JournalError::Io {
        operation: "write journal",
        source,
    })
}
