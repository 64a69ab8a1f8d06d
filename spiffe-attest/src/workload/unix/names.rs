//! User and group names from `/etc/passwd` and `/etc/group`.
//!
//! Only these files are read: NSS sources (LDAP, SSSD, systemd-homed, ...) are not consulted,
//! so a user known only to such a source gets a `uid` selector but no `user` selector.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Most bytes read from either file.
const MAX_DB_FILE: u64 = 16 * 1024 * 1024;

/// Id-to-name maps read from the account databases.
#[derive(Debug, Default)]
pub(crate) struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Names {
    /// Reads both files; a missing or unreadable file yields no names (as a failed lookup in
    /// SPIRE yields no name selector).
    pub(crate) fn load(passwd: &Path, group: &Path) -> Self {
        Self {
            users: read(passwd).map(|t| parse(&t)).unwrap_or_default(),
            groups: read(group).map(|t| parse(&t)).unwrap_or_default(),
        }
    }

    pub(crate) fn user(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    pub(crate) fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
}

fn read(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_DB_FILE)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// `name:password:id:...` lines; the first line for an id wins (as getpwuid on a files
/// database). Comments, NIS `+`/`-` lines and malformed lines are skipped.
pub(crate) fn parse(text: &str) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Ok(id) = id.parse::<u32>() else {
            continue;
        };
        if name.is_empty() || name.chars().any(char::is_control) {
            continue;
        }
        map.entry(id).or_insert_with(|| name.to_owned());
    }
    map
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_wins_and_junk_is_skipped() {
        let map = parse("root:x:0:0::/root:/bin/sh\n# c\n+nis\nbad\ntoor:x:0:0\nx:x:nan:1\nn:x:7:");
        assert_eq!(map.get(&0).map(String::as_str), Some("root"));
        assert_eq!(map.get(&7).map(String::as_str), Some("n"));
        assert_eq!(map.len(), 2);
    }
}
