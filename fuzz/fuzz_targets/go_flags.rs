//! Command lines: Go `flag` parsing, mitchellh/cli dispatch, Go durations.
//!
//! Input: arguments separated by NUL bytes (UTF-8). `FlagSet::parse` over a set with every
//! kind of flag never panics; what it leaves as arguments is a suffix of the input; every
//! error has a message. `Cli::dispatch` never panics, runs only
//! registered commands, and hands them a suffix of the input. `parse_duration` never panics
//! and what it accepts formats back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spire_config::cli::{Cli, Dispatch};
use spire_config::flags::FlagSet;
use spire_config::{format_duration, parse_duration};
use std::time::Duration;

fn is_suffix(rest: &[String], args: &[&str]) -> bool {
    rest.len() <= args.len() && rest.iter().zip(&args[args.len() - rest.len()..]).all(|(a, b)| a == b)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let args: Vec<&str> = if text.is_empty() { Vec::new() } else { text.split('\0').collect() };

    let mut fs = FlagSet::new("fuzz");
    fs.bool("b", false, "bool");
    fs.string("s", "d", "string");
    fs.int("i", 0, "int");
    fs.uint("u", 0, "uint");
    fs.duration("d", Duration::ZERO, "duration");
    fs.duration_value("timeout", Duration::from_secs(5), "duration value");
    fs.strings("selector", "repeated");
    fs.comma_strings("audience", "comma separated");
    match fs.parse(&args) {
        Ok(parsed) => assert!(is_suffix(parsed.args(), &args), "args are not a suffix of the input"),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = fs.usage();

    let mut cli = Cli::new("fuzz", "1.0");
    for name in ["run", "entry create", "entry show", "localauthority x509 show", "healthcheck"] {
        cli.command(name, "synopsis", String::new);
    }
    match cli.dispatch(&args) {
        Dispatch::Run { command, args: rest } => {
            assert!(["run", "entry create", "entry show", "localauthority x509 show", "healthcheck"].contains(&command.as_str()));
            assert!(is_suffix(&rest, &args), "command args are not a suffix of the input");
        }
        Dispatch::Exit { code, output } => {
            assert!(matches!(code, 0 | 1 | 127));
            assert!(!output.is_empty());
        }
    }

    for arg in &args {
        if let Ok(d) = parse_duration(arg) {
            let formatted = format_duration(d);
            assert_eq!(parse_duration(&formatted), Ok(d), "{arg:?} -> {formatted:?}");
        }
    }
});
