//! Images whose data comes in the request (docs/api.md §13): the data is
//! received and checked, put at its location, and only then the image
//! committed; a crash in between is undone at the next start
//! (`Registry::recover_uploads`; docs/behaviour.md, "Crash protocol").

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::backends::store::{Placed, Received, StoreError};
use crate::config::InspectionPolicy;
use crate::domain::changes::{check_property_count, NewImage};
use crate::domain::ids::ImageId;
use crate::domain::image::{check_reserved_keys, Examined, Image};
use crate::domain::location::Location;
use crate::domain::object::{ObjectInfo, Readers};
use crate::domain::range::ByteRange;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::inspect::{judge, Inspection, Ranged, Refusal, Sniffer, Step};

use super::images::{check_declared, check_ownership, described};
use super::Registry;

/// Where uploads go and how much an account may keep.
#[derive(Debug, Clone)]
pub(crate) struct Uploads {
    /// The container of `pithos://<caller>/<container>/<image id>`.
    pub(crate) container: String,
    /// Bytes per account; 0 for none.
    pub(crate) quota: u64,
    /// The `os_hash` every upload and fs-store registration computes
    /// (`hashing_algorithm`).
    pub(crate) hashing: crate::config::HashingAlgorithm,
    /// What the inspector's verdict does (`images.inspection`, §19).
    pub(crate) inspection: InspectionPolicy,
}

/// What an inspection leaves in the catalogue: the virtual size and what
/// was found (both `None` when nothing was inspected).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Examination {
    /// The virtual disk size.
    pub(super) virtual_size: Option<u64>,
    /// The format found and the finding, if any.
    pub(super) examined: Option<Examined>,
}

impl Examination {
    /// Puts what was found on the image about to be recorded.
    pub(super) fn mark(self, image: &mut Image) {
        image.virtual_size = self.virtual_size;
        image.examined = self.examined;
    }
}

/// The policy applied to an inspection of data declared `disk_format`:
/// what to keep, or why it is refused (docs/api.md §19).
fn verdict(
    policy: InspectionPolicy,
    found: Inspection,
    disk_format: Option<&str>,
) -> Result<Examination, Refusal> {
    if policy == InspectionPolicy::Enforce {
        if let Some(refusal) = judge(&found, disk_format) {
            return Err(refusal);
        }
    }
    Ok(Examination {
        virtual_size: found.virtual_size,
        examined: Some(Examined {
            format: found.format.as_str().to_string(),
            finding: found.finding.map(|f| f.to_string()),
        }),
    })
}

/// The answer to refused data: 400, or 415 for a mismatch where Glance
/// answers so (`mismatch_415`: a v2 upload).
pub(super) fn refused(refusal: Refusal, mismatch_415: bool) -> AppError {
    match refusal {
        Refusal::Unsafe(m) => AppError::Invalid(m),
        Refusal::Mismatch(m) if mismatch_415 => AppError::UnsupportedMedia(m),
        Refusal::Mismatch(m) => AppError::Invalid(m),
    }
}

/// An upload's inspection as its body streams by (docs/api.md §19): the
/// sniffer sees every chunk once; at the end `judge` gives the verdict,
/// which is kept for the catalogue, or for the answer if it is a refusal.
#[derive(Clone)]
pub(super) struct Watch {
    policy: InspectionPolicy,
    sniffer: Arc<Mutex<Sniffer>>,
    outcome: Arc<Mutex<Option<Result<Examination, Refusal>>>>,
}

impl Watch {
    /// A watch under `policy` (`off`: it looks at nothing).
    pub(super) fn new(policy: InspectionPolicy) -> Watch {
        Watch {
            policy,
            sniffer: Arc::default(),
            outcome: Arc::default(),
        }
    }

    /// `body`, watched as it is read.
    pub(super) fn body<S>(&self, body: S) -> Watched<S> {
        let on = self.policy != InspectionPolicy::Off;
        Watched {
            body,
            sniffer: on.then(|| Arc::clone(&self.sniffer)),
        }
    }

    /// The verdict on the whole body, once it has ended: `Err` (the
    /// refusal's message) for data to refuse.
    pub(super) fn judge(&self, disk_format: Option<&str>) -> Result<(), String> {
        if self.policy == InspectionPolicy::Off {
            return Ok(());
        }
        let found = match self.sniffer.lock() {
            Ok(s) => s.finish(),
            Err(_) => return Err("the inspection of the data failed".into()),
        };
        let outcome = verdict(self.policy, found, disk_format);
        let message = match &outcome {
            Ok(_) => Ok(()),
            Err(Refusal::Unsafe(m) | Refusal::Mismatch(m)) => Err(m.clone()),
        };
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(outcome);
        }
        message
    }

    /// A failed receive's answer: past `limit` its 413, refused by the
    /// verdict its refusal (a mismatch 415 where `mismatch_415`), else the
    /// store's error as it was.
    pub(super) fn failure(&self, e: StoreError, limit: Limit, mismatch_415: bool) -> AppError {
        if let StoreError::PastLimit { .. } = e {
            return limit.refusal();
        }
        let verdict = match e {
            StoreError::Refused(_) => self.outcome.lock().ok().and_then(|mut o| o.take()),
            _ => None,
        };
        match verdict {
            Some(Err(r)) => refused(r, mismatch_415),
            _ => e.into(),
        }
    }

    /// What to record: the verdict's, or nothing when not inspected.
    pub(super) fn examination(&self) -> Examination {
        match self.outcome.lock().ok().and_then(|mut o| o.take()) {
            Some(Ok(e)) => e,
            _ => Examination::default(),
        }
    }
}

/// An upload's body with a `Watch` looking on.
pub(super) struct Watched<S> {
    body: S,
    sniffer: Option<Arc<Mutex<Sniffer>>>,
}

impl<S, E> Stream for Watched<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.body).poll_next(cx);
        if let (Poll::Ready(Some(Ok(chunk))), Some(sniffer)) = (&polled, &self.sniffer) {
            if let Ok(mut s) = sniffer.lock() {
                s.feed(chunk);
            }
        }
        polled
    }
}

impl Registry {
    /// Where the data of the caller's upload `id` goes.
    pub(super) fn upload_location(
        &self,
        caller: &Caller,
        id: &ImageId,
    ) -> Result<Location, AppError> {
        Location::parse(&format!(
            "pithos://{}/{}/{id}",
            caller.id(),
            self.uploads.container
        ))
    }

    /// Registers a new image whose data is `body` (`declared` bytes, if the
    /// request said): the registry chooses its id and its location, and
    /// `describe` reads the rest of the request with that location. The
    /// data is received, placed, then recorded (docs/behaviour.md, "Crash
    /// protocol").
    pub(crate) async fn upload<S, E>(
        &self,
        caller: &Caller,
        describe: impl FnOnce(Location) -> Result<NewImage, AppError>,
        declared: Option<u64>,
        body: S,
    ) -> Result<Image, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = ImageId::generate();
        let new = describe(self.upload_location(caller, &id)?)?;
        check_ownership(caller, &new)?;
        check_reserved_keys(new.properties.keys())?;
        check_property_count(new.properties.len(), self.limits.max_properties)?;
        let _in_flight = self.metrics.upload_started();
        let watch = Watch::new(self.uploads.inspection);
        let received = self
            .receive_upload(caller, &new, declared, (body, &watch))
            .await?;
        let location = new.location.clone();
        let mut image = described(caller, new, received.info.clone(), id);
        watch.examination().mark(&mut image);
        image.os_hash = received.os_hash();
        // plankton wrote this object, so deleting the image deletes it (§17.6).
        image.uploaded = true;
        let placed = self.store.place(received, &location, false).await?;
        let readers = (Readers::Owner, Readers::of(image.is_public(), &[]));
        let hash = placed.remember.clone();
        let write = self.db.write(async move |tx| {
            let stored = tx.upsert_at_location(&image).await?;
            if let Some(h) = &hash {
                tx.remember_hash(h).await?;
            }
            Ok(stored)
        });
        let recorded = match self.sync_readers(caller, &location, readers, write).await {
            Ok(stored) if stored.id == id => Ok(stored),
            Ok(_) => Err(AppError::internal("an uploaded image's id was taken")),
            Err(e) => Err(e),
        };
        self.settle(&location, placed, recorded).await
    }

    /// Receives an upload's data within the caller's limit, checked against
    /// what the request said of it.
    async fn receive_upload<S, E>(
        &self,
        caller: &Caller,
        new: &NewImage,
        declared: Option<u64>,
        (body, watch): (S, &Watch),
    ) -> Result<Received, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limit = self.upload_limit(caller).await?;
        // An upload without a disk_format gets the default, and is checked
        // against it (§19).
        let disk_format = new.set.disk_format.as_deref().unwrap_or("diskdump");
        if let Some(n) = declared {
            limit.check(n)?;
        }
        let accept = |info: &ObjectInfo| {
            if info.size == 0 {
                return Err(
                    "The request body is empty: an uploaded image needs at least one byte".into(),
                );
            }
            check_declared(new, info, "the data that arrived").map_err(|e| e.to_string())?;
            watch.judge(Some(disk_format))
        };
        self.store
            .receive(
                (&new.location, &caller.token),
                watch.body(body),
                (limit.bytes, Some(self.uploads.hashing)),
                accept,
            )
            .await
            .map_err(|e| watch.failure(e, limit, false))
    }

    /// Inspects the object at `loc` (of `info`'s size and hash) with bounded
    /// ranged reads (the caller's token), under the policy (§19): what to
    /// record, or the refusal of data declared `disk_format`. When the store
    /// knew the data already (`known`: a remembered hash), the inspection
    /// kept with a live image of the same bytes there is judged again
    /// instead, and nothing is read (re-registering costs no reads).
    pub(super) async fn examine(
        &self,
        (loc, token): (&Location, &str),
        (info, known): (&ObjectInfo, bool),
        disk_format: Option<&str>,
    ) -> Result<Examination, AppError> {
        let policy = self.uploads.inspection;
        if policy == InspectionPolicy::Off {
            return Ok(Examination::default());
        }
        let before = if known {
            self.examined_before(loc, info).await
        } else {
            None
        };
        let found = match before {
            Some(found) => found,
            None => self.read_and_inspect((loc, token), info.size).await?,
        };
        verdict(policy, found, disk_format).map_err(|r| refused(r, false))
    }

    /// What the live image at `loc` keeps of its inspection, if its data is
    /// these bytes (the same size and Pithos hash) and was inspected.
    async fn examined_before(&self, loc: &Location, info: &ObjectInfo) -> Option<Inspection> {
        let at = loc.canonical();
        let live = self
            .db
            .read(async move |tx| Ok(tx.live_image_at(&at).await?))
            .await
            .ok()
            .flatten()?
            .image;
        if live.size != info.size || live.checksum != info.checksum {
            return None;
        }
        let kept = live.examined?;
        Inspection::recorded(&kept.format, kept.finding, live.virtual_size)
    }

    /// Reads the `size` bytes of the object at `loc` as the inspector asks.
    async fn read_and_inspect(
        &self,
        (loc, token): (&Location, &str),
        size: u64,
    ) -> Result<Inspection, AppError> {
        let mut ranged = Ranged::new(size);
        loop {
            let (range, into_tail) = match ranged.next() {
                Step::Done(found) => return Ok(found),
                Step::Tail(n) => (ByteRange::Suffix(n), true),
                Step::Head { from, to } => (ByteRange::From(from, Some(to - 1)), false),
            };
            let bytes = self.read_range(loc, size, range, token).await?;
            if into_tail {
                ranged.tail = bytes;
            } else {
                ranged.head.extend_from_slice(&bytes);
            }
        }
    }

    /// The bytes of `range` of the object (at most what was asked for).
    async fn read_range(
        &self,
        loc: &Location,
        size: u64,
        range: ByteRange,
        token: &str,
    ) -> Result<Vec<u8>, AppError> {
        let mut read = self.store.read(loc, size, Some(range), token).await?;
        let mut bytes = Vec::with_capacity(read.len as usize);
        while let Some(chunk) = read.body.next().await {
            let chunk = chunk
                .map_err(|e| AppError::internal(format!("reading {}: {e}", loc.canonical())))?;
            let room = (read.len as usize).saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if bytes.len() as u64 != read.len {
            // Shorter than it said a moment ago: it changed under the read.
            return Err(StoreError::KeptChanging(loc.canonical()).into());
        }
        Ok(bytes)
    }

    /// The last step of every write of data (an upload, an object `PUT`):
    /// the data placed at `loc` stands if the catalogue `recorded` it, and
    /// is undone if not.
    pub(super) async fn settle<T>(
        &self,
        loc: &Location,
        placed: Placed,
        recorded: Result<T, AppError>,
    ) -> Result<T, AppError> {
        match recorded {
            Ok(done) => {
                self.store.keep(placed).await;
                Ok(done)
            }
            Err(e) => {
                if let Err(undo) = self.store.undo(placed).await {
                    log::error!(
                        "{}: the write could not be undone after it failed ({e}): {undo}",
                        loc.canonical()
                    );
                }
                Err(e)
            }
        }
    }

    /// How much the caller may upload now: the smaller of the image size
    /// limit and what is left of their quota.
    pub(super) async fn upload_limit(&self, caller: &Caller) -> Result<Limit, AppError> {
        let max = Limit {
            bytes: self.limits.max_image_size,
            quota: false,
        };
        if self.uploads.quota == 0 {
            return Ok(max);
        }
        let used = self.store.usage(caller.id()).await?;
        let left = self.uploads.quota.saturating_sub(used);
        Ok(if left < max.bytes {
            Limit {
                bytes: left,
                quota: true,
            }
        } else {
            max
        })
    }

    /// Settles what a crash left of writes of data: placements the
    /// catalogue recorded stand, the others are undone, unplaced data is
    /// removed (docs/behaviour.md, "Crash protocol"). Blocking; at start,
    /// before serving.
    pub(crate) fn recover_uploads(&self) -> Result<(), AppError> {
        let db = self.db.clone();
        let recorded = |key: &str| {
            db.read_blocking(async |tx| Ok(tx.cached_hash(key).await?))
                .ok()
                .flatten()
        };
        match self.store.recover(Some(&recorded)) {
            Ok(Some(done)) if done.placed + done.undone + done.removed > 0 => log::info!(
                "staging: {} interrupted write(s) kept, {} undone, {} unplaced removed",
                done.placed,
                done.undone,
                done.removed
            ),
            Ok(_) => {}
            Err(e) => return Err(AppError::internal(format!("recovering uploads: {e}"))),
        }
        Ok(())
    }
}

/// An upload's byte limit and where it comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    /// The most bytes it may have.
    pub(super) bytes: u64,
    quota: bool,
}

impl Limit {
    /// A declared size over the limit is refused before any byte is read.
    pub(super) fn check(self, declared: u64) -> Result<(), AppError> {
        if declared > self.bytes {
            Err(self.refusal())
        } else {
            Ok(())
        }
    }

    /// The 413 of an upload past the limit.
    pub(super) fn refusal(self) -> AppError {
        if self.quota {
            AppError::OverLimit("Upload refused: quota exceeded".into())
        } else {
            AppError::OverLimit(format!(
                "Upload refused: an image may have at most {} bytes (limits.max_image_size)",
                self.bytes
            ))
        }
    }
}
