//! What a registration leaves for after its answer: the `os_hash` of a
//! large object of the `fs` store (docs/behaviour.md, "Hashing").

use std::sync::Arc;

use crate::backends::store::FileInfo;
use crate::db::{DbError, Tx};
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, OsHash};
use crate::domain::object::CachedHash;

use super::Registry;

impl Registry {
    /// Computes the `os_hash` that the registration of `image` left owed
    /// for `file` (if it left one), off the request, and records it on the image and in the
    /// hash cache, unless either changed meanwhile (then the image keeps
    /// none, as after a registration in Pithos). A failure is logged and
    /// leaves it so; registering the object again computes it.
    pub(super) fn os_hash_later(&self, image: &Image, file: Option<CachedHash>) {
        let Some(file) = file else { return };
        let (store, db) = (Arc::clone(&self.store), self.db.clone());
        let algo = self.uploads.hashing;
        let (id, location) = (image.id, image.location.clone());
        actix_web::rt::spawn(async move {
            let info = FileInfo {
                size: file.size,
                mtime_ns: file.mtime_ns,
            };
            let os_hash = match store.os_hash_of(&file.path, info, algo).await {
                Ok(h) => h,
                Err(e) => return log::info!("{}: its os_hash is left unset: {e}", file.path),
            };
            let recorded = db
                .write(async move |tx| Ok(record(tx, (id, &location), &file, &os_hash).await?))
                .await;
            if let Err(e) = recorded {
                log::warn!("{id}: its os_hash could not be recorded: {e}");
            }
        });
    }
}

/// Records `os_hash`, the digest of `file` as it was, in the hash cache if
/// the entry still describes that file, and on image `id` if it is still
/// the live image at `location`, of that data, without an `os_hash`. Its
/// `updated_at` is kept: the server filled in what it owed, nobody changed
/// the image.
async fn record(
    tx: &Tx<'_>,
    (id, location): (ImageId, &str),
    file: &CachedHash,
    os_hash: &OsHash,
) -> Result<(), DbError> {
    let same_file = |h: &CachedHash| {
        (h.size, h.mtime_ns, &h.checksum) == (file.size, file.mtime_ns, &file.checksum)
    };
    if tx
        .cached_hash(&file.path)
        .await?
        .is_some_and(|h| same_file(&h))
    {
        let done = CachedHash {
            os_hash: Some(os_hash.clone()),
            ..file.clone()
        };
        tx.remember_hash(&done).await?;
    }
    let Some(stored) = tx.live_image_at(location).await? else {
        return Ok(());
    };
    let image = &stored.image;
    let owed = image.id == id
        && image.os_hash.is_none()
        && (image.size, &image.checksum) == (file.size, &file.checksum);
    if owed {
        let image = Image {
            os_hash: Some(os_hash.clone()),
            ..image.clone()
        };
        tx.update(&stored, &image).await?;
    }
    Ok(())
}
