//! `spiffe-agent`: SPIRE's `spire-agent` command line over this crate.

fn main() -> std::process::ExitCode {
    spiffe_agent::cli::main()
}
