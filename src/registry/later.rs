//! What a registration leaves for after its answer: the `os_hash` of a
//! large object of the `fs` store (docs/behaviour.md, "Hashing").

use std::sync::Arc;

use crate::backends::store::{object_key, FileInfo, ObjectStore, OS_HASH_LATER};
use crate::config::HashingAlgorithm;
use crate::db::{Catalogue, DbError, Tx};
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, OsHash};
use crate::domain::location::Location;
use crate::domain::object::CachedHash;
use crate::error::AppError;

use super::Registry;

/// The most owed `os_hash`es a server computes at start.
const AT_START: u32 = 64;

impl Registry {
    /// Computes the `os_hash` that the registration of `image` left owed
    /// for `file` (if it left one), off the request, and records it on the
    /// image and in the hash cache, unless either changed meanwhile (then
    /// the image keeps none, as after a registration in Pithos). A failure
    /// is logged and leaves it so; registering the object again, or the
    /// next start (`settle_owed_os_hashes`), computes it.
    pub(super) fn os_hash_later(&self, image: &Image, file: Option<CachedHash>) {
        let Some(file) = file else { return };
        let later = self.owed(image, file);
        actix_web::rt::spawn(later.settle());
    }

    /// At start: the `os_hash`es that large registrations still owe (their
    /// server stopped before it computed them), computed one after the
    /// other, each of an image whose file the hash cache still describes
    /// with the image's size and Pithos hash.
    pub(crate) async fn settle_owed_os_hashes(&self) -> Result<(), AppError> {
        if !self.store.serves_endpoint() {
            return Ok(()); // Pithos registrations read no data
        }
        let locations = self
            .db
            .read(async |tx| Ok(tx.locations_owing_os_hash(OS_HASH_LATER, AT_START).await?))
            .await?;
        for location in locations {
            let Ok(key) = Location::parse(&location).map(|l| object_key(&l)) else {
                continue;
            };
            let (at, path) = (location.clone(), key.clone());
            let found = self
                .db
                .read(async move |tx| {
                    let image = tx.live_image_at(&at).await?.map(|s| s.image);
                    Ok((image, tx.cached_hash(&path).await?))
                })
                .await?;
            if let (Some(image), Some(file)) = found {
                let same = (file.size, &file.checksum) == (image.size, &image.checksum);
                if image.os_hash.is_none() && same {
                    self.owed(&image, file).settle().await;
                }
            }
        }
        Ok(())
    }

    fn owed(&self, image: &Image, file: CachedHash) -> Owed {
        Owed {
            store: Arc::clone(&self.store),
            db: self.db.clone(),
            algo: self.uploads.hashing,
            id: image.id,
            location: image.location.clone(),
            file,
        }
    }
}

/// An `os_hash` owed for `file`, to be recorded on image `id` at `location`.
struct Owed {
    store: Arc<ObjectStore>,
    db: Catalogue,
    algo: HashingAlgorithm,
    id: ImageId,
    location: String,
    file: CachedHash,
}

impl Owed {
    /// Computes it and records it (`record`); a failure is logged.
    async fn settle(self) {
        let Owed {
            store,
            db,
            algo,
            id,
            location,
            file,
        } = self;
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
