//! PostgreSQL connection strings as SPIRE's configurations write them: a `postgres://` URL, or
//! libpq's keyword/value form (`dbname=spire user=spire host=db sslmode=disable`), which SPIRE's
//! documentation uses and sqlx does not parse.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::datastore::DataStoreError;

/// The longest connection string accepted, in bytes.
const MAX_LEN: usize = 8192;

/// Parses a PostgreSQL connection string. Errors name the setting and what is wrong, never the
/// string (it may hold a password).
pub(super) fn parse(text: &str) -> Result<PgConnectOptions, DataStoreError> {
    if text.len() > MAX_LEN {
        return Err(bad("connection string too long"));
    }
    let trimmed = text.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return PgConnectOptions::from_str(trimmed).map_err(|_| bad("not a valid postgres:// URL"));
    }
    let mut options = PgConnectOptions::new_without_pgpass();
    for (key, value) in pairs(trimmed)? {
        options = match key.as_str() {
            "host" | "hostaddr" => options.host(&value),
            "port" => options.port(value.parse().map_err(|_| bad("port is not a number"))?),
            "dbname" => options.database(&value),
            "user" => options.username(&value),
            "password" => options.password(&value),
            "sslmode" => {
                options.ssl_mode(PgSslMode::from_str(&value).map_err(|_| bad("unknown sslmode"))?)
            }
            "sslrootcert" => options.ssl_root_cert(value.as_str()),
            "sslcert" => options.ssl_client_cert(value.as_str()),
            "sslkey" => options.ssl_client_key(value.as_str()),
            "application_name" => options.application_name(&value),
            "options" => options.options(server_options(&value)?),
            // Accepted and left to the pool's own timeouts.
            "connect_timeout" => options,
            _ => return Err(bad("unknown keyword in connection string")),
        };
    }
    Ok(options)
}

/// The `options` keyword: `-c name=value` settings for the server session.
fn server_options(value: &str) -> Result<Vec<(String, String)>, DataStoreError> {
    let mut out = Vec::new();
    let mut words = value.split_whitespace();
    while let Some(word) = words.next() {
        let setting = match word.strip_prefix("-c") {
            Some("") => words.next().ok_or(bad("options: -c without a setting"))?,
            Some(rest) => rest,
            None => return Err(bad("options: only -c name=value is supported")),
        };
        let (name, val) = setting
            .split_once('=')
            .ok_or(bad("options: -c needs name=value"))?;
        out.push((name.to_owned(), val.to_owned()));
    }
    Ok(out)
}

fn bad(reason: &'static str) -> DataStoreError {
    DataStoreError::Settings {
        setting: "connection_string",
        reason,
    }
}

/// Splits `key = value` pairs separated by white space; a value may be single-quoted, with `\'`
/// and `\\` escapes inside (libpq's rules).
fn pairs(text: &str) -> Result<Vec<(String, String)>, DataStoreError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || key.is_empty() {
            return Err(bad("expected keyword=value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated quoted value")),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad("unterminated quoted value")),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => return Err(bad("dangling escape")),
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_value_pairs() {
        let pairs = pairs(r"dbname=spire  user = 'a b' password='it\'s' host=db").expect("ok");
        assert_eq!(
            pairs,
            [
                ("dbname".into(), "spire".into()),
                ("user".into(), "a b".into()),
                ("password".into(), "it's".into()),
                ("host".into(), "db".into()),
            ]
        );
    }

    #[test]
    fn keyword_value_options() {
        let options =
            parse("dbname=spire user=u password=p host=127.0.0.1 port=6543 sslmode=disable")
                .expect("parses");
        assert_eq!(options.get_database(), Some("spire"));
        assert_eq!(options.get_username(), "u");
        assert_eq!(options.get_host(), "127.0.0.1");
        assert_eq!(options.get_port(), 6543);
    }

    #[test]
    fn url_form() {
        let options = parse("postgres://u:secret@localhost:5433/spire").expect("parses");
        assert_eq!(options.get_database(), Some("spire"));
        assert_eq!(options.get_port(), 5433);
    }

    #[test]
    fn errors_never_echo_the_string() {
        for bad_input in [
            "password='hunter2",
            "hunter2",
            "nosuchkey=hunter2",
            "port=hunter2",
            "sslmode=hunter2",
            "postgres://[hunter2",
        ] {
            let error = parse(bad_input).expect_err(bad_input);
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }
}
