//! The generated code, one file per protobuf package, placed in a module tree that mirrors the
//! package names (the generated code refers across packages with `super::` paths). The crate
//! root re-exports the packages; see `tests/proto_drift.rs` for how the files are made.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]

pub(crate) mod spire {
    pub mod api {
        /// The messages shared by SPIRE's services (package `spire.api.types`).
        pub mod types {
            include!("spire.api.types.rs");
        }

        /// The server's services (packages `spire.api.server.*.v1`).
        pub mod server {
            /// Agents, node attestation and join tokens.
            pub mod agent {
                /// Package `spire.api.server.agent.v1`: service `Agent`.
                pub mod v1 {
                    include!("spire.api.server.agent.v1.rs");
                }
            }
            /// The trust bundle and federated bundles.
            pub mod bundle {
                /// Package `spire.api.server.bundle.v1`: service `Bundle`.
                pub mod v1 {
                    include!("spire.api.server.bundle.v1.rs");
                }
            }
            /// Diagnostics.
            pub mod debug {
                /// Package `spire.api.server.debug.v1`: service `Debug`.
                pub mod v1 {
                    include!("spire.api.server.debug.v1.rs");
                }
            }
            /// Registration entries.
            pub mod entry {
                /// Package `spire.api.server.entry.v1`: service `Entry`.
                pub mod v1 {
                    include!("spire.api.server.entry.v1.rs");
                }
            }
            /// Manual rotation of the server's signing authorities.
            pub mod localauthority {
                /// Package `spire.api.server.localauthority.v1`: service `LocalAuthority`.
                pub mod v1 {
                    include!("spire.api.server.localauthority.v1.rs");
                }
            }
            /// The server's log level.
            pub mod logger {
                /// Package `spire.api.server.logger.v1`: service `Logger`.
                pub mod v1 {
                    include!("spire.api.server.logger.v1.rs");
                }
            }
            /// SVID minting.
            pub mod svid {
                /// Package `spire.api.server.svid.v1`: service `SVID`.
                pub mod v1 {
                    include!("spire.api.server.svid.v1.rs");
                }
            }
            /// Federation relationships.
            pub mod trustdomain {
                /// Package `spire.api.server.trustdomain.v1`: service `TrustDomain`.
                pub mod v1 {
                    include!("spire.api.server.trustdomain.v1.rs");
                }
            }
        }

        pub mod agent {
            /// The Delegated Identity API.
            pub mod delegatedidentity {
                /// Package `spire.api.agent.delegatedidentity.v1`: service `DelegatedIdentity`.
                pub mod v1 {
                    include!("spire.api.agent.delegatedidentity.v1.rs");
                }
            }
            /// The agent's log level.
            pub mod logger {
                /// Package `spire.api.agent.logger.v1`: service `Logger`.
                pub mod v1 {
                    include!("spire.api.agent.logger.v1.rs");
                }
            }
        }
    }

    /// SPIRE names the agent's debug package without `api`.
    pub mod agent {
        /// Diagnostics.
        pub mod debug {
            /// Package `spire.agent.debug.v1` (sic): service `Debug`, method path
            /// `/spire.agent.debug.v1.Debug/GetInfo`.
            pub mod v1 {
                include!("spire.agent.debug.v1.rs");
            }
        }
    }
}
