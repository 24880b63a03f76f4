//! The query of `GET /v2/images` (docs/api.md §17.9) parsed into a typed
//! `V2Query`, and the `first` and `next` links built back from it: the
//! request's own parameters in their order, so that a client following
//! `next` asks the same question page after page.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::domain::ids::{truncate, ImageId};
use crate::domain::model::{
    MemberStatusCut, TimeOp, V2Listing, V2SortKey as SortKey, V2Who, Visibility, VisibilityCut,
};
use crate::domain::percent::decode_query;
use crate::error::AppError;

/// The page size when none is asked.
pub(crate) const DEFAULT_LIMIT: u32 = 25;

/// The largest page: a larger `limit` is this.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// The sort key a word names.
fn parse_sort_key(s: &str) -> Result<SortKey, AppError> {
    Ok(match s {
        "name" => SortKey::Name,
        "status" => SortKey::Status,
        "container_format" => SortKey::ContainerFormat,
        "disk_format" => SortKey::DiskFormat,
        "size" => SortKey::Size,
        "id" => SortKey::Id,
        "created_at" => SortKey::CreatedAt,
        "updated_at" => SortKey::UpdatedAt,
        other => return Err(AppError::invalid(format!(
            "Invalid sort key '{}': expected name, status, container_format, disk_format, size, id, created_at or updated_at",
            truncate(other, 80)
        ))),
    })
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Ascending: null first.
    Asc,
    /// Descending.
    Desc,
}

impl Dir {
    /// The direction a word names.
    fn parse(s: &str) -> Result<Dir, AppError> {
        match s {
            "asc" => Ok(Dir::Asc),
            "desc" => Ok(Dir::Desc),
            other => Err(AppError::invalid(format!(
                "Invalid sort direction '{}': expected asc or desc",
                truncate(other, 80)
            ))),
        }
    }
}

/// A time filter: the comparison and the time in whole seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeFilter {
    /// The comparison.
    pub(crate) op: TimeOp,
    /// The time, whole seconds since the epoch, UTC.
    pub(crate) seconds: i64,
}

/// A `GET /v2/images` query, every value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V2Query {
    /// The page size, 0 to `MAX_LIMIT`.
    pub(crate) limit: u32,
    /// The id after which the page starts.
    pub(crate) marker: Option<ImageId>,
    /// The whole order: the keys asked, then `created_at` and `id` unless
    /// among them.
    pub(crate) order: Vec<(SortKey, Dir)>,
    /// The visibility cut; `None` leaves out other owners' community images.
    pub(crate) visibility: Option<VisibilityCut>,
    /// Which memberships count.
    pub(crate) member_status: MemberStatusCut,
    /// Exact matches, each of any of its values: `name`, `id`, `status`,
    /// `disk_format`, `container_format`.
    pub(crate) any_of: BTreeMap<&'static str, Vec<String>>,
    /// Exact matches: `owner`, `checksum`, `os_hash_value`.
    pub(crate) exact: BTreeMap<&'static str, String>,
    /// `min_ram`, `min_disk`: exact.
    pub(crate) minimums: BTreeMap<&'static str, i64>,
    /// Every tag the image must have.
    pub(crate) tags: Vec<String>,
    /// `size_min`.
    pub(crate) size_min: Option<u64>,
    /// `size_max`.
    pub(crate) size_max: Option<u64>,
    /// `protected`.
    pub(crate) protected: Option<bool>,
    /// `os_hidden`: absent or false keeps only images not hidden.
    pub(crate) os_hidden: Option<bool>,
    /// `created_at`.
    pub(crate) created_at: Option<TimeFilter>,
    /// `updated_at`.
    pub(crate) updated_at: Option<TimeFilter>,
    /// Custom properties that must equal these values (keys verbatim).
    pub(crate) properties: BTreeMap<String, String>,
    /// The parameters as given, decoded, in order: for the links.
    pub(crate) params: Vec<(String, String)>,
}

impl Default for V2Query {
    fn default() -> V2Query {
        V2Query {
            limit: DEFAULT_LIMIT,
            marker: None,
            order: vec![(SortKey::CreatedAt, Dir::Desc), (SortKey::Id, Dir::Desc)],
            visibility: None,
            member_status: MemberStatusCut::Accepted,
            any_of: BTreeMap::new(),
            exact: BTreeMap::new(),
            minimums: BTreeMap::new(),
            tags: Vec::new(),
            size_min: None,
            size_max: None,
            protected: None,
            os_hidden: None,
            created_at: None,
            updated_at: None,
            properties: BTreeMap::new(),
            params: Vec::new(),
        }
    }
}

/// The parameters that may be given more than once.
const REPEATABLE: [&str; 3] = ["sort_key", "sort_dir", "tag"];

/// The decoded `key=value` pairs of a raw query, in order (`+` and `%20`
/// are spaces); a key given twice that may not be is a 400.
fn pairs(raw: &str) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            decode_query(s).map_err(|e| {
                AppError::invalid(format!("Invalid query '{}': {e}", truncate(part, 80)))
            })
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if !REPEATABLE.contains(&k.as_str()) && out.iter().any(|(seen, _)| *seen == k) {
            return Err(AppError::invalid(format!(
                "Invalid query: parameter '{}' given more than once",
                truncate(&k, 80)
            )));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// An integer parameter.
fn integer<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, AppError> {
    v.parse().map_err(|_| {
        AppError::invalid(format!(
            "Invalid {key} '{}': expected an integer",
            truncate(v, 80)
        ))
    })
}

/// `limit`: an integer ≥ 0; above `MAX_LIMIT` is `MAX_LIMIT`.
fn limit(v: &str) -> Result<u32, AppError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(format!(
            "Invalid limit '{}': expected an integer of at least 0",
            truncate(v, 80)
        )));
    }
    // All digits: too long to parse is above the cap.
    Ok(v.parse::<u32>().map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT)))
}

/// `true` or `false`, any case.
fn boolean(key: &str, v: &str) -> Result<bool, AppError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AppError::invalid(format!(
            "Invalid {key} '{}': expected true or false",
            truncate(v, 80)
        ))),
    }
}

/// `[op:]<ISO 8601 time>`, at whole seconds.
fn time_filter(key: &str, v: &str) -> Result<TimeFilter, AppError> {
    let (op, time) = match v.split_once(':') {
        Some((w, rest)) if w.bytes().all(|b| b.is_ascii_alphabetic()) => (
            match w {
                "gt" => TimeOp::Gt,
                "gte" => TimeOp::Gte,
                "lt" => TimeOp::Lt,
                "lte" => TimeOp::Lte,
                "eq" => TimeOp::Eq,
                "neq" => TimeOp::Neq,
                _ => {
                    return Err(AppError::invalid(format!(
                        "Invalid {key} operator '{}': expected gt, gte, lt, lte, eq or neq",
                        truncate(w, 20)
                    )))
                }
            },
            rest,
        ),
        _ => (TimeOp::Eq, v),
    };
    let seconds = iso_seconds(time).ok_or_else(|| {
        AppError::invalid(format!(
            "Invalid {key} '{}': expected [op:]YYYY-MM-DDTHH:MM:SSZ",
            truncate(v, 80)
        ))
    })?;
    Ok(TimeFilter { op, seconds })
}

/// An ISO 8601 time with a zone (`Z`, `±HH:MM`) or none (UTC), as whole
/// seconds since the epoch (a fraction is dropped).
fn iso_seconds(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp())
}

/// The values of a name-like filter: `in:a,b,"c,d"` (`\"` inside quotes),
/// `eq:a`, or the value itself.
fn any_of(key: &str, v: &str) -> Result<Vec<String>, AppError> {
    if let Some(rest) = v.strip_prefix("eq:") {
        return Ok(vec![rest.to_string()]);
    }
    let Some(list) = v.strip_prefix("in:") else {
        return Ok(vec![v.to_string()]);
    };
    split_in(list).ok_or_else(|| {
        AppError::invalid(format!(
            "Invalid {key} '{}': expected in:a,b,... with any quotes closed",
            truncate(v, 80)
        ))
    })
}

/// The items of an `in:` list; `None` if a quote is left open or text
/// follows a closing quote.
fn split_in(list: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' if chars.peek() == Some(&'"') => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return None;
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                item.push(c);
            }
        }
        out.push(item);
        if chars.next().is_none() {
            return Some(out);
        }
    }
}

/// An order: keys, each with its direction.
type Order = Vec<(SortKey, Dir)>;

/// The sort parameters as given.
#[derive(Default)]
struct SortAsked {
    /// `sort_key`s.
    keys: Vec<SortKey>,
    /// `sort_dir`s.
    dirs: Vec<Dir>,
    /// `sort`.
    sort: Option<String>,
}

/// The keys and directions asked, and the direction that applies to all
/// of them if one does.
fn asked_order(a: &SortAsked) -> Result<(Order, Option<Dir>), AppError> {
    if let Some(sort) = &a.sort {
        if !a.keys.is_empty() || !a.dirs.is_empty() {
            return Err(AppError::invalid(
                "Invalid query: sort may not be given with sort_key or sort_dir",
            ));
        }
        let order = sort
            .split(',')
            .map(|item| {
                let (k, d) = item.split_once(':').unwrap_or((item, "desc"));
                Ok((parse_sort_key(k.trim())?, Dir::parse(d.trim())?))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let uniform = order
            .first()
            .map(|f| f.1)
            .filter(|d| order.iter().all(|o| o.1 == *d));
        return Ok((order, uniform));
    }
    let keys = match (a.keys.is_empty(), a.dirs.len()) {
        (true, 0) => return Ok((Vec::new(), None)),
        (true, 1) => vec![SortKey::CreatedAt],
        (_, n) if n > 1 && n != a.keys.len() => {
            return Err(AppError::invalid(format!(
                "Invalid query: {n} sort_dir for {} sort_key; give one, or one per key",
                a.keys.len()
            )))
        }
        _ => a.keys.clone(),
    };
    Ok(match a.dirs.as_slice() {
        [] => (
            keys.iter().map(|k| (*k, Dir::Desc)).collect(),
            Some(Dir::Desc),
        ),
        [d] => (keys.iter().map(|k| (*k, *d)).collect(), Some(*d)),
        dirs => (keys.into_iter().zip(dirs.iter().copied()).collect(), None),
    })
}

/// The whole order: the keys asked, then `created_at` and `id` unless
/// among them, in the one direction asked, else descending.
fn order(a: &SortAsked) -> Result<Vec<(SortKey, Dir)>, AppError> {
    let (mut order, uniform) = asked_order(a)?;
    let dir = uniform.unwrap_or(Dir::Desc);
    for key in [SortKey::CreatedAt, SortKey::Id] {
        if !order.iter().any(|(k, _)| *k == key) {
            order.push((key, dir));
        }
    }
    Ok(order)
}

/// A visibility cut.
fn visibility(v: &str) -> Result<VisibilityCut, AppError> {
    Ok(match v {
        "public" => VisibilityCut::Only(Visibility::Public),
        "community" => VisibilityCut::Only(Visibility::Community),
        "shared" => VisibilityCut::Only(Visibility::Shared),
        "private" => VisibilityCut::Only(Visibility::Private),
        "all" => VisibilityCut::All,
        other => {
            return Err(AppError::invalid(format!(
                "Invalid visibility '{}': expected public, community, shared, private or all",
                truncate(other, 80)
            )))
        }
    })
}

/// A membership cut.
fn member_status(v: &str) -> Result<MemberStatusCut, AppError> {
    Ok(match v {
        "pending" => MemberStatusCut::Pending,
        "accepted" => MemberStatusCut::Accepted,
        "rejected" => MemberStatusCut::Rejected,
        "all" => MemberStatusCut::All,
        other => {
            return Err(AppError::invalid(format!(
                "Invalid member_status '{}': expected pending, accepted, rejected or all",
                truncate(other, 80)
            )))
        }
    })
}

/// The parameters matched as `any_of`, `exact` and `minimums`.
const ANY_OF: [&str; 5] = ["name", "id", "status", "disk_format", "container_format"];
/// Exact string matches.
const EXACT: [&str; 3] = ["owner", "checksum", "os_hash_value"];
/// Exact integer matches.
const MINIMUMS: [&str; 2] = ["min_ram", "min_disk"];

/// Takes one parameter into the query (sort parameters into `sort`).
fn take(q: &mut V2Query, sort: &mut SortAsked, k: &str, v: &str) -> Result<(), AppError> {
    match k {
        "limit" => q.limit = limit(v)?,
        "marker" => q.marker = Some(ImageId::parse(v)?),
        "sort_key" => sort.keys.push(parse_sort_key(v)?),
        "sort_dir" => sort.dirs.push(Dir::parse(v)?),
        "sort" => sort.sort = Some(v.to_string()),
        "visibility" => q.visibility = Some(visibility(v)?),
        "member_status" => q.member_status = member_status(v)?,
        "tag" => q.tags.push(v.to_string()),
        "size_min" => q.size_min = Some(integer(k, v)?),
        "size_max" => q.size_max = Some(integer(k, v)?),
        "protected" => q.protected = Some(boolean(k, v)?),
        "os_hidden" => q.os_hidden = Some(boolean(k, v)?),
        "created_at" => q.created_at = Some(time_filter(k, v)?),
        "updated_at" => q.updated_at = Some(time_filter(k, v)?),
        "changes-since" => {
            return Err(AppError::invalid(
                "Invalid query: changes-since is not in v2; filter with updated_at=gte:<time>",
            ))
        }
        _ => {
            if let Some(key) = ANY_OF.iter().find(|f| **f == k) {
                q.any_of.insert(key, any_of(k, v)?);
            } else if let Some(key) = EXACT.iter().find(|f| **f == k) {
                q.exact.insert(key, v.to_string());
            } else if let Some(key) = MINIMUMS.iter().find(|f| **f == k) {
                q.minimums.insert(key, integer(k, v)?);
            } else {
                q.properties.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok(())
}

/// A raw query string (without `?`) → the checked query.
pub(crate) fn parse_v2_query(raw: &str) -> Result<V2Query, AppError> {
    let params = pairs(raw)?;
    let mut q = V2Query::default();
    let mut sort = SortAsked::default();
    for (k, v) in &params {
        take(&mut q, &mut sort, k, v)?;
    }
    q.order = order(&sort)?;
    q.params = params;
    Ok(q)
}

/// What a form encodes: all but `A-Z a-z 0-9 - . _ ~` (a space becomes `+`).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One form-encoded component, a space as `+`.
fn form(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string().replace("%20", "+")
}

/// `/v2/images` with `params` as its query, if any.
fn images_link<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let query: Vec<String> = params
        .map(|(k, v)| format!("{}={}", form(k), form(v)))
        .collect();
    if query.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", query.join("&"))
    }
}

/// A time filter as the registry takes it: whole seconds as micros.
fn times(f: Option<TimeFilter>) -> Vec<(TimeOp, i64)> {
    f.map(|f| (f.op, f.seconds.saturating_mul(1_000_000)))
        .into_iter()
        .collect()
}

impl V2Query {
    /// The listing the registry reads (§17.9): ids lower-cased (UUIDs are
    /// case-insensitive), a minimum below zero matching nothing.
    pub(crate) fn listing(&self) -> V2Listing {
        let list = |k: &str| self.any_of.get(k).cloned();
        let exact = |k: &str| self.exact.get(k).cloned();
        let at_least = |k: &str| {
            self.minimums
                .get(k)
                .map(|n| u64::try_from(*n).unwrap_or(u64::MAX))
        };
        V2Listing {
            who: V2Who {
                visibility: self.visibility.unwrap_or_default(),
                member_status: self.member_status,
                hidden: self.os_hidden.unwrap_or(false),
            },
            names: list("name"),
            ids: list("id").map(|ids| ids.iter().map(|i| i.to_ascii_lowercase()).collect()),
            statuses: list("status"),
            disk_formats: list("disk_format"),
            container_formats: list("container_format"),
            owner: exact("owner"),
            checksum: exact("checksum"),
            os_hash_value: exact("os_hash_value"),
            min_ram: at_least("min_ram"),
            min_disk: at_least("min_disk"),
            tags: self.tags.clone(),
            size_min: self.size_min,
            size_max: self.size_max,
            protected: self.protected,
            created_at: times(self.created_at),
            updated_at: times(self.updated_at),
            properties: self.properties.clone().into_iter().collect(),
            sort: self
                .order
                .iter()
                .map(|(k, d)| (*k, *d == Dir::Desc))
                .collect(),
            marker: self.marker,
            limit: self.limit,
        }
    }

    /// The `first` link: the query without `marker`.
    pub(crate) fn first_link(&self) -> String {
        images_link(
            self.params
                .iter()
                .filter(|(k, _)| k != "marker")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    /// The `next` link: the query with `marker` set to `last` (where it
    /// was, else at the end).
    pub(crate) fn next_link(&self, last: &str) -> String {
        let mut params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "marker" { last } else { v.as_str() }))
            .collect();
        if self.marker.is_none() {
            params.push(("marker", last));
        }
        images_link(params.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proptests::{config, only_bad_request};
    use proptest::prelude::*;

    fn q(raw: &str) -> V2Query {
        parse_v2_query(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn bad(raw: &str) {
        assert!(
            matches!(parse_v2_query(raw), Err(AppError::Invalid(_))),
            "{raw} should be a 400"
        );
    }

    const ID: &str = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";

    #[test]
    fn an_empty_query_takes_the_defaults_and_limits_cap_at_1000_while_bad_ones_are_400() {
        let d = q("");
        assert_eq!(
            (d.limit, d.member_status, d.visibility),
            (25, MemberStatusCut::Accepted, None)
        );
        assert_eq!(
            d.order,
            vec![(SortKey::CreatedAt, Dir::Desc), (SortKey::Id, Dir::Desc)]
        );
        assert_eq!(q("limit=0").limit, 0);
        assert_eq!(q("limit=5000").limit, 1000);
        assert_eq!(q("limit=99999999999999999999999").limit, 1000);
        assert_eq!(
            q(&format!("marker={}", ID.to_uppercase()))
                .marker
                .unwrap()
                .to_string(),
            ID
        );
        for raw in [
            "limit=-1",
            "limit=",
            "limit=1.5",
            "limit=a",
            "marker=x",
            "limit=1&limit=2",
            "changes-since=2020-01-01T00:00:00Z",
            "name=%zz",
        ] {
            bad(raw);
        }
    }

    #[test]
    fn sort_keys_take_one_direction_or_one_per_key_and_end_with_created_at_and_id() {
        use Dir::*;
        use SortKey::*;
        assert_eq!(
            q("sort_key=name").order,
            vec![(Name, Desc), (CreatedAt, Desc), (Id, Desc)]
        );
        assert_eq!(
            q("sort_key=name&sort_key=size&sort_dir=asc").order,
            vec![(Name, Asc), (Size, Asc), (CreatedAt, Asc), (Id, Asc)]
        );
        assert_eq!(
            q("sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc").order,
            vec![(Name, Asc), (Id, Desc), (CreatedAt, Desc)]
        );
        assert_eq!(q("sort_dir=asc").order, vec![(CreatedAt, Asc), (Id, Asc)]);
        assert_eq!(
            q("sort=name:asc,size").order,
            vec![(Name, Asc), (Size, Desc), (CreatedAt, Desc), (Id, Desc)]
        );
        assert_eq!(
            q("sort=updated_at:asc").order,
            vec![(UpdatedAt, Asc), (CreatedAt, Asc), (Id, Asc)]
        );
        for raw in [
            "sort_key=bogus",
            "sort_dir=up",
            "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc",
            "sort_dir=asc&sort_dir=desc",
            "sort=name&sort_key=id",
            "sort=name:sideways",
            "sort=",
            "sort=name&sort=id",
        ] {
            bad(raw);
        }
    }

    #[test]
    fn filters_are_typed_with_in_lists_times_and_custom_properties_verbatim() {
        let f = q("name=in:a,%22b,c%22,%22d%5C%22e%22&status=eq:in:x&disk_format=a:b&owner=alice&min_ram=512&tag=x&tag=y+z&size_min=1&protected=True&os_hidden=FALSE&visibility=all&member_status=pending&created_at=gte:2024-01-02T03:04:05Z&updated_at=2024-01-02T03:04:05.9&acc~x=v%20w");
        assert_eq!(f.any_of["name"], vec!["a", "b,c", "d\"e"]);
        assert_eq!(f.any_of["status"], vec!["in:x"]);
        assert_eq!(f.any_of["disk_format"], vec!["a:b"]);
        assert_eq!(
            (f.exact["owner"].as_str(), f.minimums["min_ram"]),
            ("alice", 512)
        );
        assert_eq!(f.tags, vec!["x", "y z"]);
        assert_eq!(
            (f.size_min, f.protected, f.os_hidden),
            (Some(1), Some(true), Some(false))
        );
        assert_eq!(
            (f.visibility, f.member_status),
            (Some(VisibilityCut::All), MemberStatusCut::Pending)
        );
        assert_eq!(
            f.created_at,
            Some(TimeFilter {
                op: TimeOp::Gte,
                seconds: 1_704_164_645
            })
        );
        assert_eq!(
            f.updated_at,
            Some(TimeFilter {
                op: TimeOp::Eq,
                seconds: 1_704_164_645
            })
        );
        assert_eq!(f.properties["acc~x"], "v w");
        assert_eq!(q("status=bogus").any_of["status"], vec!["bogus"]);
        for raw in [
            "name=in:%22open",
            "name=in:%22a%22b",
            "min_ram=x",
            "size_max=-1",
            "protected=yes",
            "visibility=mine",
            "member_status=any",
            "created_at=2024",
            "created_at=after:2024-01-02T03:04:05Z",
            "owner=a&owner=b",
            "acc=1&acc=2",
        ] {
            bad(raw);
        }
    }

    #[test]
    fn links_keep_the_parameters_in_order_with_the_marker_set() {
        let last = ID;
        assert_eq!(q("").first_link(), "/v2/images");
        assert_eq!(q("").next_link(last), format!("/v2/images?marker={ID}"));
        let other = "00000000-0000-4000-8000-000000000000";
        let query = q(&format!("name=a%20b&marker={other}&tag=x&tag=y&limit=2"));
        assert_eq!(
            query.first_link(),
            "/v2/images?name=a+b&tag=x&tag=y&limit=2"
        );
        assert_eq!(
            query.next_link(last),
            format!("/v2/images?name=a+b&marker={ID}&tag=x&tag=y&limit=2")
        );
        assert_eq!(
            q("k%2Fy=%C3%A9%26").first_link(),
            "/v2/images?k%2Fy=%C3%A9%26"
        );
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_query_parses_or_is_a_400(raw in prop_oneof![
            any::<String>(),
            "((limit|marker|sort|sort_key|sort_dir|name|tag|created_at|size_min|protected|k)=[a-z0-9:,\"%+.-]{0,12}&?){0,5}",
        ]) {
            only_bad_request(&parse_v2_query(&raw))?;
        }

        #[test]
        fn links_parse_back_to_the_same_question(raw in "((name|tag|owner|k~1|x y)=[a-zA-Z0-9 é&=+%,\"]{0,8}&?){0,4}") {
            let Ok(query) = parse_v2_query(&raw.replace('%', "%25").replace(' ', "+")) else { return Ok(()) };
            let first = query.first_link();
            let again = parse_v2_query(first.strip_prefix("/v2/images").unwrap().trim_start_matches('?')).unwrap();
            prop_assert_eq!(&again.params, &query.params);
        }
    }
}
