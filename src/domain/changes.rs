//! What a registration or an update asks for, parsed and checked before any
//! transaction begins (docs/api.md §7).

use std::collections::BTreeMap;

use super::ids::truncate;
use super::image::{Image, Status, Visibility};
use super::location::Location;
use crate::error::AppError;

/// The fields both a registration and an update may set, each checked.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Settable {
    /// A new name.
    pub(crate) name: Option<String>,
    /// One of the configured disk formats.
    pub(crate) disk_format: Option<String>,
    /// One of the configured container formats.
    pub(crate) container_format: Option<String>,
    /// Publicity.
    pub(crate) is_public: Option<bool>,
    /// One of v2's four visibilities (docs/api.md §17.2): the web view's
    /// owner form; v1 has no header for it, and a registration ignores it.
    pub(crate) visibility: Option<Visibility>,
    /// Whether unregistering is refused (docs/api.md §17.12).
    pub(crate) protected: Option<bool>,
    /// The owner as the request states it (it can only be the caller).
    pub(crate) owner: Option<String>,
    /// MB.
    pub(crate) min_ram: Option<u64>,
    /// MB.
    pub(crate) min_disk: Option<u64>,
}

/// A registration: an object at a location, described.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewImage {
    /// The image's name (required).
    pub(crate) name: String,
    /// Where its data is.
    pub(crate) location: Location,
    /// The other fields it sets.
    pub(crate) set: Settable,
    /// The size the caller says the object has, to be checked.
    pub(crate) size: Option<u64>,
    /// The MD5 (32 hex digits) or Pithos hash (64) the caller says the
    /// object has, lower case, to be checked.
    pub(crate) checksum: Option<String>,
    /// Its properties (none empty).
    pub(crate) properties: BTreeMap<String, String>,
}

/// An update of an image's metadata.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ImagePatch {
    /// The fields it sets.
    pub(crate) set: Settable,
    /// A new status (never `deleted`).
    pub(crate) status: Option<Status>,
    /// Whether the properties sent replace the stored ones (rather than
    /// being merged into them).
    pub(crate) purge: bool,
    /// Properties to set; an empty value removes the key.
    pub(crate) properties: BTreeMap<String, String>,
    /// Properties sent more than once with different values, every value in
    /// the order sent: settled against the stored ones by `resolve_conflicts`.
    pub(crate) conflicts: BTreeMap<String, Vec<String>>,
}

/// Settles properties sent twice with different values. kamaki's
/// `image modify -p KEY=new` re-sends every stored property beside the new
/// value (`...-Property-os: old` and `...-Property-OS: new`), so on an update
/// the one value that differs from the stored one wins. Anything else (no
/// stored value to tell them apart, or several new values) is invalid.
pub(crate) fn resolve_conflicts(
    properties: &mut BTreeMap<String, String>,
    conflicts: BTreeMap<String, Vec<String>>,
    stored: Option<&BTreeMap<String, String>>,
) -> Result<(), AppError> {
    for (key, values) in conflicts {
        let old = stored.and_then(|p| p.get(&key));
        let mut new: Vec<&String> = values.iter().filter(|v| Some(*v) != old).collect();
        new.sort();
        new.dedup();
        match (old, new.as_slice()) {
            (Some(_), [one]) => {
                properties.insert(key, (*one).clone());
            }
            _ => {
                return Err(AppError::invalid(format!(
                    "Property '{}' is given twice with different values",
                    truncate(&key, 80)
                )))
            }
        }
    }
    Ok(())
}

/// Refuses more than `max` properties.
pub(crate) fn check_property_count(count: usize, max: usize) -> Result<(), AppError> {
    if count > max {
        return Err(AppError::OverLimit(format!(
            "Too many properties: {count} (at most {max} per image)"
        )));
    }
    Ok(())
}

impl ImagePatch {
    /// `image` with this patch applied; the owner cannot change, and at most
    /// `max_properties` properties may result.
    pub(crate) fn apply(self, image: &Image, max_properties: usize) -> Result<Image, AppError> {
        let ImagePatch {
            set,
            status,
            purge,
            mut properties,
            conflicts,
        } = self;
        resolve_conflicts(&mut properties, conflicts, Some(&image.properties))?;
        if status.is_some() && image.status == Status::Queued {
            return Err(AppError::Conflict(format!(
                "Image {} is queued: it has no data, so its status cannot be set \
                 (upload its data through /v2/images/{{id}}/file)",
                image.id
            )));
        }
        let mut image = image.clone();
        if let Some(owner) = set.owner {
            if owner != image.owner {
                return Err(AppError::Forbidden(format!(
                    "Invalid X-Image-Meta-Owner '{}': the owner of an image cannot be changed",
                    truncate(&owner, 80)
                )));
            }
        }
        set_if(&mut image.name, set.name);
        set_if(&mut image.disk_format, set.disk_format);
        set_if(&mut image.container_format, set.container_format);
        if let Some(public) = set.is_public {
            image.visibility = image.visibility.on_v1_update(Some(public));
        }
        set_if(&mut image.visibility, set.visibility);
        set_if(&mut image.protected, set.protected);
        set_if(&mut image.min_ram, set.min_ram);
        set_if(&mut image.min_disk, set.min_disk);
        set_if(&mut image.status, status);
        if purge {
            image.properties.clear();
        }
        for (k, v) in properties {
            if v.is_empty() {
                image.properties.remove(&k);
            } else {
                image.properties.insert(k, v);
            }
        }
        check_property_count(image.properties.len(), max_properties)?;
        Ok(image)
    }
}

fn set_if<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}
