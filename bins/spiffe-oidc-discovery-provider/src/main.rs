//! `spiffe-oidc-discovery-provider`: SPIRE's `oidc-discovery-provider` command line over this
//! crate.

fn main() -> std::process::ExitCode {
    spiffe_oidc_discovery_provider::cli::main()
}
