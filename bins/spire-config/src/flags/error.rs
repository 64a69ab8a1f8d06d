//! Go `flag` package errors, worded as Go words them.

use crate::goquote::quote;
use std::fmt;

/// Why the command line did not parse. `Display` is Go's message, so a SPIRE script that
/// greps stderr sees the same line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagError {
    /// `-h` or `-help` (when no such flag is defined): `flag: help requested`.
    Help,
    /// `flag provided but not defined: -x`.
    NotDefined {
        /// The name given.
        name: String,
    },
    /// `bad flag syntax: ---x` (also `-=x`).
    BadSyntax {
        /// The argument.
        arg: String,
    },
    /// `flag needs an argument: -spiffeID`.
    NeedsArgument {
        /// The flag.
        name: String,
    },
    /// `invalid value "abc" for flag -ttl: parse error`.
    InvalidValue {
        /// The flag.
        name: String,
        /// The value given.
        value: String,
        /// Why (`parse error`, `value out of range`, or the flag's own message).
        reason: String,
    },
    /// `invalid boolean value "x" for -admin: parse error`.
    InvalidBool {
        /// The flag.
        name: String,
        /// The value given.
        value: String,
    },
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Help => f.write_str("flag: help requested"),
            FlagError::NotDefined { name } => write!(f, "flag provided but not defined: -{name}"),
            FlagError::BadSyntax { arg } => write!(f, "bad flag syntax: {arg}"),
            FlagError::NeedsArgument { name } => write!(f, "flag needs an argument: -{name}"),
            FlagError::InvalidValue {
                name,
                value,
                reason,
            } => {
                write!(
                    f,
                    "invalid value {} for flag -{name}: {reason}",
                    quote(value)
                )
            }
            FlagError::InvalidBool { name, value } => {
                write!(
                    f,
                    "invalid boolean value {} for -{name}: parse error",
                    quote(value)
                )
            }
        }
    }
}

impl std::error::Error for FlagError {}
