//! An image as a HEAD shows it (docs/api.md §6): read and rendered
//! straight from the catalogue's row, with no `Image` built.

use crate::domain::access::not_found;
use crate::domain::ids::ImageId;
use crate::domain::listing::ListedImage;
use crate::domain::user::Caller;
use crate::error::AppError;

use super::Registry;

impl Registry {
    /// The catalogue's generation (`Catalogue::generation`): what a HEAD
    /// read after it saw may be kept while it stays the same.
    pub(crate) fn generation(&self) -> Option<u64> {
        self.db.generation()
    }

    /// One image the caller may read (as `get` decides it: 404 if they
    /// cannot see it or it is deleted), handed to `render` borrowed from
    /// the catalogue's row, inside the read; what `render` made of it.
    pub(crate) async fn head<T>(
        &self,
        caller: &Caller,
        id: ImageId,
        render: impl FnOnce(&ListedImage<'_>) -> T,
    ) -> Result<T, AppError> {
        let mut render = Some(render);
        let mut out = None;
        let mut visit = |image: ListedImage<'_>| {
            if let Some(render) = render.take() {
                out = Some(render(&image));
            }
        };
        let who = caller.id();
        // One statement: no transaction around it (`read_one`).
        self.db
            .read_one(async |tx| Ok(tx.readable_image(&id, who, &mut visit).await?))
            .await?;
        out.ok_or_else(|| not_found(&id.to_string()))
    }
}
