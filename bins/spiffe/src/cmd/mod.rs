//! The subcommand groups, one file each (`id`; `x509`, `jwt`, `bundle` join here).

pub(crate) mod id;
