//! Listings on SQLite: a `ListPlan` as one statement, with the tuning
//! SQLite's planner needs (which index a property filter is read through,
//! whether a rare filter's matches are sorted whole, the LIMIT in the
//! text), and the rows handed on as they are read, without copies.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::catalogue::{listed_row, COLUMNS, LISTED, PROPERTIES, VISIBLE};
use super::SqliteTx;
use crate::db::columns::sort_column_index;
use crate::db::error::DbError;
use crate::db::plan::{Filter, ListPlan, ListPosition, Piece, SortValue};
use crate::db::tx::Visit;
use crate::domain::ids::ImageId;
use crate::domain::listing::{ListQuery, SortKey};

/// The most images one read of a listing returns: one short read
/// transaction (about 0.4 ms with properties) on the thread that serves
/// the request, and about 70 KB of JSON held at a time per reader.
const PIECE: u32 = 128;

/// A rare property filter's matches are read from the property index and
/// sorted whole, in one read, when fewer than this (a listing that wants
/// more than a piece counts up to this many); sorting them again for every
/// piece would cost more than scanning the catalogue once.
const SORTED: u32 = 2048;

/// For a page of at most a piece, a property filter matched by fewer
/// images than this is read from its index and sorted; one matched by
/// more, by reading the images in the listing's order (see `statement`).
/// About where the two cost the same for a page of 25 of 10,000 images
/// (BENCHMARKS.md, "Property filters").
const RARE: u32 = 256;

/// A listing's statement: its SQL and arguments, and the rare property
/// filter, if any, it is read through.
struct ListStatement {
    sql: String,
    args: Vec<Value>,
    driving: Option<usize>,
}

/// Where a statement of a piece starts reading, in a form SQLite seeks the
/// sort column's `(column, id)` index to. SQLite puts the images without a
/// value in the sort column (a queued image's size or formats) first
/// ascending and last descending, as PostgreSQL's listing does, but a row
/// value compared with a NULL is never true: the images on the far side of
/// that boundary are read by a second statement.
#[derive(Debug, Clone, Copy)]
enum Start<'a> {
    /// The listing's first image.
    First,
    /// After an image with a value (or any image, sorted by id).
    After(&'a ListPosition),
    /// After the image of this id among those without a value.
    NullsAfter(&'a str),
    /// The first image with a value (ascending, after the ones without).
    Valued,
    /// The first image without a value (descending, after the others).
    Nulls,
}

/// Where the statements of a piece start, in turn: the second, if any,
/// is read when the first runs out before the piece is full.
fn starts<'a>(plan: &ListPlan<'a>) -> [Option<Start<'a>>; 2] {
    let Some(from) = plan.from else {
        return [Some(Start::First), None];
    };
    if !plan.sort_key.nullable() {
        return [Some(Start::After(from)), None];
    }
    let null = from.value == SortValue::Null;
    match (null, plan.descending) {
        (true, false) => [Some(Start::NullsAfter(&from.id)), Some(Start::Valued)],
        (true, true) => [Some(Start::NullsAfter(&from.id)), None],
        (false, false) => [Some(Start::After(from)), None],
        (false, true) => [Some(Start::After(from)), Some(Start::Nulls)],
    }
}

impl ListStatement {
    /// Binds `v` as the next argument and appends `clause` with its `?`
    /// numbered for it.
    fn arg(&mut self, clause: &str, v: Value) {
        self.args.push(v);
        let mark = format!("?{}", self.args.len());
        self.sql.push_str(&clause.replace('?', &mark));
    }
}

/// A sort column's value as a listing carries it between pieces.
fn sort_value(v: ValueRef<'_>) -> SortValue {
    match v {
        ValueRef::Integer(n) => SortValue::Integer(n),
        ValueRef::Text(t) => SortValue::Text(String::from_utf8_lossy(t).into_owned()),
        // Sort columns hold only numbers and text.
        _ => SortValue::Null,
    }
}

/// A position's sort value, bound as an argument.
fn bound(v: &SortValue) -> Value {
    match v {
        SortValue::Null => Value::Null,
        SortValue::Integer(n) => Value::Integer(*n),
        SortValue::Text(t) => Value::Text(t.clone()),
    }
}

/// Whether the plan is read from the index that holds each property in
/// creation order, (key, value, created_at, image_id): in creation order
/// (the default) with a property filter, a page reads its own images and
/// no others.
fn in_order(plan: &ListPlan<'_>) -> bool {
    plan.sort_key == SortKey::CreatedAt && plan.properties().next().is_some()
}

impl SqliteTx<'_> {
    /// The images `plan` reads, handed to `visit`: at most `PIECE`, or,
    /// when a rare property filter's matches are sorted whole, `SORTED`.
    /// A piece that crosses between the images without a value in the
    /// sort column and those with one is read in two statements (`starts`).
    pub(super) fn list(
        &self,
        plan: &ListPlan<'_>,
        visit: &mut Visit<'_>,
    ) -> Result<Piece, DbError> {
        let driving = self.driving(plan)?;
        let most = if driving.is_some() { SORTED } else { PIECE };
        let piece = plan.limit.map_or(most, |l| l.min(most));
        let mut last = ListPosition {
            value: SortValue::Null,
            id: String::new(),
            driving,
        };
        let mut count = 0;
        for start in starts(plan).into_iter().flatten() {
            if count == piece as usize {
                break;
            }
            let st = statement(plan, start, driving, piece);
            count += self.read(&st, plan, piece as usize - count, &mut last, visit)?;
        }
        Ok(Piece {
            count,
            more: count == piece as usize && plan.limit != Some(piece),
            last: (count > 0).then_some(last),
        })
    }

    /// Hands on at most `want` of the images `st` reads; how many. `last`
    /// is where the last of them stands.
    fn read(
        &self,
        st: &ListStatement,
        plan: &ListPlan<'_>,
        want: usize,
        last: &mut ListPosition,
        visit: &mut Visit<'_>,
    ) -> Result<usize, DbError> {
        let mut stmt = self.conn.prepare_cached(&st.sql)?;
        let mut rows = stmt.query(params_from_iter(st.args.iter()))?;
        let at = sort_column_index(plan.sort_key);
        let mut count = 0;
        while count < want {
            let Some(row) = rows.next()? else { break };
            let listed = listed_row(row, plan.detail)?;
            last.id.clear();
            last.id.push_str(listed.id);
            last.value = sort_value(row.get_ref(at)?);
            visit(listed);
            count += 1;
        }
        Ok(count)
    }

    /// The sort value and id of a listing's marker, if the caller can see it
    /// (and it is live unless `changes-since` is given).
    pub(super) fn marker(
        &self,
        caller: &str,
        marker: &ImageId,
        q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError> {
        let col = q.sort_key.column();
        let sql = format!(
            "SELECT i.{col}, i.id, i.deleted_at IS NULL FROM images i WHERE i.id = ?2 AND {VISIBLE}"
        );
        let found: Option<(SortValue, String, bool)> = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![caller, marker.to_string()], |r| {
                Ok((sort_value(r.get_ref(0)?), r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(match found {
            Some((value, id, live)) if live || q.changes_since.is_some() => Some(ListPosition {
                value,
                id,
                driving: None,
            }),
            _ => None,
        })
    }

    /// The rare property filter, if any, the listing is read through:
    /// decided on the first piece; the later ones keep it.
    fn driving(&self, plan: &ListPlan<'_>) -> Result<Option<usize>, DbError> {
        Ok(match plan.from {
            Some(at) if plan.continuing => at.driving,
            _ if in_order(plan) => None,
            _ => self.rare_property(plan)?,
        })
    }

    /// Which of the plan's property filters, if any, few enough images
    /// match for their sorting to cost less than a scan (the rarest of
    /// them): fewer than `RARE` for a page of at most a piece, else fewer
    /// than `SORTED`; counted through the index, no further than that.
    fn rare_property(&self, plan: &ListPlan<'_>) -> Result<Option<usize>, DbError> {
        let cap = i64::from(if plan.limit.is_some_and(|l| l <= PIECE) {
            RARE
        } else {
            SORTED
        });
        let mut rarest: Option<(usize, i64)> = None;
        for (n, k, v) in plan.properties() {
            // The cap in the text, as `list`'s LIMIT is, for the same reason.
            let count: i64 = self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM (SELECT 1 FROM image_properties \
                     WHERE key = ?1 AND value = ?2 LIMIT {cap})"
                ))?
                .query_row(params![k, v], |r| r.get(0))?;
            if count < cap && rarest.is_none_or(|(_, c)| count < c) {
                rarest = Some((n, count));
            }
        }
        Ok(rarest.map(|(n, _)| n))
    }
}

/// The statement that reads a piece of a listing from `start` (see
/// `list`), at most `piece` images, read through the rare property filter
/// `driving`, if any.
fn statement(
    plan: &ListPlan<'_>,
    start: Start<'_>,
    driving: Option<usize>,
    piece: u32,
) -> ListStatement {
    let in_order = in_order(plan);
    let mut st = ListStatement {
        sql: select(plan.detail, in_order),
        args: vec![Value::Text(plan.caller.to_string())],
        driving,
    };
    filters(&mut st, plan, in_order);
    keyset_and_order(&mut st, plan, start, in_order);
    // In the text, not bound: SQLite's planner reads a bound LIMIT, so
    // that binding it (even to the same value) makes the statement
    // be parsed and planned again on every run, which profiles showed
    // as a fifth of a page's time.
    st.sql.push_str(&format!(" LIMIT {piece}"));
    st
}

/// The statement's columns and tables, up to its first condition, which is
/// visibility (the caller is `?1`).
fn select(detail: bool, in_order: bool) -> String {
    // The visibility's word after `COLUMNS` (whose 13th is v1's is_public).
    let mut sql = format!("SELECT {COLUMNS}, i.visibility");
    if detail {
        sql.push_str(", ");
        sql.push_str(PROPERTIES);
    }
    sql.push_str(if in_order {
        " FROM image_properties pd JOIN images i ON i.seq = pd.image_seq WHERE "
    } else {
        " FROM images i WHERE "
    });
    sql.push_str(LISTED);
    sql
}

/// The plan's filters as conditions; property filters each through the
/// index that reads them the cheaper way.
fn filters(st: &mut ListStatement, plan: &ListPlan<'_>, in_order: bool) {
    let mut property = 0;
    for filter in &plan.filters {
        match *filter {
            Filter::Live => st.sql.push_str(" AND i.deleted_at IS NULL"),
            Filter::UpdatedAfter(t) => st.arg(" AND i.updated_at > ?", Value::Integer(t)),
            Filter::Equals(column, v) => {
                st.arg(&format!(" AND i.{column} = ?"), Value::Text(v.into()));
            }
            Filter::SizeAtLeast(n) => st.arg(" AND i.size >= ?", Value::Integer(n)),
            Filter::SizeAtMost(n) => st.arg(" AND i.size <= ?", Value::Integer(n)),
            Filter::SharedWithCaller => st.sql.push_str(
                " AND i.owner <> ?1 AND EXISTS (SELECT 1 FROM image_members m \
                 WHERE m.image_seq = i.seq AND m.member = ?1 AND m.status <> 'rejected')",
            ),
            Filter::Public(p) => st.sql.push_str(if p {
                " AND i.visibility = 'public'"
            } else {
                " AND i.visibility <> 'public'"
            }),
            Filter::Property(k, v) => {
                property_filter(st, (property, k, v), in_order);
                property += 1;
            }
        }
    }
}

/// The `n`th property filter, `k` = `v`.
fn property_filter(st: &mut ListStatement, (n, k, v): (usize, &str, &str), in_order: bool) {
    if in_order && n == 0 {
        st.arg(" AND pd.key = ?", Value::Text(k.into()));
        st.arg(" AND pd.value = ?", Value::Text(v.into()));
        return;
    }
    let clause = if Some(n) == st.driving {
        // Few images have it: they are read from the (key, value,
        // image_seq) index and sorted, fewer than a scan would pass.
        " AND i.seq IN (SELECT pf.image_seq FROM image_properties pf WHERE pf.key = ?"
    } else {
        // Many have it: the images are read in the listing's order and
        // each looked up, so a page stops after its last image instead of
        // sorting every match.
        " AND EXISTS (SELECT 1 FROM image_properties pf \
         WHERE pf.image_seq = i.seq AND pf.key = ?"
    };
    st.arg(clause, Value::Text(k.into()));
    st.arg(" AND pf.value = ?)", Value::Text(v.into()));
}

/// Where the statement starts and its order.
fn keyset_and_order(st: &mut ListStatement, plan: &ListPlan<'_>, start: Start<'_>, in_order: bool) {
    // What the listing is ordered by: the image's column, or its copy in
    // the property index the listing is read from.
    let (col, id) = if in_order {
        ("pd.created_at".to_string(), "pd.image_id")
    } else {
        (format!("i.{}", plan.sort_key.column()), "i.id")
    };
    let (cmp, dir) = if plan.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let by_id = plan.sort_key == SortKey::Id;
    match start {
        Start::First => {}
        Start::After(from) if by_id => {
            st.arg(&format!(" AND i.id {cmp} ?"), Value::Text(from.id.clone()));
        }
        Start::After(from) => {
            // A row value: SQLite seeks the (col, id) index to it.
            st.arg(&format!(" AND ({col}, {id}) {cmp} (?"), bound(&from.value));
            st.arg(", ?)", Value::Text(from.id.clone()));
        }
        Start::NullsAfter(from) => {
            st.arg(
                &format!(" AND {col} IS NULL AND {id} {cmp} ?"),
                Value::Text(from.into()),
            );
        }
        Start::Valued => st.sql.push_str(&format!(" AND {col} IS NOT NULL")),
        Start::Nulls => st.sql.push_str(&format!(" AND {col} IS NULL")),
    }
    if by_id {
        st.sql.push_str(&format!(" ORDER BY i.id {dir}"));
    } else {
        st.sql
            .push_str(&format!(" ORDER BY {col} {dir}, {id} {dir}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// What SQLite's planner makes of a listing's first statement.
    fn plan(
        conn: &Connection,
        caller: &str,
        q: &ListQuery,
        after: Option<&ListPosition>,
    ) -> String {
        let plan = ListPlan::new(caller, q, true, after, after.is_some());
        let driving = SqliteTx::new(conn).driving(&plan).unwrap();
        let start = starts(&plan)[0].unwrap();
        explain(
            conn,
            &statement(&plan, start, driving, plan.limit.unwrap_or(PIECE)),
        )
    }

    /// What SQLite's planner makes of `st`, step by step.
    fn explain(conn: &Connection, st: &ListStatement) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", st.sql))
            .unwrap();
        let steps: Vec<String> = stmt
            .query_map(params_from_iter(st.args.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        steps.join("\n")
    }

    #[test]
    fn pages_in_creation_order_are_read_in_index_order_without_sorting_their_matches() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations().to_latest(&mut conn).unwrap();
        let page = ListQuery {
            limit: Some(25),
            ..ListQuery::default()
        };
        let filtered = ListQuery {
            properties: vec![("os".into(), "debian".into())],
            ..page.clone()
        };
        let two_filters = ListQuery {
            properties: vec![
                ("os".into(), "debian".into()),
                ("arch".into(), "x86".into()),
            ],
            descending: true,
            ..page.clone()
        };
        let after = ListPosition {
            value: SortValue::Integer(1),
            id: "5583ffe1-5273-4c84-9e32-2fbe476bd7b7".into(),
            driving: None,
        };
        for (what, q, index) in [
            ("a page", &page, "images_created_at"),
            ("a filtered page", &filtered, "image_properties_in_order"),
            (
                "two filters, descending",
                &two_filters,
                "image_properties_in_order",
            ),
        ] {
            for from in [None, Some(&after)] {
                let plan = plan(&conn, "alice", q, from);
                assert!(plan.contains(index), "{what} ({from:?}): {plan}");
                assert!(
                    !plan.contains("TEMP B-TREE"),
                    "{what} ({from:?}) sorts: {plan}"
                );
            }
        }
        // Going on from a position seeks the index to it.
        let plan = plan(&conn, "alice", &filtered, Some(&after));
        assert!(
            plan.contains("created_at>?") || plan.contains("(created_at,image_id)>(?,?)"),
            "{plan}"
        );
    }

    /// A catalogue of `n` of Alice's images, every third queued without a
    /// size or formats, the others with sizes and formats that tie.
    fn with_nulls(n: usize) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations().to_latest(&mut conn).unwrap();
        for i in 0..n {
            let (status, size, format) = match i % 3 {
                0 => ("queued", None, None),
                _ => (
                    "active",
                    Some((i % 7) as i64),
                    Some(["raw", "qcow2"][i % 2]),
                ),
            };
            conn.execute(
                "INSERT INTO images (id, name, location, status, disk_format, container_format, \
                 size, checksum, created_at, updated_at, visibility, owner) \
                 VALUES (?1, 'x', ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?7, 'private', 'alice')",
                params![
                    format!("{:08x}-0000-4000-8000-000000000000", (i * 7919) % 1000),
                    size.map(|_| format!("l{i}")),
                    status,
                    format,
                    size,
                    size.map(|_| ""),
                    i as i64,
                ],
            )
            .unwrap();
        }
        conn
    }

    /// Every image of the listing `q`, read piece after piece as the
    /// registry reads them.
    fn in_pieces(conn: &Connection, q: &ListQuery) -> Vec<String> {
        let tx = SqliteTx::new(conn);
        let mut all = Vec::new();
        let mut from: Option<ListPosition> = None;
        loop {
            let plan = ListPlan::new("alice", q, false, from.as_ref(), from.is_some());
            let piece = tx
                .list(&plan, &mut |image| all.push(image.id.to_string()))
                .unwrap();
            from = piece.last;
            if !piece.more {
                return all;
            }
        }
    }

    #[test]
    fn pieces_cross_between_images_without_a_value_and_the_others() {
        let conn = with_nulls(400);
        for key in [SortKey::Size, SortKey::DiskFormat, SortKey::ContainerFormat] {
            for descending in [false, true] {
                let q = ListQuery {
                    sort_key: key,
                    descending,
                    ..ListQuery::default()
                };
                let dir = if descending { "DESC" } else { "ASC" };
                let col = key.column();
                let whole: Vec<String> = conn
                    .prepare(&format!(
                        "SELECT id FROM images ORDER BY {col} {dir}, id {dir}"
                    ))
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(whole.len(), 400);
                assert_eq!(in_pieces(&conn, &q), whole, "{col} {dir}");
            }
        }
    }

    #[test]
    fn every_start_of_a_nullable_column_seeks_its_index_without_sorting() {
        let conn = with_nulls(10);
        let valued = ListPosition {
            value: SortValue::Integer(3),
            id: "5583ffe1-5273-4c84-9e32-2fbe476bd7b7".into(),
            driving: None,
        };
        let null = ListPosition {
            value: SortValue::Null,
            ..valued.clone()
        };
        for descending in [false, true] {
            let q = ListQuery {
                sort_key: SortKey::Size,
                descending,
                limit: Some(25),
                ..ListQuery::default()
            };
            for from in [&valued, &null] {
                let plan = ListPlan::new("alice", &q, false, Some(from), true);
                for start in starts(&plan).into_iter().flatten() {
                    let steps = explain(&conn, &statement(&plan, start, None, 25));
                    let what = format!("{start:?}, descending {descending}");
                    assert!(
                        steps.contains("SEARCH i USING INDEX images_size"),
                        "{what}: {steps}"
                    );
                    assert!(!steps.contains("TEMP B-TREE"), "{what}: {steps}");
                }
            }
        }
    }
}
