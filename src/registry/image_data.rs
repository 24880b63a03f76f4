//! Images whose data comes in the request (docs/api.md §13): the data is
//! received into staging and checked, the image committed, and only then
//! the data put at its location; a crash in between is finished at the
//! next start (`Registry::recover_uploads`).

use bytes::Bytes;
use futures_util::Stream;

use crate::backends::store::StoreError;
use crate::domain::changes::{check_property_count, NewImage};
use crate::domain::ids::ImageId;
use crate::domain::image::Image;
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
}

impl Registry {
    /// Where the data of the caller's upload `id` goes.
    pub(crate) fn upload_location(
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

    /// Registers image `id`, whose data is `body` (`declared` bytes, if the
    /// request said), at `new.location` (its `upload_location`).
    pub(crate) async fn upload<S, E>(
        &self,
        caller: &Caller,
        id: ImageId,
        new: NewImage,
        declared: Option<u64>,
        body: S,
    ) -> Result<Image, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        check_ownership(caller, &new)?;
        check_property_count(new.properties.len(), self.limits.max_properties)?;
        let _in_flight = self.metrics.upload_started();
        let limit = self.upload_limit(caller).await?;
        if let Some(n) = declared {
            limit.check(n)?;
        }
        let location = new.location.clone();
        let accept = |info: &ObjectInfo| {
            if info.size == 0 {
                return Err(
                    "The request body is empty: an uploaded image needs at least one byte".into(),
                );
            }
            check_declared(&new, info, "the data that arrived").map_err(|e| e.to_string())
        };
        let received = self
            .store
            .receive(
                &id.to_string(),
                (&location, &caller.token),
                body,
                limit.bytes,
                accept,
            )
            .await
            .map_err(|e| match e {
                StoreError::PastLimit { .. } => limit.refusal(),
                e => e.into(),
            })?;
        let mut image = described(caller, new, received.info.clone());
        image.id = id;
        let readers = (Readers::Owner, Readers::of(image.is_public, &[]));
        let write = self.db.write(move |tx| Ok(tx.upsert_at_location(&image)?));
        let stored = match self.sync_readers(caller, &location, readers, write).await {
            Ok(stored) if stored.id == id => stored,
            Ok(_) => {
                self.store.discard(received).await;
                return Err(AppError::internal("an uploaded image's id was taken"));
            }
            Err(e) => {
                self.store.discard(received).await;
                return Err(e);
            }
        };
        let store = self.store.clone();
        let placed = actix_web::web::block(move || store.place(received, &location))
            .await
            .map_err(AppError::internal)??;
        if let Some(hash) = placed {
            // Not remembering it only costs hashing the file once, later.
            if let Err(e) = self.db.write(move |tx| Ok(tx.remember_hash(&hash)?)).await {
                log::warn!("remembering an upload's hash: {e}");
            }
        }
        Ok(stored)
    }

    /// How much the caller may upload now: the smaller of the image size
    /// limit and what is left of their quota.
    async fn upload_limit(&self, caller: &Caller) -> Result<Limit, AppError> {
        let max = Limit {
            bytes: self.limits.max_image_size,
            quota: false,
        };
        if self.uploads.quota == 0 {
            return Ok(max);
        }
        let (store, who) = (self.store.clone(), caller.id().to_string());
        let used = actix_web::web::block(move || store.usage(&who))
            .await
            .map_err(AppError::internal)??;
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

    /// Finishes uploads whose image a crash committed before their data was
    /// in place, and removes every other leftover of staging. Blocking; at
    /// start, before serving.
    pub(crate) fn recover_uploads(&self) -> Result<(), AppError> {
        let db = self.db.clone();
        let done = self.store.recover(|name| {
            let location = db.read_blocking(|tx| Ok(tx.live_location(name)?)).ok()??;
            Location::parse(&location).ok()
        });
        match done {
            Ok(Some(done)) if done.placed + done.removed > 0 => log::info!(
                "staging: {} committed upload(s) put in place, {} unfinished removed",
                done.placed,
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
struct Limit {
    bytes: u64,
    quota: bool,
}

impl Limit {
    fn check(self, declared: u64) -> Result<(), AppError> {
        if declared > self.bytes {
            Err(self.refusal())
        } else {
            Ok(())
        }
    }

    fn refusal(self) -> AppError {
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
