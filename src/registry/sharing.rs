//! Keeping Pithos's read permissions in step with members and publicity.
//!
//! Who may read an image's object follows docs/api.md §17.10: everyone for
//! `public` and `community`, the owner and its members (of any status) for
//! `shared`, the owner alone for `private` (its members stay stored).
//!
//! A change that alters who may read an image (members, visibility,
//! re-registration, unregistering) sets the object's sharing in Pithos first
//! and then commits the catalogue. If the commit then fails, the sharing is
//! put back; if even that fails, the request fails with "unavailable", says
//! so, and the disagreement is logged as an error. Changes to one location
//! are serialised, so two of them cannot interleave their two steps. With
//! the `fs` store (or `sync_sharing = false`) the change is one write.

use std::future::Future;
use std::hash::BuildHasher;

use super::Registry;
use crate::db::{Held, StoredImage, Tx};
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::image::Status;
use crate::domain::location::Location;
use crate::domain::model::Visibility;
use crate::domain::object::Readers;
use crate::domain::user::Caller;
use crate::error::AppError;

/// A fixed set of async locks, one picked per key by hashing it.
pub(crate) struct StripedLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for StripedLocks {
    fn default() -> Self {
        StripedLocks {
            stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl StripedLocks {
    /// Waits for the lock of `key`'s stripe.
    pub(crate) async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let idx = (self.hasher.hash_one(key) % self.stripes.len() as u64) as usize;
        self.stripes[idx].lock().await
    }
}

/// The turn of one location or object: this process's lock of it, and the
/// catalogue's hold on it across processes (`Catalogue::hold`).
pub(crate) struct Turn<'a> {
    _here: tokio::sync::MutexGuard<'a, ()>,
    _everywhere: Held,
}

impl Registry {
    /// Waits for the turn of `key`: first among this process's requests,
    /// then among every process's (holding nothing of the catalogue's
    /// while waiting for this process's own).
    pub(crate) async fn turn(&self, key: &str) -> Result<Turn<'_>, AppError> {
        let here = self.locks.lock(key).await;
        let everywhere = self.db.hold(key).await?;
        Ok(Turn {
            _here: here,
            _everywhere: everywhere,
        })
    }
}

impl Registry {
    /// Sets the object's readers to `after`, runs `write`, and puts `before`
    /// back if `write` fails. Nothing is sent when the readers do not change.
    pub(super) async fn sync_readers<T>(
        &self,
        caller: &Caller,
        location: &Location,
        (before, after): (Readers, Readers),
        write: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let store = &self.store;
        if !store.syncs_sharing() || before == after {
            return write.await;
        }
        store.set_readers(location, &after, &caller.token).await?;
        let e = match write.await {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        match store.set_readers(location, &before, &caller.token).await {
            Ok(()) => Err(e),
            Err(undo) => {
                log::error!(
                    "DISAGREEMENT: the catalogue says {before:?} may read {} but the object store now says {after:?}: \
                     the change failed ({e}) and putting the sharing back failed ({undo})",
                    location.canonical()
                );
                Err(AppError::Unavailable(format!(
                    "The change failed and the object store's sharing of '{}' could not be put back; \
                     it may now differ from the image's members; repeat the request",
                    location.canonical()
                )))
            }
        }
    }

    /// Runs a change of image `id` (owner only) that may alter who may read
    /// its object. `plan` sees the image and its members, checks the change
    /// and returns the readers it leads to and the write that makes it.
    pub(super) async fn change_readers<T, P, W>(
        &self,
        caller: &Caller,
        id: ImageId,
        plan: P,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        P: Fn(&StoredImage, &[String]) -> Result<(Readers, W), AppError> + Send + 'static,
        W: AsyncFn(&Tx<'_>, &StoredImage) -> Result<T, AppError> + Send + 'static,
    {
        let who = caller.id().to_string();
        // A queued image has no object whose readers could change.
        let synced = if self.store.syncs_sharing() {
            let first = self.load_for(caller, id, Intent::Change).await?;
            (first.image.status != Status::Queued).then_some(first)
        } else {
            None
        };
        let Some(first) = synced else {
            return self
                .db
                .write(async move |tx| {
                    let (stored, members) = changing(tx, &id, &who).await?;
                    let (_, write) = plan(&stored, &members)?;
                    write(tx, &stored).await
                })
                .await;
        };
        // One read found the location to lock and, once it is held, a second
        // sees the image as no other change of that location can alter it.
        let _turn = self.turn(&first.image.location).await?;
        let (stored, members) = self
            .db
            .read(async |tx| changing(tx, &id, &who).await)
            .await?;
        let location = stored.image.parsed_location()?;
        let before = readers_of(stored.image.visibility, &members);
        let (after, write) = plan(&stored, &members)?;
        let commit = self.db.write(async move |tx| {
            let fresh = super::load(tx, &id, &who, Intent::Change).await?;
            write(tx, &fresh).await
        });
        self.sync_readers(caller, &location, (before, after), commit)
            .await
    }
}

/// The readers of an object whose image has `visibility` and `members`
/// (docs/api.md §17.10).
pub(super) fn readers_of(visibility: Visibility, members: &[String]) -> Readers {
    match visibility {
        Visibility::Public | Visibility::Community => Readers::Everyone,
        Visibility::Shared => Readers::of(false, members),
        Visibility::Private => Readers::Owner,
    }
}

/// Image `id`, which `who` means to change, and its members.
async fn changing(
    tx: &Tx<'_>,
    id: &ImageId,
    who: &str,
) -> Result<(StoredImage, Vec<String>), AppError> {
    let stored = super::load(tx, id, who, Intent::Change).await?;
    let members = tx.members(&stored).await?;
    Ok((stored, members))
}
