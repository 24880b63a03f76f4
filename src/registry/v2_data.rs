//! v2's image data (docs/api.md §17.4): upload to a queued image through
//! the machinery of §13 (staging, limits, quota, the crash protocol), and
//! download.

use bytes::Bytes;
use futures_util::Stream;

use crate::backends::store::ObjectRead;
use crate::db::Tx;
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, OsHash, Status};
use crate::domain::object::ObjectInfo;
use crate::domain::range::ByteRange;
use crate::domain::time::now_micros;
use crate::domain::user::Caller;
use crate::error::AppError;

use super::image_data::{Examination, Watch};
use super::{load, Registry};

/// Records the uploaded data of image `id` (of `who`), still saving:
/// active in one write. Deleted meanwhile: 410, and nothing is stored.
async fn uploaded(
    tx: &Tx<'_>,
    (id, who): (&ImageId, &str),
    info: &ObjectInfo,
    (os_hash, examination): (Option<OsHash>, Examination),
) -> Result<(), AppError> {
    let gone = || {
        AppError::Gone(format!(
            "Image {id} was deleted during its upload: nothing was stored"
        ))
    };
    let (stored, _) = tx.image_for_caller(id, who).await?.ok_or_else(gone)?;
    if stored.image.status != Status::Saving {
        return Err(gone());
    }
    let mut image = stored.image.upload_done(info, now_micros());
    image.os_hash = os_hash;
    examination.mark(&mut image);
    Ok(tx.update(&stored, &image).await?)
}

impl Registry {
    /// Uploads the data of a queued image (owner only): `saving` is
    /// committed first; then the data is received (`declared` bytes, if the
    /// request said) and placed, and location, size, hashes, `uploaded` and
    /// `active` recorded in one commit. Any failure puts the image back to
    /// queued with nothing stored.
    pub(crate) async fn upload_v2<S, E>(
        &self,
        caller: &Caller,
        id: ImageId,
        declared: Option<u64>,
        body: S,
    ) -> Result<(), AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let location = self.upload_location(caller, &id)?;
        let (who, at) = (caller.id().to_string(), location.canonical());
        let was = self
            .db
            .write(async move |tx| {
                let stored = load(tx, &id, &who, Intent::Change).await?;
                let image = stored.image.upload_starting(at.clone(), now_micros())?;
                tx.update(&stored, &image).await?;
                Ok((stored.image.updated_at, image.disk_format))
            })
            .await?;
        let (was, disk_format) = was;
        let done = self
            .receive_v2(caller, (id, &disk_format), declared, body)
            .await;
        if done.is_err() {
            self.requeue(caller, id, was).await;
        }
        done
    }

    /// The data of a saving image: received, placed, recorded.
    async fn receive_v2<S, E>(
        &self,
        caller: &Caller,
        (id, disk_format): (ImageId, &str),
        declared: Option<u64>,
        body: S,
    ) -> Result<(), AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let location = self.upload_location(caller, &id)?;
        let limit = self.upload_limit(caller).await?;
        if let Some(n) = declared {
            limit.check(n)?;
        }
        let watch = Watch::new(self.uploads.inspection);
        let accept = |info: &ObjectInfo| match declared {
            Some(n) if n != info.size => Err(format!(
                "Invalid X-OpenStack-Image-Size {n}: {} bytes arrived",
                info.size
            )),
            _ => watch.judge(Some(disk_format)),
        };
        let received = self
            .store
            .receive(
                (&location, &caller.token),
                watch.body(body),
                (limit.bytes, Some(self.uploads.hashing)),
                accept,
            )
            .await
            .map_err(|e| watch.failure(e, limit, true))?;
        let examination = watch.examination();
        let info = received.info.clone();
        let os_hash = received.os_hash();
        let placed = self.store.place(received, &location, false).await?;
        let hash = placed.remember.clone();
        let who = caller.id().to_string();
        let recorded = self
            .db
            .write(async move |tx| {
                uploaded(
                    tx,
                    (&id, &who),
                    &info,
                    (os_hash.clone(), examination.clone()),
                )
                .await?;
                if let Some(h) = &hash {
                    tx.remember_hash(h).await?;
                }
                Ok(())
            })
            .await;
        self.settle(&location, placed, recorded).await
    }

    /// A failed upload's image back to queued as it was (`was`: its
    /// `updated_at`), unless it was deleted meanwhile; a failure to is
    /// logged: start-up requeues it.
    async fn requeue(&self, caller: &Caller, id: ImageId, was: i64) {
        let who = caller.id().to_string();
        let back = self
            .db
            .write(async move |tx| {
                let stored = load(tx, &id, &who, Intent::Change).await?;
                if stored.image.status == Status::Saving && !stored.image.has_data() {
                    tx.update(&stored, &stored.image.upload_undone(was)).await?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = back {
            log::warn!("image {id}: could not put it back to queued after its upload failed: {e}");
        }
    }

    /// An image's data for v2 (§17.4): `None` while it has none (204);
    /// deactivated 403 for everyone; data but not active 409.
    pub(crate) async fn download_v2(
        &self,
        caller: &Caller,
        id: ImageId,
        range: Option<ByteRange>,
    ) -> Result<Option<(Image, ObjectRead)>, AppError> {
        let image = self.get(caller, id).await?;
        if !image.has_data() && image.status != Status::Deactivated {
            return Ok(None);
        }
        // v1's refusal names v1's status words; v2 names its own.
        if matches!(image.status, Status::Saving | Status::Error) {
            return Err(AppError::Conflict(format!(
                "Image {id} is {}: its data is served only while it is active",
                image.status.as_db()
            )));
        }
        self.data(caller, id, range).await.map(Some)
    }
}
