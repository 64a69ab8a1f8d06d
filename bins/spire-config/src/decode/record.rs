//! Which keys the decoders ask for: how a test checks a configuration reference against the
//! code that reads the configuration (no key missing from the reference, none stale in it).

use std::cell::RefCell;
use std::collections::BTreeSet;

thread_local! {
    static ASKED: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns, with its result, every key that a [`Decoder`](super::Decoder) on this
/// thread asked for meanwhile, present or not, as dotted paths from the top of the file:
/// `server.bind_port`, `server.experimental.sync_interval`,
/// `plugins.KeyManager.disk.plugin_data.keys_path`. Plugin data read from a
/// `plugin_data_file` or absent has no path of its own (its keys appear bare), so give the
/// plugins inline `plugin_data { }` blocks when recording.
///
/// ```
/// let text = "server {\n  bind_port = \"8081\"\n}\n";
/// let config = spire_config::Config::parse(text).unwrap();
/// let (_, asked) = spire_config::record_keys(|| {
///     config.decode(|d| {
///         d.required_block_with("server", |s| {
///             s.optional_str("bind_port")?;
///             s.optional_str("bind_address")
///         })
///     })
/// });
/// assert!(asked.contains("server.bind_port") && asked.contains("server.bind_address"));
/// ```
pub fn record_keys<T>(f: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    let outer = ASKED.with(|a| a.borrow_mut().replace(BTreeSet::new()));
    let value = f();
    let asked = ASKED.with(|a| std::mem::replace(&mut *a.borrow_mut(), outer));
    (value, asked.unwrap_or_default())
}

/// Notes that the section at `path` was asked for `key` (when recording).
pub(super) fn note(path: &str, key: &str) {
    ASKED.with(|a| {
        if let Some(asked) = a.borrow_mut().as_mut() {
            asked.insert(if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            });
        }
    });
}
