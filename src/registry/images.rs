//! Images: list, get, read data, register, update, unregister (docs/api.md
//! §6, §7).

use std::collections::BTreeSet;

use crate::backends::store::{Inspected, ObjectRead};
use crate::db::{Catalogue, ListPosition, StoredImage, Tx};
use crate::domain::access::Intent;
use crate::domain::changes::{check_property_count, ImagePatch, NewImage};
use crate::domain::ids::{truncate, ImageId};
use crate::domain::image::{check_reserved_keys, Image, Status};
use crate::domain::listing::{ListQuery, ListSink};
use crate::domain::model::Visibility;
use crate::domain::object::{ObjectInfo, Readers};
use crate::domain::range::ByteRange;
use crate::domain::time::now_micros;
use crate::domain::user::Caller;
use crate::error::AppError;

use super::sharing::readers_of;
use super::Registry;

/// A listing read in pieces, each its own read transaction, each going on
/// from the last image of the one before (a keyset cursor): a listing of
/// any length is served in bounded memory and holds no transaction open
/// while its reader is slow. What this means when the catalogue changes
/// meanwhile: docs/behaviour.md, "Listing".
pub(crate) struct Listing {
    db: Catalogue,
    who: String,
    /// The listing's query; its limit is how many images the page may
    /// still have (`None`: no limit), less each piece as it is read.
    q: ListQuery,
    detail: bool,
    after: Option<ListPosition>,
    done: bool,
}

impl Listing {
    /// Hands the next piece of the listing to `sink`, one image at a time;
    /// returns whether more may follow. The first piece checks the marker.
    pub(crate) async fn next_piece<S: ListSink>(&mut self, sink: &mut S) -> Result<bool, AppError> {
        if self.done {
            return Ok(false);
        }
        let (who, q, detail, after) = (&self.who, &self.q, self.detail, self.after.as_ref());
        let piece = self
            .db
            .read(async |tx| {
                tx.list(who, q, detail, after, &mut |image| sink.push(&image))
                    .await
            })
            .await?;
        self.after = piece.last;
        if let Some(left) = &mut self.q.limit {
            *left -= piece.count as u32;
        }
        self.done = !piece.more;
        Ok(piece.more)
    }
}

impl Registry {
    /// The images the caller can see that match `q`, in its order and page,
    /// to be read in pieces (`Listing::next_piece`).
    pub(crate) fn listing(&self, caller: &Caller, q: ListQuery, detail: bool) -> Listing {
        Listing {
            db: self.db.clone(),
            who: caller.id().to_string(),
            q,
            detail,
            after: None,
            done: false,
        }
    }

    /// One image the caller may read.
    pub(crate) async fn get(&self, caller: &Caller, id: ImageId) -> Result<Image, AppError> {
        Ok(self.load_for(caller, id, Intent::Read).await?.image)
    }

    /// One image the caller may read and its data (the `range` of it).
    pub(crate) async fn data(
        &self,
        caller: &Caller,
        id: ImageId,
        range: Option<ByteRange>,
    ) -> Result<(Image, ObjectRead), AppError> {
        let image = self.get(caller, id).await?;
        if image.status == Status::Deactivated {
            return Err(AppError::Forbidden(format!(
                "Image {} is deactivated: its data is not served until it is reactivated",
                image.id
            )));
        }
        if image.status != Status::Available {
            return Err(AppError::Conflict(format!(
                "Image {} is {}, not available: it has no data to serve",
                image.id,
                image.status.as_str()
            )));
        }
        let location = image.parsed_location()?;
        let read = self
            .store
            .read(&location, image.size, range, &caller.token)
            .await?;
        Ok((image, read))
    }

    /// Registers the object at `new.location`, or re-registers the live
    /// image there (keeping its id, creation time and members).
    pub(crate) async fn register(&self, caller: &Caller, new: NewImage) -> Result<Image, AppError> {
        check_ownership(caller, &new)?;
        let inspected = self.inspect(caller, &new).await?;
        // Data without a disk_format is checked against the default it gets (§19).
        let disk_format = new.set.disk_format.as_deref().unwrap_or("diskdump");
        let at = (&new.location, caller.token.as_str());
        let known = inspected.computed.is_none();
        let examination = self
            .examine(at, (&inspected.info, known), Some(disk_format))
            .await?;
        check_reserved_keys(new.properties.keys())?;
        // The limit comes after every invalid input, the object's among them.
        check_property_count(new.properties.len(), self.limits.max_properties)?;
        let (computed, owed) = (inspected.computed, inspected.os_hash_owed);
        let location = new.location.clone();
        let set_protected = new.set.protected;
        let mut image = described(caller, new, inspected.info, ImageId::generate());
        examination.mark(&mut image);
        image.os_hash = inspected.os_hash;
        let is_public = image.is_public();
        let fresh_visibility = image.visibility;
        // A re-registration keeps `protected` unless the request sets it.
        let keep_protected = set_protected.is_none();
        let write = self.db.write(async move |tx| {
            if let Some(h) = &computed {
                tx.remember_hash(h).await?;
            }
            let mut image = image.clone();
            if keep_protected {
                if let Some(live) = tx.live_image_at(&image.location).await? {
                    image.protected = live.image.protected;
                }
            }
            Ok(tx.upsert_at_location(&image).await?)
        });
        if !self.store.syncs_sharing() {
            let image = write.await?;
            self.os_hash_later(&image, owed);
            return Ok(image);
        }
        // The readers before are those of the live image re-registered (if
        // any); its members are kept, its publicity is this request's.
        let at = location.canonical();
        let _turn = self.turn(&at).await?;
        let (was, members) = self
            .db
            .read(async move |tx| match tx.live_image_at(&at).await? {
                Some(s) => Ok((Some(s.image.visibility), tx.members(&s).await?)),
                None => Ok((None, Vec::new())),
            })
            .await?;
        // A re-registration's visibility follows v1's update rule (§17.12).
        let after = was.map_or(fresh_visibility, |v| v.on_v1_update(Some(is_public)));
        let change = (
            was.map_or(Readers::Owner, |v| readers_of(v, &members)),
            readers_of(after, &members),
        );
        self.sync_readers(caller, &location, change, write).await
    }

    /// The object a registration names, its size and checksum checked
    /// against what the caller said of them.
    async fn inspect(&self, caller: &Caller, new: &NewImage) -> Result<Inspected, AppError> {
        let db = self.db.clone();
        let inspected = self
            .store
            .inspect(
                (&new.location, &caller.token),
                self.uploads.hashing,
                move |path: &str| {
                    let path = path.to_string();
                    // A hash that cannot be looked up is computed afresh.
                    db.read_blocking(async move |tx| Ok(tx.cached_hash(&path).await?))
                        .ok()
                        .flatten()
                },
            )
            .await?;
        check_declared(new, &inspected.info, "the object at the location")?;
        Ok(inspected)
    }

    /// Changes an image's metadata (owner only).
    pub(crate) async fn update(
        &self,
        caller: &Caller,
        id: ImageId,
        patch: ImagePatch,
    ) -> Result<Image, AppError> {
        let max = self.limits.max_properties;
        self.change_readers(caller, id, move |stored, members| {
            check_reserved_keys(patch.properties.keys().chain(patch.conflicts.keys()))?;
            let image = patch.clone().apply(&stored.image, max)?;
            let readers = readers_of(image.visibility, members);
            Ok((readers, async move |tx: &Tx<'_>, stored: &StoredImage| {
                let mut image = image.clone();
                image.updated_at = now_micros().max(stored.image.updated_at);
                tx.update(stored, &image).await?;
                Ok(image)
            }))
        })
        .await
    }

    /// Unregisters an image (owner only); it stays as a tombstone.
    pub(crate) async fn unregister(&self, caller: &Caller, id: ImageId) -> Result<(), AppError> {
        self.change_readers(caller, id, move |stored, _| {
            if stored.image.protected {
                return Err(AppError::Forbidden(format!(
                    "Image {id} is protected: unprotect it first"
                )));
            }
            Ok((Readers::Owner, async |tx: &Tx<'_>, stored: &StoredImage| {
                Ok(tx
                    .update(stored, &stored.image.entombed(now_micros()))
                    .await?)
            }))
        })
        .await
    }
}

/// The size and checksum the caller gave, against the data's (`what` says
/// which data, for the message).
pub(super) fn check_declared(
    new: &NewImage,
    info: &ObjectInfo,
    what: &str,
) -> Result<(), AppError> {
    if let Some(size) = new.size {
        if size != info.size {
            return Err(AppError::invalid(format!(
                "Invalid X-Image-Meta-Size '{size}': {what} has {} bytes",
                info.size
            )));
        }
    }
    if let Some(sum) = &new.checksum {
        let known = if sum.len() == 32 {
            info.md5.as_deref()
        } else {
            Some(info.checksum.as_str())
        };
        match known {
            Some(k) if k == sum => {}
            Some(_) => return Err(AppError::invalid(format!(
                "Invalid X-Image-Meta-Checksum '{sum}': it does not match {what}"
            ))),
            None => return Err(AppError::invalid(format!(
                "Invalid X-Image-Meta-Checksum '{sum}': the store does not know this object's MD5; give its 64-digit hash"
            ))),
        }
    }
    Ok(())
}

/// An image is owned by the user who registers it, and only an object of
/// their own account can be registered.
pub(super) fn check_ownership(caller: &Caller, new: &NewImage) -> Result<(), AppError> {
    if let Some(owner) = &new.set.owner {
        if owner != caller.id() {
            return Err(AppError::Forbidden(format!(
                "Invalid X-Image-Meta-Owner '{}': an image is owned by the user who registers it",
                truncate(owner, 80)
            )));
        }
    }
    let location = &new.location;
    if location.account() != caller.id() {
        return Err(AppError::Forbidden(format!(
            "Location '{}' is in account '{}': you may only register objects of your own account",
            location.canonical(),
            location.account()
        )));
    }
    Ok(())
}

/// The image `id` a registration describes, with the object's size and hashes.
pub(super) fn described(caller: &Caller, new: NewImage, info: ObjectInfo, id: ImageId) -> Image {
    let now = now_micros();
    let set = new.set;
    Image {
        id,
        name: new.name,
        location: new.location.canonical(),
        status: Status::Available,
        disk_format: set.disk_format.unwrap_or_else(|| "diskdump".into()),
        container_format: set.container_format.unwrap_or_else(|| "bare".into()),
        size: info.size,
        checksum: info.checksum,
        md5: info.md5,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        visibility: Visibility::on_v1_register(set.is_public),
        os_hidden: false,
        tags: BTreeSet::new(),
        os_hash: None,
        virtual_size: None,
        examined: None,
        uploaded: false,
        protected: set.protected.unwrap_or(false),
        owner: caller.id().to_string(),
        min_ram: set.min_ram.unwrap_or(0),
        min_disk: set.min_disk.unwrap_or(0),
        properties: new.properties,
    }
}
