//! The image record and its field types (docs/api.md §4).

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{truncate, ImageId};
use super::object::ObjectInfo;
use super::text::{check_text, TextUse};
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

/// Who sees an image (docs/api.md §17.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Visibility {
    /// Everyone lists and reads it.
    Public,
    /// Everyone reads it; lists it on request.
    Community,
    /// Its owner and its members.
    Shared,
    /// Its owner only.
    Private,
}

impl Visibility {
    /// The word on the wire and in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Community => "community",
            Visibility::Shared => "shared",
            Visibility::Private => "private",
        }
    }

    /// Parses the exact word (v2 is case-sensitive here, as Glance).
    pub(crate) fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "community" => Some(Visibility::Community),
            "shared" => Some(Visibility::Shared),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }

    /// v1's `is_public` (§17.12).
    pub(crate) fn is_public(self) -> bool {
        self == Visibility::Public
    }

    /// A new image registered through v1: `is_public` true → public, false
    /// or absent → shared (§17.12).
    pub(crate) fn on_v1_register(is_public: Option<bool>) -> Visibility {
        if is_public == Some(true) {
            Visibility::Public
        } else {
            Visibility::Shared
        }
    }

    /// A v1 update (or re-register) of `is_public`: true → public; false
    /// turns public and community into shared and leaves shared and private
    /// as they are, so a private image stays private (§17.12).
    pub(crate) fn on_v1_update(self, is_public: Option<bool>) -> Visibility {
        match (is_public, self) {
            (Some(true), _) => Visibility::Public,
            (Some(false), Visibility::Public | Visibility::Community) => Visibility::Shared,
            _ => self,
        }
    }

    /// A v1 member add, or a replace with a non-empty list, makes a private
    /// image shared (§17.12); other visibilities stay.
    pub(crate) fn on_v1_member_add(self) -> Visibility {
        match self {
            Visibility::Private => Visibility::Shared,
            other => other,
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
    /// Who sees it (docs/api.md §17.2); v1 shows `is_public()`.
    pub(crate) visibility: Visibility,
    /// Left out of v2 lists unless asked for (§17.2).
    pub(crate) os_hidden: bool,
    /// v2's tags.
    pub(crate) tags: BTreeSet<String>,
    /// The digest of its data in the configured algorithm, where plankton
    /// computed one (v2 uploads).
    pub(crate) os_hash: Option<OsHash>,
    /// Bytes, where someone said so (v2 shows it, nothing sets it yet).
    pub(crate) virtual_size: Option<u64>,
    /// What the inspector found in its data (docs/api.md §19); `None` when
    /// it was never inspected.
    pub(crate) examined: Option<Examined>,
    /// Its object was written by plankton (an upload), so deleting the image
    /// deletes the object (§17.6).
    pub(crate) uploaded: bool,
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

/// What the inspector found in an image's data (docs/api.md §19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Examined {
    /// The format detected (`raw`, `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`, `iso`).
    pub(crate) format: String,
    /// What makes the data unsafe, kept where the policy let it in.
    pub(crate) finding: Option<String>,
}

/// The `os_hash` is what the store computed of the data; the image keeps it.
pub(crate) use super::object::OsHash;

impl Image {
    /// The image unregistered at `now` (never before its last change): a
    /// tombstone, its id never used again.
    pub(crate) fn entombed(&self, now: Micros) -> Image {
        let now = now.max(self.updated_at);
        Image {
            status: Status::Deleted,
            deleted_at: Some(now),
            updated_at: now,
            ..self.clone()
        }
    }

    /// v1's `is_public` (docs/api.md §17.12).
    pub(crate) fn is_public(&self) -> bool {
        self.visibility.is_public()
    }

    /// This v1 registration as it re-registers `live`, the image already at
    /// its location: the id, creation time and what v1 cannot say (tags,
    /// `os_hidden`, `uploaded`) are kept, and what the inspector found unless
    /// it looked again (§19); the visibility follows v1's update rule
    /// (§17.12); the `os_hash` is the one just computed, else the live
    /// one's while the data is the same.
    pub(crate) fn reregistering(mut self, live: &Image) -> Image {
        self.visibility = live.visibility.on_v1_update(Some(self.is_public()));
        self.id = live.id;
        self.created_at = live.created_at;
        self.updated_at = self.updated_at.max(live.updated_at);
        self.os_hidden = live.os_hidden;
        self.tags = live.tags.clone();
        // What was not inspected now is kept while the data is the same.
        if self.examined.is_none() && live.checksum == self.checksum {
            self.virtual_size = live.virtual_size;
            self.examined = live.examined.clone();
        }
        self.uploaded = live.uploaded;
        // The digest just computed of the data, if any; else the one kept
        // of the same data.
        self.os_hash = self.os_hash.take().or_else(|| {
            live.os_hash
                .clone()
                .filter(|_| live.checksum == self.checksum)
        });
        self
    }

    /// Whether it has data: a registered or uploaded object always has a
    /// Pithos checksum; a queued image, or one saving its first upload,
    /// has none (docs/api.md §17.4).
    pub(crate) fn has_data(&self) -> bool {
        !self.checksum.is_empty()
    }

    /// This queued image as its v2 upload starts (§17.4): `saving`, at the
    /// location the data will have, still without data. Not queued: 409;
    /// its formats unset: 400.
    pub(crate) fn upload_starting(&self, location: String, now: Micros) -> Result<Image, AppError> {
        if self.status != Status::Queued {
            return Err(AppError::Conflict(format!(
                "Image {} is {}: data can be uploaded only to a queued image",
                self.id,
                self.status.as_db()
            )));
        }
        if self.disk_format.is_empty() || self.container_format.is_empty() {
            return Err(AppError::invalid(format!(
                "Image {} has no disk_format or container_format: set both before uploading",
                self.id
            )));
        }
        let mut image = self.clone();
        image.status = Status::Saving;
        image.location = location;
        image.updated_at = now.max(self.updated_at);
        Ok(image)
    }

    /// This saving image with its uploaded data recorded: active.
    pub(crate) fn upload_done(&self, data: &ObjectInfo, now: Micros) -> Image {
        let mut image = self.clone();
        image.status = Status::Available;
        image.size = data.size;
        image.checksum = data.checksum.clone();
        image.md5 = data.md5.clone();
        image.uploaded = true;
        image.updated_at = now.max(self.updated_at);
        image
    }

    /// This image back to queued after a failed upload: no data, no
    /// location, and `updated_at` as it was before (`was`): a refused
    /// upload changes nothing.
    pub(crate) fn upload_undone(&self, was: Micros) -> Image {
        let mut image = self.clone();
        image.status = Status::Queued;
        image.location = String::new();
        image.size = 0;
        image.checksum = String::new();
        image.md5 = None;
        image.os_hash = None;
        image.updated_at = was;
        image
    }

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

/// A v1 property key (percent-decoded, as a header or form gave it) as
/// stored: refused if it holds a control character (which normalising
/// would otherwise hide as `_`), then normalised and its length checked.
pub(crate) fn property_key_of(decoded: &str) -> Result<String, AppError> {
    check_text("property key", decoded, TextUse::Label).map_err(AppError::Invalid)?;
    let key = normalise_property_key(decoded);
    check_property_key(&key)?;
    Ok(key)
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

/// Checks a property value: its length, and no control character but tab
/// and line feed.
pub(crate) fn check_property_value(key: &str, value: &str) -> Result<(), AppError> {
    check_text(
        &format!("value of property '{}'", super::text::shown(key, 80)),
        value,
        TextUse::Value,
    )
    .map_err(AppError::Invalid)?;
    if value.len() > MAX_PROPERTY_VALUE {
        return Err(AppError::invalid(format!(
            "Invalid value of property '{}': longer than {MAX_PROPERTY_VALUE} bytes",
            truncate(key, 80)
        )));
    }
    Ok(())
}

/// Checks an image name: 1-255 characters, none a control character.
pub(crate) fn check_name(name: &str) -> Result<(), AppError> {
    check_text("name", name, TextUse::Label).map_err(AppError::Invalid)?;
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
