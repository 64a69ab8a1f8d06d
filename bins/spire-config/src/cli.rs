//! Subcommand dispatch as SPIRE's CLIs do it (`mitchellh/cli` v1.1.5): nested commands
//! (`entry create`), parent commands listing their subcommands, `-h`/`-help`/`--help`
//! anywhere before `--`, `-v`/`-version`/`--version` before the command, SPIRE's help texts
//! and exit codes:
//!
//! | invocation | output (stderr) | exit |
//! |---|---|---|
//! | `spire-server` or an unknown command | `Usage: spire-server [--version] [--help] <command> [<args>]` and the commands | 127 |
//! | `spire-server -h` | the same | 0 |
//! | `spire-server entry` (a parent) | its subcommands | 1 |
//! | `spire-server entry -h` | its subcommands | 0 |
//! | `spire-server entry create -h` | the command's flag usage, then `flag: help requested` | 0 |
//! | `spire-server -x entry create` | `Invalid flags before the subcommand…` and its help | 1 |
//! | `spire-server --version` | the version | 0 |
//!
//! [`Cli::dispatch`] decides; the caller prints and exits, or runs the command (which may be
//! async) with its arguments.
//!
//! ```
//! use spire_config::cli::{Cli, Dispatch};
//! use spire_config::flags::FlagSet;
//!
//! fn create_flags() -> FlagSet {
//!     let mut fs = FlagSet::new("entry create");
//!     fs.string("spiffeID", "", "The SPIFFE ID that this record represents");
//!     fs
//! }
//!
//! let mut cli = Cli::new("spire-server", "1.14.0");
//! cli.command("entry create", "Creates registration entries", || create_flags().help());
//! cli.command("entry show", "Displays configured registration entries", || String::new());
//! cli.command("run", "Runs the server", || String::new());
//!
//! match cli.dispatch(&["entry", "create", "-spiffeID", "spiffe://td/x"]) {
//!     Dispatch::Run { command, args } => {
//!         assert_eq!(command, "entry create");
//!         assert_eq!(args, ["-spiffeID", "spiffe://td/x"]);
//!     }
//!     Dispatch::Exit { .. } => unreachable!(),
//! }
//! let Dispatch::Exit { code, output } = cli.dispatch(&["entry"]) else { unreachable!() };
//! assert_eq!(code, 1);
//! assert_eq!(
//!     output,
//!     "This command is accessed by using one of the subcommands below.\n\n\
//!      Subcommands:\n    create    Creates registration entries\n    show      Displays configured registration entries\n"
//! );
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

type HelpFn = Box<dyn Fn() -> String + Send + Sync>;

enum Entry {
    Command {
        synopsis: String,
        help: HelpFn,
    },
    /// A parent of nested commands that has no command of its own.
    Parent,
}

/// What to do with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Run `command` (its full name, e.g. `entry create`) with `args` (the arguments after the
    /// command name).
    Run {
        /// The command's full name.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Print `output` to stderr and exit with `code` (help, version, or an unknown command).
    Exit {
        /// The exit status.
        code: i32,
        /// The text, for stderr.
        output: String,
    },
}

/// A command-line application with (possibly nested) commands.
pub struct Cli {
    app: String,
    version: String,
    commands: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("app", &self.app)
            .field("version", &self.version)
            .field("commands", &self.commands.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The help of a parent command that only groups subcommands (mitchellh/cli's words).
const PARENT_HELP: &str = "This command is accessed by using one of the subcommands below.";

const TOP_FLAGS_ERROR: &str =
    "Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n\n";

impl Cli {
    /// An application named `app` (used in the usage line) with a version string.
    pub fn new(app: impl Into<String>, version: impl Into<String>) -> Self {
        Cli {
            app: app.into(),
            version: version.into(),
            commands: BTreeMap::new(),
        }
    }

    /// Registers a command. `help` returns the command's help text (for SPIRE's commands,
    /// [`FlagSet::help`](crate::flags::FlagSet::help)); it is called only when help is shown.
    pub fn command(
        &mut self,
        name: &str,
        synopsis: &str,
        help: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Self {
        let name = name.trim().to_owned();
        let mut parent = name.as_str();
        while let Some(i) = parent.rfind(' ') {
            parent = &parent[..i];
            self.commands
                .entry(parent.to_owned())
                .or_insert(Entry::Parent);
        }
        self.commands.insert(
            name,
            Entry::Command {
                synopsis: synopsis.to_owned(),
                help: Box::new(help),
            },
        );
        self
    }

    fn nested(&self) -> bool {
        self.commands.keys().any(|k| k.contains(' '))
    }

    /// The keys one level under `prefix` (mitchellh/cli's `helpCommands`).
    fn children(&self, prefix: &str) -> Vec<&str> {
        let prefix = if prefix.is_empty() || prefix.ends_with(' ') {
            prefix.to_owned()
        } else {
            format!("{prefix} ")
        };
        self.commands
            .keys()
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains(' '))
            .map(String::as_str)
            .collect()
    }

    fn synopsis(&self, key: &str) -> &str {
        match self.commands.get(key) {
            Some(Entry::Command { synopsis, .. }) => synopsis,
            _ => "",
        }
    }

    /// The application help listing `keys` (mitchellh/cli's `BasicHelpFunc`).
    fn app_help(&self, keys: &[&str]) -> String {
        let mut out = format!(
            "Usage: {} [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n",
            self.app
        );
        let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
        for key in keys {
            let _ = writeln!(out, "    {key:width$}    {}", self.synopsis(key));
        }
        out
    }

    /// The top-level help (what `-h` prints, with its final newline).
    pub fn help(&self) -> String {
        format!("{}\n", self.app_help(&self.children("")))
    }

    /// A command's help as mitchellh/cli prints it: the command's help text, then its
    /// subcommands if it has any. For a command that wants to show its help on misuse
    /// (print it and exit 1).
    pub fn command_help(&self, name: &str) -> String {
        let mut out = match self.commands.get(name) {
            Some(Entry::Command { help, .. }) => help(),
            _ => PARENT_HELP.to_owned(),
        };
        let subs = self.children(name);
        if !subs.is_empty() {
            out.push_str("\n\nSubcommands:");
            let longest = subs.iter().map(|k| k.len()).max().unwrap_or(0);
            for key in &subs {
                let short = key.rsplit(' ').next().unwrap_or(key);
                let pad = " ".repeat(longest - key.len());
                let _ = write!(out, "\n    {short}{pad}    {}", self.synopsis(key));
            }
        }
        out.push('\n');
        out
    }

    /// Decides what a command line (the arguments after the program name) does.
    pub fn dispatch<S: AsRef<str>>(&self, args: &[S]) -> Dispatch {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let nested = self.nested();
        let mut is_help = false;
        let mut is_version = false;
        let mut top_flags = false;
        let mut subcommand: Option<String> = None;
        let mut sub_args: Vec<String> = Vec::new();
        for (i, &arg) in args.iter().enumerate() {
            if arg == "--" {
                break;
            }
            if matches!(arg, "-h" | "-help" | "--help") {
                is_help = true;
                continue;
            }
            if subcommand.is_none() {
                if matches!(arg, "-v" | "-version" | "--version") {
                    is_version = true;
                    continue;
                }
                if arg.starts_with('-') {
                    top_flags = true;
                }
            }
            if subcommand.is_none() && !arg.is_empty() && !arg.starts_with('-') {
                if nested && arg.contains(' ') {
                    // mitchellh/cli: an argument with a space is never a command.
                    subcommand = Some(String::new());
                    break;
                }
                let mut name = arg.to_owned();
                let mut last = i;
                if nested {
                    let words: Vec<&str> = args[i..]
                        .iter()
                        .take_while(|v| !v.is_empty() && !v.contains(' ') && !v.starts_with('-'))
                        .copied()
                        .collect();
                    let search = words.join(" ");
                    // The longest command that is a string prefix of the words (a radix tree's
                    // LongestPrefix), accepted only if it ends at a word boundary.
                    let longest = self
                        .commands
                        .keys()
                        .filter(|k| search.starts_with(k.as_str()))
                        .max_by_key(|k| k.len());
                    if let Some(k) = longest {
                        if search.len() == k.len() || search[k.len()..].starts_with(' ') {
                            name = k.clone();
                            last = i + k.matches(' ').count();
                        }
                    }
                }
                subcommand = Some(name);
                sub_args = args[last + 1..].iter().map(|s| (*s).to_owned()).collect();
            }
        }

        if is_version && !self.version.is_empty() {
            return Dispatch::Exit {
                code: 0,
                output: format!("{}\n", self.version),
            };
        }
        let sub = subcommand.unwrap_or_default();
        if is_help && sub.is_empty() {
            return Dispatch::Exit {
                code: 0,
                output: self.help(),
            };
        }
        let Some(entry) = self.commands.get(&sub) else {
            let parent = match sub.trim_end().rfind(' ') {
                Some(i) => &sub[..i],
                None => "",
            };
            return Dispatch::Exit {
                code: 127,
                output: format!("{}\n", self.app_help(&self.children(parent))),
            };
        };
        if is_help {
            return Dispatch::Exit {
                code: 0,
                output: self.command_help(&sub),
            };
        }
        if top_flags {
            return Dispatch::Exit {
                code: 1,
                output: format!("{TOP_FLAGS_ERROR}{}", self.command_help(&sub)),
            };
        }
        match entry {
            Entry::Parent => Dispatch::Exit {
                code: 1,
                output: self.command_help(&sub),
            },
            Entry::Command { .. } => Dispatch::Run {
                command: sub,
                args: sub_args,
            },
        }
    }
}

/// An error and its sources joined by `: `, the way Go's wrapped errors (`%w`) print, for
/// SPIRE-like messages from layered errors (`unable to decode configuration at "x": …`).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
