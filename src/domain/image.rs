//! The image record and its field types (docs/api.md §4).

use std::collections::BTreeMap;

use super::ids::{truncate, ImageId};
use super::time::Micros;
use crate::error::AppError;

/// The longest property value, in bytes.
pub(crate) const MAX_PROPERTY_VALUE: usize = 4096;
/// The longest property key, in bytes after normalising.
pub(crate) const MAX_PROPERTY_KEY: usize = 255;

/// An image's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Registered and usable.
    Available,
    /// Being written (set by its owner).
    Saving,
    /// Marked broken (set by its owner).
    Error,
    /// Unregistered; a tombstone.
    Deleted,
    /// Made through v2, no data yet (docs/api.md §17.12).
    Queued,
    /// Its data refused to everyone until reactivated (§17.8).
    Deactivated,
}

impl Status {
    /// The lower-case name used on the wire and in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Saving => "saving",
            Status::Error => "error",
            Status::Deleted => "deleted",
            Status::Queued => "queued",
            Status::Deactivated => "deactivated",
        }
    }

    /// The word stored in the catalogue, v2's (docs/api.md §17.12).
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            Status::Available => "active",
            Status::Saving => "saving",
            Status::Error => "killed",
            Status::Deleted => "deleted",
            Status::Queued => "queued",
            Status::Deactivated => "deactivated",
        }
    }

    /// Parses a stored word.
    pub(crate) fn from_db(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Available),
            "saving" => Some(Status::Saving),
            "killed" => Some(Status::Error),
            "deleted" => Some(Status::Deleted),
            "queued" => Some(Status::Queued),
            "deactivated" => Some(Status::Deactivated),
            _ => None,
        }
    }

    /// Parses a filtered status (v1's words), in any case.
    pub(crate) fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_lowercase().as_str() {
            "available" => Some(Status::Available),
            "saving" => Some(Status::Saving),
            "error" => Some(Status::Error),
            "deleted" => Some(Status::Deleted),
            "queued" => Some(Status::Queued),
            "deactivated" => Some(Status::Deactivated),
            _ => None,
        }
    }

    /// Parses a status an owner may set with an update: `available`, `saving`, `error`.
    pub(crate) fn parse_settable(s: &str) -> Result<Status, AppError> {
        match Status::parse(s) {
            Some(st @ (Status::Available | Status::Saving | Status::Error)) => Ok(st),
            _ => Err(AppError::invalid(format!(
                "Invalid status '{}': expected available, saving or error",
                truncate(s, 80)
            ))),
        }
    }
}

/// One image as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Image {
    /// The image id.
    pub(crate) id: ImageId,
    /// 1-255 characters.
    pub(crate) name: String,
    /// The canonical location.
    pub(crate) location: String,
    /// Its status.
    pub(crate) status: Status,
    /// One of the configured disk formats.
    pub(crate) disk_format: String,
    /// One of the configured container formats.
    pub(crate) container_format: String,
    /// Bytes, read from the store at registration.
    pub(crate) size: u64,
    /// The Pithos hash, lower-case hex.
    pub(crate) checksum: String,
    /// The MD5 of the data, where the store knows it.
    pub md5: Option<String>,
    /// Set once at first registration.
    pub(crate) created_at: Micros,
    /// Every metadata change.
    pub(crate) updated_at: Micros,
    /// Set when unregistered.
    pub(crate) deleted_at: Option<Micros>,
    /// Readable by everyone.
    pub(crate) is_public: bool,
    /// Its unregistering is refused, in every API (docs/api.md §17.2).
    pub(crate) protected: bool,
    /// The user who registered it.
    pub(crate) owner: String,
    /// MB.
    pub(crate) min_ram: u64,
    /// MB.
    pub(crate) min_disk: u64,
    /// Free-form properties, keys normalised.
    pub(crate) properties: BTreeMap<String, String>,
}

impl Image {
    /// The image's location, parsed. It was stored canonical, so failing to
    /// parse it is a bug (a 500), not the caller's mistake.
    pub(crate) fn parsed_location(&self) -> Result<super::location::Location, AppError> {
        super::location::Location::parse(&self.location).map_err(|_| {
            AppError::internal(format!(
                "stored location '{}' does not parse",
                self.location
            ))
        })
    }
}

/// Normalises a property key that is already percent-decoded: ASCII letters
/// lower-cased, every character that is not a letter or digit turned into `_`.
pub(crate) fn normalise_property_key(decoded: &str) -> String {
    decoded
        .chars()
        .map(|c| {
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            } else if c.is_alphanumeric() {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks a normalised property key's length.
pub(crate) fn check_property_key(key: &str) -> Result<(), AppError> {
    if key.is_empty() || key.len() > MAX_PROPERTY_KEY {
        return Err(AppError::invalid(format!(
            "Invalid property key '{}': must be 1-{MAX_PROPERTY_KEY} bytes",
            truncate(key, 80)
        )));
    }
    Ok(())
}

/// The prefix of property keys Glance keeps for itself (docs/api.md §17.2).
pub(crate) const RESERVED_PREFIX: &str = "os_glance_";

/// Refuses property keys starting `os_glance_` (403 in every API, §17.12),
/// checked after every 400 of the request.
pub(crate) fn check_reserved_keys<'a>(
    mut keys: impl Iterator<Item = &'a String>,
) -> Result<(), AppError> {
    match keys.find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(k) => Err(AppError::Forbidden(format!(
            "Property '{}' is reserved: keys starting {RESERVED_PREFIX} are Glance's",
            truncate(k, 80)
        ))),
        None => Ok(()),
    }
}

/// Checks a property value's length.
pub(crate) fn check_property_value(key: &str, value: &str) -> Result<(), AppError> {
    if value.len() > MAX_PROPERTY_VALUE {
        return Err(AppError::invalid(format!(
            "Invalid value of property '{}': longer than {MAX_PROPERTY_VALUE} bytes",
            truncate(key, 80)
        )));
    }
    Ok(())
}

/// Checks an image name: 1-255 characters.
pub(crate) fn check_name(name: &str) -> Result<(), AppError> {
    let n = name.chars().count();
    if n == 0 || n > 255 {
        return Err(AppError::invalid(format!(
            "Invalid name '{}': must be 1-255 characters",
            truncate(name, 80)
        )));
    }
    Ok(())
}

/// Parses `true`/`false` in any case, naming `field` in the 400 otherwise.
pub(crate) fn parse_bool(field: &str, s: &str) -> Result<bool, AppError> {
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(AppError::invalid(format!(
            "Invalid {field} '{}': expected true or false",
            truncate(s, 80)
        )))
    }
}

/// Parses a non-negative decimal integer, naming `field` in the 400 otherwise.
pub(crate) fn parse_count(field: &str, s: &str) -> Result<u64, AppError> {
    // Digits only (no sign, no space); leading zeros are fine; past i64 is a 400.
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match ok.then(|| s.parse::<i64>().ok()).flatten() {
        Some(n) => Ok(n as u64),
        None => Err(AppError::invalid(format!(
            "Invalid {field} '{}': expected a non-negative integer",
            truncate(s, 80)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_keys_normalise() {
        assert_eq!(normalise_property_key("Root-Partition"), "root_partition");
        assert_eq!(normalise_property_key("OS.Family x"), "os_family_x");
        assert_eq!(normalise_property_key("Ελληνικά"), "Ελληνικά");
        assert_eq!(normalise_property_key("a€b"), "a_b");
        let k = normalise_property_key("Root-Partition");
        assert_eq!(normalise_property_key(&k), k);
    }

    #[test]
    fn os_glance_keys_are_reserved() {
        let keys = ["os".to_string(), "os_glance_x".to_string()];
        assert!(matches!(
            check_reserved_keys(keys.iter()),
            Err(AppError::Forbidden(_))
        ));
        assert!(check_reserved_keys(keys[..1].iter()).is_ok());
    }

    #[test]
    fn counts_and_bools() {
        assert_eq!(parse_count("size", "0").unwrap(), 0);
        assert_eq!(
            parse_count("size", "9223372036854775807").unwrap(),
            i64::MAX as u64
        );
        assert!(parse_count("size", "9223372036854775808").is_err());
        assert_eq!(parse_count("size", "00000000000000000000042").unwrap(), 42);
        assert!(parse_count("size", "-1").is_err());
        assert!(parse_count("size", "+1").is_err());
        assert!(parse_count("size", "").is_err());
        assert!(parse_bool("is_public", "TRUE").unwrap());
        assert!(!parse_bool("is_public", "False").unwrap());
        assert!(parse_bool("is_public", "yes").is_err());
    }
}
