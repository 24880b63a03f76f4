//! Who an image is shared with (docs/api.md §8): its members, and the images
//! shared between two users.

use super::sharing::readers_of;
use super::Registry;
use crate::db::{StoredImage, Tx};
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::user::Caller;
use crate::error::AppError;

fn too_many(count: usize, max: usize) -> AppError {
    AppError::OverLimit(format!(
        "Too many members: {count} (at most {max} per image)"
    ))
}

impl Registry {
    /// The members of an image the caller may read, sorted.
    pub(crate) async fn members(
        &self,
        caller: &Caller,
        id: ImageId,
    ) -> Result<Vec<String>, AppError> {
        self.db
            .read(async |tx| {
                let stored = super::load(tx, &id, caller.id(), Intent::Read).await?;
                Ok(tx.members(&stored).await?)
            })
            .await
    }

    /// Replaces an image's members (owner only); the owner is never one.
    pub(crate) async fn set_members(
        &self,
        caller: &Caller,
        id: ImageId,
        mut wanted: Vec<String>,
    ) -> Result<(), AppError> {
        wanted.sort();
        wanted.dedup();
        let max = self.limits.max_members;
        self.change_readers(caller, id, move |stored, _| {
            let mut wanted = wanted.clone();
            wanted.retain(|m| *m != stored.image.owner);
            if wanted.len() > max {
                return Err(too_many(wanted.len(), max));
            }
            // A non-empty replace shares a private image (docs/api.md §17.12).
            let visibility = match wanted.is_empty() {
                true => stored.image.visibility,
                false => stored.image.visibility.on_v1_member_add(),
            };
            let after = readers_of(visibility, &wanted);
            Ok((after, async move |tx: &Tx<'_>, stored: &StoredImage| {
                Ok(tx.set_members(stored, &wanted).await?)
            }))
        })
        .await
    }

    /// Adds one member (owner only, idempotent).
    pub(crate) async fn add_member(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
    ) -> Result<(), AppError> {
        let max = self.limits.max_members;
        self.change_readers(caller, id, move |stored, members| {
            let mut after = members.to_vec();
            let new = member != stored.image.owner && !members.contains(&member);
            if new {
                if members.len() + 1 > max {
                    return Err(too_many(members.len() + 1, max));
                }
                after.push(member.clone());
            }
            // A v1 add shares a private image (docs/api.md §17.12).
            let readers = readers_of(stored.image.visibility.on_v1_member_add(), &after);
            let member = member.clone();
            Ok((readers, async move |tx: &Tx<'_>, stored: &StoredImage| {
                if new {
                    tx.add_member(stored, &member).await?;
                }
                Ok(())
            }))
        })
        .await
    }

    /// Removes one member (owner only, idempotent).
    pub(crate) async fn remove_member(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
    ) -> Result<(), AppError> {
        self.change_readers(caller, id, move |stored, members| {
            let after: Vec<String> = members.iter().filter(|m| **m != member).cloned().collect();
            let readers = readers_of(stored.image.visibility, &after);
            let member = member.clone();
            Ok((readers, async move |tx: &Tx<'_>, stored: &StoredImage| {
                Ok(tx.remove_member(stored, &member).await?)
            }))
        })
        .await
    }

    /// The live images shared between the caller and `member`, oldest first.
    pub(crate) async fn shared_images(
        &self,
        caller: &Caller,
        member: String,
    ) -> Result<Vec<ImageId>, AppError> {
        let who = caller.id().to_string();
        self.db
            .read_long(async move |tx| Ok(tx.shared_images(&who, &member).await?))
            .await
    }
}
