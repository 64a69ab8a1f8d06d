//! Reading registration entries: one statement for the entry rows of a page and one per child
//! table (selectors, DNS names, federated trust domains), all in one snapshot, merged in order
//! of the entries' internal key.
//!
//! An unfiltered page (the bulk load at server start) reads the children by key range, a
//! sequential scan of each child table; a filtered page reads them through the page's subquery.

use std::time::Duration;

use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

use super::db::{Db, Row, Sql};
use super::filter_sql::{int_cursor, limit, next_token, push_entry_filter};
use super::pool::Pools;
use super::{errors, from_secs, revision};
use crate::datastore::{DataStoreError, EntryFilter, Page, PageRequest, Record};

const ENTRY_COLUMNS: &str = "pk, entry_id, spiffe_id, parent_id, x509_svid_ttl, jwt_svid_ttl, \
     admin, downstream, store_svid, hint, expires_at, revision_number, created_at";

/// An entry as read, with the internal key its children refer to.
pub(super) struct StoredEntry {
    pub(super) pk: i64,
    pub(super) entry: RegistrationEntry,
}

pub(super) async fn count(pools: &Pools, filter: &EntryFilter) -> Result<u64, DataStoreError> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM registration_entries e WHERE ");
    push_entry_filter(&mut sql, filter)?;
    let mut conn = pools.read().await?;
    let map = |e| errors::map(pools.backend(), Record::Entry, e);
    let row = conn.db().fetch_one(&sql).await.map_err(map)?;
    u64::try_from(row.int(0).map_err(map)?).map_err(|_| DataStoreError::corrupt("count"))
}

pub(super) async fn list(
    pools: &Pools,
    filter: &EntryFilter,
    page: &PageRequest,
) -> Result<Page<RegistrationEntry>, DataStoreError> {
    let cursor = int_cursor(page)?;
    let mut tx = pools.read_tx().await?;
    let entries = if filter.is_empty() {
        read_range(&mut tx.db(), cursor, limit(page)).await?
    } else {
        let mut sub = Sql::new("SELECT e.pk FROM registration_entries e WHERE ");
        push_entry_filter(&mut sub, filter)?;
        sub.push(" AND e.pk > ").arg(cursor);
        sub.push(" ORDER BY e.pk LIMIT ").arg(limit(page));
        read_matching(&mut tx.db(), &sub).await?
    };
    // Read-only: ending it either way releases the snapshot.
    drop(tx);
    let last = entries.last().map(|e| e.pk);
    let next = next_token(page, entries.len(), last);
    Ok(Page {
        items: entries.into_iter().map(|e| e.entry).collect(),
        next,
    })
}

pub(super) async fn get_many(
    pools: &Pools,
    ids: &[EntryId],
) -> Result<Vec<RegistrationEntry>, DataStoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pools.read_tx().await?;
    let found = read_by_ids(&mut tx.db(), ids).await?;
    Ok(found.into_iter().map(|e| e.entry).collect())
}

/// The entries with these ids, read through `db` (a caller's transaction).
pub(super) async fn read_by_ids(
    db: &mut Db<'_>,
    ids: &[EntryId],
) -> Result<Vec<StoredEntry>, DataStoreError> {
    let mut found = Vec::with_capacity(ids.len());
    // Bounded statements: SQLite allows 32766 arguments, PostgreSQL 65535.
    for chunk in ids.chunks(1000) {
        let mut sub = Sql::new("SELECT e.pk FROM registration_entries e WHERE e.entry_id IN ");
        sub.arg_list(chunk.iter().map(EntryId::as_str));
        found.extend(read_matching(db, &sub).await?);
    }
    found.sort_unstable_by_key(|e| e.pk);
    Ok(found)
}

/// The entries whose keys the subquery `sub` (`SELECT e.pk …`) returns.
async fn read_matching(db: &mut Db<'_>, sub: &Sql<'_>) -> Result<Vec<StoredEntry>, DataStoreError> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    let main = Sql::wrap(
        &format!("SELECT {ENTRY_COLUMNS} FROM registration_entries WHERE pk IN ("),
        sub,
        ") ORDER BY pk",
    );
    let rows = db.fetch_all(&main).await.map_err(map)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let selectors = Sql::wrap(
        "SELECT entry_pk, selector FROM entry_selectors WHERE entry_pk IN (",
        sub,
        ") ORDER BY entry_pk",
    );
    let dns = Sql::wrap(
        "SELECT entry_pk, name FROM entry_dns_names WHERE entry_pk IN (",
        sub,
        ") ORDER BY entry_pk, position",
    );
    let federates = Sql::wrap(
        "SELECT entry_pk, trust_domain FROM entry_federates_with WHERE entry_pk IN (",
        sub,
        ") ORDER BY entry_pk",
    );
    let selectors = db.fetch_all(&selectors).await.map_err(map)?;
    let dns = db.fetch_all(&dns).await.map_err(map)?;
    let federates = db.fetch_all(&federates).await.map_err(map)?;
    assemble(rows, selectors, dns, federates)
}

/// At most `limit` entries with keys above `cursor`, children read by key range.
async fn read_range(
    db: &mut Db<'_>,
    cursor: i64,
    limit: i64,
) -> Result<Vec<StoredEntry>, DataStoreError> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    let main = Sql::new(format!(
        "SELECT {ENTRY_COLUMNS} FROM registration_entries WHERE pk > $1 ORDER BY pk LIMIT $2"
    ))
    .bind(cursor)
    .bind(limit);
    let rows = db.fetch_all(&main).await.map_err(map)?;
    let Some(last) = rows.last() else {
        return Ok(Vec::new());
    };
    // The page holds exactly the entries with keys in (cursor, last].
    let last = last.int(0).map_err(map)?;
    let child = |text: &'static str| Sql::new(text).bind(cursor).bind(last);
    let selectors = db
        .fetch_all(&child(
            "SELECT entry_pk, selector FROM entry_selectors \
             WHERE entry_pk > $1 AND entry_pk <= $2 ORDER BY entry_pk",
        ))
        .await
        .map_err(map)?;
    let dns = db
        .fetch_all(&child(
            "SELECT entry_pk, name FROM entry_dns_names \
             WHERE entry_pk > $1 AND entry_pk <= $2 ORDER BY entry_pk, position",
        ))
        .await
        .map_err(map)?;
    let federates = db
        .fetch_all(&child(
            "SELECT entry_pk, trust_domain FROM entry_federates_with \
             WHERE entry_pk > $1 AND entry_pk <= $2 ORDER BY entry_pk",
        ))
        .await
        .map_err(map)?;
    assemble(rows, selectors, dns, federates)
}

/// Child rows `(owner key, text)` sorted by owner key, consumed entry by entry.
struct Children {
    rows: std::vec::IntoIter<Row>,
    peeked: Option<(i64, Row)>,
}

impl Children {
    fn new(rows: Vec<Row>) -> Self {
        Self {
            rows: rows.into_iter(),
            peeked: None,
        }
    }

    /// Calls `f` with the text of each child row of `pk`.
    fn take_for(
        &mut self,
        pk: i64,
        mut f: impl FnMut(&str) -> Result<(), DataStoreError>,
    ) -> Result<(), DataStoreError> {
        loop {
            if self.peeked.is_none() {
                let Some(row) = self.rows.next() else {
                    return Ok(());
                };
                let owner = row.int(0).map_err(corrupt)?;
                self.peeked = Some((owner, row));
            }
            match &self.peeked {
                Some((owner, _)) if *owner < pk => self.peeked = None,
                Some((owner, row)) if *owner == pk => {
                    f(row.text(1).map_err(corrupt)?)?;
                    self.peeked = None;
                }
                _ => return Ok(()),
            }
        }
    }
}

fn corrupt(e: sqlx::Error) -> DataStoreError {
    DataStoreError::corrupt_because("registration entry", e)
}

fn assemble(
    rows: Vec<Row>,
    selectors: Vec<Row>,
    dns: Vec<Row>,
    federates: Vec<Row>,
) -> Result<Vec<StoredEntry>, DataStoreError> {
    let mut selectors = Children::new(selectors);
    let mut dns = Children::new(dns);
    let mut federates = Children::new(federates);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let pk = row.int(0).map_err(corrupt)?;
        let mut builder = decode_row(&row)?;
        let mut list = Vec::new();
        selectors.take_for(pk, |text| {
            list.push(
                Selector::parse(text)
                    .map_err(|e| DataStoreError::corrupt_because("selector", e))?,
            );
            Ok(())
        })?;
        builder = builder.selectors(list);
        let mut names = Vec::new();
        dns.take_for(pk, |text| {
            names.push(text.to_owned());
            Ok(())
        })?;
        builder = builder.dns_names(names);
        let mut domains = Vec::new();
        federates.take_for(pk, |text| {
            domains.push(
                TrustDomain::new(text)
                    .map_err(|e| DataStoreError::corrupt_because("trust domain", e))?,
            );
            Ok(())
        })?;
        for td in domains {
            builder = builder.federates_with(td);
        }
        let entry = builder
            .build()
            .map_err(|e| DataStoreError::corrupt_because("registration entry", e))?;
        out.push(StoredEntry { pk, entry });
    }
    Ok(out)
}

/// The entry's own columns, in [`ENTRY_COLUMNS`] order.
fn decode_row(row: &Row) -> Result<spiffe_attest::entry::RegistrationEntryBuilder, DataStoreError> {
    let id = EntryId::new(row.text(1).map_err(corrupt)?)
        .map_err(|e| DataStoreError::corrupt_because("entry id", e))?;
    let spiffe_id = SpiffeId::new(row.text(2).map_err(corrupt)?)
        .map_err(|e| DataStoreError::corrupt_because("SPIFFE ID", e))?;
    let parent_id = SpiffeId::new(row.text(3).map_err(corrupt)?)
        .map_err(|e| DataStoreError::corrupt_because("parent ID", e))?;
    let ttl = |i| -> Result<Option<Duration>, DataStoreError> {
        row.opt_int(i)
            .map_err(corrupt)?
            .map(|s| u64::try_from(s).map(Duration::from_secs))
            .transpose()
            .map_err(|_| DataStoreError::corrupt("TTL"))
    };
    let expires_at = row
        .opt_int(10)
        .map_err(corrupt)?
        .map(|s| from_secs(s, "expires_at"))
        .transpose()?;
    let created_at = from_secs(row.int(12).map_err(corrupt)?, "created_at")?;
    Ok(RegistrationEntry::builder(id, spiffe_id, parent_id)
        .x509_svid_ttl(ttl(4)?)
        .jwt_svid_ttl(ttl(5)?)
        .admin(row.boolean(6).map_err(corrupt)?)
        .downstream(row.boolean(7).map_err(corrupt)?)
        .store_svid(row.boolean(8).map_err(corrupt)?)
        .hint(row.opt_text(9).map_err(corrupt)?.unwrap_or_default())
        .expires_at(expires_at)
        .revision_number(revision(row.int(11).map_err(corrupt)?)?)
        .created_at(Some(created_at)))
}
