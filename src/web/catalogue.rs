//! `GET /ui/`: the images the user can see, 25 a page (docs/api.md §15).
//! The table's whole state is in its URL, in the API's own query names
//! (`name`, `status`, `disk_format`, `container_format`, `sort_key`,
//! `sort_dir`, `marker`, and any other filter of §6) plus `visibility`:
//! v2's four words (§17.2), or the view's own `mine` and `shared-with-me`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::render::{choices, human_size, page, status_words, when, Choice, Chrome, When};
use super::Req;
use crate::domain::ids::truncate;
use crate::domain::listing::{ListQuery, ListSink, ListedImage};
use crate::domain::model::Visibility;
use crate::domain::percent::{decode_query, encode_segment};
use crate::domain::user::Caller;
use crate::error::AppError;

/// Images per page.
const PAGE_SIZE: u32 = 25;

/// The fields of the filter form (the others of the URL ride along hidden).
const FORM_FIELDS: [&str; 5] = [
    "name",
    "visibility",
    "status",
    "disk_format",
    "container_format",
];

/// The sortable columns (the API's sort keys), and the others, in order.
const COLUMNS: [(&str, &str, bool); 8] = [
    ("name", "Name", true),
    ("owner", "Owner", false),
    ("status", "Status", true),
    ("size", "Size", true),
    ("disk_format", "Disk", true),
    ("container_format", "Container", true),
    ("visibility", "Visibility", false),
    ("updated_at", "Updated", true),
];

/// One image of the page, as the catalogue read it.
struct Row {
    id: String,
    name: String,
    owner: String,
    status: String,
    size: u64,
    disk_format: String,
    container_format: String,
    visibility: String,
    updated_at: i64,
}

/// Collects the page's images.
#[derive(Default)]
struct Rows(Vec<Row>);

impl ListSink for Rows {
    type Output = Vec<Row>;

    fn push(&mut self, i: &ListedImage<'_>) {
        self.0.push(Row {
            id: i.id.to_string(),
            name: i.name.to_string(),
            owner: i.owner.to_string(),
            status: i.status.to_string(),
            size: i.size.max(0) as u64,
            disk_format: i.disk_format.to_string(),
            container_format: i.container_format.to_string(),
            visibility: i.visibility.to_string(),
            updated_at: i.updated_at,
        });
    }

    fn finish(self) -> Vec<Row> {
        self.0
    }
}

/// What the URL asks for.
struct View {
    query: ListQuery,
    /// Its non-empty parameters but `marker` and `limit`, decoded: what
    /// every link of the page keeps.
    kept: Vec<(String, String)>,
    visibility: String,
}

impl View {
    fn value(&self, key: &str) -> &str {
        self.kept
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// The link to this view with `changes` (a `None` value drops the key), on its first page.
    fn link(&self, ui: &str, changes: &[(&str, Option<&str>)], marker: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .kept
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        pairs.extend(marker.map(|m| ("marker", m)));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
            .collect();
        if query.is_empty() {
            format!("{ui}/")
        } else {
            format!("{ui}/?{}", query.join("&"))
        }
    }
}

/// Parses the page's query: empty fields (as a GET form sends them) are
/// left out, and the rest is the API's listing query (its errors are 400
/// pages), with `visibility` as a filter of the caller's.
fn parse_view(raw: &str, caller: &Caller) -> Result<View, AppError> {
    let mut kept: Vec<(String, String)> = Vec::new();
    let mut api = Vec::new();
    let mut visibility = String::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (rk, rv) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |e| AppError::invalid(format!("Invalid query '{}': {e}", truncate(pair, 80)));
        let (key, value) = (
            decode_query(rk).map_err(bad)?,
            decode_query(rv).map_err(bad)?,
        );
        if value.is_empty() || key == "limit" {
            continue;
        }
        match key.as_str() {
            "visibility" => visibility = value,
            "marker" => api.push(pair),
            _ => {
                api.push(pair);
                kept.retain(|(k, _)| *k != key);
                kept.push((key, value));
            }
        }
    }
    let mut query = ListQuery::parse(&api.join("&"))?;
    whose_filter(&mut query, &visibility, caller)?;
    if !visibility.is_empty() {
        kept.push(("visibility".into(), visibility.clone()));
    }
    Ok(View {
        query,
        kept,
        visibility,
    })
}

/// The `visibility` filter: one of v2's words (§17.2), or `mine` (owned by
/// the caller) or `shared-with-me` (the caller is a member, not the owner).
/// Until v2, `shared` was "shared with me": the images that link finds now
/// are the caller's own shared images and those shared with them.
fn whose_filter(query: &mut ListQuery, word: &str, caller: &Caller) -> Result<(), AppError> {
    match word {
        "" => {}
        "mine" => query.owner = Some(caller.id().to_string()),
        "shared-with-me" => query.shared_with_caller = true,
        other => {
            let Some(v) = Visibility::parse(other) else {
                return Err(AppError::invalid(format!(
                    "Invalid visibility '{}': expected mine, shared-with-me, public, community, \
                     shared or private",
                    truncate(other, 80)
                )));
            };
            query.visibility = Some(v);
        }
    }
    Ok(())
}

/// A column head: a link that sorts by it (or turns the order round).
struct Column {
    key: &'static str,
    label: &'static str,
    href: Option<String>,
    arrow: &'static str,
    aria: &'static str,
    num: bool,
}

/// One row as the table shows it.
struct RowView {
    href: String,
    name: String,
    owner: String,
    owner_id: String,
    status: String,
    status_word: &'static str,
    status_hint: &'static str,
    size: String,
    bytes: u64,
    disk_format: String,
    container_format: String,
    visibility: String,
    updated: When,
}

#[derive(Template)]
#[template(path = "images.html")]
struct CataloguePage {
    chrome: Chrome,
    name: String,
    visibility: Vec<Choice>,
    statuses: Vec<Choice>,
    disk_formats: Vec<Choice>,
    container_formats: Vec<Choice>,
    hidden: Vec<(String, String)>,
    filtered: bool,
    paged: bool,
    clear: String,
    first: String,
    caption: String,
    columns: Vec<Column>,
    rows: Vec<RowView>,
    previous: Option<String>,
    next: Option<String>,
    page_size: u32,
}

fn columns(view: &View, ui: &str) -> Vec<Column> {
    let current = view.query.sort_key.column();
    let desc = view.query.descending;
    COLUMNS
        .iter()
        .map(|&(key, label, sortable)| {
            let here = sortable && key == current;
            let dir = if here && !desc { "desc" } else { "asc" };
            Column {
                key,
                label,
                href: sortable.then(|| {
                    view.link(
                        ui,
                        &[("sort_key", Some(key)), ("sort_dir", Some(dir))],
                        None,
                    )
                }),
                arrow: match (here, desc) {
                    (false, _) => "",
                    (true, false) => " ▲",
                    (true, true) => " ▼",
                },
                aria: match (here, desc) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                num: key == "size",
            }
        })
        .collect()
}

fn caption(view: &View) -> String {
    let key = view.query.sort_key.column();
    let label = COLUMNS.iter().find(|(k, _, _)| *k == key).map_or_else(
        || match key {
            "created_at" => "registration time".into(),
            other => other.replace('_', " "),
        },
        |(_, l, _)| l.to_lowercase(),
    );
    let order = match (view.query.descending, key) {
        (false, "created_at" | "updated_at") => "oldest first",
        (true, "created_at" | "updated_at") => "newest first",
        (false, "size") => "smallest first",
        (true, "size") => "largest first",
        (false, _) => "A to Z",
        (true, _) => "Z to A",
    };
    format!("Sorted by {label}, {order}; {PAGE_SIZE} a page.")
}

fn row_views(rows: Vec<Row>, names: &BTreeMap<String, String>, ui: &str) -> Vec<RowView> {
    rows.into_iter()
        .map(|row| RowView {
            href: format!("{ui}/images/{}", row.id),
            owner: names
                .get(&row.owner)
                .cloned()
                .unwrap_or_else(|| row.owner.clone()),
            owner_id: row.owner,
            name: row.name,
            status_word: status_words(&row.status).0,
            status_hint: status_words(&row.status).1,
            status: row.status,
            size: human_size(row.size),
            bytes: row.size,
            disk_format: row.disk_format,
            container_format: row.container_format,
            visibility: row.visibility,
            updated: when(row.updated_at),
        })
        .collect()
}

fn whose(current: &str) -> Vec<Choice> {
    [
        ("", "All I can see"),
        ("mine", "Mine"),
        ("shared-with-me", "Shared with me"),
        ("public", "Public"),
        ("community", "Community"),
        ("shared", "Shared"),
        ("private", "Private"),
    ]
    .iter()
    .map(|(v, l)| Choice {
        value: v.to_string(),
        label: l.to_string(),
        selected: *v == current,
    })
    .collect()
}

/// `GET /ui/`.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let caller = r.caller()?;
    let view = parse_view(r.http.query_string(), caller)?;
    let found = r
        .registry()
        .browse(caller, view.query.clone(), PAGE_SIZE, Rows::default())
        .await?;
    let ui = r.ui();
    let formats = &r.state.formats;
    let statuses = ["available", "queued", "saving", "deactivated", "error"].map(String::from);
    let not_sort = |k: &String| k != "sort_key" && k != "sort_dir";
    // Clearing the filters keeps the order.
    let clear: Vec<(&str, Option<&str>)> = view
        .kept
        .iter()
        .filter(|(k, _)| not_sort(k))
        .map(|(k, _)| (k.as_str(), None))
        .collect();
    let tpl = CataloguePage {
        chrome: r.chrome("Images"),
        name: view.value("name").to_string(),
        visibility: whose(&view.visibility),
        statuses: choices(Some("Any"), &statuses, view.value("status"))
            .into_iter()
            .map(|mut c| {
                if !c.value.is_empty() {
                    c.label = status_words(&c.value).0.to_string();
                }
                c
            })
            .collect(),
        disk_formats: choices(Some("Any"), &formats.disk, view.value("disk_format")),
        container_formats: choices(
            Some("Any"),
            &formats.container,
            view.value("container_format"),
        ),
        hidden: view
            .kept
            .iter()
            .filter(|(k, _)| !FORM_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect(),
        filtered: view.kept.iter().any(|(k, _)| not_sort(k)),
        paged: view.query.marker.is_some(),
        clear: view.link(&ui, &clear, None),
        first: view.link(&ui, &[], None),
        caption: caption(&view),
        columns: columns(&view, &ui),
        rows: row_views(found.rows, &found.names, &ui),
        previous: found.previous.map(|m| view.link(&ui, &[], m.as_deref())),
        next: found.next.map(|m| view.link(&ui, &[], Some(&m))),
        page_size: PAGE_SIZE,
    };
    page(StatusCode::OK, &tpl)
}
