//! The image model all three APIs share (docs/api.md §17.2, §17.10, §17.12):
//! visibility, life status, members and their status, tags, the v2 changes
//! an update applies in order, and the rules of who reads and lists what.
//! Pure functions over these types; the registry stores, the surfaces parse
//! and render.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{truncate, ImageId};
use super::time::Micros;
use crate::error::AppError;

/// Who sees an image (§17.2): defined beside the image, which holds one.
pub(crate) use super::image::Visibility;

/// An image's life (§17.2). v1 shows `Active` as `available` and `Killed`
/// as `error` (§17.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Life {
    /// Made, no data yet.
    Queued,
    /// Data arriving (or set so through v1).
    Saving,
    /// Usable.
    Active,
    /// Its data is refused to everyone until reactivated.
    Deactivated,
    /// Marked failed (through v1's `error`).
    Killed,
    /// A tombstone.
    Deleted,
}

/// A member's answer to a share (§17.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MemberStatus {
    /// Added, not yet answered: readable by id, listed only on request.
    Pending,
    /// In the member's default list.
    Accepted,
    /// Readable by id, listed only on request; not in v1 lists.
    Rejected,
}

impl MemberStatus {
    /// The word on the wire and in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }

    /// Parses the exact word.
    pub(crate) fn parse(s: &str) -> Option<MemberStatus> {
        match s {
            "pending" => Some(MemberStatus::Pending),
            "accepted" => Some(MemberStatus::Accepted),
            "rejected" => Some(MemberStatus::Rejected),
            _ => None,
        }
    }
}

/// One membership of an image (§17.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member's user id.
    pub(crate) member_id: String,
    /// The image.
    pub(crate) image_id: ImageId,
    /// Its answer.
    pub(crate) status: MemberStatus,
    /// When it was added.
    pub(crate) created_at: Micros,
    /// Its last status change.
    pub(crate) updated_at: Micros,
}

/// `visibility` of a v2 list (§17.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum VisibilityCut {
    /// Absent: no one else's community image.
    #[default]
    Default,
    /// `all`: no cut.
    All,
    /// Only this visibility.
    Only(Visibility),
}

/// `member_status` of a v2 list (§17.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MemberStatusCut {
    /// Absent means accepted.
    #[default]
    Accepted,
    /// `pending`.
    Pending,
    /// `rejected`.
    Rejected,
    /// `all`.
    All,
}

/// Which images a v2 list starts from (§17.9), before its filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct V2Who {
    /// The `visibility` parameter.
    pub(crate) visibility: VisibilityCut,
    /// The `member_status` parameter.
    pub(crate) member_status: MemberStatusCut,
    /// `os_hidden`: absent or false keeps the not hidden, true the hidden.
    pub(crate) hidden: bool,
}

/// A comparison of a v2 time filter (§17.9), at whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeOp {
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `eq`, the default.
    Eq,
    /// `neq`.
    Neq,
}

/// The sort keys of a v2 list (§17.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum V2SortKey {
    /// `name`.
    Name,
    /// `status`.
    Status,
    /// `container_format`.
    ContainerFormat,
    /// `disk_format`.
    DiskFormat,
    /// `size`.
    Size,
    /// `id`.
    Id,
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
}

/// One image of a v2 list page, borrowed from the catalogue's row: a page
/// renders without copying or parsing (its tags and its properties come as
/// the JSON text the catalogue keeps), as v1's `ListedImage` does.
pub(crate) struct V2ListedImage<'a> {
    /// The image id, lower case.
    pub(crate) id: &'a str,
    /// The name.
    pub(crate) name: &'a str,
    /// v2's status word (`active`, `killed` ...).
    pub(crate) status: &'a str,
    /// The visibility's word.
    pub(crate) visibility: &'a str,
    /// Whether deleting it is refused.
    pub(crate) protected: bool,
    /// Whether v2 lists leave it out unless asked.
    pub(crate) os_hidden: bool,
    /// The owner.
    pub(crate) owner: &'a str,
    /// The formats, `None` until set.
    pub(crate) disk_format: Option<&'a str>,
    /// The container format, `None` until set.
    pub(crate) container_format: Option<&'a str>,
    /// MB.
    pub(crate) min_ram: u64,
    /// MB.
    pub(crate) min_disk: u64,
    /// Bytes, `None` without data.
    pub(crate) size: Option<u64>,
    /// The virtual disk's bytes, where known.
    pub(crate) virtual_size: Option<u64>,
    /// The MD5, `None` without data or where unknown.
    pub(crate) md5: Option<&'a str>,
    /// `(os_hash_algo, os_hash_value)`, `None` without data or where not
    /// computed.
    pub(crate) os_hash: Option<(&'a str, &'a str)>,
    /// Microseconds.
    pub(crate) created_at: Micros,
    /// Microseconds.
    pub(crate) updated_at: Micros,
    /// The tags as a JSON array of strings, sorted by their bytes (UTF-8,
    /// as the catalogue keeps it: copied, never checked again).
    pub(crate) tags_json: &'a [u8],
    /// The custom properties as one JSON object (the same).
    pub(crate) properties_json: &'a [u8],
}

/// Where a v2 list page goes, image by image, as the catalogue reads it.
pub(crate) trait V2Sink: Send + 'static {
    /// What the page comes to.
    type Output: Send + 'static;
    /// Takes the next image.
    fn push(&mut self, image: &V2ListedImage<'_>);
    /// Ends the page.
    fn finish(self) -> Self::Output;
}

/// A v2 list request, parsed (§17.9): what the registry's v2 listing takes.
/// Value lists (`in:a,b`) are any-of; one value is a list of one.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct V2Listing {
    /// Which images it starts from.
    pub(crate) who: V2Who,
    /// `name`, exact, any of.
    pub(crate) names: Option<Vec<String>>,
    /// `id`, any of (a value that is no UUID matches nothing).
    pub(crate) ids: Option<Vec<String>>,
    /// `status`, v2 words, any of (`bogus` matches nothing).
    pub(crate) statuses: Option<Vec<String>>,
    /// `disk_format`, any of.
    pub(crate) disk_formats: Option<Vec<String>>,
    /// `container_format`, any of.
    pub(crate) container_formats: Option<Vec<String>>,
    /// `owner`, exact.
    pub(crate) owner: Option<String>,
    /// `checksum` (the MD5), exact.
    pub(crate) checksum: Option<String>,
    /// `os_hash_value`, exact.
    pub(crate) os_hash_value: Option<String>,
    /// `min_ram`, exact.
    pub(crate) min_ram: Option<u64>,
    /// `min_disk`, exact.
    pub(crate) min_disk: Option<u64>,
    /// `tag`: the image has every one.
    pub(crate) tags: Vec<String>,
    /// `size_min`: size ≥; images without data never match.
    pub(crate) size_min: Option<u64>,
    /// `size_max`: size ≤; images without data never match.
    pub(crate) size_max: Option<u64>,
    /// `protected`.
    pub(crate) protected: Option<bool>,
    /// `created_at` comparisons, all must hold (whole seconds, as micros).
    pub(crate) created_at: Vec<(TimeOp, Micros)>,
    /// `updated_at` comparisons.
    pub(crate) updated_at: Vec<(TimeOp, Micros)>,
    /// Custom properties, key verbatim, each must equal.
    pub(crate) properties: Vec<(String, String)>,
    /// Sort keys with their direction (true: descending); the registry adds
    /// the `created_at`, `id` tiebreak. Empty: `created_at desc`.
    pub(crate) sort: Vec<(V2SortKey, bool)>,
    /// The id after which the page starts.
    pub(crate) marker: Option<ImageId>,
    /// Page size, already capped at 1000 (0: an empty page).
    pub(crate) limit: u32,
}

/// How a property change treats a key that is or is not there (§17.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropertyMode {
    /// v2.1 `add`: sets it, present or not.
    Upsert,
    /// v2.0 `add`: 409 if present.
    AddNew,
    /// `replace`: 409 if absent.
    Replace,
}

/// One change of a v2 update (§17.5), already checked for syntax and for
/// the read-only and reserved paths (those are the surface's 400 and 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageUpdate {
    /// `name`.
    SetName(String),
    /// `visibility`.
    SetVisibility(Visibility),
    /// `protected`.
    SetProtected(bool),
    /// `os_hidden`.
    SetHidden(bool),
    /// `min_ram`.
    SetMinRam(u64),
    /// `min_disk`.
    SetMinDisk(u64),
    /// `disk_format`; `None` only while queued.
    SetDiskFormat(Option<String>),
    /// `container_format`; `None` only while queued.
    SetContainerFormat(Option<String>),
    /// `tags`: the new set.
    SetTags(BTreeSet<String>),
    /// `owner`: the current owner is no change, anyone else 403.
    SetOwner(String),
    /// A custom property, key verbatim.
    SetProperty {
        /// The key.
        key: String,
        /// The value (`""` is kept, v2 stores it).
        value: String,
        /// What its presence or absence means.
        mode: PropertyMode,
    },
    /// `remove` of a custom property: 409 if absent.
    RemoveProperty(String),
}

/// The fields of an image a v2 update may change, and what it must know to
/// check them: the registry reads them, `apply` changes them, the registry
/// writes them back in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Editable {
    /// 1-255 characters.
    pub(crate) name: String,
    /// Who sees it.
    pub(crate) visibility: Visibility,
    /// DELETE is 403.
    pub(crate) protected: bool,
    /// Out of v2 lists unless asked for.
    pub(crate) os_hidden: bool,
    /// MB.
    pub(crate) min_ram: u64,
    /// MB.
    pub(crate) min_disk: u64,
    /// Null until set.
    pub(crate) disk_format: Option<String>,
    /// Null until set.
    pub(crate) container_format: Option<String>,
    /// The tag set.
    pub(crate) tags: BTreeSet<String>,
    /// Custom properties, keys verbatim.
    pub(crate) properties: BTreeMap<String, String>,
    /// The owner (read only: an update cannot give an image away).
    pub(crate) owner: String,
    /// Its life status (read only here: formats may be null only while queued).
    pub(crate) life: Life,
}

/// The limits and configured lists an update is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EditRules<'a> {
    /// `limits.max_properties`.
    pub(crate) max_properties: usize,
    /// `limits.max_tags`.
    pub(crate) max_tags: usize,
    /// `formats.disk`.
    pub(crate) disk_formats: &'a [String],
    /// `formats.container`.
    pub(crate) container_formats: &'a [String],
}

/// The longest tag, in characters.
pub(crate) const MAX_TAG: usize = 255;

/// Checks a tag: 1-255 characters (§17.3, §17.7), none a control character.
pub(crate) fn check_tag(tag: &str) -> Result<(), AppError> {
    super::text::check_text("tag", tag, super::text::TextUse::Label).map_err(AppError::Invalid)?;
    let n = tag.chars().count();
    if n == 0 || n > MAX_TAG {
        return Err(AppError::invalid(format!(
            "Invalid tag '{}': must be 1-{MAX_TAG} characters",
            truncate(tag, 80)
        )));
    }
    Ok(())
}

/// Checks a tag count against `max_tags` (413).
pub(crate) fn check_tag_count(count: usize, max_tags: usize) -> Result<(), AppError> {
    if count > max_tags {
        return Err(AppError::OverLimit(format!(
            "Too many tags: {count}, at most {max_tags}"
        )));
    }
    Ok(())
}

impl Life {
    /// The life of a stored status.
    pub(crate) fn of(status: super::image::Status) -> Life {
        use super::image::Status;
        match status {
            Status::Available => Life::Active,
            Status::Saving => Life::Saving,
            Status::Error => Life::Killed,
            Status::Deleted => Life::Deleted,
            Status::Queued => Life::Queued,
            Status::Deactivated => Life::Deactivated,
        }
    }
}

impl Editable {
    /// What a v2 update may change of `image`.
    pub(crate) fn of(image: &super::image::Image) -> Editable {
        let format = |f: &str| (!f.is_empty()).then(|| f.to_string());
        Editable {
            name: image.name.clone(),
            visibility: image.visibility,
            protected: image.protected,
            os_hidden: image.os_hidden,
            min_ram: image.min_ram,
            min_disk: image.min_disk,
            disk_format: format(&image.disk_format),
            container_format: format(&image.container_format),
            tags: image.tags.clone(),
            properties: image.properties.clone(),
            owner: image.owner.clone(),
            life: Life::of(image.status),
        }
    }

    /// `image` with these values written into it (a null format as "").
    pub(crate) fn write_to(self, image: &mut super::image::Image) {
        image.name = self.name;
        image.visibility = self.visibility;
        image.protected = self.protected;
        image.os_hidden = self.os_hidden;
        image.min_ram = self.min_ram;
        image.min_disk = self.min_disk;
        image.disk_format = self.disk_format.unwrap_or_default();
        image.container_format = self.container_format.unwrap_or_default();
        image.tags = self.tags;
        image.properties = self.properties;
    }

    /// Applies `changes` in order to a copy: the result, or the first
    /// refusal (the caller then writes nothing). Limits are checked on the
    /// result, after every change (§17.5: 413 when the result exceeds them).
    pub(crate) fn apply(
        &self,
        changes: &[ImageUpdate],
        rules: &EditRules<'_>,
    ) -> Result<Editable, AppError> {
        let mut next = self.clone();
        for change in changes {
            next.apply_one(change, rules)?;
        }
        if next.properties.len() > rules.max_properties {
            return Err(AppError::OverLimit(format!(
                "Too many properties: {}, at most {}",
                next.properties.len(),
                rules.max_properties
            )));
        }
        check_tag_count(next.tags.len(), rules.max_tags)?;
        Ok(next)
    }

    fn apply_one(&mut self, change: &ImageUpdate, rules: &EditRules<'_>) -> Result<(), AppError> {
        match change {
            ImageUpdate::SetName(name) => {
                super::image::check_name(name)?;
                self.name.clone_from(name);
            }
            ImageUpdate::SetVisibility(v) => self.visibility = *v,
            ImageUpdate::SetProtected(p) => self.protected = *p,
            ImageUpdate::SetHidden(h) => self.os_hidden = *h,
            ImageUpdate::SetMinRam(n) => self.min_ram = *n,
            ImageUpdate::SetMinDisk(n) => self.min_disk = *n,
            ImageUpdate::SetDiskFormat(f) => {
                self.disk_format = self.format("disk_format", f, rules.disk_formats)?;
            }
            ImageUpdate::SetContainerFormat(f) => {
                self.container_format =
                    self.format("container_format", f, rules.container_formats)?;
            }
            ImageUpdate::SetTags(tags) => {
                tags.iter().try_for_each(|t| check_tag(t))?;
                self.tags.clone_from(tags);
            }
            ImageUpdate::SetOwner(owner) if *owner == self.owner => {}
            ImageUpdate::SetOwner(_) => {
                return Err(AppError::Forbidden(
                    "Attribute 'owner' may only be the image's own owner".into(),
                ))
            }
            ImageUpdate::SetProperty { key, value, mode } => {
                self.set_property(key, value, *mode)?;
            }
            ImageUpdate::RemoveProperty(key) => {
                if self.properties.remove(key).is_none() {
                    return Err(absent(key));
                }
            }
        }
        Ok(())
    }

    /// A format change: a configured value, or null while queued.
    fn format(
        &self,
        field: &str,
        value: &Option<String>,
        allowed: &[String],
    ) -> Result<Option<String>, AppError> {
        match value {
            None if self.life == Life::Queued => Ok(None),
            None => Err(AppError::invalid(format!(
                "Invalid {field} null: only a queued image may have none"
            ))),
            Some(f) if allowed.iter().any(|a| a == f) => Ok(Some(f.clone())),
            Some(f) => Err(AppError::invalid(format!(
                "Invalid {field} '{}': expected one of {}",
                truncate(f, 80),
                allowed.join(", ")
            ))),
        }
    }

    fn set_property(&mut self, key: &str, value: &str, mode: PropertyMode) -> Result<(), AppError> {
        let present = self.properties.contains_key(key);
        match mode {
            PropertyMode::AddNew if present => {
                return Err(AppError::Conflict(format!(
                    "Property '{}' already exists",
                    truncate(key, 80)
                )))
            }
            PropertyMode::Replace if !present => return Err(absent(key)),
            _ => {}
        }
        super::image::check_property_value(key, value)?;
        self.properties.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

fn absent(key: &str) -> AppError {
    AppError::Conflict(format!("Property '{}' does not exist", truncate(key, 80)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editable() -> Editable {
        Editable {
            name: "img".into(),
            visibility: Visibility::Shared,
            protected: false,
            os_hidden: false,
            min_ram: 0,
            min_disk: 0,
            disk_format: None,
            container_format: None,
            tags: BTreeSet::new(),
            properties: BTreeMap::from([("a".to_string(), "1".to_string())]),
            owner: "alice".into(),
            life: Life::Queued,
        }
    }

    fn rules(disk: &[String]) -> EditRules<'_> {
        EditRules {
            max_properties: 2,
            max_tags: 2,
            disk_formats: disk,
            container_formats: disk,
        }
    }

    fn prop(key: &str, mode: PropertyMode) -> ImageUpdate {
        ImageUpdate::SetProperty {
            key: key.into(),
            value: "v".into(),
            mode,
        }
    }

    #[test]
    fn words_round_trip_and_v1_keeps_its_own() {
        for v in ["public", "community", "shared", "private"] {
            assert_eq!(Visibility::parse(v).unwrap().as_str(), v);
        }
        assert_eq!(
            MemberStatus::parse("rejected"),
            Some(MemberStatus::Rejected)
        );
        assert_eq!(MemberStatus::parse("Rejected"), None);
    }

    #[test]
    fn v1_visibility_rules() {
        use Visibility::*;
        assert_eq!(Visibility::on_v1_register(None), Shared);
        assert_eq!(Visibility::on_v1_register(Some(true)), Public);
        assert_eq!(Private.on_v1_update(Some(false)), Private);
        assert_eq!(Community.on_v1_update(Some(false)), Shared);
        assert_eq!(Private.on_v1_update(None), Private);
        assert_eq!(Private.on_v1_update(Some(true)), Public);
        assert_eq!(Private.on_v1_member_add(), Shared);
        assert_eq!(Public.on_v1_member_add(), Public);
    }

    #[test]
    fn updates_apply_in_order_and_refuse_whole() {
        let disk = vec!["raw".to_string()];
        let before = editable();
        let after = before
            .apply(
                &[
                    ImageUpdate::SetName("new".into()),
                    prop("b", PropertyMode::Upsert),
                    ImageUpdate::RemoveProperty("a".into()),
                    prop("b", PropertyMode::Replace),
                    ImageUpdate::SetDiskFormat(Some("raw".into())),
                    ImageUpdate::SetDiskFormat(None),
                    ImageUpdate::SetOwner("alice".into()),
                ],
                &rules(&disk),
            )
            .unwrap();
        assert_eq!(after.name, "new");
        assert_eq!(after.properties.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(after.disk_format, None);
        let refused = |changes: &[ImageUpdate]| before.apply(changes, &rules(&disk)).unwrap_err();
        assert!(matches!(
            refused(&[prop("a", PropertyMode::AddNew)]),
            AppError::Conflict(_)
        ));
        assert!(matches!(
            refused(&[prop("z", PropertyMode::Replace)]),
            AppError::Conflict(_)
        ));
        let remove = ImageUpdate::RemoveProperty("z".into());
        assert!(matches!(refused(&[remove]), AppError::Conflict(_)));
        let owner = ImageUpdate::SetOwner("bob".into());
        assert!(matches!(refused(&[owner]), AppError::Forbidden(_)));
        let many = [
            prop("b", PropertyMode::Upsert),
            prop("c", PropertyMode::Upsert),
        ];
        assert!(matches!(refused(&many), AppError::OverLimit(_)));
        let tags = ImageUpdate::SetTags(["x", "y", "z"].map(String::from).into());
        assert!(matches!(refused(&[tags]), AppError::OverLimit(_)));
        let qcow = ImageUpdate::SetDiskFormat(Some("qcow2".into()));
        assert!(matches!(refused(&[qcow]), AppError::Invalid(_)));
        let active = Editable {
            life: Life::Active,
            ..editable()
        };
        let null = [ImageUpdate::SetDiskFormat(None)];
        assert!(matches!(
            active.apply(&null, &rules(&disk)),
            Err(AppError::Invalid(_))
        ));
    }

    #[test]
    fn tags_are_1_to_255_characters() {
        assert!(check_tag("a").is_ok());
        assert!(check_tag(&"é".repeat(255)).is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag(&"a".repeat(256)).is_err());
        assert!(check_tag_count(128, 128).is_ok());
        assert!(matches!(
            check_tag_count(129, 128),
            Err(AppError::OverLimit(_))
        ));
    }
}
