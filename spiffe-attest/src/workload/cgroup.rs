//! Which container (and which Kubernetes pod) a process runs in, from `/proc/<pid>/cgroup`.
//!
//! Shared by the `k8s` and `docker` workload attestors. Each line of the file is
//! `hierarchy-id:controllers:path` (cgroup v1 has one line per hierarchy, cgroup v2 a single
//! `0::path` line). The container runtimes name a container's cgroup after its 64-hex-digit
//! ID, and the kubelet names the pod's cgroup after the pod UID:
//!
//! | layout | example path |
//! |---|---|
//! | cgroupfs driver (Docker, containerd), v1 or v2 | `/kubepods/besteffort/pod<uid>/<id>` |
//! | systemd driver, containerd | `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope` |
//! | systemd driver, CRI-O | `…-pod<uid>.slice/crio-<id>.scope` |
//! | systemd driver, Docker (no Kubernetes) | `/system.slice/docker-<id>.scope` |
//! | cgroupfs driver, Docker (no Kubernetes) | `/docker/<id>` |
//! | kind (a node in a Docker container) | `/docker/<node id>/kubepods/…/pod<uid>/<id>` |
//!
//! A path locates a container when its last component, less a `.scope` suffix, is 64 hex
//! digits or ends with a punctuation character followed by 64 hex digits. Its pod UID is the
//! last `pod<UUID>` before that component (preceded by punctuation, and with `-` or `_`, or
//! nothing, between the UUID's groups; `_` becomes `-`). Lines that locate nothing are
//! skipped; lines that locate different containers or pods are an error (SPIRE does the same).
//!
//! Limit: a process in a private cgroup namespace (cgroup v2's default for containers) sees
//! its own cgroup as `/`, and then nothing is located; read the host's `/proc` (the agent runs
//! in the host cgroup namespace, as SPIRE's DaemonSet does).

use std::io::Read;
use std::path::Path;

use super::unix::{same_process, UnixAttestorError};
use super::CallerInfo;

/// The most bytes read from a `/proc/<pid>/cgroup` file (a v1 file has about a dozen lines).
pub const MAX_CGROUP_FILE: u64 = 64 * 1024;

/// One line of `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine<'a> {
    /// The hierarchy ID (`0` for cgroup v2).
    pub hierarchy: &'a str,
    /// The controllers, comma-separated (empty for cgroup v2).
    pub controllers: &'a str,
    /// The cgroup path, relative to the hierarchy's root (as seen from the reader's namespace).
    pub path: &'a str,
}

/// Where a process runs: its container, and its pod when under Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerLocation {
    /// The pod UID in its canonical form (`2c48913c-b29f-11e7-9350-020968147796`), when the
    /// path names one.
    pub pod_uid: Option<String>,
    /// The container ID: 64 lowercase or uppercase hex digits, as the runtime wrote it.
    pub container_id: String,
}

/// Why a cgroup file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A line is not `hierarchy:controllers:path`.
    #[error("cgroup line {line} is not hierarchy-id:controllers:path")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
    /// The file is not UTF-8 or is larger than [`MAX_CGROUP_FILE`].
    #[error("cgroup file is not UTF-8 text of at most {MAX_CGROUP_FILE} bytes")]
    Unreadable,
    /// Two lines name different containers.
    #[error("multiple container IDs found in cgroups ({first}, {second})")]
    MultipleContainers {
        /// The first container ID.
        first: String,
        /// The other.
        second: String,
    },
    /// Two lines name the same container in different pods.
    #[error("multiple pod UIDs found in cgroups ({first}, {second})")]
    MultiplePods {
        /// The first pod UID.
        first: String,
        /// The other.
        second: String,
    },
    /// The process has no `/proc` entry (it exited) or the pid is not positive.
    #[error("process {pid} not found")]
    NoProcess {
        /// The pid.
        pid: i32,
    },
    /// The caller's process cannot be inspected, or is no longer the one that connected.
    #[error(transparent)]
    Process(#[from] UnixAttestorError),
    /// Reading the file failed for another reason.
    #[error("reading /proc/{pid}/cgroup failed: {kind}")]
    Io {
        /// The pid.
        pid: i32,
        /// The error kind.
        kind: std::io::ErrorKind,
    },
}

/// Parses the lines of a cgroup file. Empty lines are skipped; every other line must have two
/// `:` separators (the path itself may contain more).
pub fn parse_lines(text: &str) -> Result<Vec<CgroupLine<'_>>, CgroupError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(hierarchy), Some(controllers), Some(path)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(CgroupError::Malformed { line: i + 1 });
        };
        if hierarchy.is_empty() || !hierarchy.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CgroupError::Malformed { line: i + 1 });
        }
        out.push(CgroupLine {
            hierarchy,
            controllers,
            path,
        });
    }
    Ok(out)
}

/// The container (and pod) one cgroup path names, if any.
pub fn locate_in_path(path: &str) -> Option<ContainerLocation> {
    let (parent, last) = match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let last = last.strip_suffix(".scope").unwrap_or(last);
    if last.len() < 64 || !last.is_char_boundary(last.len() - 64) {
        return None;
    }
    let (prefix, id) = last.split_at(last.len() - 64);
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Some(&sep) = prefix.as_bytes().last() {
        if !sep.is_ascii_punctuation() {
            return None;
        }
    }
    // The pod: in the parent path, or in the container's own component before its ID (a
    // runtime that names the container cgroup `pod<uid>-<id>` is not known, but is harmless).
    let pod_uid = find_pod_uid(parent);
    Some(ContainerLocation {
        pod_uid,
        container_id: id.to_owned(),
    })
}

/// The last `pod<UUID>` in `s` that is preceded by punctuation (or starts `s`) and followed by
/// punctuation or the end of `s`, canonicalized.
fn find_pod_uid(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut found = None;
    let mut from = 0;
    while let Some(off) = s.get(from..).and_then(|rest| rest.find("pod")) {
        let at = from + off;
        from = at + 3;
        if at > 0 && !bytes[at - 1].is_ascii_punctuation() {
            continue;
        }
        if let Some((uid, end)) = parse_uuid(&bytes[at + 3..]) {
            let next = bytes.get(at + 3 + end);
            if next.is_none_or(|b| b.is_ascii_punctuation()) {
                found = Some(uid);
            }
        }
    }
    found
}

/// A UUID at the start of `b`: groups of 8, 4, 4, 4 and 12 hex digits, each of the four
/// separators `-`, `_` or absent (the same one need not be used throughout, as SPIRE allows).
/// Returns it with `-` separators, lowercase kept as written, and how many bytes it took.
fn parse_uuid(b: &[u8]) -> Option<(String, usize)> {
    let groups = [8usize, 4, 4, 4, 12];
    let mut out = String::with_capacity(36);
    let mut i = 0;
    for (n, len) in groups.iter().enumerate() {
        if n > 0 {
            out.push('-');
            if matches!(b.get(i), Some(c) if c.is_ascii_punctuation()) {
                i += 1;
            }
        }
        let group = b.get(i..i + len)?;
        if !group.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        out.extend(group.iter().map(|&c| c as char));
        i += len;
    }
    Some((out, i))
}

/// The one container the lines of a cgroup file name, `None` when they name none.
pub fn locate(text: &str) -> Result<Option<ContainerLocation>, CgroupError> {
    let mut found: Option<ContainerLocation> = None;
    for line in parse_lines(text)? {
        let Some(candidate) = locate_in_path(line.path) else {
            continue;
        };
        match &found {
            None => found = Some(candidate),
            Some(f) if f.container_id != candidate.container_id => {
                return Err(CgroupError::MultipleContainers {
                    first: f.container_id.clone(),
                    second: candidate.container_id,
                })
            }
            Some(f) if f.pod_uid != candidate.pod_uid => {
                return Err(CgroupError::MultiplePods {
                    first: f.pod_uid.clone().unwrap_or_default(),
                    second: candidate.pod_uid.unwrap_or_default(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

/// Reads `<proc_root>/<pid>/cgroup` (bounded by [`MAX_CGROUP_FILE`]) and locates its container.
pub fn locate_process(
    proc_root: &Path,
    pid: i32,
) -> Result<Option<ContainerLocation>, CgroupError> {
    if pid <= 0 {
        return Err(CgroupError::NoProcess { pid });
    }
    let path = proc_root.join(pid.to_string()).join("cgroup");
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_CGROUP_FILE + 1).read_to_end(&mut bytes));
    match read {
        Ok(_) => {}
        // ESRCH (3): the process exited while its /proc entry was open.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {
            return Err(CgroupError::NoProcess { pid })
        }
        Err(e) => {
            return Err(CgroupError::Io {
                pid,
                kind: e.kind(),
            })
        }
    }
    if bytes.len() as u64 > MAX_CGROUP_FILE {
        return Err(CgroupError::Unreadable);
    }
    let text = String::from_utf8(bytes).map_err(|_| CgroupError::Unreadable)?;
    locate(&text)
}

/// Locates the container of `caller`'s process under `proc_root`, checking before and after
/// the read that the pid still belongs to the process that connected (see
/// [`CallerInfo::start_time`]).
pub fn locate_caller(
    proc_root: &Path,
    caller: &CallerInfo,
) -> Result<Option<ContainerLocation>, CgroupError> {
    let pid = same_process(proc_root, caller)?;
    let found = locate_process(proc_root, pid)?;
    same_process(proc_root, caller)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961";

    #[test]
    fn uuid_separators() {
        assert_eq!(
            parse_uuid(b"2c48913c_b29f_11e7_9350_020968147796.slice"),
            Some(("2c48913c-b29f-11e7-9350-020968147796".to_owned(), 36))
        );
        assert_eq!(
            parse_uuid(b"2c48913cb29f11e79350020968147796").map(|(u, _)| u),
            Some("2c48913c-b29f-11e7-9350-020968147796".to_owned())
        );
        assert_eq!(parse_uuid(b"2c48913c-b29f-11e7-9350-02096814779"), None);
    }

    #[test]
    fn paths() {
        let p = format!("/kubepods/burstable/pod2c48913c-b29f-11e7-9350-020968147796/{ID}");
        let l = locate_in_path(&p).expect("located");
        assert_eq!(l.container_id, ID);
        assert_eq!(
            l.pod_uid.as_deref(),
            Some("2c48913c-b29f-11e7-9350-020968147796")
        );
        // Not preceded by punctuation: `xpod…` is not a pod.
        let p = format!("/kubepods/xpod2c48913c-b29f-11e7-9350-020968147796/{ID}");
        assert_eq!(locate_in_path(&p).expect("located").pod_uid, None);
        // A 65-digit tail is no ID; a letter before the ID is no separator.
        assert_eq!(locate_in_path(&format!("/docker/a{ID}")), None);
        assert_eq!(
            locate_in_path("/kubepods/pod2c48913c-b29f-11e7-9350-020968147796"),
            None
        );
        assert_eq!(locate_in_path("/"), None);
        assert_eq!(locate_in_path(""), None);
    }
}
