//! The image API v2's use cases over images (docs/api.md §17.3–§17.6,
//! §17.9): create a queued image, show, list, upload and download its data,
//! update it with a PATCH's changes, delete it. The v2 surface parses and
//! renders; the rules are the domain's.

use crate::config::Formats;
use crate::db::{StoredImage, Tx};
use crate::domain::access::Intent;
use crate::domain::changes::check_property_count;
use crate::domain::ids::ImageId;
use crate::domain::image::Image;
use crate::domain::model::{check_tag_count, EditRules, Editable, ImageUpdate, V2Listing, V2Sink};
use crate::domain::object::Readers;
use crate::domain::patch::NewV2Image;
use crate::domain::time::now_micros;
use crate::domain::user::Caller;
use crate::error::AppError;

use super::{load, Registry};

impl Registry {
    /// Creates a queued image owned by the caller (§17.3): its id as asked
    /// unless any image ever had it (409); its properties and tags within
    /// the limits (413).
    pub(crate) async fn create_v2(
        &self,
        caller: &Caller,
        new: NewV2Image,
    ) -> Result<Image, AppError> {
        check_property_count(new.properties.len(), self.limits.max_properties)?;
        check_tag_count(new.tags.len(), self.limits.max_tags)?;
        let image = new.into_image(caller.id(), now_micros());
        let id = image.id;
        let inserted = self
            .db
            .write(async move |tx| Ok(tx.insert_new(&image).await?.then(|| image.clone())))
            .await?;
        inserted.ok_or_else(|| {
            AppError::Conflict(format!(
                "Image id {id} is taken: an image had it (ids are never reused)"
            ))
        })
    }

    /// One page of the images the caller may list that match `q` (§17.9),
    /// handed to `sink` as the catalogue reads them, and whether more
    /// follow. A marker that names no image the caller can read is a 400.
    pub(crate) async fn list_v2<S: V2Sink>(
        &self,
        caller: &Caller,
        q: V2Listing,
        mut sink: S,
    ) -> Result<(S::Output, bool), AppError> {
        self.db
            .read(async move |tx| {
                if let Some(marker) = &q.marker {
                    load(tx, marker, caller.id(), Intent::Read)
                        .await
                        .map_err(|_| {
                            AppError::invalid(format!(
                                "Invalid marker '{marker}': no image you can read has this id"
                            ))
                        })?;
                }
                if q.limit == 0 {
                    return Ok((sink.finish(), false));
                }
                let more = tx
                    .v2_page(caller.id(), &q, &mut |image| sink.push(image))
                    .await?;
                Ok((sink.finish(), more))
            })
            .await
    }

    /// Applies a PATCH's operations (§17.5) in one transaction: all or
    /// nothing. `[]` is the image, for anyone who may read it; any other
    /// change is the owner's.
    pub(crate) async fn patch_v2(
        &self,
        caller: &Caller,
        id: ImageId,
        changes: Vec<ImageUpdate>,
        formats: &Formats,
    ) -> Result<Image, AppError> {
        if changes.is_empty() {
            return self.get(caller, id).await;
        }
        let rules = (
            self.limits.max_properties,
            self.limits.max_tags,
            formats.clone(),
        );
        self.change_readers(caller, id, move |stored, members| {
            let (max_properties, max_tags, formats) = &rules;
            let edit_rules = EditRules {
                max_properties: *max_properties,
                max_tags: *max_tags,
                disk_formats: &formats.disk,
                container_formats: &formats.container,
            };
            let edited = Editable::of(&stored.image).apply(&changes, &edit_rules)?;
            let mut image = stored.image.clone();
            edited.write_to(&mut image);
            let readers = super::sharing::readers_of(image.visibility, members);
            Ok((readers, async move |tx: &Tx<'_>, stored: &StoredImage| {
                let mut image = image.clone();
                image.updated_at = now_micros().max(stored.image.updated_at);
                tx.update(stored, &image).await?;
                Ok(image)
            }))
        })
        .await
    }

    /// Deletes an image (§17.6): owner only, not protected; the tombstone
    /// is committed first, then an uploaded object is deleted (a failure
    /// logged, the answer still a success).
    pub(crate) async fn delete_v2(&self, caller: &Caller, id: ImageId) -> Result<(), AppError> {
        let deleted = self
            .change_readers(caller, id, move |stored, _| {
                if stored.image.protected {
                    return Err(AppError::Forbidden(format!(
                        "Image {id} is protected: unprotect it first"
                    )));
                }
                Ok((Readers::Owner, async |tx: &Tx<'_>, stored: &StoredImage| {
                    tx.update(stored, &stored.image.entombed(now_micros()))
                        .await?;
                    Ok(stored.image.clone())
                }))
            })
            .await?;
        if deleted.uploaded && !deleted.location.is_empty() {
            let location = deleted.parsed_location()?;
            self.store.delete_upload(&location, &caller.token).await;
        }
        Ok(())
    }
}
