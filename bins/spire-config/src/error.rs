//! Errors of parsing and decoding a config file.
//!
//! Every error carries the position it is about. Errors name keys and sections but never echo
//! a value from the file: a config value may be a join token or a database password.

use crate::pos::Pos;
use std::fmt;
use thiserror::Error;

/// What is wrong with the text of a config file (the HCL syntax itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// A character that starts no token (e.g. `;`, `+`, a stray `-` or `.`).
    #[error("illegal character")]
    IllegalChar,
    /// A NUL character.
    #[error("unexpected null character")]
    NulChar,
    /// A `"` string with no closing `"` on its line.
    #[error("string literal not terminated")]
    UnterminatedString,
    /// A backslash escape that HCL does not define, or that is cut short.
    #[error("illegal escape in string")]
    BadEscape,
    /// Escapes that spell bytes which are not UTF-8.
    #[error("string is not valid UTF-8 after unescaping")]
    InvalidUtf8,
    /// A `/* … */` comment with no end, or a lone `/`.
    #[error("comment not terminated")]
    UnterminatedComment,
    /// A `<<ANCHOR` heredoc with no closing anchor line.
    #[error("heredoc not terminated")]
    UnterminatedHeredoc,
    /// A `<<` not followed by an anchor and a newline.
    #[error("invalid heredoc anchor")]
    BadHeredocAnchor,
    /// A number directly followed by letters, such as an unquoted duration (`ttl = 1h`).
    #[error("a number directly followed by letters (durations must be quoted, e.g. \"1h\")")]
    NumberWithSuffix,
    /// A number HCL cannot read (e.g. `08`, `0x`, `1e`) or that does not fit 64 bits.
    #[error("invalid number")]
    BadNumber,
    /// Something other than a key where a key must start.
    #[error("expected a key (identifier or string), found {found}")]
    ExpectedKey {
        /// What was found instead.
        found: TokenKind,
    },
    /// Keys followed by something other than `=` or `{`.
    #[error("expected `=` or `{{` after the key, found {found}")]
    ExpectedAssignOrBrace {
        /// What was found instead.
        found: TokenKind,
    },
    /// `a "b" = value`: only a single key may be assigned; several keys open a block.
    #[error("several keys before `=`: a block with labels needs `{{`")]
    LabelsBeforeAssign,
    /// Something other than a value after `=` or in a list.
    #[error("expected a value, found {found}")]
    ExpectedValue {
        /// What was found instead.
        found: TokenKind,
    },
    /// Two list elements not separated by a comma.
    #[error("expected `,` or `]` in list, found {found}")]
    ExpectedListSeparator {
        /// What was found instead.
        found: TokenKind,
    },
    /// An object or block not closed by `}`.
    #[error("expected `}}`, found {found}")]
    ExpectedCloseBrace {
        /// What was found instead.
        found: TokenKind,
    },
    /// JSON: something other than `:` after a member name.
    #[error("expected `:` after the member name, found {found}")]
    ExpectedColon {
        /// What was found instead.
        found: TokenKind,
    },
    /// JSON: text after the top-level object.
    #[error("unexpected {found} after the top-level object")]
    TrailingInput {
        /// What was found.
        found: TokenKind,
    },
    /// Objects and lists nested deeper than the parser allows.
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// A kind of token, for syntax error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// An identifier.
    Ident,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A quoted string.
    String,
    /// A heredoc.
    Heredoc,
    /// JSON `null`.
    Null,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBrack,
    /// `]`
    RBrack,
    /// `,`
    Comma,
    /// `=`
    Assign,
    /// `:`
    Colon,
    /// The end of the file.
    Eof,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Ident => "an identifier",
            TokenKind::Bool => "a bool",
            TokenKind::Number => "a number",
            TokenKind::String => "a string",
            TokenKind::Heredoc => "a heredoc",
            TokenKind::Null => "null",
            TokenKind::LBrace => "`{`",
            TokenKind::RBrace => "`}`",
            TokenKind::LBrack => "`[`",
            TokenKind::RBrack => "`]`",
            TokenKind::Comma => "`,`",
            TokenKind::Assign => "`=`",
            TokenKind::Colon => "`:`",
            TokenKind::Eof => "end of file",
        })
    }
}

/// Where a key lives, for messages: a dotted section path (`server`, `server.ca_subject`,
/// `plugins.KeyManager.disk.plugin_data`), or the top level of the file when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SectionPath(pub String);

impl fmt::Display for SectionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("config file")
        } else {
            write!(f, "{} block", self.0)
        }
    }
}

/// Whether an unknown item was written as a key (`k = v`) or a block (`k { … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemKind {
    /// `key = value`.
    Key,
    /// `key { … }` or `key "label" { … }`.
    Block,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Key => "key",
            ItemKind::Block => "block",
        })
    }
}

/// Why a config file cannot be used: its syntax, or what the decoder found in it.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The HCL (or JSON) text does not parse.
    #[error("syntax error at line {}, column {}: {kind}", pos.line, pos.column)]
    Syntax {
        /// Where.
        pos: Pos,
        /// What.
        kind: SyntaxError,
    },
    /// A key or block the decoder of its section did not ask for: a typo, or a setting this
    /// implementation does not know.
    #[error("unknown {kind} \"{key}\" in {section} at line {}", pos.line)]
    Unknown {
        /// The key as written.
        key: String,
        /// Key or block.
        kind: ItemKind,
        /// The section it is in.
        section: SectionPath,
        /// Where the key is.
        pos: Pos,
    },
    /// A required key is absent.
    #[error("missing required key \"{key}\" in {section} (line {})", pos.line)]
    Missing {
        /// The key.
        key: String,
        /// The section that lacks it.
        section: SectionPath,
        /// Where the section starts.
        pos: Pos,
    },
    /// A value of the wrong kind (e.g. a block where a string is expected).
    #[error("\"{key}\" in {section} at line {}: expected {expected}, found {found}", pos.line)]
    WrongType {
        /// The key.
        key: String,
        /// Its section.
        section: SectionPath,
        /// Where the value is.
        pos: Pos,
        /// What the decoder wanted.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A value of the right kind that is not acceptable (a bad duration, a port out of range,
    /// a log level SPIRE does not know…). The reason never quotes the value.
    #[error("invalid value for \"{key}\" in {section} at line {}: {reason}", pos.line)]
    InvalidValue {
        /// The key.
        key: String,
        /// Its section.
        section: SectionPath,
        /// Where the value is.
        pos: Pos,
        /// Why, without the value.
        reason: String,
    },
    /// Something SPIRE accepts that this implementation does not provide, such as a SPIRE
    /// plugin (`KeyManager "aws_kms"`) or a telemetry sink (`DogStatsd`).
    #[error("{subject} is a SPIRE {what} this implementation does not provide (line {})", pos.line)]
    NotProvided {
        /// What it is, e.g. `KeyManager "aws_kms"`.
        subject: String,
        /// `plugin`, `setting`…
        what: &'static str,
        /// Where it is declared.
        pos: Pos,
    },
    /// A plugin type neither SPIRE nor this implementation knows.
    #[error("unknown plugin type \"{plugin_type}\" (line {})", pos.line)]
    UnknownPluginType {
        /// The type as written.
        plugin_type: String,
        /// Where.
        pos: Pos,
    },
    /// A plugin name neither SPIRE nor this implementation knows for its type.
    #[error("unknown {plugin_type} plugin \"{name}\" (line {})", pos.line)]
    UnknownPlugin {
        /// The plugin type.
        plugin_type: String,
        /// The name as written.
        name: String,
        /// Where.
        pos: Pos,
    },
    /// The same plugin declared twice (SPIRE refuses this too).
    #[error(
        "plugin \"{plugin_type}\"/\"{name}\" declared more than once (lines {} and {})",
        first.line, pos.line
    )]
    DuplicatePlugin {
        /// Its type.
        plugin_type: String,
        /// Its name.
        name: String,
        /// The first declaration.
        first: Pos,
        /// The second.
        pos: Pos,
    },
    /// A plugin with both `plugin_data` and `plugin_data_file`.
    #[error(
        "{plugin_type} \"{name}\" at line {}: only one of [plugin_data, plugin_data_file] can be used",
        pos.line
    )]
    PluginDataConflict {
        /// Its type.
        plugin_type: String,
        /// Its name.
        name: String,
        /// Where it is declared.
        pos: Pos,
    },
}

impl ConfigError {
    /// The position the error is about.
    pub fn pos(&self) -> Pos {
        match self {
            ConfigError::Syntax { pos, .. }
            | ConfigError::Unknown { pos, .. }
            | ConfigError::Missing { pos, .. }
            | ConfigError::WrongType { pos, .. }
            | ConfigError::InvalidValue { pos, .. }
            | ConfigError::NotProvided { pos, .. }
            | ConfigError::UnknownPluginType { pos, .. }
            | ConfigError::UnknownPlugin { pos, .. }
            | ConfigError::DuplicatePlugin { pos, .. }
            | ConfigError::PluginDataConflict { pos, .. } => *pos,
        }
    }
}
