//! The image API v2's use cases over images (docs/api.md §17.3–§17.6,
//! §17.9): create a queued image, show, list, upload and download its data,
//! update it with a PATCH's changes, delete it. The v2 surface parses and
//! renders; the rules are the domain's.

use crate::domain::access::Intent;
use crate::domain::changes::check_property_count;
use crate::domain::image::Image;
use crate::domain::model::{check_tag_count, V2Listing};
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
            .write(move |tx| Ok(tx.insert_new(&image)?.then(|| image.clone())))
            .await?;
        inserted.ok_or_else(|| {
            AppError::Conflict(format!(
                "Image id {id} is taken: an image had it (ids are never reused)"
            ))
        })
    }

    /// One page of the images the caller may list that match `q` (§17.9),
    /// and whether more follow. A marker that names no image the caller
    /// can read is a 400.
    pub(crate) async fn list_v2(
        &self,
        caller: &Caller,
        q: V2Listing,
    ) -> Result<(Vec<Image>, bool), AppError> {
        self.db
            .read(|tx| {
                if let Some(marker) = &q.marker {
                    load(tx, marker, caller.id(), Intent::Read).map_err(|_| {
                        AppError::invalid(format!(
                            "Invalid marker '{marker}': no image you can read has this id"
                        ))
                    })?;
                }
                if q.limit == 0 {
                    return Ok((Vec::new(), false));
                }
                let (page, more) = tx.v2_page(caller.id(), &q)?;
                Ok((page.into_iter().map(|s| s.image).collect(), more))
            })
            .await
    }
}
