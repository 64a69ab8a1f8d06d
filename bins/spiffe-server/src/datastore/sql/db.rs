//! One SQL text for both backends: statements use `$1`, `$2`, … placeholders, which PostgreSQL
//! reads natively and sqlx's SQLite driver maps to argument positions; arguments are a small
//! enum bound to whichever driver the store opened. Queries are prepared once per connection
//! (sqlx caches them by text).

use std::borrow::Cow;
use std::fmt::Write as _;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Postgres, Row as _, Sqlite, Transaction};

use crate::datastore::{Backend, BoxFuture};

/// An argument bound to a statement.
#[derive(Debug, Clone)]
pub(super) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bytes(&'a [u8]),
    /// Bytes computed for the statement (a digest).
    Blob(Vec<u8>),
    Bool(bool),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::OptInt(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::OptText(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Bytes(v)
    }
}
impl From<Vec<u8>> for Arg<'_> {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// A statement and its arguments. Built either from fixed text with [`Sql::bind`], or piece by
/// piece with [`Sql::push`] and [`Sql::arg`], which writes the next `$n`.
#[derive(Debug, Clone)]
pub(super) struct Sql<'a> {
    text: Cow<'a, str>,
    args: Vec<Arg<'a>>,
}

impl<'a> Sql<'a> {
    pub(super) fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Adds the argument for the next placeholder of a fixed text.
    pub(super) fn bind(mut self, arg: impl Into<Arg<'a>>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends text.
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.to_mut().push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(super) fn arg(&mut self, arg: impl Into<Arg<'a>>) -> &mut Self {
        self.args.push(arg.into());
        let n = self.args.len();
        // Writing to a String cannot fail.
        let _ = write!(self.text.to_mut(), "${n}");
        self
    }

    /// Appends a placeholder list `($a, $b, …)` for `args`.
    pub(super) fn arg_list<I>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<Arg<'a>>,
    {
        self.push("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(arg);
        }
        self.push(")")
    }

    /// `prefix`, then `inner`'s text, then `suffix`, with `inner`'s arguments: embeds a
    /// subquery whose placeholders are the statement's first ones.
    pub(super) fn wrap(prefix: &str, inner: &Sql<'a>, suffix: &str) -> Self {
        let mut text = String::with_capacity(prefix.len() + inner.text.len() + suffix.len());
        text.push_str(prefix);
        text.push_str(&inner.text);
        text.push_str(suffix);
        Self {
            text: Cow::Owned(text),
            args: inner.args.clone(),
        }
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }
}

/// A connection of either backend, borrowed for some statements.
pub(super) enum Db<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// A row of either backend.
pub(super) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::OptInt(v) => query.bind(*v),
                Arg::Text(v) => query.bind(*v),
                Arg::OptText(v) => query.bind(*v),
                Arg::Bytes(v) => query.bind(*v),
                Arg::Blob(v) => query.bind(v.as_slice()),
                Arg::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

impl Db<'_> {
    pub(super) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    // The driver calls are boxed as `Send` futures here, where their borrows are concrete: the
    // compiler cannot prove the unboxed futures `Send` for every lifetime once they are nested
    // in callers' futures.

    pub(super) fn fetch_all<'s>(
        &'s mut self,
        sql: &'s Sql<'_>,
    ) -> BoxFuture<'s, Result<Vec<Row>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Self::Sqlite(conn) => {
                    let query = bind_all!(sqlx::query::<Sqlite>(sql.text()), &sql.args);
                    let rows = query.fetch_all(&mut **conn).await?;
                    Ok(rows.into_iter().map(Row::Sqlite).collect())
                }
                Self::Postgres(conn) => {
                    let query = bind_all!(sqlx::query::<Postgres>(sql.text()), &sql.args);
                    let rows = query.fetch_all(&mut **conn).await?;
                    Ok(rows.into_iter().map(Row::Postgres).collect())
                }
            }
        })
    }

    pub(super) fn fetch_optional<'s>(
        &'s mut self,
        sql: &'s Sql<'_>,
    ) -> BoxFuture<'s, Result<Option<Row>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Self::Sqlite(conn) => {
                    let query = bind_all!(sqlx::query::<Sqlite>(sql.text()), &sql.args);
                    Ok(query.fetch_optional(&mut **conn).await?.map(Row::Sqlite))
                }
                Self::Postgres(conn) => {
                    let query = bind_all!(sqlx::query::<Postgres>(sql.text()), &sql.args);
                    Ok(query.fetch_optional(&mut **conn).await?.map(Row::Postgres))
                }
            }
        })
    }

    pub(super) async fn fetch_one(&mut self, sql: &Sql<'_>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(sql)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(super) fn execute<'s>(
        &'s mut self,
        sql: &'s Sql<'_>,
    ) -> BoxFuture<'s, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Self::Sqlite(conn) => {
                    let query = bind_all!(sqlx::query::<Sqlite>(sql.text()), &sql.args);
                    Ok(query.execute(&mut **conn).await?.rows_affected())
                }
                Self::Postgres(conn) => {
                    let query = bind_all!(sqlx::query::<Postgres>(sql.text()), &sql.args);
                    Ok(query.execute(&mut **conn).await?.rows_affected())
                }
            }
        })
    }

    /// Runs a script of several statements without arguments (migrations), one statement at a
    /// time. Statements end with `;`, which must not appear elsewhere in the script.
    pub(super) fn execute_script<'s>(
        &'s mut self,
        script: &'s str,
    ) -> BoxFuture<'s, Result<(), sqlx::Error>> {
        Box::pin(async move {
            for statement in split_script(script) {
                match self {
                    Self::Sqlite(conn) => {
                        sqlx::query::<Sqlite>(statement)
                            .persistent(false)
                            .execute(&mut **conn)
                            .await?;
                    }
                    Self::Postgres(conn) => {
                        sqlx::query::<Postgres>(statement)
                            .persistent(false)
                            .execute(&mut **conn)
                            .await?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// The statements of a script: split at `;`, without `--` comment lines and empty pieces.
fn split_script(script: &str) -> impl Iterator<Item = &str> {
    script.split(';').filter(|piece| {
        piece
            .lines()
            .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--"))
    })
}

impl Row {
    pub(super) fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }

    pub(super) fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }

    pub(super) fn text(&self, i: usize) -> Result<&str, sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }

    pub(super) fn opt_text(&self, i: usize) -> Result<Option<&str>, sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }

    pub(super) fn bytes(&self, i: usize) -> Result<&[u8], sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }

    pub(super) fn boolean(&self, i: usize) -> Result<bool, sqlx::Error> {
        match self {
            Self::Sqlite(r) => r.try_get(i),
            Self::Postgres(r) => r.try_get(i),
        }
    }
}

/// A pooled connection of either backend (reads outside a transaction).
pub(super) enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Conn {
    pub(super) fn db(&mut self) -> Db<'_> {
        match self {
            Self::Sqlite(c) => Db::Sqlite(c),
            Self::Postgres(c) => Db::Postgres(c),
        }
    }

    /// Closes the connection when it is dropped instead of returning it to the pool.
    pub(super) fn close_on_drop(&mut self) {
        match self {
            Self::Sqlite(c) => c.close_on_drop(),
            Self::Postgres(c) => c.close_on_drop(),
        }
    }

    /// Runs `sql`, several statements in one call (on SQLite, one hand-off to the
    /// connection's thread), and returns the rows of all of them. All rows: the driver stops
    /// a multi-statement call at the first row when asked for one. A failing statement stops
    /// the ones after it, which may leave the connection in a state they were to undo (a
    /// relaxed PRAGMA, an open `BEGIN`): the connection is then closed instead of returned.
    pub(super) async fn fetch_all_or_close(
        &mut self,
        sql: &Sql<'_>,
    ) -> Result<Vec<Row>, sqlx::Error> {
        let rows = self.db().fetch_all(sql).await;
        if rows.is_err() {
            self.close_on_drop();
        }
        rows
    }
}

/// A transaction of either backend. Dropped without [`Tx::commit`], it rolls back.
pub(super) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(super) fn db(&mut self) -> Db<'_> {
        match self {
            Self::Sqlite(t) => Db::Sqlite(t),
            Self::Postgres(t) => Db::Postgres(t),
        }
    }

    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(t) => t.commit().await,
            Self::Postgres(t) => t.commit().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_statements() {
        let script =
            "-- header\nCREATE TABLE a (x INT);\n\n-- note\nINSERT INTO a VALUES (1);\n-- end\n";
        let statements: Vec<&str> = split_script(script).map(str::trim).collect();
        assert_eq!(statements.len(), 2);
        assert!(statements[0].ends_with("CREATE TABLE a (x INT)"));
        assert_eq!(statements[1], "-- note\nINSERT INTO a VALUES (1)");
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        sql.arg(1_i64).push(" AND b IN ").arg_list(["x", "y"]);
        assert_eq!(sql.text(), "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        let wrapped = Sql::wrap("SELECT * FROM t WHERE k IN (", &sql, ")");
        assert_eq!(wrapped.args.len(), 3);
    }
}
