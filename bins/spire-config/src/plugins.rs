//! Plugin declarations: `plugins { <Type> "<name>" { … } }`.
//!
//! Each declaration takes SPIRE's keys (`pkg/common/catalog/config.go`): `plugin_cmd`,
//! `plugin_args`, `plugin_checksum`, `enabled`, and one of `plugin_data { … }` or
//! `plugin_data_file`. The nesting forms HCL1 allows all work (`KeyManager "disk" { }`,
//! `KeyManager { disk { } }`, `"KeyManager" "disk" { }`). A plugin declared twice is an error,
//! as in SPIRE. [`check_plugins`] then sorts declarations into the ones this implementation
//! provides, SPIRE plugins it does not, and names nobody knows.

use std::borrow::Cow;
use std::path::Path;

use crate::config::{load_file, LoadError};
use crate::decode::{Decoder, Section};
use crate::error::ConfigError;
use crate::hcl::Key;
use crate::pos::Pos;

/// Where a plugin's configuration comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PluginData {
    /// Neither `plugin_data` nor `plugin_data_file`.
    None,
    /// `plugin_data { … }`: decode it with [`Section::decode`] (which checks its keys).
    Inline(Section),
    /// `plugin_data_file = "path"`: an HCL file to read and parse (SPIRE re-reads it on
    /// SIGUSR1).
    File(String),
}

/// One plugin declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginDecl {
    /// The plugin type, e.g. `KeyManager`, with its position.
    pub plugin_type: Key,
    /// The plugin name, e.g. `disk`, with its position.
    pub name: Key,
    /// `plugin_cmd`: an external plugin binary (SPIRE's go-plugin). Empty for built-ins.
    pub cmd: Option<String>,
    /// `plugin_args`.
    pub args: Vec<String>,
    /// `plugin_checksum`.
    pub checksum: Option<String>,
    /// `enabled` (default true): a disabled plugin is declared but not loaded.
    pub enabled: bool,
    /// `plugin_data` or `plugin_data_file`.
    pub data: PluginData,
}

impl PluginDecl {
    /// The `plugin_data` to decode: the inline block, the `plugin_data_file` read and parsed
    /// (`expand_env` as for the main file), or an empty section when neither is given.
    pub fn data_section(&self, expand_env: bool) -> Result<Cow<'_, Section>, LoadError> {
        match &self.data {
            PluginData::Inline(section) => Ok(Cow::Borrowed(section)),
            PluginData::File(file) => {
                Ok(Cow::Owned(load_file(Path::new(file), expand_env)?.root()))
            }
            PluginData::None => Ok(Cow::Owned(Section::from_body(&Default::default()))),
        }
    }
}

impl PluginDecl {
    /// The line of the declaration (where its type is written).
    pub fn pos(&self) -> Pos {
        self.plugin_type.pos
    }

    /// `KeyManager "disk"`, for messages.
    pub fn describe(&self) -> String {
        format!("{} \"{}\"", self.plugin_type.name, self.name.name)
    }
}

/// Reads the `plugins` block of a section (normally the top level) into declarations, in file
/// order. Absent, it is an empty list.
pub fn decode_plugins(d: &mut Decoder<'_>) -> Result<Vec<PluginDecl>, ConfigError> {
    let mut decls: Vec<PluginDecl> = Vec::new();
    for (plugin_type, types) in d.named_sections("plugins")? {
        for (name, section) in types.children()? {
            if let [first, second, ..] = section.declarations() {
                return Err(ConfigError::DuplicatePlugin {
                    plugin_type: plugin_type.name.clone(),
                    name: name.name.clone(),
                    first: *first,
                    pos: *second,
                });
            }
            let decl = section.decode(|p| {
                let cmd = p.optional_str("plugin_cmd")?.filter(|c| !c.is_empty());
                let args = p.optional_str_list("plugin_args")?.unwrap_or_default();
                let checksum = p.optional_str("plugin_checksum")?.filter(|c| !c.is_empty());
                let enabled = p.optional_bool("enabled")?.unwrap_or(true);
                let inline = p.optional_section("plugin_data")?;
                let file = p.optional_str("plugin_data_file")?;
                let data = match (inline, file) {
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::PluginDataConflict {
                            plugin_type: plugin_type.name.clone(),
                            name: name.name.clone(),
                            pos: plugin_type.pos,
                        })
                    }
                    (Some(section), None) => PluginData::Inline(section),
                    (None, Some(path)) => PluginData::File(path),
                    (None, None) => PluginData::None,
                };
                Ok(PluginDecl {
                    plugin_type: plugin_type.clone(),
                    name: name.clone(),
                    cmd,
                    args,
                    checksum,
                    enabled,
                    data,
                })
            })?;
            decls.push(decl);
        }
    }
    decls.sort_by_key(|d| d.name.pos);
    Ok(decls)
}

/// A table of plugin names by type: `&[("KeyManager", &["disk", "memory"]), …]`.
pub type PluginTable = [(&'static str, &'static [&'static str])];

fn lookup(table: &PluginTable, plugin_type: &str) -> Option<&'static [&'static str]> {
    table
        .iter()
        .find(|(t, _)| *t == plugin_type)
        .map(|(_, names)| *names)
}

/// Checks each enabled declaration against the plugins this implementation `provides` and
/// those `spire` ships ([`crate::catalog`]):
/// - provided: fine;
/// - a SPIRE plugin not provided: [`ConfigError::NotProvided`]
///   (`KeyManager "aws_kms" is a SPIRE plugin this implementation does not provide (line 12)`);
/// - an external plugin (`plugin_cmd`): [`ConfigError::NotProvided`] too;
/// - a type neither knows: [`ConfigError::UnknownPluginType`]; a name neither knows:
///   [`ConfigError::UnknownPlugin`].
///
/// Disabled declarations (`enabled = false`) are only checked for a known type.
pub fn check_plugins(
    decls: &[PluginDecl],
    provides: &PluginTable,
    spire: &PluginTable,
) -> Result<(), ConfigError> {
    for decl in decls {
        let ty = decl.plugin_type.name.as_str();
        let ours = lookup(provides, ty);
        let theirs = lookup(spire, ty);
        if ours.is_none() && theirs.is_none() {
            return Err(ConfigError::UnknownPluginType {
                plugin_type: ty.to_owned(),
                pos: decl.plugin_type.pos,
            });
        }
        if !decl.enabled {
            continue;
        }
        let name = decl.name.name.as_str();
        if decl.cmd.is_some() {
            return Err(ConfigError::NotProvided {
                subject: format!("external plugin {} (plugin_cmd)", decl.describe()),
                what: "feature",
                pos: decl.name.pos,
            });
        }
        if ours.is_some_and(|names| names.contains(&name)) {
            continue;
        }
        if theirs.is_some_and(|names| names.contains(&name)) {
            return Err(ConfigError::NotProvided {
                subject: decl.describe(),
                what: "plugin",
                pos: decl.name.pos,
            });
        }
        return Err(ConfigError::UnknownPlugin {
            plugin_type: ty.to_owned(),
            name: name.to_owned(),
            pos: decl.name.pos,
        });
    }
    Ok(())
}
