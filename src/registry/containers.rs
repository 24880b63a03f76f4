//! The object-store endpoint's writes that keep no object data of their
//! own: containers, uploaded blocks, object metadata, deletion (docs/api.md
//! §14). Every write is in the caller's own account.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

use super::objects::{check_owner, is_directory_type, store_error, STANDING};
use super::Registry;
use crate::backends::store::{container_key, object_key, StoreError};
use crate::domain::location::Location;
use crate::domain::objects::{MetaChange, ObjectMeta};
use crate::domain::user::Caller;
use crate::error::AppError;

/// A request body as it arrives, chunk by chunk.
pub(crate) type Body = Pin<Box<dyn Stream<Item = Result<Bytes, AppError>>>>;

/// The most bytes one block upload may carry.
pub(crate) const MAX_BLOCK_UPLOAD: u64 = 64 * 1024 * 1024;

/// The 413 of a block upload over the limit.
pub(crate) fn blocks_too_large() -> AppError {
    AppError::OverLimit(format!(
        "A block upload carries at most {MAX_BLOCK_UPLOAD} bytes"
    ))
}

impl Registry {
    /// Checks that the container is the caller's and is there (the standing
    /// ones always are, their directory made by the first write into them);
    /// a metadata update of it does no more (containers keep no metadata here).
    pub(crate) async fn own_container(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
    ) -> Result<(), AppError> {
        check_owner(caller, account)?;
        if STANDING.contains(&container) {
            return Ok(());
        }
        self.store
            .container_exists(account, container)
            .await
            .map_err(store_error)?
            .then_some(())
            .ok_or_else(|| AppError::NotFound(format!("Container '{container}' not found")))
    }

    /// Makes a container; whether it was made now (a standing one was
    /// always there).
    pub(crate) async fn create_container(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
    ) -> Result<bool, AppError> {
        check_owner(caller, account)?;
        let made = self
            .store
            .create_container(account, container)
            .await
            .map_err(store_error)?;
        Ok(made && !STANDING.contains(&container))
    }

    /// Removes an empty container; 409 if it holds objects (directory
    /// objects included). The rows left under it (stale ones) go with it.
    pub(crate) async fn delete_container(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
    ) -> Result<(), AppError> {
        self.own_container(caller, account, container).await?;
        let prefix = format!("{}/", container_key(account, container));
        let rows = self
            .db
            .read_long(async move |tx| Ok(tx.object_metas_under(&prefix).await?))
            .await?;
        if rows.values().any(|m| is_directory_type(&m.content_type)) {
            return Err(AppError::Conflict(format!(
                "Container '{container}' is not empty: delete its objects first"
            )));
        }
        let removed = self
            .store
            .remove_container(account, container)
            .await
            .map_err(store_error)?;
        if removed {
            self.db
                .write(async move |tx| {
                    for k in rows.keys() {
                        tx.forget_object(k).await?;
                    }
                    Ok(())
                })
                .await
        } else {
            Err(AppError::Conflict(format!(
                "Container '{container}' is not empty: delete its objects first"
            )))
        }
    }

    /// Deletes every object of a container and keeps the container, as
    /// Pithos does for a `DELETE` with `delimiter` (`kamaki container
    /// delete -r` sends that, then a plain `DELETE`). Each object goes by
    /// its own delete: one failing leaves the others deleted before it.
    pub(crate) async fn empty_container(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
    ) -> Result<(), AppError> {
        self.own_container(caller, account, container).await?;
        let views = self.container_objects(caller, account, container).await?;
        for v in views {
            let loc = Location::of_decoded(account, container, &v.name)?;
            match self.delete_object(caller, &loc).await {
                // Deleted meanwhile by another request: what was asked holds.
                Ok(()) | Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Stores the body's blocks (each `BLOCK_SIZE` bytes, the last maybe
    /// short) and answers their hashes in order. A body over
    /// `MAX_BLOCK_UPLOAD` is refused, and so is one past what the quota
    /// leaves (the blocks count against it until an object consumes them);
    /// a failed upload leaves none of the blocks it made.
    pub(crate) async fn store_blocks(
        &self,
        caller: &Caller,
        account: &str,
        container: &str,
        length: Option<u64>,
        body: Body,
    ) -> Result<Vec<String>, AppError> {
        self.own_container(caller, account, container).await?;
        let _in_flight = self.metrics.upload_started();
        let need = length.unwrap_or(MAX_BLOCK_UPLOAD).min(MAX_BLOCK_UPLOAD);
        let room = self.room(caller, None, Some(need), Vec::new()).await?;
        let limit = room
            .as_ref()
            .map_or(MAX_BLOCK_UPLOAD, |r| r.left().min(MAX_BLOCK_UPLOAD));
        self.store
            .store_blocks(account, body, limit)
            .await
            .map_err(|e| match e {
                StoreError::PastLimit { .. } => match &room {
                    Some(r) if r.left() < MAX_BLOCK_UPLOAD => r.refusal(),
                    _ => blocks_too_large(),
                },
                // The body's own error says what went wrong with it.
                StoreError::Cut(why) => AppError::invalid(why),
                // A full disk is the caller's to know (413), as for data.
                e @ (StoreError::Unsupported(_) | StoreError::NoBlocks | StoreError::NoSpace) => {
                    store_error(e)
                }
                e => AppError::internal(format!("storing a block: {e}")),
            })
    }

    /// Changes an object's sharing, publicity or `X-Object-Meta-*` (owner only).
    pub(crate) async fn update_object(
        &self,
        caller: &Caller,
        loc: &Location,
        change: MetaChange,
    ) -> Result<(), AppError> {
        check_owner(caller, loc.account())?;
        let _turn = self.turn(&loc.canonical()).await?;
        let view = self.object(caller, loc).await?;
        let mut meta: ObjectMeta = view.meta;
        change.apply(&mut meta)?;
        super::objects::settle_public(&mut meta);
        let key = object_key(loc);
        self.db
            .write(async move |tx| Ok(tx.put_object_meta(&key, &meta).await?))
            .await
    }

    /// Deletes an object (owner only): its file, its metadata and its hash.
    pub(crate) async fn delete_object(
        &self,
        caller: &Caller,
        loc: &Location,
    ) -> Result<(), AppError> {
        check_owner(caller, loc.account())?;
        let _turn = self.turn(&loc.canonical()).await?;
        let key = object_key(loc);
        if !self.store.remove_object(loc).await.map_err(store_error)? {
            // A directory object is a catalogue row alone.
            let meta = self
                .db
                .read(async |tx| Ok(tx.object_meta(&key).await?))
                .await?;
            if !meta.is_some_and(|m| super::objects::is_directory_type(&m.content_type)) {
                return Err(AppError::NotFound(format!(
                    "Object '{}' not found",
                    loc.canonical()
                )));
            }
        }
        self.db
            .write(async move |tx| Ok(tx.forget_object(&key).await?))
            .await
    }

    /// `DELETE` of an object with `delimiter`: the object (a directory, say)
    /// if there is one and every object under `<name>/`, each by its own
    /// delete; 404 if there was none of them.
    pub(crate) async fn delete_tree(
        &self,
        caller: &Caller,
        loc: &Location,
    ) -> Result<(), AppError> {
        check_owner(caller, loc.account())?;
        let prefix = format!("{}/", loc.object_path());
        let under: Vec<String> = self
            .container_objects(caller, loc.account(), loc.container())
            .await?
            .into_iter()
            .filter(|v| v.name.starts_with(&prefix))
            .map(|v| v.name)
            .collect();
        let mut found = match self.delete_object(caller, loc).await {
            Ok(()) => true,
            Err(AppError::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        for name in under {
            let one = Location::of_decoded(loc.account(), loc.container(), &name)?;
            match self.delete_object(caller, &one).await {
                Ok(()) => found = true,
                Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound(format!(
                "Object '{}' not found",
                loc.canonical()
            )))
        }
    }
}
