//! Decoding sections into settings, with every unknown key an error.
//!
//! [`Config::decode`](crate::Config::decode) and [`Section::decode`] hand a [`Decoder`] to a
//! closure; the closure reads the keys it knows; afterwards any key or block left unread is a
//! [`ConfigError::Unknown`](crate::ConfigError::Unknown) naming it and its line. A decoder
//! cannot be had any other way, so a settings type cannot forget the check.

mod convert;
mod decoder;
mod record;
mod section;

pub use decoder::Decoder;
pub use record::{record_keys, reference_mismatch};
pub use section::{FromSection, Section};
