//! Writing a secret (a private key, a CA journal) to a file so that only its owner can read it,
//! whatever was at the path before.
//!
//! [`write`](fn@write) never writes through what is already at the target path: the new content goes to a
//! temporary file in the same directory, created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`) with
//! mode 0600, flushed to disk, then renamed over the target; the directory is flushed last. So:
//!
//! - a symlink at the target is replaced by the file, never followed: the file it pointed to is
//!   left as it was;
//! - an existing file at the target is replaced, not truncated and rewritten: its old mode and
//!   owner do not carry over (a world-readable `svid.key` becomes 0600), and a process that had
//!   it open keeps reading the old content;
//! - after a crash the target holds the old content or the new, never a mix; at worst a
//!   temporary file `.tmp-<name>.<16 hex digits>` is left beside it.
//!
//! The I/O is blocking; from async code call it through the runtime's `spawn_blocking`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every file [`write`](fn@write) creates: read and write for the owner only.
pub const SECRET_FILE_MODE: u32 = 0o600;

/// The prefix of the temporary files [`write`](fn@write) creates beside the target (`.tmp-<name>.<hex>`),
/// for callers that clean up after a crash.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Replaces the file at `path` with `contents`, readable and writable by the owner only (mode
/// 0600, whatever the umask), atomically, never following a symlink at `path` (see the module
/// documentation). The directory of `path` must exist.
///
/// Errors are those of the file system calls (e.g. `PermissionDenied` for a directory the
/// process cannot write, `IsADirectory` when `path` is a directory); on error the target is
/// unchanged and the temporary file is removed.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::os::unix::fs::PermissionsExt;
/// # let dir = std::env::temp_dir().join(format!("secret-file-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let key = dir.join("svid.key");
/// spiffe_ca::secret_file::write(&key, b"-----BEGIN PRIVATE KEY-----\n...")?;
/// assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_with_mode(path, contents, SECRET_FILE_MODE)
}

/// Replaces the file at `path` with `contents` like [`write`](fn@write) (a temporary file
/// created exclusively with mode 0600, never following a symlink, flushed, renamed over the
/// target), giving it permission bits `mode` (e.g. `0o644` for a certificate) before the
/// rename, whatever the umask. Only the permission bits of `mode` (`0o7777`) are used.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::os::unix::fs::PermissionsExt;
/// let dir = tempfile::tempdir()?;
/// let cert = dir.path().join("svid.pem");
/// spiffe_ca::secret_file::write_with_mode(&cert, b"-----BEGIN CERTIFICATE-----", 0o644)?;
/// assert_eq!(std::fs::metadata(&cert)?.permissions().mode() & 0o777, 0o644);
/// # Ok(())
/// # }
/// ```
pub fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = OsString::from(TEMP_PREFIX);
    tmp_name.push(name);
    tmp_name.push(".");
    tmp_name.push(random_hex()?);
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            // O_CREAT|O_EXCL: fails on anything already there, a symlink included.
            .create_new(true)
            .mode(SECRET_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        // The umask may have removed bits from the mode asked for; set exactly 0600.
        file.set_permissions(Permissions::from_mode(SECRET_FILE_MODE))?;
        file.write_all(contents)?;
        if mode & 0o7777 != SECRET_FILE_MODE {
            file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
        }
        file.sync_all()?;
        drop(file);
        // rename(2) replaces the directory entry: a symlink at `path` is not followed.
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        // Best effort: the target is untouched; only the temporary file may remain.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// 64 random bits in hex, for a temporary file name nobody can predict.
fn random_hex() -> io::Result<String> {
    let mut nonce = [0u8; 8];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| io::Error::other("no randomness"))?;
    Ok(nonce.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    #[test]
    fn an_existing_world_readable_file_is_replaced_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("svid.key");
        fs::write(&key, b"old key").unwrap();
        fs::set_permissions(&key, Permissions::from_mode(0o644)).unwrap();

        write(&key, b"new key").unwrap();

        assert_eq!(fs::read(&key).unwrap(), b"new key");
        assert_eq!(mode(&key), 0o600);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, Permissions::from_mode(0o644)).unwrap();
        let key = dir.path().join("svid.key");
        symlink(&victim, &key).unwrap();

        write(&key, b"secret").unwrap();

        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&victim), 0o644);
        let meta = fs::symlink_metadata(&key).unwrap();
        assert!(meta.file_type().is_file(), "the symlink was replaced");
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        assert_eq!(mode(&key), 0o600);
    }

    #[test]
    fn with_mode_sets_the_mode_and_replaces_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, Permissions::from_mode(0o600)).unwrap();
        let cert = dir.path().join("svid.pem");
        symlink(&victim, &cert).unwrap();

        write_with_mode(&cert, b"cert", 0o640).unwrap();

        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&victim), 0o600);
        assert!(fs::symlink_metadata(&cert).unwrap().file_type().is_file());
        assert_eq!(mode(&cert), 0o640);
        write_with_mode(&cert, b"cert 2", 0o444).unwrap();
        assert_eq!(mode(&cert), 0o444);
        assert_eq!(fs::read(&cert).unwrap(), b"cert 2");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_dangling_symlink_does_not_create_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        let key = dir.path().join("svid.key");
        symlink(&elsewhere, &key).unwrap();

        write(&key, b"secret").unwrap();

        assert!(!elsewhere.exists());
        assert_eq!(fs::read(&key).unwrap(), b"secret");
    }

    #[test]
    fn the_mode_is_0600_under_a_permissive_or_strict_umask_alike() {
        // The file is created 0600 and then set to exactly 0600, so a file created by another
        // writer with a group-readable mode does not matter either.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        write(&key, b"1").unwrap();
        fs::set_permissions(&key, Permissions::from_mode(0o640)).unwrap();
        write(&key, b"2").unwrap();
        assert_eq!(mode(&key), 0o600);
    }

    #[test]
    fn a_failure_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails.
        let target = dir.path().join("sub");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"x").unwrap();
        assert!(write(&target, b"secret").is_err());
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"x");
        assert!(leftovers(dir.path()).is_empty());
        // No file name at all.
        assert_eq!(
            write(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
