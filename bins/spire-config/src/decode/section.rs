//! [`Section`]: the items of one block, gathered as HCL1 gathers them.
//!
//! HCL1 treats these alike, and so does a section:
//! - `server { … }` and `server = { … }`;
//! - `DataStore "sql" { … }`, `DataStore { sql { … } }` and `"DataStore" "sql" { … }`;
//! - a block repeated (`server { a = 1 } server { b = 2 }`: one section holding both items;
//!   a key set twice keeps the last value);
//! - a list of objects (`DogStatsd = [{ … }, { … }]`) and the same block repeated.
//!
//! Keys match case-insensitively, as HCL1's `Filter` does; labels naming map entries (plugin
//! names, `federates_with` trust domains) match exactly.

use super::Decoder;
use crate::error::{ConfigError, SectionPath};
use crate::hcl::{Body, Item, Key, Value, ValueKind};
use crate::pos::Pos;

/// An item of a section: the keys left to match (at least one) and the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) keys: Vec<Key>,
    pub(crate) value: Value,
    /// Written as a block (`k { }`, `k "l" { }`), for messages.
    pub(crate) block: bool,
}

impl Entry {
    pub(crate) fn key(&self) -> &Key {
        &self.keys[0]
    }
}

/// The contents of one block (or of the whole file), ready to decode with
/// [`Section::decode`]. Sections own their data, so one can be kept and decoded later (a
/// plugin's `plugin_data`, decoded by the plugin).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub(crate) path: String,
    pub(crate) pos: Pos,
    pub(crate) entries: Vec<Entry>,
    /// Where each declaration merged into this section starts (one unless repeated).
    pub(crate) sources: Vec<Pos>,
}

fn entries_of(body: &Body) -> impl Iterator<Item = Entry> + '_ {
    body.items.iter().map(|item| match item {
        Item::Attribute(a) => Entry {
            keys: vec![a.key.clone()],
            value: a.value.clone(),
            block: false,
        },
        Item::Block(b) => {
            let mut keys = Vec::with_capacity(1 + b.labels.len());
            keys.push(b.ident.clone());
            keys.extend(b.labels.iter().cloned());
            Entry {
                keys,
                value: Value {
                    kind: ValueKind::Object(b.body.clone()),
                    pos: b.open,
                },
                block: true,
            }
        }
    })
}

pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Section {
    /// The whole file (or any body) as the root section.
    pub fn from_body(body: &Body) -> Self {
        Section {
            path: String::new(),
            pos: Pos::START,
            entries: entries_of(body).collect(),
            sources: vec![Pos::START],
        }
    }

    /// The dotted path of the section (`server.ca_subject`), empty for the file's top level.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Where the section starts (its first declaration).
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// Where each declaration merged into this section starts: more than one when the block
    /// is repeated (SPIRE merges repeated blocks; a plugin declared twice is an error).
    pub fn declarations(&self) -> &[Pos] {
        &self.sources
    }

    /// Whether the section has no items.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names of the items, in order (repeated names repeated), e.g. to list the plugin
    /// types of a `plugins` section.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.entries.iter().map(Entry::key)
    }

    /// Decodes the section: `f` takes what it knows from the decoder, and afterwards every
    /// item `f` did not take is an error naming it and its line. This is the only way to get a
    /// [`Decoder`], so the unknown-key check cannot be skipped.
    pub fn decode<T>(
        &self,
        f: impl FnOnce(&mut Decoder<'_>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let mut decoder = Decoder::new(self);
        let value = f(&mut decoder)?;
        decoder.finish()?;
        Ok(value)
    }

    /// Decodes the section as a [`FromSection`] type.
    pub fn decode_as<T: FromSection>(&self) -> Result<T, ConfigError> {
        self.decode(T::from_section)
    }

    pub(crate) fn section_path(&self) -> SectionPath {
        SectionPath(self.path.clone())
    }

    /// The section formed by entries whose first key matched `key` (and was removed), in
    /// order: objects contribute their items, lists of objects the items of each object, and
    /// entries with keys left contribute themselves.
    pub(crate) fn merge(
        path: String,
        matched: Vec<Entry>,
        key_name: &str,
        parent: &SectionPath,
    ) -> Result<Section, ConfigError> {
        let pos = matched.first().map_or(Pos::START, |e| e.keys[0].pos);
        let mut section = Section {
            path,
            pos,
            entries: Vec::new(),
            sources: Vec::new(),
        };
        for entry in matched {
            section.add(entry, key_name, parent)?;
        }
        Ok(section)
    }

    fn add(
        &mut self,
        mut entry: Entry,
        key_name: &str,
        parent: &SectionPath,
    ) -> Result<(), ConfigError> {
        self.sources.push(entry.keys[0].pos);
        if entry.keys.len() > 1 {
            entry.keys.remove(0);
            self.entries.push(entry);
            return Ok(());
        }
        match &entry.value.kind {
            ValueKind::Object(body) => self.entries.extend(entries_of(body)),
            ValueKind::List(items)
                if items.iter().all(|v| matches!(v.kind, ValueKind::Object(_))) =>
            {
                for item in items {
                    if let ValueKind::Object(body) = &item.kind {
                        self.entries.extend(entries_of(body));
                    }
                }
            }
            ValueKind::Null => {}
            other => {
                return Err(ConfigError::WrongType {
                    key: key_name.to_owned(),
                    section: parent.clone(),
                    pos: entry.value.pos,
                    expected: "a block",
                    found: other.describe(),
                })
            }
        }
        Ok(())
    }

    /// Each match as its own section (a list of objects gives one section per object).
    pub(crate) fn separate(
        path: &str,
        matched: Vec<Entry>,
        key_name: &str,
        parent: &SectionPath,
    ) -> Result<Vec<Section>, ConfigError> {
        let mut out = Vec::new();
        for entry in matched {
            if entry.keys.len() == 1 {
                if matches!(entry.value.kind, ValueKind::Null) {
                    continue;
                }
                if let ValueKind::List(items) = &entry.value.kind {
                    if items.iter().all(|v| matches!(v.kind, ValueKind::Object(_))) {
                        for item in items {
                            let one = Entry {
                                keys: entry.keys.clone(),
                                value: item.clone(),
                                block: entry.block,
                            };
                            out.push(Section::merge(
                                path.to_owned(),
                                vec![one],
                                key_name,
                                parent,
                            )?);
                        }
                        continue;
                    }
                }
            }
            out.push(Section::merge(
                path.to_owned(),
                vec![entry],
                key_name,
                parent,
            )?);
        }
        Ok(out)
    }

    /// The section read as a map (HCL1 `map[string]T`): one named section per distinct first
    /// key, in order of first appearance, each merging every declaration of that name. This is
    /// how `plugins { KeyManager "disk" { … } }` yields its types, then each type its plugins.
    pub fn children(&self) -> Result<Vec<(Key, Section)>, ConfigError> {
        let mut groups: Vec<(Key, Vec<Entry>)> = Vec::new();
        for entry in &self.entries {
            match groups.iter_mut().find(|(k, _)| k.name == entry.key().name) {
                Some((_, list)) => list.push(entry.clone()),
                None => groups.push((entry.key().clone(), vec![entry.clone()])),
            }
        }
        let parent = self.section_path();
        groups
            .into_iter()
            .map(|(key, matched)| {
                let path = child_path(&self.path, &key.name);
                let section = Section::merge(path, matched, &key.name, &parent)?;
                Ok((key, section))
            })
            .collect()
    }
}

/// A type decoded from a section: implement it for a settings struct, and decode nested
/// blocks with [`Decoder::optional_block`] and friends.
///
/// ```
/// use spire_config::{Config, ConfigError, Decoder, FromSection};
///
/// struct Subject { country: Vec<String>, common_name: Option<String> }
///
/// impl FromSection for Subject {
///     fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError> {
///         Ok(Subject {
///             country: d.optional_str_list("country")?.unwrap_or_default(),
///             common_name: d.optional_str("common_name")?,
///         })
///     }
/// }
///
/// let config = Config::parse("ca_subject { country = [\"US\"] }")?;
/// let subject = config.decode(|d| d.required_block::<Subject>("ca_subject"))?;
/// assert_eq!(subject.country, ["US"]);
/// # Ok::<(), ConfigError>(())
/// ```
pub trait FromSection: Sized {
    /// Takes the keys the type knows from `d`; what it leaves is reported as unknown.
    fn from_section(d: &mut Decoder<'_>) -> Result<Self, ConfigError>;
}
