//! Command-line flags as Go's `flag` package parses them, so `spire-server`'s scripts work
//! unchanged: `-flag value`, `-flag=value`, `--flag`, `--flag=value`, bare boolean flags
//! (`-admin`, `-admin=false`), repeated flags (`-selector a -selector b`), `--` ending the
//! flags, parsing stopping at the first non-flag argument, `-h`/`-help` for usage, Go's error
//! messages and Go's usage layout.
//!
//! ```
//! use spire_config::flags::{FlagError, FlagSet};
//!
//! let mut fs = FlagSet::new("entry create");
//! let spiffe_id = fs.string("spiffeID", "", "The SPIFFE ID that this record represents");
//! let selectors = fs.strings("selector", "A colon-delimited type:value selector. Can be used more than once");
//! let ttl = fs.int("x509SVIDTTL", 0, "The lifetime, in seconds, for x509-SVIDs issued based on this registration entry.");
//! let admin = fs.bool("admin", false, "If set, the SPIFFE ID in this entry will be granted access to the SPIRE Server's management APIs");
//!
//! let m = fs.parse(&["-spiffeID", "spiffe://td/w", "-selector", "unix:uid:0", "--selector=unix:gid:0", "-admin", "extra"])?;
//! assert_eq!(m.get(&spiffe_id), "spiffe://td/w");
//! assert_eq!(m.get(&selectors), &["unix:uid:0", "unix:gid:0"]);
//! assert!(*m.get(&admin));
//! assert!(!m.is_set(&ttl));
//! assert_eq!(m.args(), ["extra"]);
//!
//! let err = fs.parse(&["-x509SVIDTTL", "abc"]).unwrap_err();
//! assert_eq!(err.to_string(), "invalid value \"abc\" for flag -x509SVIDTTL: parse error");
//! assert_eq!(fs.parse(&["-nope"]).unwrap_err().to_string(), "flag provided but not defined: -nope");
//! assert_eq!(fs.parse(&["-spiffeID"]).unwrap_err(), FlagError::NeedsArgument { name: "spiffeID".into() });
//! # Ok::<(), FlagError>(())
//! ```

mod error;
mod output;
mod usage;

pub use error::FlagError;
pub use output::{output_flag, Output};

use crate::duration::{format_duration, parse_duration};
use crate::goparse::{self, IntError};
use std::any::Any;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

type Setter = Box<dyn Fn(&mut dyn Any, &str) -> Result<(), String> + Send + Sync>;
type Init = Box<dyn Fn() -> Box<dyn Any> + Send + Sync>;

/// One defined flag.
struct Spec {
    name: String,
    usage: String,
    /// Go's type word in usage (`string`, `int`, `duration`, `value`, empty for bools).
    type_name: &'static str,
    is_bool: bool,
    /// What Go prints after `(default …)`, or `None` when the default is the zero value.
    default_text: Option<String>,
    init: Init,
    set: Setter,
}

/// A handle to a defined flag, to read its value from [`Parsed`].
#[derive(Debug)]
pub struct Flag<T> {
    set: u64,
    index: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Flag<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Flag<T> {}

/// A set of flags for one command, named as Go names it in `Usage of <name>:`.
pub struct FlagSet {
    id: u64,
    name: String,
    specs: Vec<Spec>,
}

impl std::fmt::Debug for FlagSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.specs.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("FlagSet")
            .field("name", &self.name)
            .field("flags", &names)
            .finish()
    }
}

/// The values after parsing, and the arguments left after the flags.
#[derive(Debug)]
pub struct Parsed {
    set: u64,
    values: Vec<Box<dyn Any>>,
    given: Vec<bool>,
    args: Vec<String>,
}

static NEXT_SET: AtomicU64 = AtomicU64::new(0);

fn int_reason(e: IntError) -> String {
    match e {
        IntError::Syntax => "parse error".to_owned(),
        IntError::Range => "value out of range".to_owned(),
    }
}

impl FlagSet {
    /// An empty set for command `name` (e.g. `entry create`, `run`).
    pub fn new(name: impl Into<String>) -> Self {
        FlagSet {
            id: NEXT_SET.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            specs: Vec::new(),
        }
    }

    /// The command name.
    pub fn name(&self) -> &str {
        &self.name
    }

    #[allow(clippy::too_many_arguments)]
    fn define<T: Clone + Send + Sync + 'static>(
        &mut self,
        name: &str,
        usage: &str,
        type_name: &'static str,
        is_bool: bool,
        default: T,
        default_text: Option<String>,
        set: impl Fn(&mut T, &str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Flag<T> {
        // Go panics on a redefined flag; so do we: it is a bug in the command's definition.
        assert!(
            !self.specs.iter().any(|s| s.name == name),
            "flag -{name} defined twice in flag set {:?}",
            self.name
        );
        let setter: Setter =
            Box::new(
                move |slot: &mut dyn Any, s: &str| match slot.downcast_mut::<T>() {
                    Some(v) => set(v, s),
                    None => Err("internal error: flag value of another type".to_owned()),
                },
            );
        self.specs.push(Spec {
            name: name.to_owned(),
            usage: usage.to_owned(),
            type_name,
            is_bool,
            default_text,
            init: Box::new(move || Box::new(default.clone())),
            set: setter,
        });
        Flag {
            set: self.id,
            index: self.specs.len() - 1,
            _type: PhantomData,
        }
    }

    /// A boolean flag: `-name` sets it, `-name=false` clears it (`strconv.ParseBool` values).
    pub fn bool(&mut self, name: &str, default: bool, usage: &str) -> Flag<bool> {
        let text = default.then(|| "true".to_owned());
        self.define(name, usage, "", true, default, text, |v, s| {
            *v = goparse::parse_bool(s).ok_or_else(|| "parse error".to_owned())?;
            Ok(())
        })
    }

    /// A string flag.
    pub fn string(&mut self, name: &str, default: &str, usage: &str) -> Flag<String> {
        let text = (!default.is_empty()).then(|| crate::goquote::quote(default));
        self.define(
            name,
            usage,
            "string",
            false,
            default.to_owned(),
            text,
            |v, s| {
                *v = s.to_owned();
                Ok(())
            },
        )
    }

    /// A signed integer flag, in Go syntax (`8081`, `0x1F`, `-1`).
    pub fn int(&mut self, name: &str, default: i64, usage: &str) -> Flag<i64> {
        let text = (default != 0).then(|| default.to_string());
        self.define(name, usage, "int", false, default, text, |v, s| {
            *v = goparse::parse_int(s).map_err(int_reason)?;
            Ok(())
        })
    }

    /// An unsigned integer flag, in Go syntax.
    pub fn uint(&mut self, name: &str, default: u64, usage: &str) -> Flag<u64> {
        let text = (default != 0).then(|| default.to_string());
        self.define(name, usage, "uint", false, default, text, |v, s| {
            *v = goparse::parse_uint(s).map_err(int_reason)?;
            Ok(())
        })
    }

    /// Go's `flag.Duration`: shown as `duration`, a bad value is `parse error`.
    pub fn duration(&mut self, name: &str, default: Duration, usage: &str) -> Flag<Duration> {
        let text = (!default.is_zero()).then(|| format_duration(default));
        self.define(name, usage, "duration", false, default, text, |v, s| {
            *v = parse_duration(s).map_err(|_| "parse error".to_owned())?;
            Ok(())
        })
    }

    /// SPIRE's `DurationFlag` (e.g. `-timeout`): shown as `value`, a bad value gets Go's
    /// `time:` message.
    pub fn duration_value(&mut self, name: &str, default: Duration, usage: &str) -> Flag<Duration> {
        let text = (!default.is_zero()).then(|| format_duration(default));
        self.define(name, usage, "value", false, default, text, |v, s| {
            *v = parse_duration(s).map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    /// SPIRE's `StringsFlag`: each occurrence appends (`-selector a -selector b`).
    pub fn strings(&mut self, name: &str, usage: &str) -> Flag<Vec<String>> {
        self.define(name, usage, "value", false, Vec::new(), None, |v, s| {
            v.push(s.to_owned());
            Ok(())
        })
    }

    /// SPIRE's `CommaStringsFlag`: the value is split on commas, replacing earlier ones
    /// (`-audience a,b`).
    pub fn comma_strings(&mut self, name: &str, usage: &str) -> Flag<Vec<String>> {
        self.define(name, usage, "value", false, Vec::new(), None, |v, s| {
            *v = s.split(',').map(str::to_owned).collect();
            Ok(())
        })
    }

    /// A flag of any type with its own parser (Go's `flag.Value`), shown as `value`. The
    /// parser's error message follows `invalid value "…" for flag -name: `. `default_text` is
    /// printed as `(default …)` unless empty.
    pub fn value<T: Clone + Send + Sync + 'static>(
        &mut self,
        name: &str,
        default: T,
        default_text: &str,
        usage: &str,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Flag<T> {
        let text = (!default_text.is_empty()).then(|| default_text.to_owned());
        self.define(name, usage, "value", false, default, text, move |v, s| {
            *v = parse(s)?;
            Ok(())
        })
    }

    /// Parses `args` (the arguments after the command name) as Go's `FlagSet.Parse`.
    pub fn parse<S: AsRef<str>>(&self, args: &[S]) -> Result<Parsed, FlagError> {
        let mut parsed = Parsed {
            set: self.id,
            values: self.specs.iter().map(|s| (s.init)()).collect(),
            given: vec![false; self.specs.len()],
            args: Vec::new(),
        };
        let mut rest = args.iter().map(AsRef::as_ref).peekable();
        while let Some(&arg) = rest.peek() {
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            rest.next();
            let mut name = &arg[1..];
            if let Some(stripped) = name.strip_prefix('-') {
                if stripped.is_empty() {
                    // "--" ends the flags and is consumed.
                    break;
                }
                name = stripped;
            }
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                return Err(FlagError::BadSyntax {
                    arg: arg.to_owned(),
                });
            }
            let (name, inline) = match name.find('=') {
                Some(i) => (&name[..i], Some(&name[i + 1..])),
                None => (name, None),
            };
            let Some(index) = self.specs.iter().position(|s| s.name == name) else {
                if name == "help" || name == "h" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::NotDefined {
                    name: name.to_owned(),
                });
            };
            let spec = &self.specs[index];
            let value = match (spec.is_bool, inline) {
                (true, None) => "true",
                (true, Some(v)) => v,
                (false, Some(v)) => v,
                (false, None) => rest.next().ok_or_else(|| FlagError::NeedsArgument {
                    name: name.to_owned(),
                })?,
            };
            (spec.set)(parsed.values[index].as_mut(), value).map_err(|reason| {
                if spec.is_bool {
                    FlagError::InvalidBool {
                        name: name.to_owned(),
                        value: value.to_owned(),
                    }
                } else {
                    FlagError::InvalidValue {
                        name: name.to_owned(),
                        value: value.to_owned(),
                        reason,
                    }
                }
            })?;
            parsed.given[index] = true;
        }
        parsed.args = rest.map(str::to_owned).collect();
        Ok(parsed)
    }

    /// Parses like [`parse`](Self::parse) and, on failure, writes to `out` what Go's flag
    /// package writes to the set's output: the message then the usage, or only the usage for
    /// `-h`.
    pub fn parse_reporting<S: AsRef<str>>(
        &self,
        args: &[S],
        out: &mut dyn Write,
    ) -> Result<Parsed, FlagError> {
        self.parse(args).inspect_err(|e| {
            // Like Go's flag package, ignore failures to write the usage.
            let _ = match e {
                FlagError::Help => out.write_all(self.usage().as_bytes()),
                other => out.write_all(format!("{other}\n{}", self.usage()).as_bytes()),
            };
        })
    }

    /// Go's default usage: `Usage of <name>:` and the flag defaults.
    pub fn usage(&self) -> String {
        if self.name.is_empty() {
            format!("Usage:\n{}", self.defaults())
        } else {
            format!("Usage of {}:\n{}", self.name, self.defaults())
        }
    }

    /// Go's `PrintDefaults`: one entry per flag, sorted by name.
    pub fn defaults(&self) -> String {
        usage::print_defaults(self.specs.iter().map(|s| usage::FlagDoc {
            name: &s.name,
            usage: &s.usage,
            type_name: s.type_name,
            default_text: s.default_text.as_deref(),
        }))
    }

    /// What SPIRE's commands return as their help (`Help()` prints the usage, then
    /// mitchellh/cli prints the `flag: help requested` that parsing `-h` returned): the text a
    /// command's help closure given to [`Cli::command`](crate::cli::Cli::command) should return.
    pub fn help(&self) -> String {
        format!("{}{}", self.usage(), FlagError::Help)
    }
}

impl Parsed {
    fn slot<T>(&self, flag: &Flag<T>) -> usize {
        assert_eq!(
            flag.set, self.set,
            "flag handle used with the result of another FlagSet"
        );
        flag.index
    }

    /// The flag's value: the last one given, all of them for repeated flags, or the default.
    pub fn get<T: 'static>(&self, flag: &Flag<T>) -> &T {
        self.values[self.slot(flag)]
            .downcast_ref::<T>()
            .expect("a Flag<T> handle indexes a value of type T in its own set")
    }

    /// Whether the flag was given on the command line (Go's `FlagSet.Visit`).
    pub fn is_set<T>(&self, flag: &Flag<T>) -> bool {
        self.given[self.slot(flag)]
    }

    /// The arguments after the flags.
    pub fn args(&self) -> &[String] {
        &self.args
    }
}
