//! Identifiers: image ids (hyphenated UUIDs) and user / member ids.

use crate::error::AppError;

/// An image id: a UUID in its hyphenated 8-4-4-4-12 form, kept lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ImageId(uuid::Uuid);

impl ImageId {
    /// A fresh random (v4) id.
    pub(crate) fn generate() -> Self {
        ImageId(uuid::Uuid::new_v4())
    }

    /// Parses the hyphenated form in either hex case; anything else is a 400.
    pub(crate) fn parse(s: &str) -> Result<Self, AppError> {
        let b = s.as_bytes();
        let shaped = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if !shaped {
            return Err(AppError::invalid(format!(
                "Invalid image id '{}': expected a UUID like 5583ffe1-5273-4c84-9e32-2fbe476bd7b7",
                truncate(s, 80)
            )));
        }
        uuid::Uuid::parse_str(s)
            .map(ImageId)
            .map_err(|_| AppError::invalid(format!("Invalid image id '{s}'")))
    }
}

impl ImageId {
    /// The hyphenated lower-case form, written into `buf` (no `String`).
    pub(crate) fn encode<'b>(&self, buf: &'b mut [u8; 36]) -> &'b str {
        self.0.hyphenated().encode_lower(buf)
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// Whether `s` is a valid user or member id: 1-255 characters of `[A-Za-z0-9@._-]`.
pub(crate) fn is_valid_user_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'@' | b'.' | b'_' | b'-'))
}

/// Parses a member id, naming `what` in the 400 it gives for a bad one.
pub(crate) fn parse_member_id(s: &str, what: &str) -> Result<String, AppError> {
    if is_valid_user_id(s) {
        Ok(s.to_string())
    } else {
        Err(AppError::invalid(format!(
            "Invalid {what} '{}': expected 1-255 characters of A-Z a-z 0-9 @ . _ -",
            truncate(s, 80)
        )))
    }
}

/// Cuts a value for quoting in an error message, on a character boundary,
/// with its control characters escaped (`\u{1b}`): a message quotes what
/// the client sent, and must not carry a terminal escape or a line break
/// into a log line or a terminal (issue 25, item 7).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    super::text::shown(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_accept_either_case_and_render_lower() {
        let id = ImageId::parse("5583FFE1-5273-4C84-9E32-2FBE476BD7B7").unwrap();
        assert_eq!(id.to_string(), "5583ffe1-5273-4c84-9e32-2fbe476bd7b7");
    }

    #[test]
    fn image_ids_reject_other_forms() {
        for bad in [
            "5583ffe152734c849e322fbe476bd7b7",
            "{5583ffe1-5273-4c84-9e32-2fbe476bd7b7}",
            "urn:uuid:5583ffe1-5273-4c84-9e32-2fbe476bd7b7",
            "5583ffe1-5273-4c84-9e32-2fbe476bd7bg",
            "",
            "detail",
        ] {
            assert!(ImageId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_ids() {
        assert!(is_valid_user_id("alice@example.org"));
        assert!(is_valid_user_id("25cced7-bd53_4145.x"));
        assert!(!is_valid_user_id(""));
        assert!(!is_valid_user_id("a b"));
        assert!(!is_valid_user_id("a/b"));
        assert!(!is_valid_user_id(&"a".repeat(256)));
    }
}
