//! [`Decoder`]: typed reads from a section, remembering what was read.

use super::convert::{self, Problem};
use super::section::{child_path, Entry, FromSection, Section};
use crate::error::{ConfigError, ItemKind, SectionPath};
use crate::hcl::{Key, Value, ValueKind};
use crate::pos::Pos;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Reads the keys of one [`Section`] by name and type. Every key or block it is asked for is
/// marked as known; when the closure given to [`Section::decode`] returns, whatever was not
/// asked for is an [`ConfigError::Unknown`] error naming the key and its line.
///
/// Keys match case-insensitively (HCL1). A key set more than once keeps its last value, as in
/// SPIRE; a list key set more than once concatenates its lists, as in SPIRE.
///
/// ```
/// use spire_config::Config;
///
/// let config = Config::parse(r#"
///     server {
///         trust_domain = "example.org"
///         bind_port = "8081"
///         ca_ttl = "24h"
///     }
/// "#)?;
/// let (td, port, ttl) = config.decode(|top| {
///     top.required_block_with("server", |s| {
///         let td = s.required_str("trust_domain")?;
///         let port = s.optional_u16("bind_port")?.unwrap_or(8081);
///         let ttl = s.optional_duration("ca_ttl")?;
///         Ok((td, port, ttl))
///     })
/// })?;
/// assert_eq!((td.as_str(), port), ("example.org", 8081));
/// assert_eq!(ttl, Some(std::time::Duration::from_secs(86400)));
///
/// let typo = Config::parse("server {\n  trust_domain = \"x\"\n  bind_prot = 1\n}")?
///     .decode(|top| top.required_block_with("server", |s| s.required_str("trust_domain")))
///     .unwrap_err();
/// assert_eq!(typo.to_string(), "unknown key \"bind_prot\" in server block at line 3");
/// # Ok::<(), spire_config::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Decoder<'s> {
    section: &'s Section,
    used: Vec<bool>,
    path: SectionPath,
}

impl<'s> Decoder<'s> {
    pub(crate) fn new(section: &'s Section) -> Self {
        Decoder {
            section,
            used: vec![false; section.entries.len()],
            path: section.section_path(),
        }
    }

    /// The dotted path of the section being decoded (empty at the top level).
    pub fn path(&self) -> &str {
        &self.section.path
    }

    /// Where the section starts.
    pub fn pos(&self) -> Pos {
        self.section.pos
    }

    fn matching<'k>(&self, key: &'k str) -> impl Iterator<Item = (usize, &'s Entry)> + 'k
    where
        's: 'k,
    {
        self.section
            .entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.key().name.eq_ignore_ascii_case(key))
    }

    fn take(&mut self, key: &str) -> Vec<&'s Entry> {
        super::record::note(&self.section.path, key);
        let found: Vec<(usize, &'s Entry)> = self.matching(key).collect();
        for (i, _) in &found {
            self.used[*i] = true;
        }
        found.into_iter().map(|(_, e)| e).collect()
    }

    /// Whether `key` is present, without marking it known.
    pub fn contains(&self, key: &str) -> bool {
        super::record::note(&self.section.path, key);
        self.matching(key).next().is_some()
    }

    /// Marks `key` known without reading it (a SPIRE setting with no effect here); returns
    /// where it is, if present, so the caller can warn.
    pub fn ignore(&mut self, key: &str) -> Option<Pos> {
        self.take(key).first().map(|e| e.key().pos)
    }

    /// The error for a value of `key` that is not acceptable, at the value's position (or the
    /// section's, if `key` is absent). For checks the typed readers cannot make.
    pub fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        let pos = self
            .matching(key)
            .last()
            .map_or(self.section.pos, |(_, e)| e.value.pos);
        ConfigError::InvalidValue {
            key: key.to_owned(),
            section: self.path.clone(),
            pos,
            reason: reason.into(),
        }
    }

    /// The error for a required `key` that is absent.
    pub fn missing(&self, key: &str) -> ConfigError {
        ConfigError::Missing {
            key: key.to_owned(),
            section: self.path.clone(),
            pos: self.section.pos,
        }
    }

    fn problem(
        &self,
        key: &str,
        pos: Pos,
        expected: &'static str,
        problem: Problem,
    ) -> ConfigError {
        match problem {
            Problem::WrongType(found) => ConfigError::WrongType {
                key: key.to_owned(),
                section: self.path.clone(),
                pos,
                expected,
                found,
            },
            Problem::Invalid(reason) => ConfigError::InvalidValue {
                key: key.to_owned(),
                section: self.path.clone(),
                pos,
                reason,
            },
        }
    }

    /// Reads every value of `key` with `convert` (so a bad earlier value is still an error, as
    /// in SPIRE) and returns the last. A block where a value is expected is an error; `null`
    /// (JSON) counts as absent.
    fn scalar<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&Value) -> Result<T, Problem>,
    ) -> Result<Option<T>, ConfigError> {
        let mut last = None;
        for entry in self.take(key) {
            if entry.keys.len() > 1 {
                return Err(self.problem(
                    key,
                    entry.key().pos,
                    expected,
                    Problem::WrongType("a block"),
                ));
            }
            if matches!(entry.value.kind, ValueKind::Null) {
                continue;
            }
            last = Some(
                convert(&entry.value)
                    .map_err(|p| self.problem(key, entry.value.pos, expected, p))?,
            );
        }
        Ok(last)
    }

    fn required<T>(&self, key: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.missing(key))
    }

    /// A string. A number is read as its text (`123` gives `"123"`), as HCL1 does.
    pub fn optional_str(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        self.scalar(key, "a string", convert::string)
    }

    /// A string that must be present.
    pub fn required_str(&mut self, key: &str) -> Result<String, ConfigError> {
        let v = self.optional_str(key)?;
        self.required(key, v)
    }

    /// A bool: `true`/`false`, or the strings `"true"`/`"false"`.
    pub fn optional_bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.scalar(key, "a bool", convert::boolean)
    }

    /// A signed integer: a number, or a string in Go syntax (`"8081"`, `"0x1F"`), as SPIRE
    /// reads `bind_port = "8081"`.
    pub fn optional_i64(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.scalar(key, "an integer", convert::integer)
    }

    fn int_in<T: TryFrom<i64>>(
        &mut self,
        key: &str,
        range: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        self.scalar(key, "an integer", |v| {
            let i = convert::integer(v)?;
            T::try_from(i).map_err(|_| Problem::Invalid(format!("out of range ({range})")))
        })
    }

    /// An integer from 0 to 2^63-1 (read as [`optional_i64`](Self::optional_i64)).
    pub fn optional_u64(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        self.int_in(key, "0 to 9223372036854775807")
    }

    /// An integer from 0 to 4294967295.
    pub fn optional_u32(&mut self, key: &str) -> Result<Option<u32>, ConfigError> {
        self.int_in(key, "0 to 4294967295")
    }

    /// An integer from 0 to 65535, such as a port.
    pub fn optional_u16(&mut self, key: &str) -> Result<Option<u16>, ConfigError> {
        self.int_in(key, "0 to 65535")
    }

    /// A count or size that fits `usize`.
    pub fn optional_usize(&mut self, key: &str) -> Result<Option<usize>, ConfigError> {
        self.int_in(key, "0 or more")
    }

    /// A duration in Go syntax (`"1h"`, `"90s"`, `"1h30m"`), as SPIRE's TTLs and intervals.
    /// A bare number must be `0`, as in Go.
    pub fn optional_duration(&mut self, key: &str) -> Result<Option<Duration>, ConfigError> {
        self.scalar(key, "a duration", convert::duration)
    }

    /// A duration in Go syntax, or a bare integer (number or numeric string) of seconds, for
    /// the settings where SPIRE takes seconds.
    pub fn optional_duration_or_seconds(
        &mut self,
        key: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        self.scalar(key, "a duration", convert::duration_or_seconds)
    }

    /// A byte size: an integer, or a string with a unit (`"512"`, `"64KiB"`, `"10MB"`; `B`,
    /// `KB`, `MB`, `GB`, `TB` are powers of 1000, `KiB`, `MiB`, `GiB`, `TiB` of 1024).
    pub fn optional_byte_size(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        self.scalar(key, "a size", convert::byte_size)
    }

    /// A list of strings (numbers read as their text). Repeated, the lists concatenate.
    pub fn optional_str_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let mut all: Option<Vec<String>> = None;
        for entry in self.take(key) {
            let expected = "a list of strings";
            if entry.keys.len() > 1 {
                return Err(self.problem(
                    key,
                    entry.key().pos,
                    expected,
                    Problem::WrongType("a block"),
                ));
            }
            match &entry.value.kind {
                ValueKind::Null => {}
                ValueKind::List(items) => {
                    let list = all.get_or_insert_with(Vec::new);
                    for item in items {
                        list.push(
                            convert::string(item)
                                .map_err(|p| self.problem(key, item.pos, expected, p))?,
                        );
                    }
                }
                other => {
                    return Err(self.problem(
                        key,
                        entry.value.pos,
                        expected,
                        Problem::WrongType(other.describe()),
                    ))
                }
            }
        }
        Ok(all)
    }

    /// A string parsed with `T`'s [`FromStr`]; a parse failure is an invalid value whose
    /// reason is the error's message (which should not quote the value).
    pub fn optional_parsed<T>(&mut self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.scalar(key, "a string", |v| {
            convert::string(v)?
                .parse::<T>()
                .map_err(|e| Problem::Invalid(e.to_string()))
        })
    }

    /// The raw value of `key` (the last one, if repeated).
    pub fn optional_value(&mut self, key: &str) -> Result<Option<Value>, ConfigError> {
        self.scalar(key, "a value", |v| Ok(v.clone()))
    }

    /// The block `key` as a section to decode now or later (merging repeated blocks).
    pub fn optional_section(&mut self, key: &str) -> Result<Option<Section>, ConfigError> {
        let matched = self.take_stripped(key);
        if matched.is_empty() {
            return Ok(None);
        }
        let path = child_path(&self.section.path, key);
        Section::merge(path, matched, key, &self.path).map(Some)
    }

    /// The block `key`, which must be present.
    pub fn required_section(&mut self, key: &str) -> Result<Section, ConfigError> {
        let section = self.optional_section(key)?;
        self.required(key, section)
    }

    /// Each occurrence of block `key` as its own section (for SPIRE's lists of blocks, e.g.
    /// `DogStatsd`): repeated blocks and a list of objects alike.
    pub fn repeated_sections(&mut self, key: &str) -> Result<Vec<Section>, ConfigError> {
        let matched = self.take_stripped(key);
        let path = child_path(&self.section.path, key);
        Section::separate(&path, matched, key, &self.path)
    }

    /// Block `key` read as a map from label to section: `federates_with "td" { … }` (or
    /// `federates_with { "td" { … } }`), one entry per distinct label, in order.
    pub fn named_sections(&mut self, key: &str) -> Result<Vec<(Key, Section)>, ConfigError> {
        match self.optional_section(key)? {
            Some(section) => section.children(),
            None => Ok(Vec::new()),
        }
    }

    fn take_stripped(&mut self, key: &str) -> Vec<Entry> {
        self.take(key).into_iter().cloned().collect()
    }

    /// Block `key` decoded by `f` (which must take all its keys), if present.
    pub fn optional_block_with<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut Decoder<'_>) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.optional_section(key)?.map(|s| s.decode(f)).transpose()
    }

    /// Block `key` decoded by `f`; absent is an error.
    pub fn required_block_with<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut Decoder<'_>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        self.required_section(key)?.decode(f)
    }

    /// Block `key` as a [`FromSection`] type, if present.
    pub fn optional_block<T: FromSection>(&mut self, key: &str) -> Result<Option<T>, ConfigError> {
        self.optional_block_with(key, T::from_section)
    }

    /// Block `key` as a [`FromSection`] type; absent is an error.
    pub fn required_block<T: FromSection>(&mut self, key: &str) -> Result<T, ConfigError> {
        self.required_block_with(key, T::from_section)
    }

    /// Every occurrence of block `key`, each decoded as `T`.
    pub fn repeated_blocks<T: FromSection>(&mut self, key: &str) -> Result<Vec<T>, ConfigError> {
        self.repeated_sections(key)?
            .iter()
            .map(Section::decode_as)
            .collect()
    }

    /// Block `key` as a map from label to `T`.
    pub fn named_blocks<T: FromSection>(
        &mut self,
        key: &str,
    ) -> Result<Vec<(Key, T)>, ConfigError> {
        self.named_sections(key)?
            .into_iter()
            .map(|(k, s)| Ok((k, s.decode_as::<T>()?)))
            .collect()
    }

    /// The first item (in file order) nobody asked for, as an error.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        let unused = self
            .section
            .entries
            .iter()
            .zip(&self.used)
            .find(|(_, used)| !**used);
        match unused {
            None => Ok(()),
            Some((entry, _)) => {
                let block = entry.block
                    || entry.keys.len() > 1
                    || matches!(entry.value.kind, ValueKind::Object(_));
                Err(ConfigError::Unknown {
                    key: entry.key().name.clone(),
                    kind: if block {
                        ItemKind::Block
                    } else {
                        ItemKind::Key
                    },
                    section: self.path,
                    pos: entry.key().pos,
                })
            }
        }
    }
}
