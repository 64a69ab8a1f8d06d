//! Go `flag` package behaviour: syntax, errors, usage layout.

use spire_config::flags::{FlagError, FlagSet};
use std::time::Duration;

#[test]
fn go_flag_syntax() {
    let mut fs = FlagSet::new("t");
    let s = fs.string("name", "def", "a string");
    let n = fs.int("n", 0, "an int");
    let b = fs.bool("b", false, "a bool");
    let list = fs.strings("dns", "repeatable");
    let commas = fs.comma_strings("audience", "comma separated");

    let m = fs
        .parse(&[
            "-name",
            "a",
            "--n=5",
            "-b",
            "-dns",
            "x",
            "-dns=y",
            "--dns",
            "z",
            "-audience",
            "p,q",
            "-audience=r",
        ])
        .expect("parses");
    assert_eq!(m.get(&s), "a");
    assert_eq!(*m.get(&n), 5);
    assert!(*m.get(&b));
    assert_eq!(m.get(&list), &["x", "y", "z"]);
    assert_eq!(m.get(&commas), &["r"]);
    assert!(m.args().is_empty());

    // Defaults, and is_set for what was not given.
    let m = fs.parse::<&str>(&[]).expect("parses");
    assert_eq!(m.get(&s), "def");
    assert!(!m.is_set(&s));
    assert!(m.get(&list).is_empty());

    // Boolean flags take a value only with `=`.
    let m = fs.parse(&["-b=false", "-name", "x"]).expect("parses");
    assert!(!*m.get(&b));
    let m = fs.parse(&["-b", "false"]).expect("parses");
    assert!(*m.get(&b));
    assert_eq!(m.args(), ["false"]);
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        assert!(
            *fs.parse(&[format!("-b={v}")]).expect("parses").get(&b),
            "{v}"
        );
    }

    // Parsing stops at the first non-flag, at "-" and after "--".
    let m = fs.parse(&["-n", "1", "pos", "-b"]).expect("parses");
    assert_eq!(m.args(), ["pos", "-b"]);
    assert!(!*m.get(&b));
    let m = fs.parse(&["-", "-b"]).expect("parses");
    assert_eq!(m.args(), ["-", "-b"]);
    let m = fs.parse(&["--", "-b"]).expect("parses");
    assert_eq!(m.args(), ["-b"]);
    // A value that looks like a flag is still the value.
    let m = fs.parse(&["-name", "-b"]).expect("parses");
    assert_eq!(m.get(&s), "-b");
    // The last value of a repeated scalar wins.
    assert_eq!(
        *fs.parse(&["-n", "1", "-n", "2"]).expect("parses").get(&n),
        2
    );
    // Go integer syntax.
    assert_eq!(*fs.parse(&["-n", "0x10"]).expect("parses").get(&n), 16);
    assert_eq!(*fs.parse(&["-n=-3"]).expect("parses").get(&n), -3);
}

#[test]
fn go_error_messages() {
    let mut fs = FlagSet::new("t");
    fs.int("ttl", 0, "");
    fs.uint("u", 0, "");
    fs.bool("admin", false, "");
    fs.string("spiffeID", "", "");
    fs.duration("d", Duration::ZERO, "");
    fs.duration_value("timeout", Duration::from_secs(5), "");
    let cases: &[(&[&str], &str)] = &[
        (&["-x"], "flag provided but not defined: -x"),
        (&["--x=1"], "flag provided but not defined: -x"),
        (
            &["-ttl", "abc"],
            "invalid value \"abc\" for flag -ttl: parse error",
        ),
        (
            &["-ttl", "99999999999999999999"],
            "invalid value \"99999999999999999999\" for flag -ttl: value out of range",
        ),
        (
            &["-u", "-1"],
            "invalid value \"-1\" for flag -u: parse error",
        ),
        (&["-spiffeID"], "flag needs an argument: -spiffeID"),
        (
            &["-admin=maybe"],
            "invalid boolean value \"maybe\" for -admin: parse error",
        ),
        (&["---x"], "bad flag syntax: ---x"),
        (&["-=x"], "bad flag syntax: -=x"),
        (&["-d", "5"], "invalid value \"5\" for flag -d: parse error"),
        (
            &["-timeout", "5"],
            "invalid value \"5\" for flag -timeout: time: missing unit in duration \"5\"",
        ),
        (
            &["-ttl", "a\tb"],
            "invalid value \"a\\tb\" for flag -ttl: parse error",
        ),
        (&["-h"], "flag: help requested"),
        (&["--help"], "flag: help requested"),
    ];
    for (args, msg) in cases {
        let err = fs.parse(args).expect_err("fails");
        assert_eq!(err.to_string(), *msg, "{args:?}");
    }
    assert_eq!(fs.parse(&["-help"]).expect_err("fails"), FlagError::Help);
}

#[test]
fn go_usage_layout() {
    let mut fs = FlagSet::new("fetch x509");
    fs.string(
        "socketPath",
        "/tmp/spire-agent/public/api.sock",
        "Path to the Workload API socket",
    );
    fs.bool("silent", false, "Suppress stdout");
    fs.duration_value(
        "timeout",
        Duration::from_secs(5),
        "Time to wait for a response",
    );
    fs.string(
        "write",
        "",
        "Write SVID data to the specified path (optional)",
    );
    fs.bool(
        "v",
        false,
        "one-letter booleans keep their usage on one line",
    );
    fs.int("count", 3, "how many");
    fs.int("zero", 0, "no default shown for zero");
    fs.strings(
        "selector",
        "A `type:value` selector.\nCan be used more than once",
    );
    fs.bool("on", true, "defaults to true");
    fs.duration("every", Duration::from_secs(90), "Go's own duration flag");
    fs.uint("big", 7, "unsigned");
    let expected = "Usage of fetch x509:
  -big uint
    \tunsigned (default 7)
  -count int
    \thow many (default 3)
  -every duration
    \tGo's own duration flag (default 1m30s)
  -on
    \tdefaults to true (default true)
  -selector type:value
    \tA type:value selector.
    \tCan be used more than once
  -silent
    \tSuppress stdout
  -socketPath string
    \tPath to the Workload API socket (default \"/tmp/spire-agent/public/api.sock\")
  -timeout value
    \tTime to wait for a response (default 5s)
  -v\tone-letter booleans keep their usage on one line
  -write string
    \tWrite SVID data to the specified path (optional)
  -zero int
    \tno default shown for zero
";
    assert_eq!(fs.usage(), expected);
    assert_eq!(fs.help(), format!("{expected}flag: help requested"));
}

#[test]
fn reporting_writes_what_go_writes() {
    let mut fs = FlagSet::new("run");
    fs.string(
        "config",
        "conf/server/server.conf",
        "Path to a SPIRE config file",
    );
    let mut out = Vec::new();
    assert!(fs.parse_reporting(&["-bogus"], &mut out).is_err());
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "flag provided but not defined: -bogus\nUsage of run:\n  -config string\n    \tPath to a SPIRE config file (default \"conf/server/server.conf\")\n"
    );
    let mut out = Vec::new();
    assert_eq!(
        fs.parse_reporting(&["-h"], &mut out).expect_err("fails"),
        FlagError::Help
    );
    assert_eq!(String::from_utf8(out).expect("utf8"), fs.usage());
    let mut out = Vec::new();
    assert!(fs.parse_reporting(&["-config", "x"], &mut out).is_ok());
    assert!(out.is_empty());
}

#[test]
fn custom_values() {
    let mut fs = FlagSet::new("t");
    let output = fs.value(
        "output",
        "pretty".to_owned(),
        "",
        "Desired output format (pretty, json); default: pretty.",
        |s| match s {
            "pretty" | "json" => Ok(s.to_owned()),
            _ => Err(format!("unknown output format {s:?}")),
        },
    );
    assert_eq!(
        fs.parse(&["-output", "json"]).expect("ok").get(&output),
        "json"
    );
    assert_eq!(fs.parse::<&str>(&[]).expect("ok").get(&output), "pretty");
    assert_eq!(
        fs.parse(&["-output", "xml"])
            .expect_err("fails")
            .to_string(),
        "invalid value \"xml\" for flag -output: unknown output format \"xml\""
    );
    assert!(fs.usage().contains(
        "  -output value\n    \tDesired output format (pretty, json); default: pretty.\n"
    ));
}

#[test]
#[should_panic(expected = "another FlagSet")]
fn handles_belong_to_their_set() {
    let mut a = FlagSet::new("a");
    let mut b = FlagSet::new("b");
    let fa = a.string("x", "", "");
    b.string("x", "", "");
    let parsed = b.parse::<&str>(&[]).expect("parses");
    let _ = parsed.get(&fa);
}

#[test]
#[should_panic(expected = "defined twice")]
fn redefinition_is_a_bug() {
    let mut fs = FlagSet::new("a");
    fs.string("x", "", "");
    fs.bool("x", false, "");
}
