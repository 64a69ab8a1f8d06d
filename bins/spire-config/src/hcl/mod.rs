//! HCL1, the configuration language of SPIRE's files, parsed with positions.
//!
//! SPIRE reads its config with `hashicorp/hcl` v1. HCL2 parsers (such as `hcl-edit`, under
//! `hcl-rs`) reject much of what HCL1 accepts and SPIRE users write: one-line blocks holding
//! blocks or several keys (`NodeAttestor "join_token" { plugin_data {} }`), object items
//! without separators (`{ address = "x" env = "dev" }`, in SPIRE's own `server_full.conf`),
//! repeated keys, quoted block types (`"NodeAttestor" "k8s_psat" { }`), `${…}` kept literally
//! in strings, hex and octal numbers, a closing `}` on the last item's line. So this module
//! implements HCL1's small grammar itself: a scanner, a parser, and the
//! tree the [`Decoder`](crate::Decoder) reads.

mod lexer;
mod parser;
mod strings;
mod tree;

pub use tree::{Attribute, Block, Body, Item, Key, Number, NumberValue, Value, ValueKind};

use crate::error::ConfigError;

/// How deep objects, blocks and lists may nest.
pub const MAX_DEPTH: usize = parser::MAX_DEPTH;

/// Parses HCL1 text (or JSON, when the first non-space character is `{`, as HCL1 decides).
pub fn parse(text: &str) -> Result<Body, ConfigError> {
    parser::parse(text)
}
