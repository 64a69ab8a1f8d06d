//! `DataStore "sql"`'s `plugin_data` (SPIRE's `doc/plugin_server_datastore_sql.md`), decoded
//! into the datastore's [`SqlSettings`].
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `database_type` | `sqlite3` or `postgres` | required |
//! | `connection_string` | SQLite: a file path; PostgreSQL: a URL or `key=value` DSN | SQLite: `<data_dir>/datastore.sqlite3` |
//! | `max_open_conns` | most connections at once | 100 |
//! | `max_idle_conns` | accepted (idle connections close after 30 s) | 100 |
//! | `conn_max_lifetime` | longest a connection is reused (Go duration) | unlimited |
//! | `disable_migration` | refuse to start unless the schema is current | false |
//! | `log_sql` | accepted, no effect (SQL is never logged) | false |
//!
//! SPIRE's `mysql`, `aws_postgres`, `aws_mysql`, `ro_connection_string` and client TLS files
//! (`root_ca_path`, `client_cert_path`, `client_key_path`) are errors saying this server does not
//! provide them. A relative SQLite path is relative to the working directory, as in SPIRE.

use std::path::Path;

use spire_config::{ConfigError, Decoder};

use crate::datastore::{DatabaseType, SqlSettings};

const SUBJECT: &str = "DataStore \"sql\"";

/// Reads the `plugin_data` of `DataStore "sql"`. `data_dir` gives the default SQLite file.
pub(crate) fn sql(d: &mut Decoder<'_>, data_dir: &Path) -> Result<SqlSettings, ConfigError> {
    for key in [
        "ro_connection_string",
        "root_ca_path",
        "client_cert_path",
        "client_key_path",
    ] {
        if let Some(pos) = d.ignore(key) {
            return Err(ConfigError::NotProvided {
                subject: format!("{SUBJECT} {key}"),
                what: "setting",
                pos,
            });
        }
    }
    let database_type = match d.optional_value("database_type")? {
        None => return Err(d.missing("database_type")),
        Some(value) => match &value.kind {
            spire_config::hcl::ValueKind::String(name) => match DatabaseType::from_spire_name(name)
            {
                Some(t) => t,
                None if matches!(name.as_str(), "mysql" | "aws_mysql" | "aws_postgres") => {
                    return Err(ConfigError::NotProvided {
                        subject: format!("{SUBJECT} database_type \"{name}\""),
                        what: "setting",
                        pos: value.pos,
                    })
                }
                None => {
                    return Err(d.invalid(
                        "database_type",
                        "unsupported database_type (expected sqlite3 or postgres)",
                    ))
                }
            },
            // `database_type "aws_postgres" { region = … }`: SPIRE's AWS IAM authentication.
            spire_config::hcl::ValueKind::Object(_) => {
                return Err(ConfigError::NotProvided {
                    subject: format!("{SUBJECT} database_type block (AWS databases)"),
                    what: "setting",
                    pos: value.pos,
                })
            }
            _ => return Err(d.invalid("database_type", "expected a string")),
        },
    };
    let connection_string = d
        .optional_str("connection_string")?
        .filter(|s| !s.is_empty());
    let connection_string = match (database_type, connection_string) {
        (_, Some(s)) => s,
        (DatabaseType::Sqlite3, None) => data_dir
            .join("datastore.sqlite3")
            .to_string_lossy()
            .into_owned(),
        (_, None) => return Err(d.missing("connection_string")),
    };
    let mut settings = SqlSettings::new(database_type, connection_string);
    if let Some(n) = d.optional_u32("max_open_conns")? {
        if n > 0 {
            settings.max_open_conns = n;
        }
    }
    if let Some(n) = d.optional_u32("max_idle_conns")? {
        settings.max_idle_conns = n;
    }
    settings.conn_max_lifetime = d
        .optional_duration("conn_max_lifetime")?
        .filter(|t| !t.is_zero());
    settings.disable_migration = d.optional_bool("disable_migration")?.unwrap_or(false);
    d.optional_bool("log_sql")?;
    Ok(settings)
}
