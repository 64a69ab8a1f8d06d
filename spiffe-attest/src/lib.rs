#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod entry;
mod error;
pub mod index;
pub mod node;
mod selector;
pub mod workload;

pub use entry::{EntryError, EntryId, RegistrationEntry};
pub use error::AttestError;
pub use index::EntryIndex;
pub use selector::{Selector, SelectorError};

/// A boxed, sendable future: the return type of the async methods of this crate's object-safe
/// traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
