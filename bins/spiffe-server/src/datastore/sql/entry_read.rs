//! Reading registration entries.
//!
//! A page of entries is read with one statement that returns one text value: each entry's
//! columns and its selectors, DNS names and federated trust domains (through correlated
//! subqueries on the child tables' primary keys), joined with ASCII separator characters and
//! aggregated (and sorted by key once decoded). One statement is one snapshot, so no transaction is needed, and
//! the page crosses from the driver in one value: sqlx's SQLite driver hands rows over from its
//! worker thread one at a time, which made a row per entry and child several times slower than
//! the database itself (the bulk load at server start reads every entry this way).
//!
//! The separators cannot occur in the values: every stored text is checked on the way in and
//! again on the way out (entry ids, SPIFFE IDs, selectors, DNS names, trust domains and hints
//! reject control characters), so a value holding one fails to parse and reads as corrupt.

use std::collections::HashMap;
use std::time::Duration;

use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::{SpiffeId, TrustDomain};

use super::db::{Db, Sql};
use super::filter_sql::{int_cursor, limit, next_token, push_entry_filter};
use super::pool::Pools;
use super::{errors, from_secs, revision};
use crate::datastore::{DataStoreError, EntryFilter, Page, PageRequest, Record};

/// Between entries.
const RECORD_SEP: char = '\u{1e}';
/// Between an entry's fields.
const FIELD_SEP: char = '\u{1f}';
/// Between the items of a list field.
const ITEM_SEP: char = '\u{1d}';
/// The fields of a packed entry.
const FIELDS: usize = 18;
/// Entries read per statement; a larger page is read in several statements in one snapshot.
const CHUNK: i64 = 5_000;

/// An entry as read, with its internal key.
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
    if limit(page) <= CHUNK {
        let mut conn = pools.read().await?;
        read_chunks(&mut conn.db(), filter, page).await
    } else {
        // Several statements: one snapshot for all of them.
        let mut tx = pools.read_tx().await?;
        read_chunks(&mut tx.db(), filter, page).await
    }
}

/// A page of every entry, for loading the whole set: on SQLite through a connection of its
/// own with the file mapped (see [`Pools::bulk_sqlite`]), closed afterwards.
pub(super) async fn load(
    pools: &Pools,
    page: &PageRequest,
) -> Result<Page<RegistrationEntry>, DataStoreError> {
    let Some(mut conn) = pools.bulk_sqlite().await? else {
        return list(pools, &EntryFilter::default(), page).await;
    };
    let unavailable = |e| DataStoreError::Unavailable {
        backend: crate::datastore::Backend::Sqlite,
        source: Box::new(e),
    };
    let mut tx = sqlx::Connection::begin(&mut conn)
        .await
        .map_err(unavailable)?;
    let loaded = read_chunks(&mut Db::Sqlite(&mut tx), &EntryFilter::default(), page).await;
    // A read-only transaction: rolling it back ends it.
    drop(tx);
    let _ = sqlx::Connection::close(conn).await;
    loaded
}

/// One page as statements of at most [`CHUNK`] entries each, on one connection.
async fn read_chunks(
    db: &mut Db<'_>,
    filter: &EntryFilter,
    page: &PageRequest,
) -> Result<Page<RegistrationEntry>, DataStoreError> {
    let mut cursor = int_cursor(page)?;
    let wanted = limit(page);
    let mut entries: Vec<StoredEntry> = Vec::new();
    loop {
        let room = wanted.saturating_sub(entries.len() as i64).min(CHUNK);
        let chunk = read_page(db, filter, cursor, room).await?;
        let done = (chunk.len() as i64) < room;
        entries.extend(chunk);
        match entries.last() {
            Some(last) if !done && (entries.len() as i64) < wanted => cursor = last.pk,
            _ => break,
        }
    }
    let last = entries.last().map(|e| e.pk);
    let next = next_token(page, entries.len(), last);
    Ok(Page {
        items: entries.into_iter().map(|e| e.entry).collect(),
        next,
    })
}

/// At most `limit` entries matching `filter` with keys above `cursor`.
async fn read_page(
    db: &mut Db<'_>,
    filter: &EntryFilter,
    cursor: i64,
    limit: i64,
) -> Result<Vec<StoredEntry>, DataStoreError> {
    let mut page = Sql::new("SELECT * FROM registration_entries e WHERE ");
    push_entry_filter(&mut page, filter)?;
    page.push(" AND e.pk > ").arg(cursor);
    page.push(" ORDER BY e.pk LIMIT ").arg(limit);
    read_packed(db, &page).await
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
        let mut page = Sql::new("SELECT * FROM registration_entries e WHERE e.entry_id IN ");
        page.arg_list(chunk.iter().map(EntryId::as_str));
        found.extend(read_packed(db, &page).await?);
    }
    found.sort_unstable_by_key(|e| e.pk);
    Ok(found)
}

/// The entries of `page` (a `SELECT * FROM registration_entries e …` statement), packed by the
/// database into one text value and unpacked here.
async fn read_packed(db: &mut Db<'_>, page: &Sql<'_>) -> Result<Vec<StoredEntry>, DataStoreError> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    let fs = FIELD_SEP;
    let is = ITEM_SEP;
    // The records are aggregated in no particular order and sorted by key once decoded: an
    // `ORDER BY` inside the aggregate made SQLite sort every page again through a temporary
    // b-tree (the rows come in key order already, but neither database guarantees the
    // aggregate's order without it).
    let packed = format!(
        "SELECT string_agg(\
         CAST(e.pk AS TEXT) || '{fs}' || e.entry_id || '{fs}' || e.spiffe_id || '{fs}' || e.parent_id \
         || '{fs}' || COALESCE(CAST(e.x509_svid_ttl AS TEXT), '') \
         || '{fs}' || COALESCE(CAST(e.jwt_svid_ttl AS TEXT), '') \
         || '{fs}' || CAST(e.admin AS TEXT) || '{fs}' || CAST(e.downstream AS TEXT) \
         || '{fs}' || CAST(e.store_svid AS TEXT) || '{fs}' || COALESCE(e.hint, '') \
         || '{fs}' || COALESCE(CAST(e.expires_at AS TEXT), '') \
         || '{fs}' || CAST(e.revision_number AS TEXT) || '{fs}' || CAST(e.created_at AS TEXT) \
         || '{fs}' || CAST(e.disable_x509_svid_prefetch AS TEXT) \
         || '{fs}' || CAST(e.jwt_svid_include_jti AS TEXT) \
         || '{fs}' || COALESCE((SELECT string_agg(s.selector, '{is}') FROM entry_selectors s \
                                WHERE s.entry_pk = e.pk), '') \
         || '{fs}' || COALESCE((SELECT string_agg(d.name, '{is}' ORDER BY d.position) \
                                FROM entry_dns_names d WHERE d.entry_pk = e.pk), '') \
         || '{fs}' || COALESCE((SELECT string_agg(f.trust_domain, '{is}') \
                                FROM entry_federates_with f WHERE f.entry_pk = e.pk), ''), \
         '{RECORD_SEP}') FROM ("
    );
    let sql = Sql::wrap(&packed, page, ") e");
    let row = db.fetch_one(&sql).await.map_err(map)?;
    let Some(text) = row.opt_text(0).map_err(map)? else {
        return Ok(Vec::new());
    };
    let mut shared = Shared::default();
    let mut entries = text
        .split(RECORD_SEP)
        .map(|record| unpack(record, &mut shared))
        .collect::<Result<Vec<_>, _>>()?;
    // Key order (the callers' cursor is the last key); usually already so, which the sort
    // notices in one pass.
    entries.sort_by_key(|e| e.pk);
    Ok(entries)
}

/// The parent IDs and selectors already decoded in one statement's result, by their text:
/// entries of one agent (or node alias) share the parent, entries of one namespace a
/// selector, and decoding each once and sharing the value (they are reference counted) saves
/// both the parsing and a copy per entry, which at a million entries is a large part of the
/// cache's memory. Scoped to one statement, so bounded by its size.
#[derive(Default)]
struct Shared<'t> {
    parents: HashMap<&'t str, SpiffeId>,
    selectors: HashMap<&'t str, Selector>,
}

impl<'t> Shared<'t> {
    fn parent(&mut self, text: &'t str) -> Result<SpiffeId, DataStoreError> {
        if let Some(id) = self.parents.get(text) {
            return Ok(id.clone());
        }
        let id =
            SpiffeId::new(text).map_err(|e| DataStoreError::corrupt_because("parent ID", e))?;
        self.parents.insert(text, id.clone());
        Ok(id)
    }

    fn selector(&mut self, text: &'t str) -> Result<Selector, DataStoreError> {
        if let Some(selector) = self.selectors.get(text) {
            return Ok(selector.clone());
        }
        let selector =
            Selector::parse(text).map_err(|e| DataStoreError::corrupt_because("selector", e))?;
        self.selectors.insert(text, selector.clone());
        Ok(selector)
    }
}

fn corrupt(what: &'static str) -> DataStoreError {
    DataStoreError::corrupt(what)
}

/// One packed entry.
fn unpack<'t>(record: &'t str, shared: &mut Shared<'t>) -> Result<StoredEntry, DataStoreError> {
    let mut split = record.split(FIELD_SEP);
    let mut fields = [""; FIELDS];
    for field in &mut fields {
        *field = split.next().ok_or_else(|| corrupt("registration entry"))?;
    }
    if split.next().is_some() {
        return Err(corrupt("registration entry"));
    }
    let [pk, id, spiffe_id, parent_id, x509_ttl, jwt_ttl, admin, downstream, store_svid, hint, expires_at, revision_number, created_at, disable_prefetch, include_jti, selectors, dns_names, federates_with] =
        fields;
    let int = |text: &str, what| text.parse::<i64>().map_err(|_| corrupt(what));
    let opt_int = |text: &str, what| (!text.is_empty()).then(|| int(text, what)).transpose();
    let ttl = |text: &str| -> Result<Option<Duration>, DataStoreError> {
        opt_int(text, "TTL")?
            .map(|s| {
                u64::try_from(s)
                    .map(Duration::from_secs)
                    .map_err(|_| corrupt("TTL"))
            })
            .transpose()
    };
    let id = EntryId::new(id).map_err(|e| DataStoreError::corrupt_because("entry id", e))?;
    let spiffe_id =
        SpiffeId::new(spiffe_id).map_err(|e| DataStoreError::corrupt_because("SPIFFE ID", e))?;
    let parent_id = shared.parent(parent_id)?;
    let mut builder = RegistrationEntry::builder(id, spiffe_id, parent_id)
        .x509_svid_ttl(ttl(x509_ttl)?)
        .jwt_svid_ttl(ttl(jwt_ttl)?)
        .admin(boolean(admin)?)
        .downstream(boolean(downstream)?)
        .store_svid(boolean(store_svid)?)
        .disable_x509_svid_prefetch(boolean(disable_prefetch)?)
        .jwt_svid_include_jti(boolean(include_jti)?)
        .hint(hint)
        .expires_at(
            opt_int(expires_at, "expires_at")?
                .map(|s| from_secs(s, "expires_at"))
                .transpose()?,
        )
        .revision_number(revision(int(revision_number, "revision")?)?)
        .created_at(Some(from_secs(
            int(created_at, "created_at")?,
            "created_at",
        )?))
        .selectors(
            items(selectors)
                .map(|s| shared.selector(s))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .dns_names(items(dns_names).map(str::to_owned));
    for td in items(federates_with) {
        builder = builder.federates_with(
            TrustDomain::new(td).map_err(|e| DataStoreError::corrupt_because("trust domain", e))?,
        );
    }
    let entry = builder
        .build()
        .map_err(|e| DataStoreError::corrupt_because("registration entry", e))?;
    Ok(StoredEntry {
        pk: int(pk, "entry key")?,
        entry,
    })
}

fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(ITEM_SEP).filter(|s| !s.is_empty())
}

/// A boolean as text: SQLite's `1`/`0`, PostgreSQL's `true`/`false`.
fn boolean(text: &str) -> Result<bool, DataStoreError> {
    match text {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(corrupt("flag")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_an_entry_and_rejects_malformed_records() {
        let f = FIELD_SEP;
        let i = ITEM_SEP;
        let record = format!(
            "7{f}e1{f}spiffe://example.org/w{f}spiffe://example.org/a{f}60{f}{f}1{f}false{f}0{f}hint{f}{f}3{f}100{f}true{f}0\
             {f}unix:uid:1{i}k8s:ns:x{f}a.example.org{i}b.example.org{f}x.org"
        );
        let stored = unpack(&record, &mut Shared::default()).expect("unpacks");
        assert_eq!(stored.pk, 7);
        let e = stored.entry;
        assert_eq!(e.id().as_str(), "e1");
        assert_eq!(e.x509_svid_ttl(), Some(Duration::from_secs(60)));
        assert_eq!(e.jwt_svid_ttl(), None);
        assert!(e.admin() && !e.downstream() && !e.store_svid());
        assert_eq!(e.hint(), Some("hint"));
        assert_eq!(e.selectors().len(), 2);
        assert_eq!(e.dns_names(), ["a.example.org", "b.example.org"]);
        assert_eq!(e.federates_with().len(), 1);
        assert_eq!(e.revision_number(), 3);
        assert!(e.disable_x509_svid_prefetch() && !e.jwt_svid_include_jti());
        for bad in [
            record.replacen("7", "x", 1),
            record.replace("false", "maybe"),
            format!("{record}{f}extra"),
            record.replace("unix:uid:1", "nocolon"),
            "".to_owned(),
        ] {
            assert!(unpack(&bad, &mut Shared::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entries_decoded_together_share_parents_and_selectors() {
        let f = FIELD_SEP;
        let i = ITEM_SEP;
        let record = |pk: u32, parent: &str, ns: &str| {
            format!(
                "{pk}{f}e{pk}{f}spiffe://example.org/w{pk}{f}spiffe://example.org/{parent}{f}{f}{f}0{f}0{f}0{f}{f}{f}1{f}100{f}0{f}0\
                 {f}k8s:ns:{ns}{i}k8s:sa:sa{pk}{f}{f}"
            )
        };
        let records = [
            record(1, "a", "x"),
            record(2, "a", "y"),
            record(3, "b", "x"),
        ];
        let mut shared = Shared::default();
        let e: Vec<RegistrationEntry> = records
            .iter()
            .map(|r| unpack(r, &mut shared).expect("unpacks").entry)
            .collect();
        let same = |a: &str, b: &str| std::ptr::eq(a.as_ptr(), b.as_ptr());
        assert!(same(e[0].parent_id().as_str(), e[1].parent_id().as_str()));
        assert!(!same(e[0].parent_id().as_str(), e[2].parent_id().as_str()));
        assert_eq!(e[2].parent_id().as_str(), "spiffe://example.org/b");
        let ns = |e: &RegistrationEntry| e.selectors()[0].as_str().to_owned();
        assert_eq!(ns(&e[0]), "k8s:ns:x");
        assert_eq!(ns(&e[1]), "k8s:ns:y");
        assert!(same(
            e[0].selectors()[0].as_str(),
            e[2].selectors()[0].as_str()
        ));
        assert!(!same(
            e[0].selectors()[0].as_str(),
            e[1].selectors()[0].as_str()
        ));
        // A shared value that fails to parse fails every entry using it.
        let bad = records[0].replace("k8s:ns:x", "nocolon");
        assert!(unpack(&bad, &mut shared).is_err());
    }
}
