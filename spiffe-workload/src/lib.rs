#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod endpoint;
pub mod federation;
pub mod proto;
pub mod provider;
pub mod server;
mod source;

pub use client::response;
pub use client::{
    Backoff, BackoffConfig, ClientError, MalformedResponse, ValidatedJwtSvid, Watch,
    WorkloadApiClient, SECURITY_HEADER,
};
pub use endpoint::{EndpointAddress, EndpointError, ENDPOINT_ENV_VAR};
pub use provider::files::{FileIdentityConfig, FileIdentityProvider};
pub use provider::{
    IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context, X509SvidEntry,
};
pub use server::{ServeError, WorkloadApiServer, DEFAULT_MAX_STREAMS};
pub use source::{
    BundleSource, JwtSource, SourceBuilder, SourceError, X509Source, DEFAULT_INITIAL_TIMEOUT,
};
/// Who is calling: `spiffe-attest`'s [`CallerInfo`], the
/// one type the server kit hands to providers and the workload attestors take.
pub use spiffe_attest::workload::CallerInfo;
