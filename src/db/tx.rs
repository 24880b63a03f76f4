//! The catalogue's transaction interface: everything the registry asks of
//! the database, by intent, inside the one transaction a `&dyn
//! CatalogueTx` stands for. Every engine implements it; no SQL crosses it.

use std::collections::{BTreeMap, HashSet};

use super::error::DbError;
use super::plan::{ListPlan, ListPosition, Piece};
use crate::domain::ids::ImageId;
use crate::domain::image::Image;
use crate::domain::listing::{ListQuery, ListedImage};
use crate::domain::model::V2Listing;
use crate::domain::object::CachedHash;
use crate::domain::objects::ObjectMeta;
use crate::error::AppError;

/// Why a listing's marker was refused.
const MARKER_NOT_FOUND: &str = "Invalid marker";

/// An image as stored: the image and the key that joins it to its
/// properties and members.
#[derive(Debug, Clone)]
pub(crate) struct StoredImage {
    /// The engine's key of the image's row.
    pub(super) key: i64,
    /// The image.
    pub(crate) image: Image,
}

/// A transaction of the catalogue, whatever its engine: what the
/// registry's closures are handed.
pub(crate) type Tx<'t> = dyn CatalogueTx + 't;

/// Takes a listing's images one at a time, borrowed from the engine's row.
pub(crate) type Visit<'v> = dyn FnMut(ListedImage<'_>) + 'v;

/// One transaction of the catalogue, read or write: the only way the
/// registry reaches the database.
pub(crate) trait CatalogueTx {
    /// One image by id with its properties, and whether `caller` reads it
    /// beyond ownership and publicity (a member of a shared image, or any
    /// caller of a community one: docs/api.md §17.10).
    fn image_for_caller(
        &self,
        id: &ImageId,
        caller: &str,
    ) -> Result<Option<(StoredImage, bool)>, DbError>;

    /// The live image registered at `location`, if any.
    fn live_image_at(&self, location: &str) -> Result<Option<StoredImage>, DbError>;

    /// Registers `image` at its location: a new image (with a fresh id if
    /// its id was ever taken), or, if a live image is registered there,
    /// that image with its id and creation time kept (re-registration).
    /// Returns the image as stored.
    fn upsert_at_location(&self, image: &Image) -> Result<Image, DbError>;

    /// Overwrites every column of `stored` but its id and creation time, and
    /// its properties, with `image`.
    fn update(&self, stored: &StoredImage, image: &Image) -> Result<(), DbError>;

    /// Inserts a new image under its own id, with its properties and tags;
    /// false, and nothing written, if any image (tombstones count) ever had
    /// that id (docs/api.md §17.3).
    fn insert_new(&self, image: &Image) -> Result<bool, DbError>;

    /// One page of a v2 listing (docs/api.md §17.9) for `caller`, its
    /// marker already found readable, and whether images follow it.
    fn v2_page(&self, caller: &str, q: &V2Listing) -> Result<(Vec<StoredImage>, bool), DbError>;

    /// The member ids of an image, sorted.
    fn members(&self, image: &StoredImage) -> Result<Vec<String>, DbError>;

    /// Replaces the member list of an image.
    fn set_members(&self, image: &StoredImage, members: &[String]) -> Result<(), DbError>;

    /// Adds one member to an image (idempotent).
    fn add_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError>;

    /// Removes one member from an image (idempotent).
    fn remove_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError>;

    /// Ids of the live images shared between `caller` and `member` (docs/api.md §8), oldest first.
    fn shared_images(&self, caller: &str, member: &str) -> Result<Vec<ImageId>, DbError>;

    /// How many images the catalogue holds, deleted ones included.
    fn count_images(&self) -> Result<i64, DbError>;

    /// The remembered hash of an fs-store object.
    fn cached_hash(&self, path: &str) -> Result<Option<CachedHash>, DbError>;

    /// Remembers the hash of an fs-store object.
    fn remember_hash(&self, h: &CachedHash) -> Result<(), DbError>;

    /// The position of a listing's marker, if `caller` can see it in a
    /// listing sorted by `q`'s key (live, unless `changes-since` is given).
    fn marker_position(
        &self,
        caller: &str,
        marker: &ImageId,
        q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError>;

    /// The images `plan` reads, in its order, handed to `visit` one at a
    /// time: at most a piece of the engine's choosing (it says whether
    /// more may follow).
    fn list_piece(&self, plan: &ListPlan<'_>, visit: &mut Visit<'_>) -> Result<Piece, DbError>;

    /// What the catalogue keeps of the object at `path`.
    fn object_meta(&self, path: &str) -> Result<Option<ObjectMeta>, DbError>;

    /// The metadata of every object whose path starts with `prefix` (ending in `/`).
    fn object_metas_under(&self, prefix: &str) -> Result<BTreeMap<String, ObjectMeta>, DbError>;

    /// Records (or replaces) the metadata of the object at `path`.
    fn put_object_meta(&self, path: &str, m: &ObjectMeta) -> Result<(), DbError>;

    /// Forgets the object at `path`: its metadata and its remembered hash.
    fn forget_object(&self, path: &str) -> Result<(), DbError>;

    /// Whether a live image registered at `location` lets `caller` read it
    /// (public, or the caller a member).
    fn image_lets_read(&self, location: &str, caller: &str) -> Result<bool, DbError>;

    /// The locations starting with `prefix` (ending in `/`) of live images
    /// that let `caller` read them.
    fn image_readable_under(&self, prefix: &str, caller: &str) -> Result<HashSet<String>, DbError>;
}

impl dyn CatalogueTx + '_ {
    /// The next piece of the images `caller` can see that match `q`, in its
    /// order and within its limit (what is still wanted), handed to `visit`
    /// one row at a time. `detail` also reads every image's properties.
    /// With `after` (the `last` of the piece before), the listing goes on
    /// from there and `q`'s marker is not looked at; without, it starts
    /// after the marker, which must be one the caller can see.
    pub(crate) fn list(
        &self,
        caller: &str,
        q: &ListQuery,
        detail: bool,
        after: Option<&ListPosition>,
        visit: &mut Visit<'_>,
    ) -> Result<Piece, AppError> {
        let marker = match (after, &q.marker) {
            (None, Some(marker)) => {
                Some(self.marker_position(caller, marker, q)?.ok_or_else(|| {
                    AppError::invalid(format!(
                        "{MARKER_NOT_FOUND} '{marker}': no such image in this listing"
                    ))
                })?)
            }
            _ => None,
        };
        let from = after.or(marker.as_ref());
        let plan = ListPlan::new(caller, q, detail, from, after.is_some());
        Ok(self.list_piece(&plan, visit)?)
    }
}
