//! Federation relationships. A relationship's bundle lives in the bundle store (created or
//! replaced with the relationship when given), so deleting the relationship keeps it, as in
//! SPIRE.

use spiffe_core::{SpiffeId, TrustDomain};

use super::bundles::{self, text_cursor};
use super::db::{Db, Row, Sql};
use super::filter_sql::{limit, next_token};
use super::pool::Pools;
use super::{errors, now_secs};
use crate::datastore::{
    Backend, BundleEndpointProfile, DataStoreError, FederationMask, FederationRelationship, Page,
    PageRequest, Record,
};

const HTTPS_WEB: &str = "https_web";
const HTTPS_SPIFFE: &str = "https_spiffe";

fn mapper(backend: Backend) -> impl Fn(sqlx::Error) -> DataStoreError + Copy {
    move |e| errors::map(backend, Record::FederationRelationship, e)
}

fn profile_columns(profile: &BundleEndpointProfile) -> (&'static str, Option<&str>) {
    match profile {
        BundleEndpointProfile::HttpsWeb => (HTTPS_WEB, None),
        BundleEndpointProfile::HttpsSpiffe { endpoint_spiffe_id } => {
            (HTTPS_SPIFFE, Some(endpoint_spiffe_id.as_str()))
        }
    }
}

/// A relationship row (`trust_domain, bundle_endpoint_url, profile, endpoint_spiffe_id`).
fn decode(row: &Row) -> Result<FederationRelationship, DataStoreError> {
    let corrupt = |e| DataStoreError::corrupt_because("federation relationship", e);
    let trust_domain = TrustDomain::new(row.text(0).map_err(corrupt)?)
        .map_err(|e| DataStoreError::corrupt_because("trust domain", e))?;
    let profile = match (
        row.text(2).map_err(corrupt)?,
        row.opt_text(3).map_err(corrupt)?,
    ) {
        (HTTPS_WEB, None) => BundleEndpointProfile::HttpsWeb,
        (HTTPS_SPIFFE, Some(id)) => BundleEndpointProfile::HttpsSpiffe {
            endpoint_spiffe_id: SpiffeId::new(id)
                .map_err(|e| DataStoreError::corrupt_because("endpoint SPIFFE ID", e))?,
        },
        _ => return Err(DataStoreError::corrupt("bundle endpoint profile")),
    };
    Ok(FederationRelationship::new(
        trust_domain,
        row.text(1).map_err(corrupt)?,
        profile,
    ))
}

const COLUMNS: &str = "trust_domain, bundle_endpoint_url, profile, endpoint_spiffe_id";

async fn read(db: &mut Db<'_>, td: &str) -> Result<Option<FederationRelationship>, DataStoreError> {
    let map = mapper(db.backend());
    let row = db
        .fetch_optional(
            &Sql::new(format!(
                "SELECT {COLUMNS} FROM federation_relationships WHERE trust_domain = $1"
            ))
            .bind(td),
        )
        .await
        .map_err(map)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut relationship = decode(&row)?;
    relationship.trust_domain_bundle = bundles::read(db, td).await?;
    Ok(Some(relationship))
}

/// Stores the relationship's bundle, if it carries one for its own trust domain.
async fn store_bundle(
    db: &mut Db<'_>,
    relationship: &FederationRelationship,
) -> Result<(), DataStoreError> {
    let Some(bundle) = &relationship.trust_domain_bundle else {
        return Ok(());
    };
    if bundle.trust_domain != relationship.trust_domain {
        return Err(DataStoreError::invalid(
            "trust_domain_bundle",
            "the bundle is of another trust domain",
        ));
    }
    let exists = bundles::read(db, bundle.trust_domain.as_str())
        .await?
        .is_some();
    bundles::write(db, bundle, exists).await
}

pub(super) async fn create(
    pools: &Pools,
    relationship: FederationRelationship,
) -> Result<FederationRelationship, DataStoreError> {
    let map = mapper(pools.backend());
    let (profile, endpoint_id) = profile_columns(&relationship.profile);
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    db.execute(
        &Sql::new(
            "INSERT INTO federation_relationships (trust_domain, bundle_endpoint_url, profile, \
             endpoint_spiffe_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(relationship.trust_domain.as_str())
        .bind(relationship.bundle_endpoint_url.as_str())
        .bind(profile)
        .bind(endpoint_id)
        .bind(now_secs()),
    )
    .await
    .map_err(map)?;
    store_bundle(&mut db, &relationship).await?;
    let stored = read(&mut db, relationship.trust_domain.as_str())
        .await?
        .ok_or(DataStoreError::not_found(Record::FederationRelationship))?;
    tx.commit().await.map_err(map)?;
    Ok(stored)
}

pub(super) async fn get(
    pools: &Pools,
    trust_domain: &TrustDomain,
) -> Result<Option<FederationRelationship>, DataStoreError> {
    let mut tx = pools.read_tx().await?;
    let found = read(&mut tx.db(), trust_domain.as_str()).await;
    found
}

pub(super) async fn list(
    pools: &Pools,
    page: &PageRequest,
) -> Result<Page<FederationRelationship>, DataStoreError> {
    let map = mapper(pools.backend());
    let cursor = text_cursor(page)?;
    let mut tx = pools.read_tx().await?;
    let mut db = tx.db();
    let rows = db
        .fetch_all(
            &Sql::new(format!(
                "SELECT {COLUMNS} FROM federation_relationships WHERE trust_domain > $1 \
                 ORDER BY trust_domain LIMIT $2"
            ))
            .bind(cursor.as_str())
            .bind(limit(page)),
        )
        .await
        .map_err(map)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut relationship = decode(row)?;
        relationship.trust_domain_bundle =
            bundles::read(&mut db, relationship.trust_domain.as_str()).await?;
        items.push(relationship);
    }
    let last = items.last().map(|r| r.trust_domain.as_str().to_owned());
    let next = next_token(page, items.len(), last);
    Ok(Page { items, next })
}

pub(super) async fn update(
    pools: &Pools,
    relationship: FederationRelationship,
    mask: FederationMask,
) -> Result<FederationRelationship, DataStoreError> {
    let map = mapper(pools.backend());
    let td = relationship.trust_domain.as_str();
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let Some(mut stored) = read(&mut db, td).await? else {
        return Err(DataStoreError::not_found(Record::FederationRelationship));
    };
    if mask.bundle_endpoint_url {
        stored.bundle_endpoint_url = relationship.bundle_endpoint_url.clone();
    }
    if mask.bundle_endpoint_profile {
        stored.profile = relationship.profile.clone();
    }
    let (profile, endpoint_id) = profile_columns(&stored.profile);
    db.execute(
        &Sql::new(
            "UPDATE federation_relationships SET bundle_endpoint_url = $1, profile = $2, \
             endpoint_spiffe_id = $3 WHERE trust_domain = $4",
        )
        .bind(stored.bundle_endpoint_url.as_str())
        .bind(profile)
        .bind(endpoint_id)
        .bind(td),
    )
    .await
    .map_err(map)?;
    if mask.trust_domain_bundle {
        store_bundle(&mut db, &relationship).await?;
    }
    let stored = read(&mut db, td)
        .await?
        .ok_or(DataStoreError::not_found(Record::FederationRelationship))?;
    tx.commit().await.map_err(map)?;
    Ok(stored)
}

pub(super) async fn delete(
    pools: &Pools,
    trust_domain: &TrustDomain,
) -> Result<(), DataStoreError> {
    let map = mapper(pools.backend());
    let mut conn = pools.write_conn().await?;
    let deleted = conn
        .db()
        .execute(
            &Sql::new("DELETE FROM federation_relationships WHERE trust_domain = $1")
                .bind(trust_domain.as_str()),
        )
        .await
        .map_err(map)?;
    if deleted == 0 {
        return Err(DataStoreError::not_found(Record::FederationRelationship));
    }
    Ok(())
}
