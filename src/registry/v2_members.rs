//! v2's members, tags and (de)activation (docs/api.md §17.7, §17.8,
//! §17.10): who may see, add, answer and remove a membership, and the
//! owner's tags and status switches. Membership changes that alter who may
//! read the object go through `change_readers`, as v1's do.

use super::{load, sharing::readers_of, Registry};
use crate::db::{StoredImage, Tx};
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::image::Status;
use crate::domain::model::{check_tag_count, Member, MemberStatus, Visibility};
use crate::domain::time::{now_micros, Micros};
use crate::domain::user::Caller;
use crate::error::AppError;

/// The 404 of a membership that is not there (or not the caller's to see).
fn no_member(id: &ImageId, member: &str) -> AppError {
    AppError::NotFound(format!("Member {member} of image {id} not found"))
}

/// The 403 of a membership change on an image that is not `shared`.
fn not_shared(stored: &StoredImage) -> AppError {
    AppError::Forbidden(format!(
        "Image {} is {}: only a shared image has members to change",
        stored.image.id,
        stored.image.visibility.as_str()
    ))
}

/// Checks a v2 member add against the image (§17.10): 400 the owner's own
/// id, 403 not shared, 409 already a member, 413 over `max`.
fn check_add(
    stored: &StoredImage,
    members: &[String],
    member: &str,
    max: usize,
) -> Result<(), AppError> {
    if member == stored.image.owner {
        return Err(AppError::invalid(format!(
            "Invalid member '{member}': the owner of image {} cannot be its member",
            stored.image.id
        )));
    }
    if stored.image.visibility != Visibility::Shared {
        return Err(not_shared(stored));
    }
    if members.iter().any(|m| m == member) {
        return Err(AppError::Conflict(format!(
            "{member} is already a member of image {}",
            stored.image.id
        )));
    }
    if members.len() >= max {
        return Err(AppError::OverLimit(format!(
            "Too many members: {} (at most {max} per image)",
            members.len() + 1
        )));
    }
    Ok(())
}

/// The switch of an image's status that (de)activation asks for: `None`
/// when it already is there, 403 from any status but active/deactivated.
fn switched(stored: &StoredImage, active: bool) -> Result<Option<Status>, AppError> {
    let (from, to) = if active {
        (Status::Deactivated, Status::Available)
    } else {
        (Status::Available, Status::Deactivated)
    };
    match stored.image.status {
        s if s == to => Ok(None),
        s if s == from => Ok(Some(to)),
        s => Err(AppError::Forbidden(format!(
            "Image {} is {}: only an active image may be deactivated, a deactivated one reactivated",
            stored.image.id,
            s.as_db()
        ))),
    }
}

/// The `updated_at` of a change now: never before the one it follows, as
/// a clock stepping back could otherwise make it.
fn later(stored: &StoredImage) -> Micros {
    now_micros().max(stored.image.updated_at)
}

impl Registry {
    /// Runs `change` in one write on the image `id` as its owner may change
    /// it (404 unless the caller reads it, 403 unless they own it).
    async fn owner_change<F>(&self, caller: &Caller, id: ImageId, change: F) -> Result<(), AppError>
    where
        F: AsyncFn(&Tx<'_>, &StoredImage) -> Result<(), AppError> + Send + Sync + 'static,
    {
        let who = caller.id().to_string();
        self.db
            .write(async move |tx| change(tx, &load(tx, &id, &who, Intent::Change).await?).await)
            .await
    }

    /// The memberships of an image the caller may read: all of them for
    /// its owner, else only the caller's own.
    pub(crate) async fn v2_members(
        &self,
        caller: &Caller,
        id: ImageId,
    ) -> Result<Vec<Member>, AppError> {
        self.db
            .read(async |tx| {
                let stored = load(tx, &id, caller.id(), Intent::Read).await?;
                if stored.image.owner == caller.id() {
                    return Ok(tx.member_list(&stored).await?);
                }
                Ok(tx.member(&stored, caller.id()).await?.into_iter().collect())
            })
            .await
    }

    /// One membership, seen by the image's owner or the member itself.
    pub(crate) async fn v2_member(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
    ) -> Result<Member, AppError> {
        self.db
            .read(async |tx| {
                let stored = load(tx, &id, caller.id(), Intent::Read).await?;
                let sees = stored.image.owner == caller.id() || member == caller.id();
                let found = if sees {
                    tx.member(&stored, &member).await?
                } else {
                    None
                };
                found.ok_or_else(|| no_member(&id, &member))
            })
            .await
    }

    /// Adds a `pending` member to a shared image (owner only).
    pub(crate) async fn v2_add_member(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
    ) -> Result<Member, AppError> {
        let max = self.limits.max_members;
        self.change_readers(caller, id, move |stored, members| {
            check_add(stored, members, &member, max)?;
            let mut after = members.to_vec();
            after.push(member.clone());
            let member = member.clone();
            Ok((
                readers_of(stored.image.visibility, &after),
                async move |tx: &Tx<'_>, stored: &StoredImage| {
                    let at = now_micros();
                    tx.insert_member(stored, &member, MemberStatus::Pending, at)
                        .await?;
                    tx.member(stored, &member)
                        .await?
                        .ok_or_else(|| no_member(&stored.image.id, &member))
                },
            ))
        })
        .await
    }

    /// Sets the caller's own membership's status on a shared image.
    pub(crate) async fn v2_set_member_status(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
        status: MemberStatus,
    ) -> Result<Member, AppError> {
        let who = caller.id().to_string();
        self.db
            .write(async move |tx| {
                let stored = load(tx, &id, &who, Intent::Read).await?;
                if member != who {
                    return Err(AppError::Forbidden(format!(
                        "Only {member} may answer its membership of image {id}"
                    )));
                }
                if stored.image.visibility != Visibility::Shared {
                    return Err(not_shared(&stored));
                }
                if !tx
                    .set_member_status(&stored, &member, status, now_micros())
                    .await?
                {
                    return Err(no_member(&id, &member));
                }
                tx.member(&stored, &member)
                    .await?
                    .ok_or_else(|| no_member(&id, &member))
            })
            .await
    }

    /// Removes a member (owner only, any visibility); 404 if not one.
    pub(crate) async fn v2_remove_member(
        &self,
        caller: &Caller,
        id: ImageId,
        member: String,
    ) -> Result<(), AppError> {
        self.change_readers(caller, id, move |stored, members| {
            if !members.contains(&member) {
                return Err(no_member(&stored.image.id, &member));
            }
            let after: Vec<String> = members.iter().filter(|m| **m != member).cloned().collect();
            let member = member.clone();
            Ok((
                readers_of(stored.image.visibility, &after),
                async move |tx: &Tx<'_>, stored: &StoredImage| {
                    if tx.delete_member(stored, &member).await? {
                        Ok(())
                    } else {
                        Err(no_member(&stored.image.id, &member))
                    }
                },
            ))
        })
        .await
    }

    /// Adds a tag (owner only; already there: no change), checked by
    /// `domain::model::check_tag` before; 413 over `max_tags`.
    pub(crate) async fn v2_add_tag(
        &self,
        caller: &Caller,
        id: ImageId,
        tag: String,
    ) -> Result<(), AppError> {
        let max = self.limits.max_tags;
        self.owner_change(
            caller,
            id,
            async move |tx: &Tx<'_>, stored: &StoredImage| {
                let tags = tx.tags(stored).await?;
                if tags.contains(&tag) {
                    return Ok(());
                }
                check_tag_count(tags.len() + 1, max)?;
                tx.add_tag(stored, &tag).await?;
                Ok(tx.touch(stored, None, later(stored)).await?)
            },
        )
        .await
    }

    /// Removes a tag (owner only); 404 if the image does not have it.
    pub(crate) async fn v2_remove_tag(
        &self,
        caller: &Caller,
        id: ImageId,
        tag: String,
    ) -> Result<(), AppError> {
        self.owner_change(
            caller,
            id,
            async move |tx: &Tx<'_>, stored: &StoredImage| {
                if !tx.remove_tag(stored, &tag).await? {
                    return Err(AppError::NotFound(format!(
                        "Tag {tag} not found on image {id}"
                    )));
                }
                Ok(tx.touch(stored, None, later(stored)).await?)
            },
        )
        .await
    }

    /// Deactivates (`active` false) or reactivates an image (owner only).
    pub(crate) async fn v2_set_active(
        &self,
        caller: &Caller,
        id: ImageId,
        active: bool,
    ) -> Result<(), AppError> {
        self.owner_change(
            caller,
            id,
            async move |tx: &Tx<'_>, stored: &StoredImage| match switched(stored, active)? {
                Some(to) => Ok(tx.touch(stored, Some(to), later(stored)).await?),
                None => Ok(()),
            },
        )
        .await
    }
}
