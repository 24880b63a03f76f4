//! A v2 listing page on PostgreSQL in one statement (docs/api.md §17.9),
//! as SQLite's (`sqlite::v2list`): the candidates the caller may list, the
//! filters, the order with its `created_at`, `id` tiebreak, and a keyset
//! start after the marker's row. A page is at most 1000 images, read
//! whole; one more row says whether more follow.

use tokio_postgres::Row;

use super::rows::TAGS;
use super::tx::{get, Built, PgTx};
use crate::db::columns::sort_expr;
use crate::db::error::DbError;
use crate::domain::model::{MemberStatusCut, TimeOp, V2ListedImage, V2Listing, VisibilityCut};

/// What a page shows of each image, in `listed_row`'s order, then the tags
/// and the properties.
const PAGE_COLUMNS: &str = "i.id, i.name, i.status, i.visibility, i.protected, i.os_hidden, \
    i.owner, i.disk_format, i.container_format, i.min_ram, i.min_disk, i.size, i.virtual_size, \
    i.checksum, i.md5, i.os_hash_algo, i.os_hash_value, i.created_at, i.updated_at";

/// The candidates of §17.9 for caller `$1`, cut by visibility and hiddenness.
fn candidates(b: &mut Built, q: &V2Listing) {
    let status = match q.who.member_status {
        MemberStatusCut::All => "",
        MemberStatusCut::Accepted => " AND m.status = 'accepted'",
        MemberStatusCut::Pending => " AND m.status = 'pending'",
        MemberStatusCut::Rejected => " AND m.status = 'rejected'",
    };
    b.sql.push_str(&format!(
        " AND (i.owner = $1 OR i.visibility IN ('public', 'community') \
         OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
         WHERE m.image_seq = i.seq AND m.member = $1{status})))"
    ));
    match q.who.visibility {
        VisibilityCut::Default => b
            .sql
            .push_str(" AND (i.owner = $1 OR i.visibility <> 'community')"),
        VisibilityCut::All => {}
        VisibilityCut::Only(v) => b.bind(" AND i.visibility = ?", v.as_str().to_string()),
    }
    b.bind(" AND i.os_hidden = ?", q.who.hidden);
}

/// The SQL of a time comparison.
fn op(o: TimeOp) -> &'static str {
    match o {
        TimeOp::Gt => ">",
        TimeOp::Gte => ">=",
        TimeOp::Lt => "<",
        TimeOp::Lte => "<=",
        TimeOp::Eq => "=",
        TimeOp::Neq => "<>",
    }
}

/// A count as bound: beyond BIGINT matches what SQLite's saturation does.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The filters of §17.9.
fn filters(b: &mut Built, q: &V2Listing) {
    for (col, values) in [
        ("i.name", &q.names),
        ("i.id", &q.ids),
        ("i.status", &q.statuses),
        ("i.disk_format", &q.disk_formats),
        ("i.container_format", &q.container_formats),
    ] {
        if let Some(v) = values {
            // A value holding a NUL matches nothing (`bind_text`).
            let v: Vec<String> = v.iter().filter(|s| !s.contains('\0')).cloned().collect();
            b.bind(&format!(" AND {col} = ANY(?::text[])"), v);
        }
    }
    for (col, value) in [
        ("i.owner", &q.owner),
        ("i.md5", &q.checksum),
        ("i.os_hash_value", &q.os_hash_value),
    ] {
        if let Some(v) = value {
            b.bind_text(&format!(" AND {col} = ?"), v);
        }
    }
    for (col, value) in [("i.min_ram", q.min_ram), ("i.min_disk", q.min_disk)] {
        if let Some(n) = value {
            b.bind(&format!(" AND {col} = ?"), int(n));
        }
    }
    if let Some(p) = q.protected {
        b.bind(" AND i.protected = ?", p);
    }
    if let Some(n) = q.size_min {
        b.bind(" AND i.size >= ?", int(n));
    }
    if let Some(n) = q.size_max {
        b.bind(" AND i.size <= ?", int(n));
    }
    for tag in &q.tags {
        b.bind_text(
            " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_seq = i.seq AND t.tag = ?)",
            tag,
        );
    }
    times_and_properties(b, q);
}

/// The filters of §17.9 on times (whole seconds) and properties.
fn times_and_properties(b: &mut Built, q: &V2Listing) {
    for (col, cmp) in [("created_at", &q.created_at), ("updated_at", &q.updated_at)] {
        for (o, t) in cmp {
            // Whole seconds, as shown: the stored micros floored (SQLite's
            // `%` truncates toward zero, as PostgreSQL's does).
            let sql = format!(" AND (i.{col} - (i.{col} % 1000000)) {} ?", op(*o));
            b.bind(&sql, *t);
        }
    }
    for (k, v) in &q.properties {
        if k.contains('\0') || v.contains('\0') {
            b.sql.push_str(" AND false");
            continue;
        }
        b.bind(
            " AND EXISTS (SELECT 1 FROM image_properties p WHERE p.image_seq = i.seq AND p.key = ?",
            k.clone(),
        );
        b.bind(" AND p.value = ?)", v.clone());
    }
}

/// The rows after the marker row `mk` in the order: the first key past
/// it, or equal and the next past it, and so on.
fn after_marker(q: &V2Listing) -> String {
    let mut ors = Vec::new();
    for (n, (key, desc)) in q.sort.iter().enumerate() {
        let mut ands: Vec<String> = q.sort[..n]
            .iter()
            .map(|(k, _)| format!("{} = {}", sort_expr(*k, "i"), sort_expr(*k, "mk")))
            .collect();
        let cmp = if *desc { "<" } else { ">" };
        ands.push(format!(
            "{} {cmp} {}",
            sort_expr(*key, "i"),
            sort_expr(*key, "mk")
        ));
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!(" AND ({})", ors.join(" OR "))
}

/// The page's statement: at most `limit + 1` rows.
fn statement(caller: &str, q: &V2Listing) -> Built {
    let mut b = Built::new(
        &format!("SELECT {PAGE_COLUMNS}, {TAGS}, i.properties_json FROM images i"),
        caller,
    );
    if let Some(marker) = &q.marker {
        b.bind(", images mk WHERE mk.id = ?", marker.to_string());
        b.sql.push_str(&after_marker(q));
    } else {
        b.sql.push_str(" WHERE true");
    }
    b.sql.push_str(" AND i.deleted_at IS NULL");
    candidates(&mut b, q);
    filters(&mut b, q);
    let order: Vec<String> = q
        .sort
        .iter()
        .map(|(k, desc)| {
            format!(
                "{} {}",
                sort_expr(*k, "i"),
                if *desc { "DESC" } else { "ASC" }
            )
        })
        .collect();
    b.sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    b.bind(" LIMIT ?", i64::from(q.limit) + 1);
    b
}

/// A row of `PAGE_COLUMNS`, borrowed. A queued image (or one saving its
/// first upload) has no data: no size, MD5 or `os_hash`.
fn listed_row(row: &Row) -> Result<V2ListedImage<'_>, DbError> {
    let opt = |i: usize| get::<Option<&str>>(row, i);
    let text = |i: usize| opt(i).map(Option::unwrap_or_default);
    let count = |i: usize| -> Result<Option<u64>, DbError> {
        Ok(get::<Option<i64>>(row, i)?.map(|n| n.max(0) as u64))
    };
    let data = opt(13)?.is_some_and(|c| !c.is_empty());
    let hash = match (opt(15)?, opt(16)?) {
        (Some(algo), Some(value)) if data => Some((algo, value)),
        _ => None,
    };
    Ok(V2ListedImage {
        id: text(0)?,
        name: text(1)?,
        status: text(2)?,
        visibility: text(3)?,
        protected: get(row, 4)?,
        os_hidden: get(row, 5)?,
        owner: text(6)?,
        disk_format: opt(7)?.filter(|f| !f.is_empty()),
        container_format: opt(8)?.filter(|f| !f.is_empty()),
        min_ram: count(9)?.unwrap_or(0),
        min_disk: count(10)?.unwrap_or(0),
        size: count(11)?.filter(|_| data),
        virtual_size: count(12)?,
        md5: opt(14)?.filter(|_| data),
        os_hash: hash,
        created_at: get(row, 17)?,
        updated_at: get(row, 18)?,
        tags_json: text(19)?.as_bytes(),
        properties_json: text(20)?.as_bytes(),
    })
}

impl PgTx<'_> {
    /// One page of a v2 listing for `caller` (the marker already checked),
    /// each image handed to `visit`; whether images follow it.
    pub(super) async fn v2_listing(
        &self,
        caller: &str,
        q: &V2Listing,
        visit: &mut dyn FnMut(&V2ListedImage<'_>),
    ) -> Result<bool, DbError> {
        let b = statement(caller, q);
        let rows = self.rows(&b.sql, &b.params()).await?;
        for row in rows.iter().take(q.limit as usize) {
            visit(&listed_row(row)?);
        }
        Ok(rows.len() > q.limit as usize)
    }
}
