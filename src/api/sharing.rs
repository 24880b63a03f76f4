//! Keeping Pithos's read permissions in step with members and publicity.
//!
//! A change that alters who may read an image (members, `is_public`,
//! re-registration, unregistering) sets the object's sharing in Pithos first
//! and then commits the catalogue. If the commit then fails, the sharing is
//! put back; if even that fails, the request fails with a 503 that says so
//! and the disagreement is logged as an error. Changes to one location are
//! serialised, so two of them cannot interleave their two steps. With the
//! `fs` store (or `sync_sharing = false`) the change is one write, as usual.

use std::future::Future;
use std::hash::BuildHasher;

use rusqlite::Connection;

use super::images::{change, load, load_for};
use super::Call;
use crate::backends::store::Readers;
use crate::db::queries::{self, StoredImage};
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::location::Location;
use crate::error::AppError;

/// A fixed set of async locks, one picked per key by hashing it.
pub struct StripedLocks {
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
    pub async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let idx = (self.hasher.hash_one(key) % self.stripes.len() as u64) as usize;
        self.stripes[idx].lock().await
    }
}

/// Sets the object's readers to `after`, runs `write`, and puts `before` back
/// if `write` fails. Nothing is sent when the readers do not change.
pub(crate) async fn sync_readers<T>(
    call: &Call<'_>,
    location: &Location,
    before: Readers,
    after: Readers,
    write: impl Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let store = &call.state.store;
    if !store.syncs_sharing() || before == after {
        return write.await;
    }
    store.set_readers(location, &after, &call.token).await?;
    match write.await {
        Ok(t) => Ok(t),
        Err(e) => match store.set_readers(location, &before, &call.token).await {
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
        },
    }
}

/// Runs a change of image `id` (owner only) that may alter who may read its
/// object. `plan` sees the image and its members, checks the change and
/// returns the readers it leads to and the write that makes it.
pub(crate) async fn change_readers<T, P, W>(
    call: &Call<'_>,
    id: ImageId,
    plan: P,
) -> Result<T, AppError>
where
    T: Send + 'static,
    P: FnOnce(&StoredImage, &[String]) -> Result<(Readers, W), AppError> + Send + 'static,
    W: FnOnce(&Connection, &StoredImage) -> Result<T, AppError> + Send + 'static,
{
    if !call.state.store.syncs_sharing() {
        return change(call, id, move |conn, stored| {
            let members = queries::members(conn, stored.seq)?;
            let (_, write) = plan(&stored, &members)?;
            write(conn, &stored)
        })
        .await;
    }
    let first = load_for(call, id, Intent::Change).await?;
    let _turn = call.state.sharing_locks.lock(&first.image.location).await;
    let caller = call.user.id.clone();
    let (stored, members) = call
        .state
        .db
        .read(move |conn| {
            let stored = load(conn, &id, &caller, Intent::Change)?;
            let members = queries::members(conn, stored.seq)?;
            Ok((stored, members))
        })
        .await?;
    let location = stored.image.parsed_location()?;
    let before = Readers::of(stored.image.is_public, &members);
    let (after, write) = plan(&stored, &members)?;
    let commit = change(call, id, move |conn, fresh| write(conn, &fresh));
    sync_readers(call, &location, before, after, commit).await
}
