//! The web view's pages: askama templates (`src/web/templates/`, compiled
//! into the binary, every value HTML-escaped unless a template says
//! otherwise, and none does), the parts every page shares, sizes in human
//! units, times both relative and absolute, and the HTML error page.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::assets;
use super::session::Notice;
use crate::domain::image::Visibility;
use crate::domain::time::{format_micros, now_micros, Micros};
use crate::error::AppError;
use crate::http::fault;

/// What the layout of every page needs.
pub(crate) struct Chrome {
    /// `<base>/ui`, the prefix of every link.
    pub(crate) ui: String,
    /// The stylesheet's URL.
    pub(crate) style: String,
    /// The icon's URL.
    pub(crate) icon: String,
    /// The user's display name, when logged in.
    pub(crate) user: Option<String>,
    /// The user's id, when logged in.
    pub(crate) user_id: String,
    /// The session's CSRF value (for the logout form).
    pub(crate) csrf: String,
    /// A notice left by the previous request.
    pub(crate) notice: Option<Notice>,
    /// The page's title.
    pub(crate) title: String,
}

impl Chrome {
    /// The chrome of a page outside any session.
    pub(crate) fn anonymous(ui: &str, title: &str) -> Chrome {
        Chrome {
            ui: ui.to_string(),
            style: format!("{ui}/static/{}", assets::STYLE.name),
            icon: format!("{ui}/static/{}", assets::ICON.name),
            user: None,
            user_id: String::new(),
            csrf: String::new(),
            notice: None,
            title: title.to_string(),
        }
    }
}

/// What a status (v1's word, docs/api.md §17.12) means to a user: a
/// badge's text and its title. `queued` and `deactivated` are v2's words,
/// which say little to someone who never used Glance.
pub(crate) fn status_words(status: &str) -> (&'static str, &'static str) {
    match status {
        "available" => ("available", "Its data can be downloaded and used."),
        "queued" => (
            "awaiting data",
            "Created without data: its owner has not uploaded the file yet.",
        ),
        "saving" => ("saving", "Its data is arriving."),
        "deactivated" => (
            "deactivated",
            "Its owner blocked it: listed and described, but nobody can download it.",
        ),
        "error" => ("failed", "Marked as failed: its data should not be used."),
        "deleted" => ("deleted", "Unregistered."),
        _ => ("unknown", "A status this view does not know."),
    }
}

/// What a visibility (docs/api.md §17.2) lets others do, in a sentence.
pub(crate) fn visibility_words(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "Everyone sees it in their list and can download it.",
        Visibility::Community => {
            "Everyone can find it by its id and download it; it is listed only for those who ask for community images."
        }
        Visibility::Shared => "Only you and the members below can see and download it.",
        Visibility::Private => "Only you can see it; the members below keep their place for when it is shared again.",
    }
}

/// A choice of a `<select>`.
pub(crate) struct Choice {
    /// Its value.
    pub(crate) value: String,
    /// What it shows.
    pub(crate) label: String,
    /// Whether it is the one chosen.
    pub(crate) selected: bool,
}

/// A list of choices: "any" (the empty value) if `any` says how to call
/// it, then each value, `current` selected.
pub(crate) fn choices(any: Option<&str>, values: &[String], current: &str) -> Vec<Choice> {
    let mut out: Vec<Choice> = any
        .map(|label| Choice {
            value: String::new(),
            label: label.to_string(),
            selected: current.is_empty(),
        })
        .into_iter()
        .collect();
    out.extend(values.iter().map(|v| Choice {
        value: v.clone(),
        label: v.clone(),
        selected: v == current,
    }));
    out
}

/// A time as a page shows it.
pub(crate) struct When {
    /// ISO 8601, for `<time datetime>`.
    pub(crate) iso: String,
    /// `YYYY-MM-DD HH:MM:SS UTC`.
    pub(crate) absolute: String,
    /// "3 hours ago".
    pub(crate) relative: String,
}

/// A stored time, both ways.
pub(crate) fn when(t: Micros) -> When {
    let absolute = format_micros(t);
    When {
        iso: absolute.replacen(' ', "T", 1) + "Z",
        relative: ago(now_micros().saturating_sub(t) / 1_000_000),
        absolute: absolute + " UTC",
    }
}

/// "N units ago" for an age in seconds.
fn ago(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match secs {
        s if s < 10 => "just now".to_string(),
        s if s < 60 => plural(s, "second"),
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 86_400 => plural(s / 3600, "hour"),
        s if s < 86_400 * 60 => plural(s / 86_400, "day"),
        s if s < 86_400 * 730 => plural(s / (86_400 * 30), "month"),
        s => plural(s / (86_400 * 365), "year"),
    }
}

/// Bytes in binary units: `512 B`, `9.5 MiB`, `12 GiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A rendered page with `status`.
pub(crate) fn page(status: StatusCode, t: &impl Template) -> Result<HttpResponse, AppError> {
    let body = t.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    heading: &'a str,
    message: String,
}

/// The error page of an error, with its status and headers (docs/api.md
/// §15: errors are pages, not JSON).
pub(crate) fn error_page(e: &AppError, mut chrome: Chrome) -> HttpResponse {
    let status = fault::status(e);
    let heading = status.canonical_reason().unwrap_or("Error");
    chrome.title = heading.to_string();
    let message = match e {
        AppError::NotFound(_) => {
            "There is no such page or image, or it is not shared with you.".to_string()
        }
        other => fault::public_message(other),
    };
    let page = ErrorPage {
        chrome,
        status: status.as_u16(),
        heading,
        message,
    };
    let mut resp = fault::builder(e);
    // An HTML page asks for no token: the API's challenge does not belong here.
    let body = page.render().unwrap_or_else(|_| heading.to_string());
    let mut resp = resp.content_type("text/html; charset=utf-8").body(body);
    resp.headers_mut().remove(header::WWW_AUTHENTICATE);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(10_000_000), "9.5 MiB");
        assert_eq!(human_size(12 << 30), "12 GiB");
        assert_eq!(human_size(u64::MAX), "16384 PiB");
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(59), "59 seconds ago");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(86_400 * 3), "3 days ago");
        assert_eq!(ago(86_400 * 90), "3 months ago");
        assert_eq!(ago(86_400 * 800), "2 years ago");
        let w = when(1_364_566_474_000_000);
        assert_eq!(w.iso, "2013-03-29T14:14:34Z");
        assert_eq!(w.absolute, "2013-03-29 14:14:34 UTC");
    }
}
