//! SPIRE's list filters as SQL conditions, and page tokens.
//!
//! A set filter compares a record's selectors (or federated trust domains), kept one per row in
//! a child table, with a given set `G` (deduplicated, `n` elements):
//!
//! | behavior | condition on the record's set `R` | SQL |
//! |---|---|---|
//! | ANY | `R ∩ G ≠ ∅` | record in (child rows with value in `G`) |
//! | SUPERSET | `G ⊆ R` | record in (child rows with value in `G`, grouped, `COUNT = n`) |
//! | SUBSET | `∅ ≠ R ⊆ G` | ANY, and no child row with a value outside `G` |
//! | EXACT | `R = G` | SUPERSET, and no child row outside `G`; for entry selectors, the stored digest of the set |

use aws_lc_rs::digest;
use spiffe_attest::Selector;

use super::db::Sql;
use crate::datastore::{
    DataStoreError, EntryFilter, MatchBehavior, NodeFilter, PageRequest, PageToken,
};

/// The digest of a selector set as stored in `registration_entries.selector_set`: SHA-256 of
/// the sorted, deduplicated selectors, each followed by `\n` (a selector cannot contain a
/// control character, so the encoding is unambiguous).
pub(super) fn selector_set_digest<'s>(
    selectors: impl IntoIterator<Item = &'s Selector>,
) -> Vec<u8> {
    let mut texts: Vec<&str> = selectors.into_iter().map(Selector::as_str).collect();
    texts.sort_unstable();
    texts.dedup();
    let mut ctx = digest::Context::new(&digest::SHA256);
    for text in texts {
        ctx.update(text.as_bytes());
        ctx.update(b"\n");
    }
    ctx.finish().as_ref().to_vec()
}

/// A child table holding one value of a record's set per row.
pub(super) struct SetTable {
    /// The table.
    pub(super) table: &'static str,
    /// Its column referencing the record.
    pub(super) owner_column: &'static str,
    /// Its value column.
    pub(super) value_column: &'static str,
}

pub(super) const ENTRY_SELECTORS: SetTable = SetTable {
    table: "entry_selectors",
    owner_column: "entry_pk",
    value_column: "selector",
};
pub(super) const ENTRY_FEDERATES_WITH: SetTable = SetTable {
    table: "entry_federates_with",
    owner_column: "entry_pk",
    value_column: "trust_domain",
};
pub(super) const NODE_SELECTORS: SetTable = SetTable {
    table: "node_selectors",
    owner_column: "node_pk",
    value_column: "selector",
};

/// Appends ` AND <condition>` for a set match of the record `owner` (e.g. `e.pk`).
fn push_set_match<'a>(
    sql: &mut Sql<'a>,
    owner: &str,
    set: &SetTable,
    values: Vec<&'a str>,
    behavior: MatchBehavior,
    field: &'static str,
) -> Result<(), DataStoreError> {
    let mut values = values;
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return Err(DataStoreError::invalid(field, "the set to match is empty"));
    }
    let SetTable {
        table,
        owner_column: fk,
        value_column: col,
    } = set;
    let containing = |sql: &mut Sql<'a>, all: bool| {
        sql.push(&format!(
            " AND {owner} IN (SELECT {fk} FROM {table} WHERE {col} IN "
        ));
        sql.arg_list(values.iter().copied());
        if all {
            sql.push(&format!(
                " GROUP BY {fk} HAVING COUNT(*) = {}",
                values.len()
            ));
        }
        sql.push(")");
    };
    let nothing_outside = |sql: &mut Sql<'a>| {
        sql.push(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{fk} = {owner} AND x.{col} NOT IN "
        ));
        sql.arg_list(values.iter().copied());
        sql.push(")");
    };
    match behavior {
        MatchBehavior::Any => containing(sql, false),
        MatchBehavior::Superset => containing(sql, true),
        MatchBehavior::Subset => {
            containing(sql, false);
            nothing_outside(sql);
        }
        MatchBehavior::Exact => {
            containing(sql, true);
            nothing_outside(sql);
        }
    }
    Ok(())
}

/// Appends the conditions of an entry filter on `registration_entries e`, starting with
/// `1 = 1` so that each condition is an ` AND …`.
pub(super) fn push_entry_filter<'a>(
    sql: &mut Sql<'a>,
    filter: &'a EntryFilter,
) -> Result<(), DataStoreError> {
    sql.push("1 = 1");
    if let Some(id) = &filter.by_spiffe_id {
        sql.push(" AND e.spiffe_id = ").arg(id.as_str());
    }
    if let Some(id) = &filter.by_parent_id {
        sql.push(" AND e.parent_id = ").arg(id.as_str());
    }
    match filter.by_hint.as_deref() {
        None => {}
        Some("") => {
            sql.push(" AND e.hint IS NULL");
        }
        Some(hint) => {
            sql.push(" AND e.hint = ").arg(hint);
        }
    }
    if let Some(downstream) = filter.by_downstream {
        sql.push(" AND e.downstream = ").arg(downstream);
    }
    if let Some(m) = &filter.by_selectors {
        if m.behavior == MatchBehavior::Exact && !m.selectors.is_empty() {
            // The digest identifies the set exactly, through an index.
            sql.push(" AND e.selector_set = ")
                .arg(selector_set_digest(&m.selectors));
        } else {
            let values = m.selectors.iter().map(Selector::as_str).collect();
            push_set_match(
                sql,
                "e.pk",
                &ENTRY_SELECTORS,
                values,
                m.behavior,
                "by_selectors",
            )?;
        }
    }
    if let Some(m) = &filter.by_federates_with {
        let values = m.trust_domains.iter().map(|td| td.as_str()).collect();
        push_set_match(
            sql,
            "e.pk",
            &ENTRY_FEDERATES_WITH,
            values,
            m.behavior,
            "by_federates_with",
        )?;
    }
    Ok(())
}

/// Appends the conditions of a node filter on `attested_nodes n`.
pub(super) fn push_node_filter<'a>(
    sql: &mut Sql<'a>,
    filter: &'a NodeFilter,
) -> Result<(), DataStoreError> {
    sql.push("1 = 1");
    if let Some(kind) = &filter.by_attestation_type {
        sql.push(" AND n.attestation_type = ").arg(kind.as_str());
    }
    if let Some(banned) = filter.by_banned {
        sql.push(" AND n.banned = ").arg(banned);
    }
    if let Some(can) = filter.by_can_reattest {
        sql.push(" AND n.can_reattest = ").arg(can);
    }
    if let Some(before) = filter.by_expires_before {
        sql.push(" AND n.cert_not_after < ")
            .arg(super::to_secs(before));
    }
    if let Some(m) = &filter.by_selector_match {
        let values = m.selectors.iter().map(Selector::as_str).collect();
        push_set_match(
            sql,
            "n.pk",
            &NODE_SELECTORS,
            values,
            m.behavior,
            "by_selector_match",
        )?;
    }
    Ok(())
}

/// The position a page token of a listing ordered by an integer key stands for (0: start).
pub(super) fn int_cursor(page: &PageRequest) -> Result<i64, DataStoreError> {
    match &page.token {
        None => Ok(0),
        Some(token) => token
            .as_str()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or(DataStoreError::invalid(
                "page_token",
                "not a token of this listing",
            )),
    }
}

/// The token for the page after one that ended at `last`, when the page was full.
pub(super) fn next_token<K: ToString>(
    page: &PageRequest,
    returned: usize,
    last: Option<K>,
) -> Option<PageToken> {
    let size = page.size?;
    if returned < size.get() as usize {
        return None;
    }
    last.map(|k| PageToken::new(k.to_string()))
}

/// The `LIMIT` of a page (SQL's `LIMIT -1` / `ALL` are not portable, so "all" is the largest
/// integer).
pub(super) fn limit(page: &PageRequest) -> i64 {
    page.size.map_or(i64::MAX, |s| i64::from(s.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ignores_order_and_duplicates() {
        let a = Selector::parse("unix:uid:0").expect("selector");
        let b = Selector::parse("unix:gid:0").expect("selector");
        assert_eq!(
            selector_set_digest([&a, &b]),
            selector_set_digest([&b, &a, &b])
        );
        assert_ne!(selector_set_digest([&a]), selector_set_digest([&a, &b]));
    }

    #[test]
    fn page_tokens() {
        assert_eq!(int_cursor(&PageRequest::first(10)).ok(), Some(0));
        assert_eq!(
            int_cursor(&PageRequest::after(10, PageToken::new("42"))).ok(),
            Some(42)
        );
        for bad in ["", "-1", "x", "1.5"] {
            assert!(int_cursor(&PageRequest::after(10, PageToken::new(bad))).is_err());
        }
        assert_eq!(
            next_token(&PageRequest::first(2), 2, Some(7)),
            Some(PageToken::new("7"))
        );
        assert_eq!(next_token(&PageRequest::first(2), 1, Some(7)), None);
        assert_eq!(next_token(&PageRequest::all(), 5, Some(7)), None);
    }
}
