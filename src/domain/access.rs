//! Who may do what to an image (docs/api.md §4): the owner everything; members and, for a
//! public image, anyone may read it.

use super::image::{Image, Status};
use crate::error::AppError;

/// An image as one caller sees it.
pub(crate) struct Viewed<'a> {
    /// The image.
    pub(crate) image: &'a Image,
    /// Whether the caller reads it beyond ownership and publicity: a
    /// member (of any status) of a shared image, or anyone for a community
    /// one (docs/api.md §17.10); a private image's members do not.
    pub(crate) caller_is_member: bool,
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// List, HEAD, GET data, list members.
    Read,
    /// Update, delete, change members.
    Change,
}

/// Checks that `caller` may act on a live image: 404 if they cannot see it (or
/// it is deleted), 403 if they can see but not change it.
pub(crate) fn authorize(view: &Viewed<'_>, caller: &str, intent: Intent) -> Result<(), AppError> {
    let image = view.image;
    let owner = image.owner == caller;
    let visible = owner || image.is_public() || view.caller_is_member;
    if !visible || image.status == Status::Deleted {
        return Err(not_found(&image.id.to_string()));
    }
    if intent == Intent::Change && !owner {
        return Err(AppError::Forbidden(format!(
            "Only the owner may change image {}",
            image.id
        )));
    }
    Ok(())
}

/// The 404 for an image id the caller cannot see.
pub(crate) fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("Image {id} not found"))
}
