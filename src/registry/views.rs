//! What the web view shows (docs/api.md §15), each in one read transaction:
//! a page of the catalogue with the markers of the pages before and after
//! it, and one image with its members; both with the display names of the
//! users they name, where the identity backend knows them.

use std::collections::{BTreeMap, BTreeSet};

use super::Registry;
use crate::db::Tx;
use crate::domain::access::Intent;
use crate::domain::ids::ImageId;
use crate::domain::image::Image;
use crate::domain::listing::{ListQuery, ListSink, ListedImage};
use crate::domain::user::Caller;
use crate::error::AppError;

/// One page of a listing and its neighbours.
pub(crate) struct Page<T> {
    /// What the sink made of the page's images.
    pub(crate) rows: T,
    /// The marker of the next page, if there is one.
    pub(crate) next: Option<String>,
    /// The page before: `None` if this is the first; `Some(None)` if it is
    /// the first page (no marker); `Some(Some(m))` for the page after `m`.
    pub(crate) previous: Option<Option<String>>,
    /// Display names of the owners on the page, by user id.
    pub(crate) names: BTreeMap<String, String>,
}

/// One image as its page shows it.
pub(crate) struct ImageView {
    /// The image.
    pub(crate) image: Image,
    /// Its members, sorted.
    pub(crate) members: Vec<String>,
    /// Display names of its owner and members, by user id.
    pub(crate) names: BTreeMap<String, String>,
}

/// Passes the first `size` images on, and notes whether there were more,
/// the id of the last one passed on and the owners seen.
struct Paged<S> {
    inner: S,
    size: usize,
    seen: usize,
    first: Option<String>,
    last: Option<String>,
    owners: BTreeSet<String>,
}

impl<S: ListSink> Paged<S> {
    fn push(&mut self, image: &ListedImage<'_>) {
        self.seen += 1;
        if self.seen > self.size {
            return;
        }
        if self.first.is_none() {
            self.first = Some(image.id.to_string());
        }
        self.last = Some(image.id.to_string());
        if !self.owners.contains(image.owner) {
            self.owners.insert(image.owner.to_string());
        }
        self.inner.push(image);
    }
}

impl Registry {
    /// The page of `size` images the caller can see that `q` asks for (its
    /// own limit is ignored), with the markers of its neighbours.
    pub(crate) async fn browse<S: ListSink>(
        &self,
        caller: &Caller,
        q: ListQuery,
        size: u32,
        sink: S,
    ) -> Result<Page<S::Output>, AppError> {
        let who = caller.id().to_string();
        let (rows, next, previous, owners) = self
            .db
            .read(async move |tx| {
                let mut page = Paged {
                    inner: sink,
                    size: size as usize,
                    seen: 0,
                    first: None,
                    last: None,
                    owners: BTreeSet::new(),
                };
                let forward = ListQuery {
                    limit: Some(size + 1),
                    ..q.clone()
                };
                tx.list(&who, &forward, false, None, &mut |image| page.push(&image))
                    .await?;
                let next = (page.seen > page.size).then(|| page.last.clone()).flatten();
                let previous = previous_page(tx, &who, q, size, page.first.as_deref()).await?;
                Ok((page.inner.finish(), next, previous, page.owners))
            })
            .await?;
        let names = self.display_names(caller, owners.iter().map(String::as_str));
        Ok(Page {
            rows,
            next,
            previous,
            names,
        })
    }

    /// One image the caller may read, with its members.
    pub(crate) async fn image_view(
        &self,
        caller: &Caller,
        id: ImageId,
    ) -> Result<ImageView, AppError> {
        let (image, members) = self
            .db
            .read(async |tx| {
                let stored = super::load(tx, &id, caller.id(), Intent::Read).await?;
                let members = tx.members(&stored).await?;
                Ok((stored.image, members))
            })
            .await?;
        let users = std::iter::once(image.owner.as_str()).chain(members.iter().map(String::as_str));
        let names = self.display_names(caller, users);
        Ok(ImageView {
            image,
            members,
            names,
        })
    }

    /// Where uploads go and how large one may be: the container of
    /// `pithos://<caller>/<container>/<id>`, and `limits.max_image_size`.
    pub(crate) fn upload_limits(&self) -> (String, u64) {
        (self.uploads.container.clone(), self.limits.max_image_size)
    }

    /// The display names the identity backend knows of `users` (the offline
    /// token file's; Astakos's only for the caller, from their token).
    fn display_names<'a>(
        &self,
        caller: &Caller,
        users: impl Iterator<Item = &'a str>,
    ) -> BTreeMap<String, String> {
        let users: Vec<String> = users.map(str::to_string).collect();
        let (mut names, _) = self.offline_catalogs(&users, &[]);
        if let Some(name) = &caller.user.name {
            if users.iter().any(|u| u == caller.id()) {
                names.insert(caller.id().to_string(), name.clone());
            }
        }
        names
    }
}

/// Where the page before the one of `q` (whose first image is `first`)
/// starts: not at all (`None`), at the listing's start (`Some(None)`), or
/// after a marker. It is read backwards from this page's first image: the
/// one `size + 1` back is its marker.
async fn previous_page(
    tx: &Tx<'_>,
    who: &str,
    q: ListQuery,
    size: u32,
    first: Option<&str>,
) -> Result<Option<Option<String>>, AppError> {
    let from = match (first, &q.marker) {
        (Some(first), Some(_)) => ImageId::parse(first)?,
        (None, Some(m)) => *m,
        (_, None) => return Ok(None),
    };
    let backward = ListQuery {
        limit: Some(size + 1),
        descending: !q.descending,
        marker: Some(from),
        ..q
    };
    let mut ids = Vec::new();
    tx.list(who, &backward, false, None, &mut |image| {
        ids.push(image.id.to_string());
    })
    .await?;
    Ok(match ids.len() {
        0 => None,
        n if n <= size as usize => Some(None),
        _ => Some(ids.pop()),
    })
}
