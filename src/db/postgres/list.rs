//! v1 listings on PostgreSQL: a `ListPlan` as one statement that reads at
//! most a piece (`PIECE`) from where the plan starts, in its order, the
//! rows handed on borrowed. The same rows in the same order as SQLite's
//! (`sqlite::list`): text by its bytes (the schema's `COLLATE "C"`), ties
//! broken by id, and a column without a value (a queued image's size or
//! formats) before every value ascending and after them descending.

use tokio_postgres::Row;

use super::rows::{listed_row, COLUMNS, LISTED, PROPERTIES, VISIBLE};
use super::tx::{get, Built, PgTx};
use crate::db::columns::sort_column_index;
use crate::db::error::DbError;
use crate::db::plan::{Filter, ListPlan, ListPosition, Piece, SortValue};
use crate::db::tx::Visit;
use crate::domain::ids::ImageId;
use crate::domain::listing::{ListQuery, SortKey};

/// The most images one read of a listing returns: one short statement,
/// and a bounded number of rows held at a time.
const PIECE: u32 = 128;

/// Whether `key`'s column holds numbers (else text).
fn numeric(key: SortKey) -> bool {
    matches!(key, SortKey::Size | SortKey::CreatedAt | SortKey::UpdatedAt)
}

/// Column `i` (the sort column of `key`) as a listing carries it.
fn sort_value(row: &Row, i: usize, key: SortKey) -> Result<SortValue, DbError> {
    Ok(if numeric(key) {
        get::<Option<i64>>(row, i)?.map_or(SortValue::Null, SortValue::Integer)
    } else {
        get::<Option<String>>(row, i)?.map_or(SortValue::Null, SortValue::Text)
    })
}

impl PgTx<'_> {
    /// The images `plan` reads, handed to `visit`: at most `PIECE`.
    pub(super) async fn list(
        &self,
        plan: &ListPlan<'_>,
        visit: &mut Visit<'_>,
    ) -> Result<Piece, DbError> {
        let piece = plan.limit.map_or(PIECE, |l| l.min(PIECE));
        let st = statement(plan, piece);
        let rows = self.rows(&st.sql, &st.params()).await?;
        let at = sort_column_index(plan.sort_key);
        let mut last = None;
        for row in &rows {
            visit(listed_row(row, plan.detail)?);
            last = Some(row);
        }
        let last = match last {
            Some(row) => Some(ListPosition {
                value: sort_value(row, at, plan.sort_key)?,
                id: get(row, 1)?,
                driving: None,
            }),
            None => None,
        };
        Ok(Piece {
            count: rows.len(),
            more: rows.len() == piece as usize && plan.limit != Some(piece),
            last,
        })
    }

    /// The sort value and id of a listing's marker, if the caller can see it
    /// (and it is live unless `changes-since` is given).
    pub(super) async fn marker(
        &self,
        caller: &str,
        marker: &ImageId,
        q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError> {
        let col = q.sort_key.column();
        let sql = format!(
            "SELECT i.{col}, i.id, i.deleted_at IS NULL FROM images i WHERE i.id = $2 AND {VISIBLE}"
        );
        let Some(row) = self.row(&sql, &[&caller, &marker.to_string()]).await? else {
            return Ok(None);
        };
        let live: bool = get(&row, 2)?;
        if !live && q.changes_since.is_none() {
            return Ok(None);
        }
        Ok(Some(ListPosition {
            value: sort_value(&row, 0, q.sort_key)?,
            id: get(&row, 1)?,
            driving: None,
        }))
    }
}

/// The statement that reads a piece of `plan` of at most `piece` images.
fn statement(plan: &ListPlan<'_>, piece: u32) -> Built {
    let mut sql = format!("SELECT {COLUMNS}, i.visibility");
    if plan.detail {
        sql.push_str(", ");
        sql.push_str(PROPERTIES);
    }
    sql.push_str(" FROM images i WHERE ");
    sql.push_str(LISTED);
    let mut st = Built::new(&sql, plan.caller);
    filters(&mut st, plan);
    keyset_and_order(&mut st, plan);
    st.bind(" LIMIT ?", i64::from(piece));
    st
}

/// The plan's filters as conditions.
fn filters(st: &mut Built, plan: &ListPlan<'_>) {
    for filter in &plan.filters {
        match *filter {
            Filter::Live => st.sql.push_str(" AND i.deleted_at IS NULL"),
            Filter::UpdatedAfter(t) => st.bind(" AND i.updated_at > ?", t),
            Filter::Equals(column, v) => {
                st.bind_text(&format!(" AND i.{column} = ?"), v);
            }
            Filter::SizeAtLeast(n) => st.bind(" AND i.size >= ?", n),
            Filter::SizeAtMost(n) => st.bind(" AND i.size <= ?", n),
            Filter::SharedWithCaller => st.sql.push_str(
                " AND i.owner <> $1 AND EXISTS (SELECT 1 FROM image_members m \
                 WHERE m.image_seq = i.seq AND m.member = $1 AND m.status <> 'rejected')",
            ),
            Filter::Public(p) => st.sql.push_str(if p {
                " AND i.visibility = 'public'"
            } else {
                " AND i.visibility <> 'public'"
            }),
            Filter::Property(k, _) | Filter::Property(_, k) if k.contains('\0') => {
                st.sql.push_str(" AND false");
            }
            Filter::Property(k, v) => {
                st.bind(
                    " AND EXISTS (SELECT 1 FROM image_properties pf \
                     WHERE pf.image_seq = i.seq AND pf.key = ?",
                    k.to_string(),
                );
                st.bind(" AND pf.value = ?)", v.to_string());
            }
        }
    }
}

/// Where the piece starts and its order: after `(value, id)` of the plan's
/// position, values without a value first ascending and last descending.
fn keyset_and_order(st: &mut Built, plan: &ListPlan<'_>) {
    let col = format!("i.{}", plan.sort_key.column());
    let (cmp, dir, nulls) = if plan.descending {
        ("<", "DESC", "NULLS LAST")
    } else {
        (">", "ASC", "NULLS FIRST")
    };
    if plan.sort_key == SortKey::Id {
        if let Some(from) = plan.from {
            st.bind(&format!(" AND i.id {cmp} ?"), from.id.clone());
        }
        st.sql.push_str(&format!(" ORDER BY i.id {dir}"));
        return;
    }
    if let Some(from) = plan.from {
        after(st, &col, cmp, from, plan.descending);
    }
    if plan.sort_key.nullable() {
        st.sql
            .push_str(&format!(" ORDER BY {col} {dir} {nulls}, i.id {dir}"));
    } else {
        st.sql
            .push_str(&format!(" ORDER BY {col} {dir}, i.id {dir}"));
    }
}

/// The rows after `from` in the order (`cmp` is its direction's `>`/`<`).
fn after(st: &mut Built, col: &str, cmp: &str, from: &ListPosition, descending: bool) {
    let id = from.id.clone();
    match (&from.value, descending) {
        // Before every value ascending: the rows without one after it by
        // id, then every row with one.
        (SortValue::Null, false) => {
            st.bind(
                &format!(" AND (({col} IS NULL AND i.id > ?) OR {col} IS NOT NULL)"),
                id,
            );
        }
        // After every value descending: only rows without one, by id.
        (SortValue::Null, true) => {
            st.bind(&format!(" AND {col} IS NULL AND i.id < ?"), id);
        }
        (value, _) => {
            let tail = if descending {
                format!(" OR {col} IS NULL)")
            } else {
                ")".to_string()
            };
            match value {
                SortValue::Integer(n) => st.bind(&format!(" AND (({col}, i.id) {cmp} (?"), *n),
                SortValue::Text(t) => {
                    st.bind(&format!(" AND (({col}, i.id) {cmp} (?"), t.clone());
                }
                SortValue::Null => {}
            }
            st.bind(&format!(", ?){tail}"), id);
        }
    }
}
