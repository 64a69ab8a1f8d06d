//! Bundles, stored as one JSON document per trust domain (authorities with their taint flags,
//! JWT key ids and expiries, refresh hint, sequence number).

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use spiffe_core::TrustDomain;

use super::changes::record;
use super::db::{Db, Sql};
use super::filter_sql::{limit, next_token};
use super::pool::Pools;
use super::{errors, from_secs, now_secs, to_secs};
use crate::datastore::{
    Backend, Bundle, BundleDeleteMode, BundleMask, ChangeKind, ChangeOp, ConflictReason,
    DataStoreError, JwtAuthority, Page, PageRequest, Record, X509Authority,
};

/// The stored form; `v` is its format version.
#[derive(Serialize, Deserialize)]
struct StoredBundle {
    v: u32,
    x509: Vec<StoredX509>,
    jwt: Vec<StoredJwt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_hint: Option<u64>,
    sequence_number: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredX509 {
    der: String,
    tainted: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredJwt {
    kid: String,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    tainted: bool,
}

const FORMAT: u32 = 1;

pub(super) fn encode(bundle: &Bundle) -> Vec<u8> {
    let stored = StoredBundle {
        v: FORMAT,
        x509: bundle
            .x509_authorities
            .iter()
            .map(|a| StoredX509 {
                der: STANDARD.encode(&a.der),
                tainted: a.tainted,
            })
            .collect(),
        jwt: bundle
            .jwt_authorities
            .iter()
            .map(|k| StoredJwt {
                kid: k.key_id.clone(),
                public_key: STANDARD.encode(&k.public_key),
                expires_at: k.expires_at.map(to_secs),
                tainted: k.tainted,
            })
            .collect(),
        refresh_hint: bundle.refresh_hint.map(|d| d.as_secs()),
        sequence_number: bundle.sequence_number,
    };
    // Strings, numbers and booleans always serialize.
    serde_json::to_vec(&stored).expect("a bundle document serializes")
}

pub(super) fn decode(trust_domain: &str, data: &[u8]) -> Result<Bundle, DataStoreError> {
    let bad = |e: &'static str| DataStoreError::corrupt(e);
    let stored: StoredBundle =
        serde_json::from_slice(data).map_err(|e| DataStoreError::corrupt_because("bundle", e))?;
    if stored.v != FORMAT {
        return Err(bad("bundle format"));
    }
    let trust_domain = TrustDomain::new(trust_domain)
        .map_err(|e| DataStoreError::corrupt_because("trust domain", e))?;
    let mut bundle = Bundle::new(trust_domain);
    for a in stored.x509 {
        let mut authority = X509Authority::new(STANDARD.decode(a.der).map_err(|_| bad("bundle"))?);
        authority.tainted = a.tainted;
        bundle.x509_authorities.push(authority);
    }
    for k in stored.jwt {
        let expires_at = k.expires_at.map(|s| from_secs(s, "bundle")).transpose()?;
        let public_key = STANDARD.decode(k.public_key).map_err(|_| bad("bundle"))?;
        let mut key = JwtAuthority::new(k.kid, public_key, expires_at);
        key.tainted = k.tainted;
        bundle.jwt_authorities.push(key);
    }
    bundle.refresh_hint = stored.refresh_hint.map(Duration::from_secs);
    bundle.sequence_number = stored.sequence_number;
    Ok(bundle)
}

fn mapper(backend: Backend) -> impl Fn(sqlx::Error) -> DataStoreError + Copy {
    move |e| errors::map(backend, Record::Bundle, e)
}

/// The stored bundle of `trust_domain`, read through `db`.
pub(super) async fn read(
    db: &mut Db<'_>,
    trust_domain: &str,
) -> Result<Option<Bundle>, DataStoreError> {
    let map = mapper(db.backend());
    let row = db
        .fetch_optional(
            &Sql::new("SELECT data FROM bundles WHERE trust_domain = $1").bind(trust_domain),
        )
        .await
        .map_err(map)?;
    row.map(|r| decode(trust_domain, r.bytes(0).map_err(map)?))
        .transpose()
}

/// Stores `bundle` (inserting or replacing) and logs the change, in the caller's transaction.
pub(super) async fn write(
    db: &mut Db<'_>,
    bundle: &Bundle,
    exists: bool,
) -> Result<(), DataStoreError> {
    let map = mapper(db.backend());
    let td = bundle.trust_domain.as_str();
    let now = now_secs();
    let op = if exists {
        ChangeOp::Updated
    } else {
        ChangeOp::Created
    };
    let rev = record(db, ChangeKind::Bundle, td, op, now)
        .await
        .map_err(map)?;
    let data = encode(bundle);
    let sql = if exists {
        Sql::new("UPDATE bundles SET data = $1, revision_number = $2 WHERE trust_domain = $3")
            .bind(data)
            .bind(rev)
            .bind(td)
    } else {
        Sql::new(
            "INSERT INTO bundles (data, revision_number, trust_domain, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(data)
        .bind(rev)
        .bind(td)
        .bind(now)
    };
    db.execute(&sql).await.map_err(map)?;
    Ok(())
}

pub(super) async fn get(
    pools: &Pools,
    trust_domain: &TrustDomain,
) -> Result<Option<Bundle>, DataStoreError> {
    let mut conn = pools.read().await?;
    read(&mut conn.db(), trust_domain.as_str()).await
}

pub(super) async fn list(
    pools: &Pools,
    page: &PageRequest,
) -> Result<Page<Bundle>, DataStoreError> {
    let map = mapper(pools.backend());
    let cursor = text_cursor(page)?;
    let mut conn = pools.read().await?;
    let rows = conn
        .db()
        .fetch_all(
            &Sql::new(
                "SELECT trust_domain, data FROM bundles WHERE trust_domain > $1 \
                 ORDER BY trust_domain LIMIT $2",
            )
            .bind(cursor.as_str())
            .bind(limit(page)),
        )
        .await
        .map_err(map)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(decode(
            row.text(0).map_err(map)?,
            row.bytes(1).map_err(map)?,
        )?);
    }
    let last = items.last().map(|b| b.trust_domain.as_str().to_owned());
    let next = next_token(page, items.len(), last);
    Ok(Page { items, next })
}

pub(super) async fn count(pools: &Pools) -> Result<u64, DataStoreError> {
    let map = mapper(pools.backend());
    let mut conn = pools.read().await?;
    let row = conn
        .db()
        .fetch_one(&Sql::new("SELECT COUNT(*) FROM bundles"))
        .await
        .map_err(map)?;
    u64::try_from(row.int(0).map_err(map)?).map_err(|_| DataStoreError::corrupt("count"))
}

pub(super) async fn create(pools: &Pools, bundle: Bundle) -> Result<Bundle, DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    if read(&mut tx.db(), bundle.trust_domain.as_str())
        .await?
        .is_some()
    {
        return Err(DataStoreError::already_exists(Record::Bundle));
    }
    write(&mut tx.db(), &bundle, false).await?;
    tx.commit().await.map_err(map)?;
    Ok(bundle)
}

pub(super) async fn update(
    pools: &Pools,
    bundle: Bundle,
    mask: BundleMask,
) -> Result<Bundle, DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    let Some(mut stored) = read(&mut tx.db(), bundle.trust_domain.as_str()).await? else {
        return Err(DataStoreError::not_found(Record::Bundle));
    };
    stored.apply(&bundle, mask);
    write(&mut tx.db(), &stored, true).await?;
    tx.commit().await.map_err(map)?;
    Ok(stored)
}

pub(super) async fn append(pools: &Pools, bundle: Bundle) -> Result<Bundle, DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    let result = match read(&mut tx.db(), bundle.trust_domain.as_str()).await? {
        None => {
            write(&mut tx.db(), &bundle, false).await?;
            bundle
        }
        Some(mut stored) => {
            if stored.merge(&bundle) {
                stored.sequence_number = stored.sequence_number.saturating_add(1);
                write(&mut tx.db(), &stored, true).await?;
            }
            stored
        }
    };
    tx.commit().await.map_err(map)?;
    Ok(result)
}

pub(super) async fn set(pools: &Pools, bundle: Bundle) -> Result<Bundle, DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    let exists = read(&mut tx.db(), bundle.trust_domain.as_str())
        .await?
        .is_some();
    write(&mut tx.db(), &bundle, exists).await?;
    tx.commit().await.map_err(map)?;
    Ok(bundle)
}

pub(super) async fn delete(
    pools: &Pools,
    trust_domain: &TrustDomain,
    mode: BundleDeleteMode,
) -> Result<(), DataStoreError> {
    let map = mapper(pools.backend());
    let td = trust_domain.as_str();
    let now = now_secs();
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    if read(&mut db, td).await?.is_none() {
        return Err(DataStoreError::not_found(Record::Bundle));
    }
    let rows = db
        .fetch_all(
            &Sql::new(
                "SELECT e.pk, e.entry_id FROM registration_entries e \
                 JOIN entry_federates_with f ON f.entry_pk = e.pk \
                 WHERE f.trust_domain = $1 ORDER BY e.pk",
            )
            .bind(td),
        )
        .await
        .map_err(map)?;
    let federated: Vec<(i64, String)> = rows
        .iter()
        .map(|r| Ok((r.int(0)?, r.text(1)?.to_owned())))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(map)?;
    if !federated.is_empty() {
        match mode {
            BundleDeleteMode::Restrict => {
                return Err(DataStoreError::Conflict(ConflictReason::BundleInUse {
                    entries: federated.len() as u64,
                }))
            }
            BundleDeleteMode::Delete => {
                for (pk, entry_id) in &federated {
                    db.execute(
                        &Sql::new("DELETE FROM registration_entries WHERE pk = $1").bind(*pk),
                    )
                    .await
                    .map_err(map)?;
                    record(&mut db, ChangeKind::Entry, entry_id, ChangeOp::Deleted, now)
                        .await
                        .map_err(map)?;
                }
            }
            BundleDeleteMode::Dissociate => {
                db.execute(
                    &Sql::new("DELETE FROM entry_federates_with WHERE trust_domain = $1").bind(td),
                )
                .await
                .map_err(map)?;
                for (pk, entry_id) in &federated {
                    record(&mut db, ChangeKind::Entry, entry_id, ChangeOp::Updated, now)
                        .await
                        .map_err(map)?;
                    db.execute(
                        &Sql::new(
                            "UPDATE registration_entries SET revision_number = revision_number + 1 \
                             WHERE pk = $1",
                        )
                        .bind(*pk),
                    )
                    .await
                    .map_err(map)?;
                }
            }
        }
    }
    db.execute(&Sql::new("DELETE FROM bundles WHERE trust_domain = $1").bind(td))
        .await
        .map_err(map)?;
    record(&mut db, ChangeKind::Bundle, td, ChangeOp::Deleted, now)
        .await
        .map_err(map)?;
    tx.commit().await.map_err(map)
}

/// The position of a page token of a listing ordered by trust domain ("": start).
pub(super) fn text_cursor(page: &PageRequest) -> Result<String, DataStoreError> {
    match &page.token {
        None => Ok(String::new()),
        Some(token) => TrustDomain::new(token.as_str())
            .map(|td| td.as_str().to_owned())
            .map_err(|_| DataStoreError::invalid("page_token", "not a token of this listing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spiffe_core::pki_types::UnixTime;

    #[test]
    fn document_round_trip() {
        let mut bundle = Bundle::new(TrustDomain::new("example.org").expect("td"));
        let mut ca = X509Authority::new(vec![0x30, 0x03, 1, 2, 3]);
        ca.tainted = true;
        bundle.x509_authorities.push(ca);
        bundle.jwt_authorities.push(JwtAuthority::new(
            "kid-1",
            vec![4, 5],
            Some(UnixTime::since_unix_epoch(Duration::from_secs(
                1_700_000_000,
            ))),
        ));
        bundle.refresh_hint = Some(Duration::from_secs(300));
        bundle.sequence_number = 42;
        let data = encode(&bundle);
        assert_eq!(decode("example.org", &data).expect("decodes"), bundle);
        assert!(decode("example.org", b"{").is_err());
    }
}
