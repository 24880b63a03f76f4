//! A PostgreSQL transaction of the catalogue: the engine's arm of every
//! method of the interface (`db::tx`).

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};

use crate::db::error::DbError;
use crate::db::plan::{ListPlan, ListPosition, Piece};
use crate::db::tx::{
    AwaitBlockIndexTx, AwaitImagesTx, AwaitMembershipTx, BlockSource, StoredImage, Visit,
};
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, Status};
use crate::domain::listing::ListQuery;
use crate::domain::model::{Member, MemberStatus, V2ListedImage, V2Listing};
use crate::domain::object::CachedHash;
use crate::domain::objects::ObjectMeta;
use crate::domain::time::Micros;

/// One PostgreSQL transaction of the catalogue.
pub(crate) struct PgTx<'t> {
    /// The transaction, on a pooled connection (its statement cache).
    pub(super) tx: &'t deadpool_postgres::Transaction<'t>,
    /// Whether a statement failed because the transaction could not be
    /// serialized (or deadlocked): then the whole transaction is run
    /// again, whatever the registry's closure made of the error.
    conflicted: Cell<bool>,
}

impl<'t> PgTx<'t> {
    /// The catalogue as seen through `tx`, a transaction the engine began.
    pub(super) fn new(tx: &'t deadpool_postgres::Transaction<'t>) -> PgTx<'t> {
        PgTx {
            tx,
            conflicted: Cell::new(false),
        }
    }

    /// A driver error as the registry sees it; a serialization failure is
    /// remembered, so that the engine runs the transaction again.
    pub(super) fn fail(&self, e: tokio_postgres::Error) -> DbError {
        let e = DbError::from(e);
        if e == DbError::Busy {
            self.conflicted.set(true);
        }
        e
    }

    /// Whether a statement of this transaction met a serialization failure.
    pub(super) fn conflicted(&self) -> bool {
        self.conflicted.get()
    }
}

/// What a method not yet written on PostgreSQL answers.
fn not_yet() -> DbError {
    DbError::Internal("not implemented on PostgreSQL yet".into())
}

impl AwaitImagesTx for PgTx<'_> {
    async fn image_for_caller(
        &self,
        _id: &ImageId,
        _caller: &str,
    ) -> Result<Option<(StoredImage, bool)>, DbError> {
        Err(not_yet())
    }

    async fn live_image_at(&self, _location: &str) -> Result<Option<StoredImage>, DbError> {
        Err(not_yet())
    }

    async fn upsert_at_location(&self, _image: &Image) -> Result<Image, DbError> {
        Err(not_yet())
    }

    async fn update(&self, _stored: &StoredImage, _image: &Image) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn insert_new(&self, _image: &Image) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn v2_page(
        &self,
        _caller: &str,
        _q: &V2Listing,
        _visit: &mut dyn FnMut(&V2ListedImage<'_>),
    ) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn members(&self, _image: &StoredImage) -> Result<Vec<String>, DbError> {
        Err(not_yet())
    }

    async fn set_members(&self, _image: &StoredImage, _members: &[String]) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn add_member(&self, _image: &StoredImage, _member: &str) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn remove_member(&self, _image: &StoredImage, _member: &str) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn shared_images(&self, _caller: &str, _member: &str) -> Result<Vec<ImageId>, DbError> {
        Err(not_yet())
    }

    async fn count_images(&self) -> Result<i64, DbError> {
        Err(not_yet())
    }

    async fn cached_hash(&self, _path: &str) -> Result<Option<CachedHash>, DbError> {
        Err(not_yet())
    }

    async fn remember_hash(&self, _h: &CachedHash) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn marker_position(
        &self,
        _caller: &str,
        _marker: &ImageId,
        _q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError> {
        Err(not_yet())
    }

    async fn list_piece(
        &self,
        _plan: &ListPlan<'_>,
        _visit: &mut Visit<'_>,
    ) -> Result<Piece, DbError> {
        Err(not_yet())
    }

    async fn object_meta(&self, _path: &str) -> Result<Option<ObjectMeta>, DbError> {
        Err(not_yet())
    }

    async fn object_metas_under(
        &self,
        _prefix: &str,
    ) -> Result<BTreeMap<String, ObjectMeta>, DbError> {
        Err(not_yet())
    }

    async fn put_object_meta(&self, _path: &str, _m: &ObjectMeta) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn forget_object(&self, _path: &str) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn image_lets_read(&self, _location: &str, _caller: &str) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn image_readable_under(
        &self,
        _prefix: &str,
        _caller: &str,
    ) -> Result<HashSet<String>, DbError> {
        Err(not_yet())
    }

    async fn shared_objects(&self) -> Result<Vec<(String, ObjectMeta)>, DbError> {
        Err(not_yet())
    }

    async fn object_by_public_id(
        &self,
        _public_id: &str,
    ) -> Result<Option<(String, ObjectMeta)>, DbError> {
        Err(not_yet())
    }
}

impl AwaitMembershipTx for PgTx<'_> {
    async fn tags(&self, _image: &StoredImage) -> Result<Vec<String>, DbError> {
        Err(not_yet())
    }

    async fn add_tag(&self, _image: &StoredImage, _tag: &str) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn remove_tag(&self, _image: &StoredImage, _tag: &str) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn insert_member(
        &self,
        _image: &StoredImage,
        _member: &str,
        _status: MemberStatus,
        _at: Micros,
    ) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn member(&self, _image: &StoredImage, _member: &str) -> Result<Option<Member>, DbError> {
        Err(not_yet())
    }

    async fn member_list(&self, _image: &StoredImage) -> Result<Vec<Member>, DbError> {
        Err(not_yet())
    }

    async fn set_member_status(
        &self,
        _image: &StoredImage,
        _member: &str,
        _status: MemberStatus,
        _at: Micros,
    ) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn delete_member(&self, _image: &StoredImage, _member: &str) -> Result<bool, DbError> {
        Err(not_yet())
    }

    async fn touch(
        &self,
        _image: &StoredImage,
        _status: Option<Status>,
        _at: Micros,
    ) -> Result<(), DbError> {
        Err(not_yet())
    }
}

impl AwaitBlockIndexTx for PgTx<'_> {
    async fn index_blocks(
        &self,
        _path: &str,
        _size: u64,
        _mtime_ns: i64,
        _hashes: &[String],
    ) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn forget_blocks(&self, _path: &str) -> Result<(), DbError> {
        Err(not_yet())
    }

    async fn block_sources(&self, _hashes: &[String]) -> Result<Vec<BlockSource>, DbError> {
        Err(not_yet())
    }
}
