//! Configuration: SPIRE's HCL server config (`server { … } plugins { … } health_checks { … }
//! telemetry { … }`) and the `run` flags, decoded once into typed settings.

mod settings;

pub use settings::{
    ServerSettings, DEFAULT_BIND_PORT, DEFAULT_CACHE_RELOAD_INTERVAL, DEFAULT_CA_TTL,
    DEFAULT_JWT_SVID_TTL, DEFAULT_SOCKET_PATH, DEFAULT_X509_SVID_TTL,
};
