//! Which rows a piece of a listing reads, said once for every engine: who
//! is asking (visibility), the filters, where the piece starts (a keyset
//! position), the order and how many. Each engine's arm turns a plan into
//! its own statement, with its own planner tuning (`sqlite::list`).

use crate::domain::listing::{ListQuery, SortKey};

/// A value a listing is sorted by, as it goes from one piece to the next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortValue {
    /// No value (a column that may be empty).
    Null,
    /// A number: sizes and times.
    Integer(i64),
    /// Text: ids, names, formats, statuses.
    Text(String),
}

/// Where a listing stands: the sort value and id of an image in it (the
/// last one of a piece, or a marker's), and the choice of how to read it
/// its engine made on its first piece (kept so that every piece is read
/// the same way).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListPosition {
    /// The image's value of the sort column.
    pub(crate) value: SortValue,
    /// The image's id, which breaks ties.
    pub(crate) id: String,
    /// The engine's choice: for SQLite, the rare property filter, if any,
    /// that the listing is read through.
    pub(crate) driving: Option<usize>,
}

/// One piece of a listing.
pub(crate) struct Piece {
    /// How many images it had.
    pub(crate) count: usize,
    /// Whether another piece may follow.
    pub(crate) more: bool,
    /// Where its last image stands, for the next piece.
    pub(crate) last: Option<ListPosition>,
}

/// One condition an image must meet to be listed, besides visibility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Filter<'a> {
    /// Not deleted.
    Live,
    /// Changed strictly after this time (deleted images included).
    UpdatedAfter(i64),
    /// A text column equals a value.
    Equals(&'static str, &'a str),
    /// The size is at least this.
    SizeAtLeast(i64),
    /// The size is at most this.
    SizeAtMost(i64),
    /// Shared with the caller, who is a member and not the owner.
    SharedWithCaller,
    /// Public, or not.
    Public(bool),
    /// Has the property with this value.
    Property(&'a str, &'a str),
}

/// Which rows one piece of a listing reads.
pub(crate) struct ListPlan<'a> {
    /// Who asks: only images they may see are listed.
    pub(crate) caller: &'a str,
    /// What the images must meet, in the query's order.
    pub(crate) filters: Vec<Filter<'a>>,
    /// The sort key.
    pub(crate) sort_key: SortKey,
    /// Descending order.
    pub(crate) descending: bool,
    /// Where the piece starts (exclusive): a marker's position or the
    /// last of the piece before.
    pub(crate) from: Option<&'a ListPosition>,
    /// Whether `from` is the last of a piece before (the engine keeps the
    /// choices it made on the first piece) rather than a marker.
    pub(crate) continuing: bool,
    /// How many images the listing still wants (`None`: all).
    pub(crate) limit: Option<u32>,
    /// Whether every image's properties are read too.
    pub(crate) detail: bool,
}

impl<'a> ListPlan<'a> {
    /// The plan of a piece of `q` for `caller`, starting after `from`.
    pub(crate) fn new(
        caller: &'a str,
        q: &'a ListQuery,
        detail: bool,
        from: Option<&'a ListPosition>,
        continuing: bool,
    ) -> ListPlan<'a> {
        ListPlan {
            caller,
            filters: filters(q),
            sort_key: q.sort_key,
            descending: q.descending,
            from,
            continuing,
            limit: q.limit,
            detail,
        }
    }

    /// The property filters, in the query's order, with their positions.
    pub(crate) fn properties(&self) -> impl Iterator<Item = (usize, &'a str, &'a str)> + '_ {
        self.filters
            .iter()
            .filter_map(|f| match *f {
                Filter::Property(k, v) => Some((k, v)),
                _ => None,
            })
            .enumerate()
            .map(|(n, (k, v))| (n, k, v))
    }
}

/// The stored word a v1 `status` filter matches, exactly as given: the
/// catalogue keeps v2's words (docs/api.md §17.12), and v2's own `active`
/// and `killed`, which no v1 list matched before, still match nothing.
fn stored_status(v1: &str) -> &str {
    match v1 {
        "available" => "active",
        "error" => "killed",
        "active" | "killed" => "-",
        other => other,
    }
}

/// `q`'s conditions, properties last.
fn filters(q: &ListQuery) -> Vec<Filter<'_>> {
    let mut out = vec![match q.changes_since {
        Some(t) => Filter::UpdatedAfter(t),
        None => Filter::Live,
    }];
    if let Some(v) = &q.name {
        out.push(Filter::Equals("name", v));
    }
    if let Some(v) = &q.status {
        out.push(Filter::Equals("status", stored_status(v)));
    }
    for (column, v) in [
        ("disk_format", &q.disk_format),
        ("container_format", &q.container_format),
        ("owner", &q.owner),
    ] {
        if let Some(v) = v {
            out.push(Filter::Equals(column, v));
        }
    }
    out.extend(q.size_min.map(|n| Filter::SizeAtLeast(n as i64)));
    out.extend(q.size_max.map(|n| Filter::SizeAtMost(n as i64)));
    if q.shared_with_caller {
        out.push(Filter::SharedWithCaller);
    }
    out.extend(q.is_public.map(Filter::Public));
    out.extend(
        q.visibility
            .map(|v| Filter::Equals("visibility", v.as_str())),
    );
    out.extend(q.properties.iter().map(|(k, v)| Filter::Property(k, v)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_keeps_the_query_s_conditions_properties_last_and_numbered() {
        let q = ListQuery {
            name: Some("n".into()),
            size_max: Some(7),
            is_public: Some(true),
            changes_since: Some(5),
            properties: vec![
                ("os".into(), "debian".into()),
                ("arch".into(), "x86".into()),
            ],
            limit: Some(25),
            ..ListQuery::default()
        };
        let plan = ListPlan::new("alice", &q, true, None, false);
        assert_eq!(
            plan.filters,
            vec![
                Filter::UpdatedAfter(5),
                Filter::Equals("name", "n"),
                Filter::SizeAtMost(7),
                Filter::Public(true),
                Filter::Property("os", "debian"),
                Filter::Property("arch", "x86"),
            ]
        );
        let properties: Vec<_> = plan.properties().collect();
        assert_eq!(properties, vec![(0, "os", "debian"), (1, "arch", "x86")]);
        assert_eq!((plan.limit, plan.detail), (Some(25), true));
        let live = ListQuery::default();
        assert_eq!(
            ListPlan::new("a", &live, false, None, false).filters,
            vec![Filter::Live]
        );
    }
}
