//! `spiffe-server`: SPIRE's `spire-server` command line over this crate.

fn main() -> std::process::ExitCode {
    spiffe_server::cli::main()
}
