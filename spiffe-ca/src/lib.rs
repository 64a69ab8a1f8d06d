#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod der_writer;
mod error;
pub mod jwt;
pub mod keys;
pub mod manager;
pub mod secret_file;
pub mod x509;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CaError;
