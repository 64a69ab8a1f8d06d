//! The global revision and the change log (see the `datastore` module documentation for why
//! allocating revisions from one counter row inside the writing transaction keeps commit order
//! equal to revision order).

use spiffe_core::pki_types::UnixTime;

use super::db::{Db, Sql};
use super::pool::Pools;
use super::{errors, revision, to_secs};
use crate::datastore::{Change, ChangeFeed, ChangeKind, ChangeOp, DataStoreError, Record};

/// Takes the next revision and logs `op` on the record `id` of `kind` under it, in the caller's
/// transaction; returns the revision.
pub(super) async fn record(
    db: &mut Db<'_>,
    kind: ChangeKind,
    id: &str,
    op: ChangeOp,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let row = db
        .fetch_one(&Sql::new(
            "UPDATE revision_counter SET value = value + 1 WHERE id = 1 RETURNING value",
        ))
        .await?;
    let revision = row.int(0)?;
    db.execute(
        &Sql::new(
            "INSERT INTO changes (revision, kind, record_id, op, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(revision)
        .bind(kind.code())
        .bind(id)
        .bind(op.code())
        .bind(now),
    )
    .await?;
    Ok(revision)
}

pub(super) async fn current_revision(pools: &Pools) -> Result<u64, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::Entry, e);
    let mut conn = pools.read().await?;
    let row = conn
        .db()
        .fetch_one(&Sql::new("SELECT value FROM revision_counter WHERE id = 1"))
        .await
        .map_err(map)?;
    revision(row.int(0).map_err(map)?)
}

pub(super) async fn since(
    pools: &Pools,
    after: u64,
    limit: u32,
) -> Result<ChangeFeed, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::Entry, e);
    let after_i64 =
        i64::try_from(after).map_err(|_| DataStoreError::invalid("revision", "out of range"))?;
    let mut conn = pools.read().await?;
    // One statement, so the changes and the pruning mark come from one snapshot (a prune can
    // never slip in between) in one round trip: the mark on every row, and on a single row of
    // NULL changes when there are none.
    let rows = conn
        .db()
        .fetch_all(
            &Sql::new(
                "SELECT r.pruned_through, c.revision, c.kind, c.record_id, c.op \
                 FROM revision_counter r LEFT JOIN (\
                 SELECT revision, kind, record_id, op FROM changes \
                 WHERE revision > $1 ORDER BY revision LIMIT $2) c ON 1 = 1 \
                 WHERE r.id = 1 ORDER BY c.revision",
            )
            .bind(after_i64)
            .bind(i64::from(limit)),
        )
        .await
        .map_err(map)?;
    let mark = rows
        .first()
        .ok_or(DataStoreError::corrupt("revision counter"))?;
    let pruned_through = revision(mark.int(0).map_err(map)?)?;
    if after < pruned_through {
        return Ok(ChangeFeed::Pruned { pruned_through });
    }
    if mark.opt_int(1).map_err(map)?.is_none() {
        return Ok(ChangeFeed::Changes(Vec::new()));
    }
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = ChangeKind::from_code(row.int(2).map_err(map)?)
            .ok_or(DataStoreError::corrupt("change kind"))?;
        let op = ChangeOp::from_code(row.int(4).map_err(map)?)
            .ok_or(DataStoreError::corrupt("change op"))?;
        changes.push(Change {
            revision: revision(row.int(1).map_err(map)?)?,
            kind,
            id: row.text(3).map_err(map)?.to_owned(),
            op,
        });
    }
    Ok(ChangeFeed::Changes(changes))
}

pub(super) async fn prune(pools: &Pools, before: UnixTime) -> Result<u64, DataStoreError> {
    let map = |e| errors::map(pools.backend(), Record::Entry, e);
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let row = db
        .fetch_one(
            &Sql::new("SELECT MAX(revision) FROM changes WHERE created_at < $1")
                .bind(to_secs(before)),
        )
        .await
        .map_err(map)?;
    let Some(through) = row.opt_int(0).map_err(map)? else {
        return Ok(0);
    };
    // Everything up to `through` goes, so what remains is a suffix of the log.
    let deleted = db
        .execute(&Sql::new("DELETE FROM changes WHERE revision <= $1").bind(through))
        .await
        .map_err(map)?;
    db.execute(
        &Sql::new(
            "UPDATE revision_counter SET pruned_through = $1 \
             WHERE id = 1 AND pruned_through < $1",
        )
        .bind(through),
    )
    .await
    .map_err(map)?;
    tx.commit().await.map_err(map)?;
    Ok(deleted)
}

pub(super) async fn ping(pools: &Pools) -> Result<(), DataStoreError> {
    let mut conn = pools.read().await?;
    conn.db()
        .fetch_one(&Sql::new("SELECT 1"))
        .await
        .map_err(|e| errors::map(pools.backend(), Record::Entry, e))?;
    Ok(())
}

/// The revisions of a batch. Its first statement locks the counter row (an `UPDATE` that
/// changes nothing still takes the row lock until commit), items then take the following
/// numbers locally, a failed item gives its numbers back, and [`BatchRevisions::finish`] stores
/// the new counter value and the batch's changes before the commit. Same order and no-gap
/// guarantees as [`record`], with two statements per batch instead of two per item.
pub(super) struct BatchRevisions {
    base: i64,
    pending: Vec<(i64, ChangeKind, String, ChangeOp)>,
}

impl BatchRevisions {
    pub(super) async fn begin(db: &mut Db<'_>) -> Result<Self, sqlx::Error> {
        let row = db
            .fetch_one(&Sql::new(
                "UPDATE revision_counter SET value = value WHERE id = 1 RETURNING value",
            ))
            .await?;
        Ok(Self {
            base: row.int(0)?,
            pending: Vec::new(),
        })
    }

    /// The next revision, for `op` on the record `id` of `kind`.
    pub(super) fn take(&mut self, kind: ChangeKind, id: &str, op: ChangeOp) -> i64 {
        let revision = self.base + self.pending.len() as i64 + 1;
        self.pending.push((revision, kind, id.to_owned(), op));
        revision
    }

    /// A point to return to if the item now starting fails.
    pub(super) fn mark(&self) -> usize {
        self.pending.len()
    }

    /// Gives back the revisions taken since `mark`.
    pub(super) fn rollback(&mut self, mark: usize) {
        self.pending.truncate(mark);
    }

    pub(super) async fn finish(self, db: &mut Db<'_>, now: i64) -> Result<(), sqlx::Error> {
        let Some((last, ..)) = self.pending.last() else {
            return Ok(());
        };
        db.execute(&Sql::new("UPDATE revision_counter SET value = $1 WHERE id = 1").bind(*last))
            .await?;
        for chunk in self.pending.chunks(200) {
            let mut sql =
                Sql::new("INSERT INTO changes (revision, kind, record_id, op, created_at) VALUES ");
            for (i, (revision, kind, id, op)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.arg(*revision)
                    .push(", ")
                    .arg(kind.code())
                    .push(", ")
                    .arg(id.as_str());
                sql.push(", ").arg(op.code()).push(", ").arg(now).push(")");
            }
            db.execute(&sql).await?;
        }
        Ok(())
    }
}
