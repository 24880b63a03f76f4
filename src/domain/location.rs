//! Pithos locations, `pithos://<account>/<container>/<object path>`, parsed once into parts (docs/api.md §9).

use super::ids::truncate;
use super::percent::{decode, encode_segment};
use crate::error::AppError;

/// The longest object path we accept, in bytes after decoding (Pithos's own limit).
pub(crate) const MAX_OBJECT_LEN: usize = 1024;
/// The longest container name we accept, in bytes after decoding.
pub(crate) const MAX_CONTAINER_LEN: usize = 256;

/// A parsed location. Two spellings of one object parse to equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    account: String,
    container: String,
    /// The object path's segments, decoded; never empty, none `.`/`..`/empty.
    segments: Vec<String>,
}

impl Location {
    /// Parses a location given in a request; every failure is a 400 naming the value.
    pub(crate) fn parse(raw: &str) -> Result<Location, AppError> {
        let fail = |why: &str| {
            AppError::invalid(format!("Invalid location '{}': {why}", truncate(raw, 200)))
        };
        let rest = raw
            .strip_prefix("pithos://")
            .ok_or_else(|| fail("expected pithos://<account>/<container>/<object path>"))?;
        let mut parts = rest.splitn(3, '/');
        let account_raw = parts.next().unwrap_or("");
        let container_raw = parts.next().unwrap_or("");
        let object_raw = parts
            .next()
            .ok_or_else(|| fail("expected pithos://<account>/<container>/<object path>"))?;
        let dec = |s: &str, what: &str| decode(s).map_err(|e| fail(&format!("{what}: {e}")));
        let account = dec(account_raw, "account")?;
        let container = dec(container_raw, "container")?;
        let object = dec(object_raw, "object path")?;
        check_part(&account, "account").map_err(|w| fail(&w))?;
        if account.contains('/') {
            return Err(fail("the account holds a '/'"));
        }
        if !super::ids::is_valid_user_id(&account) {
            return Err(fail("the account is not a valid user id"));
        }
        check_part(&container, "container").map_err(|w| fail(&w))?;
        if container.contains('/') {
            return Err(fail("the container holds a '/'"));
        }
        if container.len() > MAX_CONTAINER_LEN {
            return Err(fail(&format!(
                "the container is longer than {MAX_CONTAINER_LEN} bytes"
            )));
        }
        if object.len() > MAX_OBJECT_LEN {
            return Err(fail(&format!(
                "the object path is longer than {MAX_OBJECT_LEN} bytes"
            )));
        }
        let segments: Vec<String> = object.split('/').map(str::to_string).collect();
        for seg in &segments {
            check_part(seg, "object path segment").map_err(|w| fail(&w))?;
        }
        Ok(Location {
            account,
            container,
            segments,
        })
    }

    /// The account (the owner's user id).
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// The container name, decoded.
    pub(crate) fn container(&self) -> &str {
        &self.container
    }

    /// The object path's segments, decoded.
    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The object path, decoded, segments joined by `/`.
    #[cfg(test)]
    pub(crate) fn object_path(&self) -> String {
        self.segments.join("/")
    }

    /// The canonical rendering: every segment percent-encoded, upper-case hex.
    pub(crate) fn canonical(&self) -> String {
        let mut out = String::with_capacity(16 + self.account.len() + self.container.len());
        out.push_str("pithos://");
        out.push_str(&encode_segment(&self.account));
        out.push('/');
        out.push_str(&encode_segment(&self.container));
        for seg in &self.segments {
            out.push('/');
            out.push_str(&encode_segment(seg));
        }
        out
    }
}

fn check_part(part: &str, what: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if part == "." || part == ".." {
        return Err(format!("the {what} is '{part}'"));
    }
    if part.contains('\0') {
        return Err(format!("the {what} holds a NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_canonically() {
        let loc =
            Location::parse("pithos://u53r-1d/images/my/path/ex%61mple image.diskdump").unwrap();
        assert_eq!(loc.account(), "u53r-1d");
        assert_eq!(loc.container(), "images");
        assert_eq!(loc.object_path(), "my/path/example image.diskdump");
        assert_eq!(
            loc.canonical(),
            "pithos://u53r-1d/images/my/path/example%20image.diskdump"
        );
        assert_eq!(Location::parse(&loc.canonical()).unwrap(), loc);
    }

    #[test]
    fn encoded_slash_in_object_path_is_a_separator() {
        let a = Location::parse("pithos://u/c/a%2Fb").unwrap();
        let b = Location::parse("pithos://u/c/a/b").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_escapes_from_the_tree() {
        for bad in [
            "pithos://u/c/../x",
            "pithos://u/c/%2e%2e/x",
            "pithos://u/c/a/%2E",
            "pithos://u/../x",
            "pithos://u/c/a//b",
            "pithos://u/c/a/",
            "pithos://u/c",
            "pithos://u//x",
            "pithos:///c/x",
            "pithos://u%2Fv/c/x",
            "pithos://u/c%2Fd/x",
            "pithos://u/c/a%00b",
            "pithos://u/c/%zz",
            "PITHOS://u/c/x",
            "http://u/c/x",
            "",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
