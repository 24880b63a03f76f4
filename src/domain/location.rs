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
        Location::from_raw_parts(account_raw, container_raw, object_raw).map_err(|w| fail(&w))
    }

    /// Parses a location a client gives to register an image: as `parse`,
    /// and no control character in its container or object path (issue
    /// 25, item 7; the object store refuses them in names too). Stored
    /// locations and names read from disk go through `parse` alone, so a
    /// file named by hand stays listable.
    pub(crate) fn parse_given(raw: &str) -> Result<Location, AppError> {
        let loc = Location::parse(raw)?;
        let parts = std::iter::once(loc.container()).chain(loc.segments.iter().map(String::as_str));
        for part in parts {
            super::text::check_text("location", part, super::text::TextUse::Label)
                .map_err(AppError::Invalid)?;
        }
        Ok(loc)
    }

    /// The object the object-store endpoint names by the path
    /// `<account>/<container>/<object>` (each part still percent-encoded).
    pub(crate) fn from_store_path(
        account: &str,
        container: &str,
        object: &str,
    ) -> Result<Location, AppError> {
        Location::from_raw_parts(account, container, object).map_err(|why| {
            AppError::invalid(format!(
                "Invalid object name '{}/{}/{}': {why}",
                truncate(account, 80),
                truncate(container, 80),
                truncate(object, 200)
            ))
        })
    }

    /// The location of decoded parts (an object's name as the store lists it).
    pub(crate) fn of_decoded(
        account: &str,
        container: &str,
        object: &str,
    ) -> Result<Location, AppError> {
        Location::parse(&canonical_of(account, container, object))
    }

    /// The location of percent-encoded parts, or why they name none.
    fn from_raw_parts(account: &str, container: &str, object: &str) -> Result<Location, String> {
        let account = account_name(account)?;
        let container = container_name(container)?;
        let object = decode(object).map_err(|e| format!("object path: {e}"))?;
        if object.len() > MAX_OBJECT_LEN {
            return Err(format!(
                "the object path is longer than {MAX_OBJECT_LEN} bytes"
            ));
        }
        let segments: Vec<String> = object.split('/').map(str::to_string).collect();
        for seg in &segments {
            check_part(seg, "object path segment")?;
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
    pub(crate) fn object_path(&self) -> String {
        self.segments.join("/")
    }

    /// The canonical rendering: every segment percent-encoded, upper-case hex.
    pub(crate) fn canonical(&self) -> String {
        canonical_of(&self.account, &self.container, &self.object_path())
    }
}

/// The canonical text of the location of decoded parts.
pub(crate) fn canonical_of(account: &str, container: &str, object: &str) -> String {
    let mut out = format!(
        "pithos://{}/{}",
        encode_segment(account),
        encode_segment(container)
    );
    for seg in object.split('/') {
        out.push('/');
        out.push_str(&encode_segment(seg));
    }
    out
}

/// An account name (a user id), percent-decoded and checked.
pub(crate) fn account_name(raw: &str) -> Result<String, String> {
    let account = decode(raw).map_err(|e| format!("account: {e}"))?;
    check_part(&account, "account")?;
    if account.contains('/') {
        return Err("the account holds a '/'".into());
    }
    if !super::ids::is_valid_user_id(&account) {
        return Err("the account is not a valid user id".into());
    }
    Ok(account)
}

/// A container name, percent-decoded and checked.
pub(crate) fn container_name(raw: &str) -> Result<String, String> {
    let container = decode(raw).map_err(|e| format!("container: {e}"))?;
    check_part(&container, "container")?;
    if container.contains('/') {
        return Err("the container holds a '/'".into());
    }
    if container.len() > MAX_CONTAINER_LEN {
        return Err(format!(
            "the container is longer than {MAX_CONTAINER_LEN} bytes"
        ));
    }
    Ok(container)
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
