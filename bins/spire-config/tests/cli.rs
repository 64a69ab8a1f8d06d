//! Subcommand dispatch with mitchellh/cli's texts and exit codes, as `spire-server` shows
//! them.

use spire_config::cli::{error_chain, Cli, Dispatch};
use spire_config::flags::FlagSet;

fn entry_create_flags() -> FlagSet {
    let mut fs = FlagSet::new("entry create");
    fs.string("parentID", "", "The SPIFFE ID of this record's parent");
    fs.string("spiffeID", "", "The SPIFFE ID that this record represents");
    fs.strings(
        "selector",
        "A colon-delimited type:value selector. Can be used more than once",
    );
    fs
}

fn server_cli() -> Cli {
    let mut cli = Cli::new("spire-server", "1.14.0");
    cli.command("entry create", "Creates registration entries", || {
        entry_create_flags().help()
    })
    .command(
        "entry show",
        "Displays configured registration entries",
        String::new,
    )
    .command("entry count", "Count registration entries", String::new)
    .command(
        "localauthority x509 show",
        "Shows the local X.509 authorities",
        String::new,
    )
    .command(
        "localauthority x509 prepare",
        "Prepares a new X.509 authority",
        String::new,
    )
    .command(
        "healthcheck",
        "Determines server health status",
        String::new,
    )
    .command("run", "Runs the server", String::new);
    cli
}

fn exit(cli: &Cli, args: &[&str]) -> (i32, String) {
    match cli.dispatch(args) {
        Dispatch::Exit { code, output } => (code, output),
        run => panic!("{args:?}: expected an exit, got {run:?}"),
    }
}

fn run(cli: &Cli, args: &[&str]) -> (String, Vec<String>) {
    match cli.dispatch(args) {
        Dispatch::Run { command, args } => (command, args),
        exit => panic!("expected a command, got {exit:?}"),
    }
}

const TOP_HELP: &str = "Usage: spire-server [--version] [--help] <command> [<args>]

Available commands are:
    entry             
    healthcheck       Determines server health status
    localauthority    
    run               Runs the server

";

#[test]
fn commands_and_their_arguments() {
    let cli = server_cli();
    assert_eq!(
        run(&cli, &["run", "-config", "x"]),
        ("run".into(), vec!["-config".into(), "x".into()])
    );
    assert_eq!(
        run(
            &cli,
            &["entry", "create", "-spiffeID", "spiffe://td/a", "pos"]
        ),
        (
            "entry create".into(),
            vec!["-spiffeID".into(), "spiffe://td/a".into(), "pos".into()]
        )
    );
    assert_eq!(
        run(&cli, &["localauthority", "x509", "show"]),
        ("localauthority x509 show".into(), vec![])
    );
    // After `--`, `-h` belongs to the command.
    assert_eq!(
        run(&cli, &["healthcheck", "--", "-h"]),
        ("healthcheck".into(), vec!["--".into(), "-h".into()])
    );
    // Words after a complete command are its arguments.
    assert_eq!(
        run(&cli, &["healthcheck", "extra"]),
        ("healthcheck".into(), vec!["extra".into()])
    );
}

#[test]
fn unknown_or_missing_command_lists_commands_with_127() {
    let cli = server_cli();
    assert_eq!(exit(&cli, &[]), (127, TOP_HELP.to_owned()));
    assert_eq!(exit(&cli, &["nope"]), (127, TOP_HELP.to_owned()));
    assert_eq!(exit(&cli, &["entr"]), (127, TOP_HELP.to_owned()));
    assert_eq!(exit(&cli, &["-x"]), (127, TOP_HELP.to_owned()));
    assert_eq!(exit(&cli, &["has space"]), (127, TOP_HELP.to_owned()));
}

#[test]
fn help_and_version() {
    let cli = server_cli();
    for flag in ["-h", "-help", "--help"] {
        assert_eq!(exit(&cli, &[flag]), (0, TOP_HELP.to_owned()));
    }
    for flag in ["-v", "-version", "--version"] {
        assert_eq!(exit(&cli, &[flag]), (0, "1.14.0\n".to_owned()));
    }
    // `-v` after the command is the command's.
    assert_eq!(run(&cli, &["run", "-v"]), ("run".into(), vec!["-v".into()]));

    let (code, out) = exit(&cli, &["entry", "create", "-h"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Usage of entry create:
  -parentID string
    \tThe SPIFFE ID of this record's parent
  -selector value
    \tA colon-delimited type:value selector. Can be used more than once
  -spiffeID string
    \tThe SPIFFE ID that this record represents
flag: help requested
"
    );
    // Help anywhere before `--`, even after other flags.
    assert_eq!(
        exit(&cli, &["entry", "create", "-spiffeID", "x", "--help"]).0,
        0
    );
}

#[test]
fn parents_list_their_subcommands() {
    let cli = server_cli();
    let entry_help = "This command is accessed by using one of the subcommands below.

Subcommands:
    count     Count registration entries
    create    Creates registration entries
    show      Displays configured registration entries
";
    assert_eq!(exit(&cli, &["entry"]), (1, entry_help.to_owned()));
    assert_eq!(exit(&cli, &["entry", "-h"]), (0, entry_help.to_owned()));
    assert_eq!(exit(&cli, &["entry", "nope"]), (1, entry_help.to_owned()));
    assert_eq!(
        exit(&cli, &["entry", "createx"]),
        (1, entry_help.to_owned())
    );
    let (code, out) = exit(&cli, &["localauthority"]);
    assert_eq!(code, 1);
    assert!(out.ends_with("Subcommands:\n    x509    \n"), "{out:?}");
    let (code, out) = exit(&cli, &["localauthority", "x509"]);
    assert_eq!(code, 1);
    assert!(out.contains("\n    prepare    Prepares a new X.509 authority\n    show       Shows the local X.509 authorities\n"), "{out:?}");
}

#[test]
fn flags_before_the_command_are_refused() {
    let cli = server_cli();
    // As in mitchellh/cli, the first word that is not a flag is taken as the command.
    assert_eq!(
        exit(&cli, &["-socketPath", "x", "healthcheck"]),
        (127, TOP_HELP.to_owned())
    );
    let (code, out) = exit(&cli, &["-socketPath=x", "healthcheck"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n\n\n"
    );
}

#[test]
fn error_chains_print_like_wrapped_go_errors() {
    let err = spire_config::load_file(std::path::Path::new("/dev/null/nope.conf"), false)
        .expect_err("fails");
    let chain = error_chain(&err);
    assert!(
        chain.starts_with("unable to read configuration at \"/dev/null/nope.conf\": "),
        "{chain}"
    );
}
