//! What the unix attestor reads from `/proc/<pid>`: `stat` (state and start time) and
//! `status` (credentials). Both files are small; reads are bounded all the same.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::UnixAttestorError;

/// Most bytes read from a `/proc` text file (`status` is ~1.5 KiB; a long `Groups:` line of
/// 65536 groups stays under this).
const MAX_PROC_FILE: u64 = 1024 * 1024;

/// The fields of `/proc/<pid>/stat` the attestor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub(crate) state: u8,
    /// Field 22: start time in clock ticks after boot.
    pub(crate) start_time: u64,
}

impl Stat {
    /// Whether the process has exited (a zombie waiting for its parent, or dead).
    pub(crate) fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// The credential lines of `/proc/<pid>/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) effective_uid: u32,
    pub(crate) effective_gid: u32,
    pub(crate) groups: Vec<u32>,
}

pub(crate) fn pid_dir(proc_root: &Path, pid: i32) -> Result<PathBuf, UnixAttestorError> {
    if pid <= 0 {
        return Err(UnixAttestorError::InvalidPid { pid });
    }
    Ok(proc_root.join(pid.to_string()))
}

/// Reads a small `/proc` file; a missing file or process (`ENOENT`, `ESRCH`) means exited.
pub(crate) fn read_small(path: &Path, pid: i32) -> Result<Vec<u8>, UnixAttestorError> {
    let mut out = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PROC_FILE + 1).read_to_end(&mut out));
    match read {
        Ok(_) if out.len() as u64 > MAX_PROC_FILE => Err(UnixAttestorError::Unparsable {
            pid,
            file: "proc file",
        }),
        Ok(_) => Ok(out),
        Err(e) if gone(&e) => Err(UnixAttestorError::ProcessExited { pid }),
        Err(e) => Err(UnixAttestorError::Io {
            pid,
            what: "reading /proc",
            kind: e.kind(),
        }),
    }
}

/// Whether an I/O error says the process is gone.
pub(crate) fn gone(e: &std::io::Error) -> bool {
    // ESRCH (3): the process exited while its /proc entry was open.
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3)
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself
/// contain `)` and spaces, so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.as_bytes();
    if state.len() != 1 {
        return None;
    }
    // Fields 4..=21 precede the start time (field 22).
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat {
        state: state[0],
        start_time,
    })
}

/// Parses the `Uid:`, `Gid:` and `Groups:` lines of `/proc/<pid>/status`.
pub(crate) fn parse_status(text: &[u8]) -> Option<Status> {
    let text = std::str::from_utf8(text).ok()?;
    let (mut uid, mut gid, mut groups) = (None, None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let ids = || {
            value
                .split_ascii_whitespace()
                .map(str::parse::<u32>)
                .collect::<Result<Vec<_>, _>>()
                .ok()
        };
        match key {
            // Real, effective, saved set, filesystem: SPIRE uses the effective id.
            "Uid" => uid = Some(*ids()?.get(1)?),
            "Gid" => gid = Some(*ids()?.get(1)?),
            "Groups" => groups = Some(ids()?),
            _ => {}
        }
    }
    Some(Status {
        effective_uid: uid?,
        effective_gid: gid?,
        groups: groups.unwrap_or_default(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stat_counts_from_the_last_parenthesis() {
        let line = b"1234 (we ird) S) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: b'R',
                start_time: 987654
            })
        );
        assert_eq!(parse_stat(b"1 (x) Z 1"), None);
        assert_eq!(parse_stat(b"no parenthesis"), None);
        assert!(
            parse_stat(b"1 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19")
                .unwrap()
                .exited()
        );
    }

    #[test]
    fn status_takes_effective_ids() {
        let text = b"Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t10 20 \n";
        assert_eq!(
            parse_status(text),
            Some(Status {
                effective_uid: 2,
                effective_gid: 6,
                groups: vec![10, 20]
            })
        );
        assert_eq!(parse_status(b"Uid:\t1\nGid:\t1\t1\t1\t1\n"), None);
        assert_eq!(parse_status(b"Uid:\tx\t1\nGid:\t1\t1\n"), None);
        assert_eq!(
            parse_status(b"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n")
                .unwrap()
                .groups,
            Vec::<u32>::new()
        );
    }
}
