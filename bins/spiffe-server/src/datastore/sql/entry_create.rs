//! Creating a batch of registration entries with a few multi-row statements.
//!
//! Item by item, a create costs a savepoint, the entry's row, its selectors, its DNS names and
//! the savepoint's release: 4–5 statements, each a round trip to the driver (on SQLite, a hand-off
//! to its worker thread). Here a whole batch takes one statement per table and per chunk of
//! rows. The outcome is the same as creating the items in order, each under a savepoint:
//!
//! - an item whose `federates_with` names a trust domain without a bundle fails alone, before
//!   anything is written for it;
//! - the entries' rows go in with `ON CONFLICT DO NOTHING`, in batch order, so an item that
//!   collides with a stored entry or with an earlier item of the batch (same id, or same SPIFFE
//!   ID, parent ID and selector set) inserts nothing and fails alone with `AlreadyExists`;
//! - revisions are numbered in batch order over the items that succeed.
//!
//! A statement that fails for any other reason cannot be pinned on one item: the caller then
//! rolls the whole transaction back and redoes the batch item by item.

use std::collections::{HashMap, HashSet};

use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::TrustDomain;

use super::changes::BatchRevisions;
use super::db::{Db, Sql};
use super::filter_sql::selector_set_digest;
use super::{duration_secs, to_secs};
use crate::datastore::{BoxFuture, ChangeKind, ChangeOp, DataStoreError, Record};

/// Entry rows per `INSERT` (15 arguments each: far below SQLite's 32,766 and PostgreSQL's
/// 65,535 bound parameters).
const ENTRY_ROWS: usize = 200;
/// Child rows (selectors, DNS names, trust domains) per `INSERT`.
const CHILD_ROWS: usize = 1_000;

/// What became of one item of the batch.
pub(super) enum Created {
    /// Inserted (its own revision number is 0; the change log has its global revision).
    Inserted,
    /// Not inserted; the item's error.
    Failed(DataStoreError),
}

/// Inserts `entries` in the caller's transaction and returns one outcome per item, in order.
/// `Err` means a statement failed: the transaction must be rolled back (and the batch may be
/// redone item by item); `revisions` then holds revisions for items that were not written.
pub(super) fn insert_all<'a>(
    db: &'a mut Db<'_>,
    revisions: &'a mut BatchRevisions,
    entries: &'a [RegistrationEntry],
    now: i64,
) -> BoxFuture<'a, Result<Vec<Created>, sqlx::Error>> {
    // Boxed as a `Send` future here, where its borrows are concrete (see `Db`).
    Box::pin(async move {
        let mut outcomes: Vec<Option<Created>> = Vec::with_capacity(entries.len());
        let missing = missing_bundles(db, entries).await?;
        for entry in entries {
            let unknown = entry
                .federates_with()
                .iter()
                .any(|td| missing.contains(td.as_str()));
            outcomes.push(unknown.then(|| {
                Created::Failed(DataStoreError::invalid(
                    "federates_with",
                    "a trust domain has no stored bundle",
                ))
            }));
        }

        // The rows, in batch order; each item that got a row gets its primary key.
        let digests: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| selector_set_digest(e.selectors()))
            .collect();
        let candidates: Vec<usize> = (0..entries.len())
            .filter(|&i| outcomes[i].is_none())
            .collect();
        let mut inserted: HashMap<String, i64> = HashMap::with_capacity(candidates.len());
        for chunk in candidates.chunks(ENTRY_ROWS) {
            let mut sql = Sql::new(
                "INSERT INTO registration_entries (entry_id, spiffe_id, parent_id, selector_set, \
             x509_svid_ttl, jwt_svid_ttl, admin, downstream, store_svid, hint, expires_at, \
             revision_number, created_at, disable_x509_svid_prefetch, jwt_svid_include_jti) \
             VALUES ",
            );
            for (n, &i) in chunk.iter().enumerate() {
                let e = &entries[i];
                sql.push(if n == 0 { "(" } else { ", (" });
                sql.arg(e.id().as_str()).push(", ");
                sql.arg(e.spiffe_id().as_str()).push(", ");
                sql.arg(e.parent_id().as_str()).push(", ");
                sql.arg(digests[i].as_slice()).push(", ");
                sql.arg(e.x509_svid_ttl().map(duration_secs)).push(", ");
                sql.arg(e.jwt_svid_ttl().map(duration_secs)).push(", ");
                sql.arg(e.admin()).push(", ");
                sql.arg(e.downstream()).push(", ");
                sql.arg(e.store_svid()).push(", ");
                sql.arg(e.hint()).push(", ");
                sql.arg(e.expires_at().map(to_secs)).push(", ");
                // The entry's own revision starts at 0 and counts its updates (SPIRE's
                // `revision_number`); the change log takes the global revision.
                sql.arg(0_i64).push(", ");
                sql.arg(now).push(", ");
                sql.arg(e.disable_x509_svid_prefetch()).push(", ");
                sql.arg(e.jwt_svid_include_jti()).push(")");
            }
            // A conflict inserts nothing for that row instead of failing the statement. The rows
            // come back in no promised order: matched by id below.
            sql.push(" ON CONFLICT DO NOTHING RETURNING entry_id, pk");
            for row in db.fetch_all(&sql).await? {
                inserted.insert(row.text(0)?.to_owned(), row.int(1)?);
            }
        }

        // Items in order: the first item with an id owns its row; a later one with the same id, or
        // one whose row was refused, collided.
        let mut pks: Vec<(usize, i64)> = Vec::with_capacity(inserted.len());
        let mut position_of: HashMap<&str, usize> = HashMap::with_capacity(inserted.len());
        for &i in &candidates {
            let id = entries[i].id().as_str();
            if let Some(pk) = inserted.remove(id) {
                revisions.take(ChangeKind::Entry, id, ChangeOp::Created);
                position_of.insert(id, i);
                pks.push((i, pk));
                outcomes[i] = Some(Created::Inserted);
            }
        }
        for &i in &candidates {
            if outcomes[i].is_some() {
                continue;
            }
            // The entry it collided with, as the item-by-item path would have found it: stored
            // before the batch or written by an earlier item, never by a later one.
            let existing = similar_entry(db, &entries[i], &digests[i])
                .await?
                .filter(|id| position_of.get(id.as_str()).is_none_or(|&at| at < i));
            outcomes[i] = Some(Created::Failed(DataStoreError::AlreadyExists {
                record: Record::Entry,
                existing,
            }));
        }

        for statement in child_rows(entries, &pks) {
            db.execute(&statement).await?;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Created::Inserted))
            .collect())
    })
}

/// The trust domains named in the batch's `federates_with` that have no stored bundle.
async fn missing_bundles(
    db: &mut Db<'_>,
    entries: &[RegistrationEntry],
) -> Result<HashSet<String>, sqlx::Error> {
    let named: HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.federates_with().iter().map(TrustDomain::as_str))
        .collect();
    let mut missing: HashSet<String> = named.iter().map(|td| (*td).to_owned()).collect();
    let named: Vec<&str> = named.into_iter().collect();
    for chunk in named.chunks(CHILD_ROWS) {
        let mut sql = Sql::new("SELECT trust_domain FROM bundles WHERE trust_domain IN ");
        sql.arg_list(chunk.iter().copied());
        for row in db.fetch_all(&sql).await? {
            missing.remove(row.text(0)?);
        }
    }
    Ok(missing)
}

/// The statements inserting the selectors, DNS names and federated trust domains of the
/// inserted items.
fn child_rows<'e>(entries: &'e [RegistrationEntry], pks: &[(usize, i64)]) -> Vec<Sql<'e>> {
    let mut statements = Vec::new();
    let selectors = pks.iter().flat_map(|&(i, pk)| {
        entries[i]
            .selectors()
            .iter()
            .map(move |s| (pk, None, s.as_str()))
    });
    push_rows(
        &mut statements,
        "entry_selectors (entry_pk, selector)",
        selectors,
    );
    let dns_names = pks.iter().flat_map(|&(i, pk)| {
        entries[i]
            .dns_names()
            .iter()
            .enumerate()
            .map(move |(n, name)| (pk, Some(n as i64), name.as_str()))
    });
    push_rows(
        &mut statements,
        "entry_dns_names (entry_pk, position, name)",
        dns_names,
    );
    let domains = pks.iter().flat_map(|&(i, pk)| {
        entries[i]
            .federates_with()
            .iter()
            .map(move |td| (pk, None, td.as_str()))
    });
    push_rows(
        &mut statements,
        "entry_federates_with (entry_pk, trust_domain)",
        domains,
    );
    statements
}

/// `INSERT INTO <table> VALUES (pk, [position,] value), …` for `rows`, in chunks of
/// [`CHILD_ROWS`].
fn push_rows<'e>(
    statements: &mut Vec<Sql<'e>>,
    table: &str,
    rows: impl Iterator<Item = (i64, Option<i64>, &'e str)>,
) {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut sql = Sql::new(format!("INSERT INTO {table} VALUES "));
        for (n, (pk, position, value)) in rows.by_ref().take(CHILD_ROWS).enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            sql.arg(pk).push(", ");
            if let Some(position) = position {
                sql.arg(position).push(", ");
            }
            sql.arg(value).push(")");
        }
        statements.push(sql);
    }
}

/// The id of a stored entry with the item's SPIFFE ID, parent ID and selector set.
async fn similar_entry(
    db: &mut Db<'_>,
    entry: &RegistrationEntry,
    digest: &[u8],
) -> Result<Option<EntryId>, sqlx::Error> {
    let row = db
        .fetch_optional(
            &Sql::new(
                "SELECT entry_id FROM registration_entries \
                 WHERE spiffe_id = $1 AND parent_id = $2 AND selector_set = $3",
            )
            .bind(entry.spiffe_id().as_str())
            .bind(entry.parent_id().as_str())
            .bind(digest),
        )
        .await?;
    match row {
        // A stored id that does not parse is left out of the error rather than failing the
        // batch; reading that entry reports it as corrupt.
        Some(row) => Ok(EntryId::new(row.text(0)?).ok()),
        None => Ok(None),
    }
}
