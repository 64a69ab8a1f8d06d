#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod entry;
mod error;
mod http_client;
pub mod index;
pub mod node;
mod selector;
#[cfg(feature = "testing")]
pub mod testing;
pub mod workload;

pub use entry::{EntryError, EntryId, RegistrationEntry};
pub use error::AttestError;
pub use http_client::HttpError;
pub use index::EntryIndex;
pub use selector::{Selector, SelectorError};
