//! The catalogue's transaction interface: everything the registry asks of
//! the database, by intent, inside the one transaction a `Tx` stands for.
//! No SQL crosses it.
//!
//! Each group of methods is declared once (`interface!`) and comes out
//! three ways: a trait for an engine that answers on the calling thread
//! (SQLite: `ImagesTx`, `MembershipTx`, `BlockIndexTx`, `SessionTx`), its twin with
//! async methods for an engine behind a network (PostgreSQL:
//! `AwaitImagesTx`...), and the methods of `Tx`, the registry's handle,
//! which hand each call to the engine's arm. Every engine implements every
//! method; the registry never asks which engine it has.

use std::collections::{BTreeMap, HashSet};

use super::error::DbError;
use super::plan::{ListPlan, ListPosition, Piece};
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, Status};
use crate::domain::listing::{ListQuery, ListedImage};
use crate::domain::model::{Member, MemberStatus, V2ListedImage, V2Listing};
use crate::domain::object::CachedHash;
use crate::domain::objects::ObjectMeta;
use crate::domain::session::{NewSession, Notice, SessionCaps, StoredSession};
use crate::domain::time::Micros;
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
/// registry's closures are handed (as `db::Tx`, with PostgreSQL's
/// transaction for `R`: this module names no engine).
pub(crate) enum Tx<'t, R> {
    /// An engine whose queries answer on this thread (SQLite).
    Now(&'t dyn CatalogueTx),
    /// An engine whose queries are awaited (PostgreSQL).
    Postgres(&'t R),
}

/// Everything an engine answering on the calling thread implements.
pub(crate) trait CatalogueTx: ImagesTx + MembershipTx + BlockIndexTx + SessionTx {}

impl<T: ImagesTx + MembershipTx + BlockIndexTx + SessionTx> CatalogueTx for T {}

/// Declares one group of the interface's methods: the trait of engines
/// that answer at once, its async twin, and `Tx`'s methods that dispatch.
macro_rules! interface {
    (
        $(#[$tdoc:meta])*
        $sync:ident / $awaited:ident {
            $(
                $(#[$doc:meta])*
                fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        $(#[$tdoc])*
        pub(crate) trait $sync {
            $( $(#[$doc])* fn $name(&self $(, $arg: $ty)*) -> $ret; )*
        }

        $(#[$tdoc])*
        #[allow(async_fn_in_trait)]
        pub(crate) trait $awaited {
            $( $(#[$doc])* async fn $name(&self $(, $arg: $ty)*) -> $ret; )*
        }

        impl<R: $awaited> Tx<'_, R> {
            $(
                $(#[$doc])*
                pub(crate) async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Tx::Now(t) => t.$name($($arg),*),
                        Tx::Postgres(t) => t.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

/// Takes a listing's images one at a time, borrowed from the engine's row.
pub(crate) type Visit<'v> = dyn FnMut(ListedImage<'_>) + 'v;

interface! {
    /// One transaction of the catalogue, read or write: the only way the
    /// registry reaches the database.
    ImagesTx / AwaitImagesTx {
        /// One image by id with its properties, and whether `caller` reads it
        /// beyond ownership and publicity (a member of a shared image, or any
        /// caller of a community one: docs/api.md §17.10).
        fn image_for_caller(
            &self,
            id: &ImageId,
            caller: &str,
        ) -> Result<Option<(StoredImage, bool)>, DbError>;

        /// One image by id, borrowed from the engine's row as a detailed
        /// listing reads it (its properties as their JSON object), handed
        /// to `visit` if `caller` may read it: not deleted, and theirs,
        /// public, community, or shared with them (docs/api.md §17.10);
        /// whether it was. What a HEAD shows, without an `Image` built and
        /// without its tags.
        fn readable_image(
            &self,
            id: &ImageId,
            caller: &str,
            visit: &mut Visit<'_>,
        ) -> Result<bool, DbError>;

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
        /// marker already found readable, each image handed to `visit` as it
        /// is read; whether images follow it.
        fn v2_page(
            &self,
            caller: &str,
            q: &V2Listing,
            visit: &mut dyn FnMut(&V2ListedImage<'_>),
        ) -> Result<bool, DbError>;

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

        /// The locations of live, available images of `min_size` bytes or
        /// more without an `os_hash` (a large registration's, owed:
        /// docs/behaviour.md, "Hashing"), the oldest first, at most `limit`.
        fn locations_owing_os_hash(&self, min_size: u64, limit: u32) -> Result<Vec<String>, DbError>;

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

        /// The path and metadata of every object with a sharing list.
        fn shared_objects(&self) -> Result<Vec<(String, ObjectMeta)>, DbError>;

        /// The path and metadata of the object published under `public_id`.
        fn object_by_public_id(&self, public_id: &str)
            -> Result<Option<(String, ObjectMeta)>, DbError>;
    }
}

impl<R: AwaitImagesTx> Tx<'_, R> {
    /// The next piece of the images `caller` can see that match `q`, in its
    /// order and within its limit (what is still wanted), handed to `visit`
    /// one row at a time. `detail` also reads every image's properties.
    /// With `after` (the `last` of the piece before), the listing goes on
    /// from there and `q`'s marker is not looked at; without, it starts
    /// after the marker, which must be one the caller can see.
    pub(crate) async fn list(
        &self,
        caller: &str,
        q: &ListQuery,
        detail: bool,
        after: Option<&ListPosition>,
        visit: &mut Visit<'_>,
    ) -> Result<Piece, AppError> {
        let marker = match (after, &q.marker) {
            (None, Some(marker)) => Some(
                self.marker_position(caller, marker, q)
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid(format!(
                            "{MARKER_NOT_FOUND} '{marker}': no such image in this listing"
                        ))
                    })?,
            ),
            _ => None,
        };
        let from = after.or(marker.as_ref());
        let plan = ListPlan::new(caller, q, detail, from, after.is_some());
        Ok(self.list_piece(&plan, visit).await?)
    }
}

interface! {
    /// The v2 memberships and tags of an image (docs/api.md §17.7, §17.10),
    /// part of every `CatalogueTx`.
    MembershipTx / AwaitMembershipTx {
        /// An image's tags, sorted by their bytes.
        fn tags(&self, image: &StoredImage) -> Result<Vec<String>, DbError>;

        /// Adds a tag; whether it was not there before.
        fn add_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError>;

        /// Removes a tag; whether it was there.
        fn remove_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError>;

        /// Adds a membership with `status`, created and updated `at`; whether
        /// it was not there before (an existing one is left as it is).
        fn insert_member(
            &self,
            image: &StoredImage,
            member: &str,
            status: MemberStatus,
            at: Micros,
        ) -> Result<bool, DbError>;

        /// One membership of an image, if there is one.
        fn member(&self, image: &StoredImage, member: &str) -> Result<Option<Member>, DbError>;

        /// Every membership of an image, by member id.
        fn member_list(&self, image: &StoredImage) -> Result<Vec<Member>, DbError>;

        /// Sets a membership's status, updated `at`; whether there was one.
        fn set_member_status(
            &self,
            image: &StoredImage,
            member: &str,
            status: MemberStatus,
            at: Micros,
        ) -> Result<bool, DbError>;

        /// Removes a membership; whether there was one.
        fn delete_member(&self, image: &StoredImage, member: &str) -> Result<bool, DbError>;

        /// Sets an image's `updated_at`, and its status if one is given.
        fn touch(&self, image: &StoredImage, status: Option<Status>, at: Micros)
            -> Result<(), DbError>;
    }
}

/// Where a block's bytes are: at `offset` in the object file `path` (its
/// key under the store root), which had `size` bytes and `mtime_ns` when
/// it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockSource {
    /// The block's hash.
    pub(crate) hash: String,
    /// The object's key, `<account>/<container>/<object>`.
    pub(crate) path: String,
    /// Where the block starts in the file.
    pub(crate) offset: u64,
    /// The file's size when recorded.
    pub(crate) size: u64,
    /// The file's mtime when recorded, in nanoseconds.
    pub(crate) mtime_ns: i64,
}

interface! {
    /// The index of known blocks (docs/behaviour.md, "Known blocks"): kept in
    /// the transaction that records each object, so it never names a file the
    /// catalogue has not recorded.
    BlockIndexTx / AwaitBlockIndexTx {
        /// Records the blocks of the object `path` (replacing what was
        /// recorded of it): `hashes` in order, its file of `size` bytes at
        /// `mtime_ns`. No hashes: the object's entries go.
        fn index_blocks(
            &self,
            path: &str,
            size: u64,
            mtime_ns: i64,
            hashes: &[String],
        ) -> Result<(), DbError>;

        /// Drops every entry of the object `path` (its file changed).
        fn forget_blocks(&self, path: &str) -> Result<(), DbError>;

        /// The places each of `hashes` is recorded at, in no set order.
        fn block_sources(&self, hashes: &[String]) -> Result<Vec<BlockSource>, DbError>;
    }
}

interface! {
    /// The web view's sessions (docs/api.md §15), kept in the catalogue so
    /// that every process knows them (§18).
    SessionTx / AwaitSessionTx {
        /// The session under `key`, unless it ended by `now`.
        fn session(&self, key: &str, now: Micros) -> Result<Option<StoredSession>, DbError>;

        /// Starts `new`: sessions that ended by its start go, then its
        /// user's oldest while the user has `caps.per_user`; false, and
        /// nothing started, when `caps.total` sessions are live.
        fn start_session(&self, new: &NewSession, caps: SessionCaps) -> Result<bool, DbError>;

        /// Ends the session under `key`, if there is one.
        fn end_session(&self, key: &str) -> Result<(), DbError>;

        /// Sets (or, with `None`, clears) the notice of the session under `key`.
        fn set_notice(&self, key: &str, notice: Option<&Notice>) -> Result<(), DbError>;
    }
}
