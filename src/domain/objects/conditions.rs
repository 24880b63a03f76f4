//! HTTP preconditions on objects: `If-Match`, `If-None-Match`,
//! `If-Modified-Since`, `If-Unmodified-Since` (RFC 9110 §13), against the
//! object's ETag (its MD5) and modification time.

/// The preconditions a request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preconditions {
    /// `If-Match`: ETags, or `*`.
    pub(crate) if_match: Option<Vec<String>>,
    /// `If-None-Match`: ETags, or `*`.
    pub(crate) if_none_match: Option<Vec<String>>,
    /// `If-Modified-Since`, seconds since the epoch (an unparsable date is ignored).
    pub(crate) if_modified_since: Option<i64>,
    /// `If-Unmodified-Since`, seconds since the epoch.
    pub(crate) if_unmodified_since: Option<i64>,
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on.
    Proceed,
    /// 304: a read whose copy the client already has.
    NotModified,
    /// 412.
    Failed,
}

/// The ETags of an `If-Match` / `If-None-Match` value, quotes and `W/` dropped.
pub(crate) fn etag_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|t| {
            t.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// An HTTP date as seconds since the epoch.
pub(crate) fn http_date(raw: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(raw.trim())
        .ok()
        .map(|d| d.timestamp())
}

fn matches(list: &[String], etag: Option<&str>) -> bool {
    match etag {
        None => false,
        Some(e) => list.iter().any(|t| t == "*" || t == e),
    }
}

impl Preconditions {
    /// For a GET or HEAD of an existing object with this ETag and mtime.
    pub(crate) fn for_read(&self, etag: &str, mtime: i64) -> Verdict {
        if let Some(list) = &self.if_match {
            if !matches(list, Some(etag)) {
                return Verdict::Failed;
            }
        } else if self.if_unmodified_since.is_some_and(|t| mtime > t) {
            return Verdict::Failed;
        }
        if let Some(list) = &self.if_none_match {
            if matches(list, Some(etag)) {
                return Verdict::NotModified;
            }
        } else if self.if_modified_since.is_some_and(|t| mtime <= t) {
            return Verdict::NotModified;
        }
        Verdict::Proceed
    }

    /// For a write over the object now there (`None`: there is none).
    pub(crate) fn for_write(&self, current: Option<&str>) -> Verdict {
        if let Some(list) = &self.if_match {
            if !matches(list, current) {
                return Verdict::Failed;
            }
        }
        if let Some(list) = &self.if_none_match {
            if matches(list, current) {
                return Verdict::Failed;
            }
        }
        Verdict::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_follow_http() {
        let p = Preconditions {
            if_none_match: Some(etag_list("\"abc\", def")),
            ..Default::default()
        };
        assert_eq!(p.for_read("abc", 0), Verdict::NotModified);
        assert_eq!(p.for_read("xyz", 0), Verdict::Proceed);
        let star = Preconditions {
            if_none_match: Some(etag_list("*")),
            ..Default::default()
        };
        assert_eq!(star.for_write(Some("abc")), Verdict::Failed);
        assert_eq!(star.for_write(None), Verdict::Proceed);
        let m = Preconditions {
            if_match: Some(etag_list("abc")),
            ..Default::default()
        };
        assert_eq!(m.for_read("xyz", 0), Verdict::Failed);
        assert_eq!(m.for_write(None), Verdict::Failed);
        let since = Preconditions {
            if_modified_since: http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            ..Default::default()
        };
        assert_eq!(since.for_read("a", 784111777), Verdict::NotModified);
        assert_eq!(since.for_read("a", 784111778), Verdict::Proceed);
    }
}
