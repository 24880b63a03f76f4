//! A v2 listing page in one statement (docs/api.md §17.9): the candidates
//! the caller may list, the filters, the order with its `created_at`, `id`
//! tiebreak, and a keyset start after the marker's row. A page is at most
//! 1000 images, so it is read whole; one more row says whether more follow.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Row};

use super::catalogue::SqliteTx;
use crate::db::columns::sort_expr;
use crate::db::error::DbError;
use crate::domain::model::{MemberStatusCut, TimeOp, V2ListedImage, V2Listing, VisibilityCut};

/// What a page shows of each image, in `listed_row`'s order, but the
/// tags (`TAGS`) and the properties (the JSON object kept beside their
/// rows), which come last.
const PAGE_COLUMNS: &str = "i.id, i.name, i.status, i.visibility, i.protected, i.os_hidden, \
    i.owner, i.disk_format, i.container_format, i.min_ram, i.min_disk, i.size, i.virtual_size, \
    i.checksum, i.md5, i.os_hash_algo, i.os_hash_value, i.created_at, i.updated_at";

/// An image's tags as one JSON array (`[]` for none), sorted: the tag
/// index is read in order. The subquery per row is run only when the
/// catalogue holds any tag at all (none, in catalogues that came from v1,
/// where it was a sixth of a page's cost): SQLite answers the
/// uncorrelated `EXISTS` once per statement.
const TAGS: &str = "CASE WHEN (SELECT EXISTS (SELECT 1 FROM image_tags)) \
    THEN (SELECT json_group_array(t.tag) FROM image_tags t WHERE t.image_seq = i.seq) \
    ELSE '[]' END";

/// A statement being built, with its bound values (`?1` is the caller).
struct Built {
    sql: String,
    args: Vec<Sql>,
}

impl Built {
    /// Appends `sql` with `value` bound where it says `?`.
    fn bind(&mut self, sql: &str, value: Sql) {
        self.args.push(value);
        let number = itoa::Buffer::new().format(self.args.len()).to_string();
        for (n, piece) in sql.split('?').enumerate() {
            if n > 0 {
                self.sql.push('?');
                self.sql.push_str(&number);
            }
            self.sql.push_str(piece);
        }
    }

    /// Binds a list as a JSON array for `json_each`.
    fn any_of(&mut self, col: &str, values: &Option<Vec<String>>) {
        if let Some(v) = values {
            let json = serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
            self.bind(
                &format!(" AND {col} IN (SELECT value FROM json_each(?))"),
                Sql::Text(json),
            );
        }
    }

    fn exact(&mut self, col: &str, value: Option<Sql>) {
        if let Some(v) = value {
            self.bind(&format!(" AND {col} = ?"), v);
        }
    }
}

/// The candidates of §17.9 for caller `?1`, cut by visibility and hiddenness.
fn candidates(b: &mut Built, q: &V2Listing) {
    let status = match q.who.member_status {
        MemberStatusCut::All => "",
        MemberStatusCut::Accepted => " AND m.status = 'accepted'",
        MemberStatusCut::Pending => " AND m.status = 'pending'",
        MemberStatusCut::Rejected => " AND m.status = 'rejected'",
    };
    // `+` keeps SQLite from reading the owner and visibility indexes and
    // sorting every candidate: it walks the index of the order instead and
    // stops once the page is full (a page of 25 in 2,000 images went from
    // 1,200 to the v1 page's rate), as v1's listing does.
    b.sql.push_str(&format!(
        " AND (+i.owner = ?1 OR +i.visibility IN ('public', 'community') \
         OR (+i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
         WHERE m.image_seq = i.seq AND m.member = ?1{status})))"
    ));
    match q.who.visibility {
        VisibilityCut::Default => b
            .sql
            .push_str(" AND (+i.owner = ?1 OR +i.visibility <> 'community')"),
        VisibilityCut::All => {}
        VisibilityCut::Only(v) => b.bind(" AND +i.visibility = ?", Sql::Text(v.as_str().into())),
    }
    b.bind(" AND i.os_hidden = ?", Sql::Integer(q.who.hidden.into()));
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

/// The filters of §17.9.
fn filters(b: &mut Built, q: &V2Listing) {
    b.any_of("i.name", &q.names);
    b.any_of("i.id", &q.ids);
    b.any_of("i.status", &q.statuses);
    b.any_of("i.disk_format", &q.disk_formats);
    b.any_of("i.container_format", &q.container_formats);
    let text = |s: &Option<String>| s.clone().map(Sql::Text);
    let int = |n: Option<u64>| n.map(|n| Sql::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
    b.exact("i.owner", text(&q.owner));
    b.exact("i.md5", text(&q.checksum));
    b.exact("i.os_hash_value", text(&q.os_hash_value));
    b.exact("i.min_ram", int(q.min_ram));
    b.exact("i.min_disk", int(q.min_disk));
    b.exact("i.protected", q.protected.map(|p| Sql::Integer(p.into())));
    if let Some(n) = int(q.size_min) {
        b.bind(" AND i.size >= ?", n);
    }
    if let Some(n) = int(q.size_max) {
        b.bind(" AND i.size <= ?", n);
    }
    for tag in &q.tags {
        b.bind(
            " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_seq = i.seq AND t.tag = ?)",
            Sql::Text(tag.clone()),
        );
    }
    for (col, cmp) in [("created_at", &q.created_at), ("updated_at", &q.updated_at)] {
        for (o, t) in cmp {
            // Whole seconds, as shown: the stored micros floored.
            let sql = format!(" AND (i.{col} - (i.{col} % 1000000)) {} ?", op(*o));
            b.bind(&sql, Sql::Integer(*t));
        }
    }
    for (k, v) in &q.properties {
        b.bind(
            " AND EXISTS (SELECT 1 FROM image_properties p WHERE p.image_seq = i.seq AND p.key = ?",
            Sql::Text(k.clone()),
        );
        b.bind(" AND p.value = ?)", Sql::Text(v.clone()));
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
    let mut b = Built {
        sql: String::with_capacity(2048),
        args: vec![Sql::Text(caller.into())],
    };
    for piece in [
        "SELECT ",
        PAGE_COLUMNS,
        ", ",
        TAGS,
        ", i.properties_json FROM images i",
    ] {
        b.sql.push_str(piece);
    }
    if let Some(marker) = &q.marker {
        b.bind(", images mk WHERE mk.id = ?", Sql::Text(marker.to_string()));
        b.sql.push_str(&after_marker(q));
    } else {
        b.sql.push_str(" WHERE 1");
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
    // In the text, not bound: a cached statement whose LIMIT is rebound is
    // planned again by SQLite.
    b.sql
        .push_str(&format!(" LIMIT {}", u64::from(q.limit) + 1));
    b
}

/// A row of `PAGE_COLUMNS`, borrowed. A queued image (or one saving its
/// first upload) has no data: no size, MD5 or `os_hash`.
fn listed_row<'a>(row: &'a Row<'_>) -> rusqlite::Result<V2ListedImage<'a>> {
    let opt = |i: usize| -> rusqlite::Result<Option<&'a str>> {
        row.get_ref(i)?.as_str_or_null().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    let text = |i: usize| opt(i).map(Option::unwrap_or_default);
    let count = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(|n| n.max(0) as u64))
    };
    // Whether it has data: a checksum, read as bytes (not checked as text).
    let data = row
        .get_ref(13)?
        .as_bytes_or_null()?
        .is_some_and(|c| !c.is_empty());
    let hash = match (opt(15)?, opt(16)?) {
        (Some(algo), Some(value)) if data => Some((algo, value)),
        _ => None,
    };
    Ok(V2ListedImage {
        id: text(0)?,
        name: text(1)?,
        status: text(2)?,
        visibility: text(3)?,
        protected: row.get(4)?,
        os_hidden: row.get(5)?,
        owner: text(6)?,
        disk_format: opt(7)?.filter(|f| !f.is_empty()),
        container_format: opt(8)?.filter(|f| !f.is_empty()),
        min_ram: count(9)?.unwrap_or(0),
        min_disk: count(10)?.unwrap_or(0),
        size: count(11)?.filter(|_| data),
        virtual_size: count(12)?,
        md5: opt(14)?.filter(|_| data),
        os_hash: hash,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        tags_json: row.get_ref(19)?.as_bytes()?,
        properties_json: row.get_ref(20)?.as_bytes()?,
    })
}

impl SqliteTx<'_> {
    /// One page of a v2 listing for `caller` (the marker already checked),
    /// each image handed to `visit` as its row is read; whether images
    /// follow it.
    pub(super) fn v2_page(
        &self,
        caller: &str,
        q: &V2Listing,
        visit: &mut dyn FnMut(&V2ListedImage<'_>),
    ) -> Result<bool, DbError> {
        let b = statement(caller, q);
        let mut stmt = self.conn.prepare_cached(&b.sql)?;
        let mut rows = stmt.query(params_from_iter(b.args.iter()))?;
        let mut seen = 0usize;
        while let Some(row) = rows.next()? {
            if seen == q.limit as usize {
                return Ok(true);
            }
            visit(&listed_row(row)?);
            seen += 1;
        }
        Ok(false)
    }
}
