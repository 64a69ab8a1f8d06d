//! Join tokens (kept as SHA-256 digests only) and CA journals (one opaque document per server
//! instance).

use aws_lc_rs::digest;
use spiffe_attest::node::join_token::JoinToken;
use spiffe_core::pki_types::UnixTime;

use super::db::Sql;
use super::pool::Pools;
use super::{detached, errors, from_secs, now_secs, to_secs};
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
    let digest = token_digest(token);
    let pools = pools.clone();
    let expires_at = detached(pools.backend(), async move {
        delete_token(&pools, digest).await
    })
    .await?;
    let Some(expires_at) = expires_at else {
        return Ok(JoinTokenUse::Unknown);
    };
    // Valid through its expiry second, as the join_token attestor judges it.
    Ok(if now > expires_at {
        JoinTokenUse::Expired { expires_at }
    } else {
        JoinTokenUse::Valid { expires_at }
    })
}

/// Deletes the token whose digest is `$1`, returning its expiry if it existed.
const DELETE_TOKEN: &str = "DELETE FROM join_tokens WHERE token_hash = $1 RETURNING expires_at";

/// Deletes the token with `digest`, returning its expiry if it existed.
///
/// One statement deletes and reports: of two concurrent uses, only one gets the row. Its
/// commit is not synced to disk on its own: it becomes durable with the next synced commit
/// (in SQLite's WAL and in PostgreSQL's WAL alike, a sync covers every earlier commit). An
/// attestation's next write is the agent's node record, synced before the agent gets its SVID,
/// so the deletion is durable before the token has bought anything; a crash in between can
/// only bring back a token whose attestation never completed. This saves one of the two disk
/// syncs of a join-token attestation (issue 12's attestation latency).
async fn delete_token(pools: &Pools, digest: Vec<u8>) -> Result<Option<UnixTime>, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::JoinToken, e);
    let row = match pools {
        Pools::Sqlite { .. } => {
            // `synchronous` is a property of the connection: relaxed for this one commit, in
            // the same call to the connection's thread as the deletion (one hand-off, not
            // three). If a statement fails, the restoring PRAGMA may not run: the connection
            // is then closed, and a fresh one opens FULL.
            let relaxed = Sql::new(format!(
                "PRAGMA synchronous = NORMAL; {DELETE_TOKEN}; PRAGMA synchronous = FULL"
            ))
            .bind(digest);
            let mut conn = pools.write_conn().await?;
            conn.fetch_all_or_close(&relaxed).await.map_err(map)?.pop()
        }
        Pools::Postgres(_) => {
            let mut tx = pools.write().await?;
            tx.db()
                .execute(&Sql::new("SET LOCAL synchronous_commit TO OFF"))
                .await
                .map_err(map)?;
            let delete = Sql::new(DELETE_TOKEN).bind(digest);
            let row = tx.db().fetch_optional(&delete).await.map_err(map)?;
            tx.commit().await.map_err(map)?;
            row
        }
    };
    row.map(|row| from_secs(row.int(0).map_err(map)?, "join token expiry"))
        .transpose()
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::datastore::SqlSettings;

    async fn writer_synchronous(pools: &Pools) -> i64 {
        let mut conn = pools.write_conn().await.expect("writer");
        let row = conn
            .db()
            .fetch_one(&Sql::new("PRAGMA synchronous"))
            .await
            .expect("pragma");
        row.int(0).expect("int")
    }

    /// The relaxed sync of a token's deletion never outlives it: afterwards, and after a
    /// caller that gave up mid-way, the writer syncs every commit again (2 = FULL).
    #[tokio::test]
    async fn consuming_a_token_leaves_the_sqlite_writer_fully_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ds.sqlite3");
        let pools = Pools::open(&SqlSettings::sqlite(path.to_str().expect("utf-8")))
            .await
            .expect("open");
        super::super::migrate::run(&pools, false)
            .await
            .expect("migrate");
        assert_eq!(writer_synchronous(&pools).await, 2);
        let expires = UnixTime::since_unix_epoch(Duration::from_secs(2_000_000_000));
        let now = UnixTime::since_unix_epoch(Duration::from_secs(1_000_000_000));
        let token = JoinToken::new("t-1").expect("token");
        create_join_token(&pools, &token, expires)
            .await
            .expect("create");
        assert_eq!(
            consume_join_token(&pools, &token, now).await.expect("use"),
            JoinTokenUse::Valid {
                expires_at: expires
            }
        );
        assert_eq!(
            consume_join_token(&pools, &token, now)
                .await
                .expect("replay"),
            JoinTokenUse::Unknown
        );
        assert_eq!(writer_synchronous(&pools).await, 2);

        // A caller dropped after its first poll: the deletion still completes and restores.
        let token = JoinToken::new("t-2").expect("token");
        create_join_token(&pools, &token, expires)
            .await
            .expect("create");
        {
            let mut consume = std::pin::pin!(consume_join_token(&pools, &token, now));
            let first = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(std::future::Future::poll(consume.as_mut(), cx))
            })
            .await;
            assert!(first.is_pending(), "the deletion runs on a task of its own");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(writer_synchronous(&pools).await, 2);
        assert_eq!(
            consume_join_token(&pools, &token, now)
                .await
                .expect("after"),
            JoinTokenUse::Unknown,
            "the abandoned use still consumed the token"
        );
    }
}
