//! The datastore's behaviour, every test run against SQLite and against a real PostgreSQL.

mod harness;

mod bundles;
mod changes;
mod concurrency;
mod crash;
mod entries;
mod entry_attributes;
mod entry_batches;
mod entry_filters;
mod errors;
mod federation;
mod join_tokens;
mod journal;
mod migrations;
mod nodes;
mod paging;
