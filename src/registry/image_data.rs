//! Images whose data comes in the request (docs/api.md §13): the data is
//! received and checked, put at its location, and only then the image
//! committed; a crash in between is undone at the next start
//! (`Registry::recover_uploads`; docs/behaviour.md, "Crash protocol").

use bytes::Bytes;
use futures_util::Stream;

use crate::backends::store::{Placed, Received, StoreError};
use crate::domain::changes::{check_property_count, NewImage};
use crate::domain::ids::ImageId;
use crate::domain::image::{check_reserved_keys, Image};
use crate::domain::location::Location;
use crate::domain::object::{ObjectInfo, Readers};
use crate::domain::user::Caller;
use crate::error::AppError;

use super::images::{check_declared, check_ownership, described};
use super::Registry;

/// Where uploads go and how much an account may keep.
#[derive(Debug, Clone)]
pub(crate) struct Uploads {
    /// The container of `pithos://<caller>/<container>/<image id>`.
    pub(crate) container: String,
    /// Bytes per account; 0 for none.
    pub(crate) quota: u64,
    /// The `os_hash` every upload and fs-store registration computes
    /// (`hashing_algorithm`).
    pub(crate) hashing: crate::config::HashingAlgorithm,
}

impl Registry {
    /// Where the data of the caller's upload `id` goes.
    pub(super) fn upload_location(
        &self,
        caller: &Caller,
        id: &ImageId,
    ) -> Result<Location, AppError> {
        Location::parse(&format!(
            "pithos://{}/{}/{id}",
            caller.id(),
            self.uploads.container
        ))
    }

    /// Registers a new image whose data is `body` (`declared` bytes, if the
    /// request said): the registry chooses its id and its location, and
    /// `describe` reads the rest of the request with that location. The
    /// data is received, placed, then recorded (docs/behaviour.md, "Crash
    /// protocol").
    pub(crate) async fn upload<S, E>(
        &self,
        caller: &Caller,
        describe: impl FnOnce(Location) -> Result<NewImage, AppError>,
        declared: Option<u64>,
        body: S,
    ) -> Result<Image, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = ImageId::generate();
        let new = describe(self.upload_location(caller, &id)?)?;
        check_ownership(caller, &new)?;
        check_reserved_keys(new.properties.keys())?;
        check_property_count(new.properties.len(), self.limits.max_properties)?;
        let _in_flight = self.metrics.upload_started();
        let received = self.receive_upload(caller, &new, declared, body).await?;
        let location = new.location.clone();
        let mut image = described(caller, new, received.info.clone(), id);
        image.os_hash = received.os_hash();
        // plankton wrote this object, so deleting the image deletes it (§17.6).
        image.uploaded = true;
        let placed = self.store.place(received, &location, false).await?;
        let readers = (Readers::Owner, Readers::of(image.is_public(), &[]));
        let hash = placed.remember.clone();
        let write = self.db.write(move |tx| {
            let stored = tx.upsert_at_location(&image)?;
            hash.iter().try_for_each(|h| tx.remember_hash(h))?;
            Ok(stored)
        });
        let recorded = match self.sync_readers(caller, &location, readers, write).await {
            Ok(stored) if stored.id == id => Ok(stored),
            Ok(_) => Err(AppError::internal("an uploaded image's id was taken")),
            Err(e) => Err(e),
        };
        self.settle(&location, placed, recorded).await
    }

    /// Receives an upload's data within the caller's limit, checked against
    /// what the request said of it.
    async fn receive_upload<S, E>(
        &self,
        caller: &Caller,
        new: &NewImage,
        declared: Option<u64>,
        body: S,
    ) -> Result<Received, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limit = self.upload_limit(caller).await?;
        if let Some(n) = declared {
            limit.check(n)?;
        }
        let accept = |info: &ObjectInfo| {
            if info.size == 0 {
                return Err(
                    "The request body is empty: an uploaded image needs at least one byte".into(),
                );
            }
            check_declared(new, info, "the data that arrived").map_err(|e| e.to_string())
        };
        self.store
            .receive(
                (&new.location, &caller.token),
                body,
                (limit.bytes, Some(self.uploads.hashing)),
                accept,
            )
            .await
            .map_err(|e| match e {
                StoreError::PastLimit { .. } => limit.refusal(),
                e => e.into(),
            })
    }

    /// The last step of every write of data (an upload, an object `PUT`):
    /// the data placed at `loc` stands if the catalogue `recorded` it, and
    /// is undone if not.
    pub(super) async fn settle<T>(
        &self,
        loc: &Location,
        placed: Placed,
        recorded: Result<T, AppError>,
    ) -> Result<T, AppError> {
        match recorded {
            Ok(done) => {
                self.store.keep(placed).await;
                Ok(done)
            }
            Err(e) => {
                if let Err(undo) = self.store.undo(placed).await {
                    log::error!(
                        "{}: the write could not be undone after it failed ({e}): {undo}",
                        loc.canonical()
                    );
                }
                Err(e)
            }
        }
    }

    /// How much the caller may upload now: the smaller of the image size
    /// limit and what is left of their quota.
    pub(super) async fn upload_limit(&self, caller: &Caller) -> Result<Limit, AppError> {
        let max = Limit {
            bytes: self.limits.max_image_size,
            quota: false,
        };
        if self.uploads.quota == 0 {
            return Ok(max);
        }
        let used = self.store.usage(caller.id()).await?;
        let left = self.uploads.quota.saturating_sub(used);
        Ok(if left < max.bytes {
            Limit {
                bytes: left,
                quota: true,
            }
        } else {
            max
        })
    }

    /// Settles what a crash left of writes of data: placements the
    /// catalogue recorded stand, the others are undone, unplaced data is
    /// removed (docs/behaviour.md, "Crash protocol"). Blocking; at start,
    /// before serving.
    pub(crate) fn recover_uploads(&self) -> Result<(), AppError> {
        let db = self.db.clone();
        let recorded = |key: &str| {
            db.read_blocking(|tx| Ok(tx.cached_hash(key)?))
                .ok()
                .flatten()
        };
        match self.store.recover(Some(&recorded)) {
            Ok(Some(done)) if done.placed + done.undone + done.removed > 0 => log::info!(
                "staging: {} interrupted write(s) kept, {} undone, {} unplaced removed",
                done.placed,
                done.undone,
                done.removed
            ),
            Ok(_) => {}
            Err(e) => return Err(AppError::internal(format!("recovering uploads: {e}"))),
        }
        Ok(())
    }
}

/// An upload's byte limit and where it comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    /// The most bytes it may have.
    pub(super) bytes: u64,
    quota: bool,
}

impl Limit {
    /// A declared size over the limit is refused before any byte is read.
    pub(super) fn check(self, declared: u64) -> Result<(), AppError> {
        if declared > self.bytes {
            Err(self.refusal())
        } else {
            Ok(())
        }
    }

    /// The 413 of an upload past the limit.
    pub(super) fn refusal(self) -> AppError {
        if self.quota {
            AppError::OverLimit("Upload refused: quota exceeded".into())
        } else {
            AppError::OverLimit(format!(
                "Upload refused: an image may have at most {} bytes (limits.max_image_size)",
                self.bytes
            ))
        }
    }
}
