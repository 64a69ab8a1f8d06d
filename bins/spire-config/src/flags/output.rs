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

/// Adds `-output` to `fs`, with SPIRE's usage text (no `(default …)`, as SPIRE's usage
/// tests show it) and error for an unknown format.
pub fn output_flag(fs: &mut FlagSet) -> Flag<Output> {
    fs.value(
        "output",
        Output::Pretty,
        // Go prints no "(default pretty)": cliprinter's zero value prints as its default.
        "",
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_values_are_cliprinters() {
        let mut fs = FlagSet::new("x");
        let output = output_flag(&mut fs);
        assert_eq!(
            fs.usage(),
            "Usage of x:\n  -output value\n    \tDesired output format (pretty, json); default: pretty.\n"
        );
        assert_eq!(*fs.parse::<&str>(&[]).unwrap().get(&output), Output::Pretty);
        assert_eq!(
            *fs.parse(&["-output", "json"]).unwrap().get(&output),
            Output::Json
        );
        assert!(fs.parse(&["-output", "yaml"]).is_err());
    }
}
