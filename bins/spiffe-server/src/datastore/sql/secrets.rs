//! Join tokens (kept as SHA-256 digests only) and CA journals (one opaque document per server
//! instance).

use aws_lc_rs::digest;
use spiffe_attest::node::join_token::JoinToken;
use spiffe_core::pki_types::UnixTime;

use super::db::Sql;
use super::pool::Pools;
use super::{errors, from_secs, now_secs, to_secs};
use crate::datastore::{DataStoreError, JoinTokenUse, Record};

/// The stored form of a token: its SHA-256 digest.
fn token_digest(token: &JoinToken) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.expose().as_bytes())
        .as_ref()
        .to_vec()
}

pub(super) async fn create_join_token(
    pools: &Pools,
    token: &JoinToken,
    expires_at: UnixTime,
) -> Result<(), DataStoreError> {
    let mut conn = pools.write_conn().await?;
    conn.db()
        .execute(
            &Sql::new("INSERT INTO join_tokens (token_hash, expires_at) VALUES ($1, $2)")
                .bind(token_digest(token))
                .bind(to_secs(expires_at)),
        )
        .await
        .map_err(|e| errors::map(pools.backend(), Record::JoinToken, e))?;
    Ok(())
}

pub(super) async fn consume_join_token(
    pools: &Pools,
    token: &JoinToken,
    now: UnixTime,
) -> Result<JoinTokenUse, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::JoinToken, e);
    let mut conn = pools.write_conn().await?;
    // One statement deletes and reports: of two concurrent uses, only one gets the row.
    let row = conn
        .db()
        .fetch_optional(
            &Sql::new("DELETE FROM join_tokens WHERE token_hash = $1 RETURNING expires_at")
                .bind(token_digest(token)),
        )
        .await
        .map_err(map)?;
    let Some(row) = row else {
        return Ok(JoinTokenUse::Unknown);
    };
    let expires_at = from_secs(row.int(0).map_err(map)?, "join token expiry")?;
    // Valid through its expiry second, as the join_token attestor judges it.
    Ok(if now > expires_at {
        JoinTokenUse::Expired { expires_at }
    } else {
        JoinTokenUse::Valid { expires_at }
    })
}

pub(super) async fn prune_join_tokens(
    pools: &Pools,
    before: UnixTime,
) -> Result<u64, DataStoreError> {
    let mut conn = pools.write_conn().await?;
    conn.db()
        .execute(&Sql::new("DELETE FROM join_tokens WHERE expires_at < $1").bind(to_secs(before)))
        .await
        .map_err(|e| errors::map(pools.backend(), Record::JoinToken, e))
}

pub(super) async fn load_ca_journal(
    pools: &Pools,
    key: &str,
) -> Result<Option<Vec<u8>>, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::CaJournal, e);
    let mut conn = pools.read().await?;
    let row = conn
        .db()
        .fetch_optional(&Sql::new("SELECT data FROM ca_journals WHERE instance = $1").bind(key))
        .await
        .map_err(map)?;
    row.map(|r| r.bytes(0).map(<[u8]>::to_vec).map_err(map))
        .transpose()
}

pub(super) async fn save_ca_journal(
    pools: &Pools,
    key: &str,
    journal: &[u8],
) -> Result<(), DataStoreError> {
    let mut conn = pools.write_conn().await?;
    // One statement: the journal is replaced atomically.
    conn.db()
        .execute(
            &Sql::new(
                "INSERT INTO ca_journals (instance, data, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (instance) DO UPDATE SET data = excluded.data, \
                 updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(journal)
            .bind(now_secs()),
        )
        .await
        .map_err(|e| errors::map(pools.backend(), Record::CaJournal, e))?;
    Ok(())
}
