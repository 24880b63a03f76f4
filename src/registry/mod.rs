//! The application layer: the use cases of the catalogue (list, get,
//! register, update, unregister, members, shared images), the Pithos sharing
//! sync and its per-location locks, and who the caller is. Domain types in,
//! domain types out: no HTTP and no SQL crosses this module's edge. Surfaces
//! parse a request, call one function here, and render what it returns.

mod accounts;
pub(crate) mod containers;
mod image_data;
mod images;
mod members;
pub(crate) mod objects;
mod sharing;
mod views;
pub(crate) mod writes;

pub(crate) use image_data::Uploads;
pub(crate) use images::Listing;

use std::sync::Arc;

use crate::backends::identity::{Identity, IdentityError};
use crate::backends::store::{Access, ObjectStore, StoreError};
use crate::config::Limits;
use crate::db::{Database, StoredImage, Tx};
use crate::domain::access::{authorize, not_found, Intent, Viewed};
use crate::domain::ids::ImageId;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::metrics::Metrics;
use sharing::StripedLocks;

/// The catalogue and the backends it stands on, shared by every surface.
pub(crate) struct Registry {
    db: Database,
    store: Arc<ObjectStore>,
    identity: Identity,
    limits: Limits,
    uploads: Uploads,
    /// Uploads in flight are counted here.
    metrics: Metrics,
    locks: StripedLocks,
}

impl Registry {
    /// The registry over an open database and the chosen backends.
    pub(crate) fn new(
        db: Database,
        store: ObjectStore,
        identity: Identity,
        limits: Limits,
        (uploads, metrics): (Uploads, Metrics),
    ) -> Registry {
        Registry {
            db,
            store: Arc::new(store),
            identity,
            limits,
            uploads,
            metrics,
            locks: StripedLocks::default(),
        }
    }

    /// How many images the catalogue holds: proof that the database answers.
    pub(crate) async fn health(&self) -> Result<i64, AppError> {
        self.db.read(|tx| tx.count_images())
    }

    /// Finishes queued writes and closes the database cleanly.
    pub(crate) fn close(&self) {
        self.db.close();
    }

    /// Loads a live image the caller may act on with `intent`, in its own
    /// read transaction.
    async fn load_for(
        &self,
        caller: &Caller,
        id: ImageId,
        intent: Intent,
    ) -> Result<StoredImage, AppError> {
        self.db.read(|tx| load(tx, &id, caller.id(), intent))
    }
}

/// Loads a live image `caller` may act on with `intent`: not found if they
/// cannot see it, forbidden if they can but may not do this.
fn load(tx: &Tx<'_>, id: &ImageId, caller: &str, intent: Intent) -> Result<StoredImage, AppError> {
    let (stored, member) = tx
        .image_for_caller(id, caller)?
        .ok_or_else(|| not_found(&id.to_string()))?;
    authorize(
        &Viewed {
            image: &stored.image,
            caller_is_member: member,
        },
        caller,
        intent,
    )?;
    Ok(stored)
}

/// What an object store's failure means for the request that met it.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Missing(_) => AppError::invalid("File not found on given location"),
            StoreError::OutsideRoot(loc) => AppError::invalid(format!(
                "Invalid location '{loc}': it leads outside the object store"
            )),
            StoreError::KeptChanging(loc) => AppError::Conflict(format!(
                "The object at '{loc}' kept changing while it was read"
            )),
            StoreError::Gone(loc) => {
                AppError::Conflict(format!("The image's object at '{loc}' is gone from the store"))
            }
            StoreError::GoneWhileSharing(loc) => AppError::Conflict(format!(
                "The image's object at '{loc}' is gone from the store: its sharing cannot be changed"
            )),
            StoreError::Resized {
                location,
                then,
                now,
            } => AppError::Conflict(format!(
                "The image's object at '{location}' changed size since registration ({then} bytes then, {now} now)"
            )),
            StoreError::RangeOutside { size } => AppError::RangeOutside { size },
            StoreError::Denied {
                access: Access::Read,
                location,
            } => AppError::Forbidden(format!(
                "The object store does not let you read '{location}'"
            )),
            StoreError::Denied {
                access: Access::Share,
                location,
            } => AppError::Forbidden(format!(
                "The object store does not let you change who may read '{location}'"
            )),
            StoreError::Denied {
                access: Access::Write,
                location,
            } => AppError::Forbidden(format!(
                "The object store does not let you write '{location}'"
            )),
            StoreError::Unreachable | StoreError::NoBlocks => {
                AppError::Unavailable("The object store could not be reached".into())
            }
            StoreError::PastLimit { limit } => {
                AppError::OverLimit(format!("The data passes the limit of {limit} bytes"))
            }
            StoreError::NoSpace => AppError::OverLimit("There is not enough space in the store".into()),
            StoreError::Cut(why) => AppError::invalid(format!("The request body stopped short: {why}")),
            StoreError::Taken(loc) => AppError::Conflict(format!("An object is already at '{loc}'")),
            StoreError::Unsupported(what) => AppError::Unsupported(what.into()),
            StoreError::Refused(why) => AppError::Invalid(why),
            StoreError::QuotaFull => {
                AppError::OverLimit("Upload refused: quota exceeded in the object store".into())
            }
            StoreError::InTheWay(path) => AppError::Conflict(format!(
                "'{path}': a file or directory of the store is in the way"
            )),
            StoreError::Io(what) => AppError::internal(what),
        }
    }
}

/// What an identity backend's failure means for the request that met it.
impl From<IdentityError> for AppError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Unreachable => {
                AppError::Unavailable("The identity service could not be reached".into())
            }
        }
    }
}
