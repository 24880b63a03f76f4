//! The application layer: the use cases of the catalogue (list, get,
//! register, update, unregister, members, shared images), the Pithos sharing
//! sync and its per-location locks, and who the caller is. Domain types in,
//! domain types out: no HTTP and no SQL crosses this module's edge. Surfaces
//! parse a request, call one function here, and render what it returns.

mod accounts;
pub(crate) mod containers;
mod heads;
mod image_data;
mod images;
mod later;
mod members;
pub(crate) mod objects;
mod sessions;
mod sharing;
mod v2;
mod v2_data;
mod v2_members;
mod views;
pub(crate) mod writes;

pub(crate) use image_data::Uploads;
pub(crate) use images::Listing;

use std::sync::Arc;

use crate::backends::identity::{Identity, IdentityError};
use crate::backends::store::{Access, ObjectStore, StoreError};
use crate::config::Limits;
use crate::db::{Catalogue, DbError, StoredImage, Tx};
use crate::domain::access::{authorize, not_found, Intent, Viewed};
use crate::domain::ids::ImageId;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::metrics::Metrics;
use sharing::StripedLocks;

/// The catalogue and the backends it stands on, shared by every surface.
pub(crate) struct Registry {
    db: Catalogue,
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
        db: Catalogue,
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
        self.db.read(async |tx| Ok(tx.count_images().await?)).await
    }

    /// Finishes queued writes and closes the database cleanly.
    pub(crate) fn close(&self) {
        self.db.close();
    }

    /// Loads a live image the caller may act on with `intent`, in its own
    /// read: one statement (`read_one`).
    async fn load_for(
        &self,
        caller: &Caller,
        id: ImageId,
        intent: Intent,
    ) -> Result<StoredImage, AppError> {
        self.db
            .read_one(async |tx| load(tx, &id, caller.id(), intent).await)
            .await
    }
}

/// Loads a live image `caller` may act on with `intent`: not found if they
/// cannot see it, forbidden if they can but may not do this.
pub(super) async fn load(
    tx: &Tx<'_>,
    id: &ImageId,
    caller: &str,
    intent: Intent,
) -> Result<StoredImage, AppError> {
    let (stored, member) = tx
        .image_for_caller(id, caller)
        .await?
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
            StoreError::RangeOutside { size } => AppError::RangeOutside { size },
            StoreError::Denied { access, location } => denied(access, &location),
            StoreError::Unreachable | StoreError::NoBlocks => {
                AppError::Unavailable("The object store could not be reached".into())
            }
            StoreError::PastLimit { limit } => {
                AppError::OverLimit(format!("The data passes the limit of {limit} bytes"))
            }
            StoreError::NoSpace => {
                AppError::OverLimit("There is not enough space in the store".into())
            }
            StoreError::Cut(why) => {
                AppError::invalid(format!("The request body stopped short: {why}"))
            }
            StoreError::Unsupported(what) => AppError::Unsupported(what.into()),
            StoreError::Refused(why) => AppError::Invalid(why),
            StoreError::QuotaFull => {
                AppError::OverLimit("Upload refused: quota exceeded in the object store".into())
            }
            StoreError::Io(what) => AppError::internal(what),
            e @ (StoreError::KeptChanging(_)
            | StoreError::Gone(_)
            | StoreError::GoneWhileSharing(_)
            | StoreError::Resized { .. }
            | StoreError::Taken(_)
            | StoreError::InTheWay(_)) => AppError::Conflict(conflict(e)),
        }
    }
}

/// Why the store's object is not in the state the request needs.
fn conflict(e: StoreError) -> String {
    match e {
        StoreError::KeptChanging(loc) => {
            format!("The object at '{loc}' kept changing while it was read")
        }
        StoreError::Gone(loc) => format!("The image's object at '{loc}' is gone from the store"),
        StoreError::GoneWhileSharing(loc) => format!(
            "The image's object at '{loc}' is gone from the store: its sharing cannot be changed"
        ),
        StoreError::Resized {
            location,
            then,
            now,
        } => format!(
            "The image's object at '{location}' changed size since registration ({then} bytes then, {now} now)"
        ),
        StoreError::Taken(loc) => format!("An object is already at '{loc}'"),
        StoreError::InTheWay(path) => {
            format!("'{path}': a file or directory of the store is in the way")
        }
        // Only the variants above are conflicts.
        e => e.to_string(),
    }
}

/// What the store does not let the caller do.
fn denied(access: Access, location: &str) -> AppError {
    let what = match access {
        Access::Read => "read",
        Access::Share => "change who may read",
        Access::Write => "write",
    };
    AppError::Forbidden(format!(
        "The object store does not let you {what} '{location}'"
    ))
}

/// What a catalogue failure means for the request that met it: a busy or
/// unreachable catalogue is worth trying again later, a unique violation
/// is the request's conflict with what is there.
impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::NotFound("Not found".into()),
            DbError::Unique(what) => AppError::Conflict(format!("Already there: {what}")),
            DbError::Busy => AppError::Unavailable("The catalogue is busy, try again".into()),
            // 413, as a data write that finds the disk full (and as Glance
            // answers StorageFull): the request is refused for want of
            // space, and the same request succeeds once there is some.
            DbError::Full(why) => {
                log::error!("the catalogue's disk is full: {why}");
                AppError::OverLimit("Not enough space for the catalogue: the disk is full".into())
            }
            DbError::Unavailable(why) => {
                log::error!("the catalogue is unavailable: {why}");
                AppError::Unavailable("The catalogue could not be reached".into())
            }
            DbError::Internal(why) => AppError::Internal(format!("database: {why}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_failures_answer_409_503_or_500() {
        let conflict = AppError::from(DbError::Unique("objects.path".into()));
        assert!(matches!(conflict, AppError::Conflict(_)));
        let busy = AppError::from(DbError::Busy);
        assert!(matches!(&busy, AppError::Unavailable(m) if m.contains("busy")));
        let away = AppError::from(DbError::Unavailable("cannot open".into()));
        assert!(matches!(away, AppError::Unavailable(_)));
        let bug = AppError::from(DbError::Internal("no such table".into()));
        assert!(matches!(bug, AppError::Internal(m) if m == "database: no such table"));
    }
}
