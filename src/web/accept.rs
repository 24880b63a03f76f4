//! Whether a request comes from a browser that wants a page: its `Accept`
//! prefers HTML to JSON (docs/api.md §15). Browsers send
//! `text/html,...,*/*;q=0.8`; API clients send `*/*`,
//! `application/json` or nothing, and keep the versions document.

use actix_web::http::header::{HeaderMap, ACCEPT};

/// Whether `Accept` names HTML with a higher quality than JSON gets (from
/// `application/json`, else `application/*`, else `*/*`).
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html: Option<f32> = None;
    let (mut json, mut app, mut any) = (None, None, None);
    let items = headers
        .get_all(ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let kind = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = match kind.as_str() {
            "text/html" | "application/xhtml+xml" => &mut html,
            "application/json" => &mut json,
            "application/*" => &mut app,
            "*/*" => &mut any,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
    }
    let json = json.or(app).or(any).unwrap_or(0.0);
    html.is_some_and(|h| h > 0.0 && h > json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefers(accept: Option<&str>) -> bool {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(ACCEPT, a.parse().unwrap());
        }
        prefers_html(&h)
    }

    #[test]
    fn browsers_get_pages_and_api_clients_json() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                        image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers(Some(chromium)));
        assert!(prefers(Some(firefox)));
        assert!(prefers(Some("text/html")));
        for api in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("application/json, text/html"),
            Some("text/html;q=0.5, application/json"),
            Some("text/html;q=0, */*"),
            Some("text/plain"),
        ] {
            assert!(!prefers(api), "{api:?}");
        }
    }
}
