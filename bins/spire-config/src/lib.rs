#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod catalog;
pub mod cli;
mod config;
mod decode;
mod duration;
mod error;
mod expand;
pub mod flags;
mod goparse;
pub mod goquote;
pub mod hcl;
mod plugins;
mod pos;

pub use config::{load_file, Config, LoadError};
pub use decode::{record_keys, reference_mismatch, Decoder, FromSection, Section};
pub use duration::{format_duration, parse_duration, DurationError, DurationErrorKind};
pub use error::{ConfigError, ItemKind, SectionPath, SyntaxError, TokenKind};
pub use expand::expand_env;
pub use plugins::{check_plugins, decode_plugins, PluginData, PluginDecl, PluginTable};
pub use pos::Pos;
