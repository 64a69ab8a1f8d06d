//! The subcommand groups, one file each.

pub(crate) mod bundle;
pub(crate) mod ca;
pub(crate) mod conformance;
pub(crate) mod helper;
pub(crate) mod id;
pub(crate) mod jwt;
pub(crate) mod workload;
pub(crate) mod x509;
pub(crate) mod x509_mint;
