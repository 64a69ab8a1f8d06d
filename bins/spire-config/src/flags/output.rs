//! `-output pretty|json`, as SPIRE's `cliprinter.AppendFlagWithCustomPretty` defines it for the
//! admin commands of both daemons.

use super::{Flag, FlagSet};

/// `-output`: SPIRE's `cliprinter` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The command's own text (the default).
    Pretty,
    /// The response as protojson.
    Json,
}

/// Adds `-output` to `fs`, with SPIRE's usage text and error for an unknown format.
pub fn output_flag(fs: &mut FlagSet) -> Flag<Output> {
    fs.value(
        "output",
        Output::Pretty,
        "pretty",
        "Desired output format (pretty, json); default: pretty.",
        |s| match s {
            "pretty" => Ok(Output::Pretty),
            "json" => Ok(Output::Json),
            other => Err(format!(
                "bad formatter flag: unknown format option: \"{other}\""
            )),
        },
    )
}
