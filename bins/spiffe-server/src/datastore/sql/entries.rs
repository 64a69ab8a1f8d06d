//! Writing registration entries: batch create, update and delete, one transaction per batch
//! and one savepoint per item (a create takes multi-row statements first: `entry_create`).

use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::TrustDomain;

use super::changes::BatchRevisions;
use super::db::{Db, Sql, Tx};
use super::entry_create::{self, Created};
use super::entry_read::read_by_ids;
use super::filter_sql::selector_set_digest;
use super::pool::Pools;
use super::{duration_secs, errors, now_secs, to_secs};
use crate::datastore::{ChangeKind, ChangeOp, DataStoreError, EntryMask, Record};

type ItemResult<T> = Result<T, DataStoreError>;

/// Creates the batch with multi-row statements ([`entry_create`]); if one of them fails, the
/// transaction rolls back and the batch is redone item by item, each under a savepoint, so the
/// failure is pinned on the item that caused it.
pub(super) async fn create(
    pools: &Pools,
    entries: Vec<RegistrationEntry>,
) -> Result<Vec<ItemResult<RegistrationEntry>>, DataStoreError> {
    let now = now_secs();
    let backend = pools.backend();
    let map = |e| errors::map(backend, Record::Entry, e);
    let mut tx: Tx = pools.write().await?;
    let mut db = tx.db();
    let mut revisions = BatchRevisions::begin(&mut db).await.map_err(map)?;
    match entry_create::insert_all(&mut db, &mut revisions, &entries, now).await {
        Ok(outcomes) => {
            revisions.finish(&mut db, now).await.map_err(map)?;
            tx.commit().await.map_err(map)?;
            Ok(entries
                .into_iter()
                .zip(outcomes)
                .map(|(entry, outcome)| match outcome {
                    Created::Inserted => finish(entry, 0, None, now),
                    Created::Failed(e) => Err(e),
                })
                .collect())
        }
        Err(e) => {
            drop(tx);
            tracing::debug!(error = %e, "a batched entry create failed; retrying item by item");
            batch(pools, entries, now, |db, revisions, entry| {
                Box::pin(insert(db, revisions, entry, now))
            })
            .await
        }
    }
}

pub(super) async fn update(
    pools: &Pools,
    entries: Vec<RegistrationEntry>,
    mask: EntryMask,
) -> Result<Vec<ItemResult<RegistrationEntry>>, DataStoreError> {
    let now = now_secs();
    batch(pools, entries, now, move |db, revisions, entry| {
        Box::pin(update_one(db, revisions, entry, mask, now))
    })
    .await
}

pub(super) async fn delete(
    pools: &Pools,
    ids: Vec<EntryId>,
) -> Result<Vec<ItemResult<()>>, DataStoreError> {
    let now = now_secs();
    batch(pools, ids, now, |db, revisions, id| {
        Box::pin(delete_one(db, revisions, id))
    })
    .await
}

type ItemFuture<'a, T> = crate::datastore::BoxFuture<'a, ItemResult<T>>;

/// Runs `op` on each item in one transaction, each under a savepoint: a failed item is rolled
/// back alone, with the revisions it took. Fails as a whole only if the transaction does.
async fn batch<I, T>(
    pools: &Pools,
    items: Vec<I>,
    now: i64,
    op: impl for<'a, 'c> Fn(&'a mut Db<'c>, &'a mut BatchRevisions, I) -> ItemFuture<'a, T>,
) -> Result<Vec<ItemResult<T>>, DataStoreError> {
    let backend = pools.backend();
    let map = |e| errors::map(backend, Record::Entry, e);
    let mut tx: Tx = pools.write().await?;
    let mut db = tx.db();
    let mut revisions = BatchRevisions::begin(&mut db).await.map_err(map)?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        db.execute(&Sql::new("SAVEPOINT item")).await.map_err(map)?;
        let mark = revisions.mark();
        let result = op(&mut db, &mut revisions, item).await;
        if result.is_err() {
            revisions.rollback(mark);
            db.execute(&Sql::new("ROLLBACK TO SAVEPOINT item"))
                .await
                .map_err(map)?;
        }
        db.execute(&Sql::new("RELEASE SAVEPOINT item"))
            .await
            .map_err(map)?;
        results.push(result);
    }
    revisions.finish(&mut db, now).await.map_err(map)?;
    tx.commit().await.map_err(map)?;
    Ok(results)
}

async fn insert(
    db: &mut Db<'_>,
    revisions: &mut BatchRevisions,
    entry: RegistrationEntry,
    now: i64,
) -> ItemResult<RegistrationEntry> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    check_bundles_exist(db, entry.federates_with()).await?;
    let digest = selector_set_digest(entry.selectors());
    // The change log takes the global revision; the entry's own revision starts at 0 and
    // counts its updates (SPIRE's `revision_number`).
    revisions.take(ChangeKind::Entry, entry.id().as_str(), ChangeOp::Created);
    let revision = 0;
    // A conflict on the id or on (SPIFFE ID, parent ID, selectors) inserts nothing instead of
    // failing the statement, so the transaction stays usable to find out which it was.
    let row = db
        .fetch_optional(
            &Sql::new(
                "INSERT INTO registration_entries (entry_id, spiffe_id, parent_id, selector_set, \
                 x509_svid_ttl, jwt_svid_ttl, admin, downstream, store_svid, hint, expires_at, \
                 revision_number, created_at, disable_x509_svid_prefetch, jwt_svid_include_jti) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT DO NOTHING RETURNING pk",
            )
            .bind(entry.id().as_str())
            .bind(entry.spiffe_id().as_str())
            .bind(entry.parent_id().as_str())
            .bind(digest.as_slice())
            .bind(entry.x509_svid_ttl().map(duration_secs))
            .bind(entry.jwt_svid_ttl().map(duration_secs))
            .bind(entry.admin())
            .bind(entry.downstream())
            .bind(entry.store_svid())
            .bind(entry.hint())
            .bind(entry.expires_at().map(to_secs))
            .bind(revision)
            .bind(now)
            .bind(entry.disable_x509_svid_prefetch())
            .bind(entry.jwt_svid_include_jti()),
        )
        .await
        .map_err(map)?;
    let Some(row) = row else {
        return Err(DataStoreError::AlreadyExists {
            record: Record::Entry,
            existing: similar_entry(db, &entry, &digest, None).await?,
        });
    };
    let pk = row.int(0).map_err(map)?;
    insert_children(db, pk, &entry, EntryMask::all()).await?;
    finish(entry, revision, None, now)
}

async fn update_one(
    db: &mut Db<'_>,
    revisions: &mut BatchRevisions,
    entry: RegistrationEntry,
    mask: EntryMask,
    now: i64,
) -> ItemResult<RegistrationEntry> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    let Some(stored) = read_by_ids(db, std::slice::from_ref(entry.id()))
        .await?
        .pop()
    else {
        return Err(DataStoreError::not_found(Record::Entry));
    };
    let merged = merge(&stored.entry, &entry, mask)?;
    let digest = selector_set_digest(merged.selectors());
    if mask.spiffe_id || mask.parent_id || mask.selectors {
        if let Some(existing) = similar_entry(db, &merged, &digest, Some(merged.id())).await? {
            return Err(DataStoreError::AlreadyExists {
                record: Record::Entry,
                existing: Some(existing),
            });
        }
    }
    if mask.federates_with {
        check_bundles_exist(db, merged.federates_with()).await?;
    }
    revisions.take(ChangeKind::Entry, merged.id().as_str(), ChangeOp::Updated);
    let revision = i64::try_from(stored.entry.revision_number())
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    db.execute(
        &Sql::new(
            "UPDATE registration_entries SET spiffe_id = $1, parent_id = $2, selector_set = $3, \
             x509_svid_ttl = $4, jwt_svid_ttl = $5, admin = $6, downstream = $7, store_svid = $8, \
             hint = $9, expires_at = $10, revision_number = $11, \
             disable_x509_svid_prefetch = $12, jwt_svid_include_jti = $13 WHERE pk = $14",
        )
        .bind(merged.spiffe_id().as_str())
        .bind(merged.parent_id().as_str())
        .bind(digest)
        .bind(merged.x509_svid_ttl().map(duration_secs))
        .bind(merged.jwt_svid_ttl().map(duration_secs))
        .bind(merged.admin())
        .bind(merged.downstream())
        .bind(merged.store_svid())
        .bind(merged.hint())
        .bind(merged.expires_at().map(to_secs))
        .bind(revision)
        .bind(merged.disable_x509_svid_prefetch())
        .bind(merged.jwt_svid_include_jti())
        .bind(stored.pk),
    )
    .await
    .map_err(map)?;
    for (changed, table) in [
        (mask.selectors, "entry_selectors"),
        (mask.dns_names, "entry_dns_names"),
        (mask.federates_with, "entry_federates_with"),
    ] {
        if changed {
            db.execute(
                &Sql::new(format!("DELETE FROM {table} WHERE entry_pk = $1")).bind(stored.pk),
            )
            .await
            .map_err(map)?;
        }
    }
    insert_children(db, stored.pk, &merged, mask).await?;
    let created_at = stored.entry.created_at();
    finish(merged, revision, created_at, now)
}

async fn delete_one(
    db: &mut Db<'_>,
    revisions: &mut BatchRevisions,
    id: EntryId,
) -> ItemResult<()> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    // Children go with the row (ON DELETE CASCADE).
    let deleted = db
        .execute(
            &Sql::new("DELETE FROM registration_entries WHERE entry_id = $1").bind(id.as_str()),
        )
        .await
        .map_err(map)?;
    if deleted == 0 {
        return Err(DataStoreError::not_found(Record::Entry));
    }
    revisions.take(ChangeKind::Entry, id.as_str(), ChangeOp::Deleted);
    Ok(())
}

/// The stored entry with the fields `mask` selects taken from `new`, checked again.
fn merge(
    stored: &RegistrationEntry,
    new: &RegistrationEntry,
    mask: EntryMask,
) -> ItemResult<RegistrationEntry> {
    let pick = |selected: bool| if selected { new } else { stored };
    let mut b = RegistrationEntry::builder(
        stored.id().clone(),
        pick(mask.spiffe_id).spiffe_id().clone(),
        pick(mask.parent_id).parent_id().clone(),
    )
    .selectors(pick(mask.selectors).selectors().iter().cloned())
    .x509_svid_ttl(pick(mask.x509_svid_ttl).x509_svid_ttl())
    .jwt_svid_ttl(pick(mask.jwt_svid_ttl).jwt_svid_ttl())
    .admin(pick(mask.admin).admin())
    .downstream(pick(mask.downstream).downstream())
    .expires_at(pick(mask.expires_at).expires_at())
    .dns_names(pick(mask.dns_names).dns_names().iter().cloned())
    .store_svid(pick(mask.store_svid).store_svid())
    .hint(pick(mask.hint).hint().unwrap_or_default())
    .disable_x509_svid_prefetch(pick(mask.additional_attributes).disable_x509_svid_prefetch())
    .jwt_svid_include_jti(pick(mask.additional_attributes).jwt_svid_include_jti())
    .revision_number(stored.revision_number())
    .created_at(stored.created_at());
    for td in pick(mask.federates_with).federates_with() {
        b = b.federates_with(td.clone());
    }
    b.build().map_err(DataStoreError::InvalidEntry)
}

/// Inserts the child rows of the sets `mask` selects.
async fn insert_children(
    db: &mut Db<'_>,
    pk: i64,
    entry: &RegistrationEntry,
    mask: EntryMask,
) -> ItemResult<()> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    if mask.selectors {
        let values = entry.selectors().iter().map(|s| s.as_str());
        db.execute(&multi_insert(
            "entry_selectors (entry_pk, selector)",
            pk,
            values,
            false,
        ))
        .await
        .map_err(map)?;
    }
    if mask.dns_names && !entry.dns_names().is_empty() {
        let values = entry.dns_names().iter().map(String::as_str);
        db.execute(&multi_insert(
            "entry_dns_names (entry_pk, position, name)",
            pk,
            values,
            true,
        ))
        .await
        .map_err(map)?;
    }
    if mask.federates_with && !entry.federates_with().is_empty() {
        let values = entry.federates_with().iter().map(TrustDomain::as_str);
        db.execute(&multi_insert(
            "entry_federates_with (entry_pk, trust_domain)",
            pk,
            values,
            false,
        ))
        .await
        .map_err(map)?;
    }
    Ok(())
}

/// `INSERT INTO <table> VALUES ($1, v1), ($1, v2), …` with the owner key as `$1` (and the
/// position of each value before it when `positions`).
fn multi_insert<'a>(
    table: &str,
    pk: i64,
    values: impl Iterator<Item = &'a str>,
    positions: bool,
) -> Sql<'a> {
    let mut sql = Sql::new(format!("INSERT INTO {table} VALUES "));
    sql.push("(").arg(pk);
    let mut first = true;
    for (i, value) in values.enumerate() {
        if !first {
            sql.push(", ($1");
        }
        first = false;
        if positions {
            sql.push(", ").arg(i as i64);
        }
        sql.push(", ").arg(value).push(")");
    }
    sql
}

/// The id of another entry with the same SPIFFE ID, parent ID and selector set.
async fn similar_entry(
    db: &mut Db<'_>,
    entry: &RegistrationEntry,
    digest: &[u8],
    except: Option<&EntryId>,
) -> ItemResult<Option<EntryId>> {
    let backend = db.backend();
    let map = move |e| errors::map(backend, Record::Entry, e);
    let row = db
        .fetch_optional(
            &Sql::new(
                "SELECT entry_id FROM registration_entries \
                 WHERE spiffe_id = $1 AND parent_id = $2 AND selector_set = $3 AND entry_id <> $4",
            )
            .bind(entry.spiffe_id().as_str())
            .bind(entry.parent_id().as_str())
            .bind(digest)
            .bind(except.map_or("", EntryId::as_str)),
        )
        .await
        .map_err(map)?;
    match row {
        None => Ok(None),
        Some(row) => EntryId::new(row.text(0).map_err(map)?)
            .map(Some)
            .map_err(|e| DataStoreError::corrupt_because("entry id", e)),
    }
}

/// `federates_with` may only name trust domains with a stored bundle (as SPIRE).
async fn check_bundles_exist(db: &mut Db<'_>, domains: &[TrustDomain]) -> ItemResult<()> {
    if domains.is_empty() {
        return Ok(());
    }
    let backend = db.backend();
    let mut sql = Sql::new("SELECT COUNT(*) FROM bundles WHERE trust_domain IN ");
    sql.arg_list(domains.iter().map(TrustDomain::as_str));
    let row = db
        .fetch_one(&sql)
        .await
        .map_err(|e| errors::map(backend, Record::Bundle, e))?;
    let found = row
        .int(0)
        .map_err(|e| errors::map(backend, Record::Bundle, e))?;
    if usize::try_from(found).ok() != Some(domains.len()) {
        return Err(DataStoreError::invalid(
            "federates_with",
            "a trust domain has no stored bundle",
        ));
    }
    Ok(())
}

/// The entry as stored: its revision and creation time set.
fn finish(
    entry: RegistrationEntry,
    revision: i64,
    created_at: Option<spiffe_core::pki_types::UnixTime>,
    now: i64,
) -> ItemResult<RegistrationEntry> {
    let created_at = match created_at {
        Some(at) => at,
        None => super::from_secs(now, "created_at")?,
    };
    entry
        .to_builder()
        .revision_number(super::revision(revision)?)
        .created_at(Some(created_at))
        .build()
        .map_err(DataStoreError::InvalidEntry)
}
