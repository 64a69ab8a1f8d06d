//! Attested nodes and their selectors.

use spiffe_attest::Selector;
use spiffe_core::SpiffeId;

use super::changes::record;
use super::db::{Db, Row, Sql};
use super::filter_sql::{int_cursor, limit, next_token, push_node_filter};
use super::pool::Pools;
use super::{detached, errors, from_secs, now_secs, revision, to_secs};
use crate::datastore::{
    AttestedNode, Backend, ChangeKind, ChangeOp, DataStoreError, NodeFilter, NodeMask, Page,
    PageRequest, Record,
};

const NODE_COLUMNS: &str = "pk, spiffe_id, attestation_type, cert_serial_number, cert_not_after, \
     new_cert_serial_number, new_cert_not_after, banned, can_reattest, revision_number, created_at";

/// The columns a new node's row is written with, in the order both backends bind them.
const INSERT_COLUMNS: &str = "spiffe_id, attestation_type, cert_serial_number, cert_not_after, \
     new_cert_serial_number, new_cert_not_after, banned, can_reattest, revision_number, \
     created_at";

fn mapper(backend: crate::datastore::Backend) -> impl Fn(sqlx::Error) -> DataStoreError + Copy {
    move |e| errors::map(backend, Record::Node, e)
}

pub(super) async fn create(
    pools: &Pools,
    mut node: AttestedNode,
) -> Result<AttestedNode, DataStoreError> {
    node.normalize();
    let now = now_secs();
    let rev = match pools {
        Pools::Sqlite { .. } => {
            let pools = pools.clone();
            let (created, rev) = detached(Backend::Sqlite, async move {
                let rev = create_sqlite(&pools, &node, now).await?;
                Ok((node, rev))
            })
            .await?;
            node = created;
            rev
        }
        Pools::Postgres(_) => create_in_tx(pools, &node, now).await?,
    };
    node.revision_number = revision(rev)?;
    node.created_at = Some(from_secs(now, "created_at")?);
    Ok(node)
}

/// SQLite: the node, its selectors and its change record in one call to the connection's
/// thread, the transaction included (`BEGIN IMMEDIATE` … `COMMIT` as statements of the call),
/// where a transaction of the driver's costs a hand-off per statement: an attestation's
/// latency is mostly such hand-offs (issue 12). The revision is taken and used inside the
/// statements. A failing statement stops the call before its `COMMIT`: the connection, left
/// inside the transaction, is then closed (which rolls back) rather than returned. Run
/// detached ([`detached`]) so a dropped caller cannot stop it half-way either.
async fn create_sqlite(
    pools: &Pools,
    node: &AttestedNode,
    now: i64,
) -> Result<i64, DataStoreError> {
    let mut sql = Sql::new(format!(
        "BEGIN IMMEDIATE; \
         UPDATE revision_counter SET value = value + 1 WHERE id = 1; \
         INSERT INTO changes (revision, kind, record_id, op, created_at) \
         SELECT value, $1, $2, $3, $4 FROM revision_counter WHERE id = 1; \
         INSERT INTO attested_nodes ({INSERT_COLUMNS}) \
         SELECT $2, $5, $6, $7, $8, $9, $10, $11, value, $4 FROM revision_counter WHERE id = 1 \
         RETURNING revision_number; "
    ))
    .bind(ChangeKind::Node.code())
    .bind(node.spiffe_id.as_str())
    .bind(ChangeOp::Created.code())
    .bind(now)
    .bind(node.attestation_type.as_str())
    .bind(node.cert_serial_number.as_deref())
    .bind(node.cert_not_after.map(to_secs))
    .bind(node.new_cert_serial_number.as_deref())
    .bind(node.new_cert_not_after.map(to_secs))
    .bind(node.banned)
    .bind(node.can_reattest);
    for (i, selector) in node.selectors.iter().enumerate() {
        sql.push(if i == 0 {
            "INSERT INTO node_selectors (node_pk, selector) VALUES "
        } else {
            ", "
        });
        sql.push("((SELECT pk FROM attested_nodes WHERE spiffe_id = $2), ")
            .arg(selector.as_str())
            .push(")");
    }
    if !node.selectors.is_empty() {
        sql.push("; ");
    }
    sql.push("COMMIT");
    let map = mapper(Backend::Sqlite);
    let rows = pools
        .write_conn()
        .await?
        .fetch_all_or_close(&sql)
        .await
        .map_err(map)?;
    let row = rows
        .first()
        .ok_or_else(|| DataStoreError::corrupt("revision"))?;
    row.int(0).map_err(map)
}

/// PostgreSQL: a transaction of the driver's (each statement is a round trip to the server
/// anyway).
async fn create_in_tx(pools: &Pools, node: &AttestedNode, now: i64) -> Result<i64, DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let rev = record(
        &mut db,
        ChangeKind::Node,
        node.spiffe_id.as_str(),
        ChangeOp::Created,
        now,
    )
    .await
    .map_err(map)?;
    let row = db
        .fetch_one(
            &Sql::new(format!(
                "INSERT INTO attested_nodes ({INSERT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING pk"
            ))
            .bind(node.spiffe_id.as_str())
            .bind(node.attestation_type.as_str())
            .bind(node.cert_serial_number.as_deref())
            .bind(node.cert_not_after.map(to_secs))
            .bind(node.new_cert_serial_number.as_deref())
            .bind(node.new_cert_not_after.map(to_secs))
            .bind(node.banned)
            .bind(node.can_reattest)
            .bind(rev)
            .bind(now),
        )
        .await
        .map_err(map)?;
    let pk = row.int(0).map_err(map)?;
    insert_selectors(&mut db, pk, &node.selectors).await?;
    tx.commit().await.map_err(map)?;
    Ok(rev)
}

/// One statement, so one snapshot and one round trip without a transaction around it: the
/// node's columns on each of its selector rows (once, with a NULL selector, if it has none).
/// An attestation reads the node twice (its checks, then the entry cache's refresh), so this
/// is on the path issue 12 measures.
pub(super) async fn get(
    pools: &Pools,
    id: &SpiffeId,
) -> Result<Option<AttestedNode>, DataStoreError> {
    let map = mapper(pools.backend());
    let columns = NODE_COLUMNS
        .split(", ")
        .map(|c| format!("n.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = Sql::new(format!(
        "SELECT {columns}, s.selector FROM attested_nodes n \
         LEFT JOIN node_selectors s ON s.node_pk = n.pk WHERE n.spiffe_id = $1"
    ))
    .bind(id.as_str());
    let mut conn = pools.read().await?;
    let rows = conn.db().fetch_all(&sql).await.map_err(map)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (_, mut node) = decode(first)?;
    let selector_column = NODE_COLUMNS.split(", ").count();
    for row in &rows {
        if let Some(text) = row.opt_text(selector_column).map_err(corrupt)? {
            node.selectors.push(
                Selector::parse(text)
                    .map_err(|e| DataStoreError::corrupt_because("selector", e))?,
            );
        }
    }
    node.normalize();
    Ok(Some(node))
}

pub(super) async fn list(
    pools: &Pools,
    filter: &NodeFilter,
    page: &PageRequest,
) -> Result<Page<AttestedNode>, DataStoreError> {
    let cursor = int_cursor(page)?;
    let mut sub = Sql::new("SELECT n.pk FROM attested_nodes n WHERE ");
    push_node_filter(&mut sub, filter)?;
    sub.push(" AND n.pk > ").arg(cursor);
    sub.push(" ORDER BY n.pk LIMIT ").arg(limit(page));
    let mut tx = pools.read_tx().await?;
    let nodes = read_matching(&mut tx.db(), &sub).await?;
    let next = next_token(page, nodes.len(), nodes.last().map(|(pk, _)| *pk));
    Ok(Page {
        items: nodes.into_iter().map(|(_, n)| n).collect(),
        next,
    })
}

pub(super) async fn count(pools: &Pools, filter: &NodeFilter) -> Result<u64, DataStoreError> {
    let map = mapper(pools.backend());
    let mut sql = Sql::new("SELECT COUNT(*) FROM attested_nodes n WHERE ");
    push_node_filter(&mut sql, filter)?;
    let mut conn = pools.read().await?;
    let row = conn.db().fetch_one(&sql).await.map_err(map)?;
    u64::try_from(row.int(0).map_err(map)?).map_err(|_| DataStoreError::corrupt("count"))
}

pub(super) async fn update(
    pools: &Pools,
    node: AttestedNode,
    mask: NodeMask,
) -> Result<AttestedNode, DataStoreError> {
    let map = mapper(pools.backend());
    let now = now_secs();
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let Some((pk, mut stored)) = read_one(&mut db, &node.spiffe_id).await? else {
        return Err(DataStoreError::not_found(Record::Node));
    };
    if mask.attestation_type {
        stored.attestation_type = node.attestation_type;
    }
    if mask.selectors {
        stored.selectors = node.selectors;
        stored.normalize();
    }
    if mask.cert_serial_number {
        stored.cert_serial_number = node.cert_serial_number;
    }
    if mask.cert_not_after {
        stored.cert_not_after = node.cert_not_after;
    }
    if mask.new_cert_serial_number {
        stored.new_cert_serial_number = node.new_cert_serial_number;
    }
    if mask.new_cert_not_after {
        stored.new_cert_not_after = node.new_cert_not_after;
    }
    if mask.can_reattest {
        stored.can_reattest = node.can_reattest;
    }
    let rev = record(
        &mut db,
        ChangeKind::Node,
        stored.spiffe_id.as_str(),
        ChangeOp::Updated,
        now,
    )
    .await
    .map_err(map)?;
    db.execute(
        &Sql::new(
            "UPDATE attested_nodes SET attestation_type = $1, cert_serial_number = $2, \
             cert_not_after = $3, new_cert_serial_number = $4, new_cert_not_after = $5, \
             can_reattest = $6, revision_number = $7 WHERE pk = $8",
        )
        .bind(stored.attestation_type.as_str())
        .bind(stored.cert_serial_number.as_deref())
        .bind(stored.cert_not_after.map(to_secs))
        .bind(stored.new_cert_serial_number.as_deref())
        .bind(stored.new_cert_not_after.map(to_secs))
        .bind(stored.can_reattest)
        .bind(rev)
        .bind(pk),
    )
    .await
    .map_err(map)?;
    if mask.selectors {
        db.execute(&Sql::new("DELETE FROM node_selectors WHERE node_pk = $1").bind(pk))
            .await
            .map_err(map)?;
        insert_selectors(&mut db, pk, &stored.selectors).await?;
    }
    tx.commit().await.map_err(map)?;
    stored.revision_number = revision(rev)?;
    Ok(stored)
}

pub(super) async fn ban(pools: &Pools, id: &SpiffeId) -> Result<AttestedNode, DataStoreError> {
    let map = mapper(pools.backend());
    let now = now_secs();
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let rev = record(
        &mut db,
        ChangeKind::Node,
        id.as_str(),
        ChangeOp::Updated,
        now,
    )
    .await
    .map_err(map)?;
    let changed = db
        .execute(
            &Sql::new(
                "UPDATE attested_nodes SET banned = $1, cert_serial_number = NULL, \
                 new_cert_serial_number = NULL, revision_number = $2 WHERE spiffe_id = $3",
            )
            .bind(true)
            .bind(rev)
            .bind(id.as_str()),
        )
        .await
        .map_err(map)?;
    if changed == 0 {
        // Dropping the transaction rolls the revision back.
        return Err(DataStoreError::not_found(Record::Node));
    }
    let (_, node) = read_one(&mut db, id)
        .await?
        .ok_or(DataStoreError::not_found(Record::Node))?;
    tx.commit().await.map_err(map)?;
    Ok(node)
}

pub(super) async fn delete(pools: &Pools, id: &SpiffeId) -> Result<(), DataStoreError> {
    let map = mapper(pools.backend());
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    let deleted = db
        .execute(&Sql::new("DELETE FROM attested_nodes WHERE spiffe_id = $1").bind(id.as_str()))
        .await
        .map_err(map)?;
    if deleted == 0 {
        return Err(DataStoreError::not_found(Record::Node));
    }
    record(
        &mut db,
        ChangeKind::Node,
        id.as_str(),
        ChangeOp::Deleted,
        now_secs(),
    )
    .await
    .map_err(map)?;
    tx.commit().await.map_err(map)
}

async fn insert_selectors(
    db: &mut Db<'_>,
    pk: i64,
    selectors: &[Selector],
) -> Result<(), DataStoreError> {
    if selectors.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("INSERT INTO node_selectors (node_pk, selector) VALUES ");
    for (i, selector) in selectors.iter().enumerate() {
        if i == 0 {
            sql.push("(").arg(pk);
        } else {
            sql.push(", ($1");
        }
        sql.push(", ").arg(selector.as_str()).push(")");
    }
    db.execute(&sql).await.map_err(mapper(db.backend()))?;
    Ok(())
}

async fn read_one(
    db: &mut Db<'_>,
    id: &SpiffeId,
) -> Result<Option<(i64, AttestedNode)>, DataStoreError> {
    let sub =
        Sql::new("SELECT n.pk FROM attested_nodes n WHERE n.spiffe_id = $1").bind(id.as_str());
    Ok(read_matching(db, &sub).await?.pop())
}

/// The nodes whose keys the subquery `sub` returns, in key order.
async fn read_matching(
    db: &mut Db<'_>,
    sub: &Sql<'_>,
) -> Result<Vec<(i64, AttestedNode)>, DataStoreError> {
    let map = mapper(db.backend());
    let main = Sql::wrap(
        &format!("SELECT {NODE_COLUMNS} FROM attested_nodes WHERE pk IN ("),
        sub,
        ") ORDER BY pk",
    );
    let rows = db.fetch_all(&main).await.map_err(map)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let selectors = Sql::wrap(
        "SELECT node_pk, selector FROM node_selectors WHERE node_pk IN (",
        sub,
        ") ORDER BY node_pk",
    );
    let selector_rows = db.fetch_all(&selectors).await.map_err(map)?;
    let mut nodes = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    // Both lists are in key order: attach each selector to its node.
    let mut at = 0;
    for row in &selector_rows {
        let owner = row.int(0).map_err(corrupt)?;
        while at < nodes.len() && nodes[at].0 < owner {
            at += 1;
        }
        let Some((pk, node)) = nodes.get_mut(at) else {
            break;
        };
        if *pk == owner {
            let text = row.text(1).map_err(corrupt)?;
            node.selectors.push(
                Selector::parse(text)
                    .map_err(|e| DataStoreError::corrupt_because("selector", e))?,
            );
        }
    }
    for (_, node) in &mut nodes {
        node.normalize();
    }
    Ok(nodes)
}

fn corrupt(e: sqlx::Error) -> DataStoreError {
    DataStoreError::corrupt_because("attested node", e)
}

fn decode(row: &Row) -> Result<(i64, AttestedNode), DataStoreError> {
    let time = |i, what| -> Result<_, DataStoreError> {
        row.opt_int(i)
            .map_err(corrupt)?
            .map(|s| from_secs(s, what))
            .transpose()
    };
    let spiffe_id = SpiffeId::new(row.text(1).map_err(corrupt)?)
        .map_err(|e| DataStoreError::corrupt_because("SPIFFE ID", e))?;
    let mut node = AttestedNode::new(spiffe_id, row.text(2).map_err(corrupt)?);
    node.cert_serial_number = row.opt_text(3).map_err(corrupt)?.map(str::to_owned);
    node.cert_not_after = time(4, "cert_not_after")?;
    node.new_cert_serial_number = row.opt_text(5).map_err(corrupt)?.map(str::to_owned);
    node.new_cert_not_after = time(6, "new_cert_not_after")?;
    node.banned = row.boolean(7).map_err(corrupt)?;
    node.can_reattest = row.boolean(8).map_err(corrupt)?;
    node.revision_number = revision(row.int(9).map_err(corrupt)?)?;
    node.created_at = Some(from_secs(row.int(10).map_err(corrupt)?, "created_at")?);
    Ok((row.int(0).map_err(corrupt)?, node))
}
