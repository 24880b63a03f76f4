//! PostgreSQL's images, v1 members and hashes behind the methods of
//! `AwaitImagesTx`, each one statement or a few; listings are in `list`
//! and `v2list`, objects in `objects`. The same semantics as SQLite's
//! (`sqlite::catalogue`); what guards each write against writers in other
//! processes is said where it is written (docs/behaviour.md, "Several
//! processes").

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use tokio_postgres::types::ToSql;

use super::rows::{
    image_from_row, readable_row, COLUMNS, IMAGE_ROW_WIDTH, MODEL_COLUMNS, PROPERTIES,
    READABLE_IMAGE,
};
use super::tx::{get, PgTx};
use crate::db::columns::WRITTEN;
use crate::db::error::DbError;
use crate::db::plan::{ListPlan, ListPosition, Piece};
use crate::db::tx::{AwaitImagesTx, StoredImage, Visit};
use crate::domain::ids::ImageId;
use crate::domain::image::{Image, OsHash, Status};
use crate::domain::listing::ListQuery;
use crate::domain::model::{V2ListedImage, V2Listing};
use crate::domain::object::CachedHash;
use crate::domain::objects::ObjectMeta;

/// A new image's row; nothing if its id or its live location is taken
/// (by a writer this transaction's snapshot does not show: `insert`).
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let marks: Vec<String> = (0..WRITTEN.len()).map(|i| format!("${}", i + 3)).collect();
    format!(
        "INSERT INTO images (id, created_at, {}) VALUES ($1, $2, {}) \
         ON CONFLICT DO NOTHING RETURNING seq",
        WRITTEN.join(", "),
        marks.join(", ")
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = WRITTEN
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 2))
        .collect();
    format!("UPDATE images SET {} WHERE seq = $1", sets.join(", "))
});

/// Microseconds since the epoch, now (the server's clock, as SQLite's
/// `NOW_MICROS` is the file's host's).
const NOW_MICROS: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// Adds a member through v1: `accepted` at once, created and updated now.
static ADD_MEMBER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO image_members (image_seq, member, status, created_at, updated_at) \
         VALUES ($1, $2, 'accepted', {NOW_MICROS}, {NOW_MICROS}) ON CONFLICT DO NOTHING"
    )
});

/// `n` as PostgreSQL's BIGINT; beyond it (never, for sizes of real
/// files) is refused rather than wrapped.
pub(super) fn signed(n: u64) -> Result<i64, DbError> {
    i64::try_from(n).map_err(|_| DbError::Internal(format!("{n} does not fit the catalogue")))
}

/// An image's values for the `WRITTEN` columns, converted once. A queued
/// image's unset data columns are NULL, not v1's "" and 0 (docs/api.md
/// §17.12): the live-location index skips NULLs.
struct Written<'a> {
    image: &'a Image,
    status: &'static str,
    location: Option<&'a str>,
    disk_format: Option<&'a str>,
    container_format: Option<&'a str>,
    size: Option<i64>,
    checksum: Option<&'a str>,
    visibility: &'static str,
    min_ram: i64,
    min_disk: i64,
    os_hash_algo: Option<&'a str>,
    os_hash_value: Option<&'a str>,
    virtual_size: Option<i64>,
    data_format: Option<&'a str>,
    data_finding: Option<&'a str>,
}

/// `s`, or NULL for "" while `queued` (as on SQLite).
fn text_or_null(s: &str, queued: bool) -> Option<&str> {
    (!(queued && s.is_empty())).then_some(s)
}

impl<'a> Written<'a> {
    fn of(image: &'a Image) -> Result<Written<'a>, DbError> {
        let queued = image.status == Status::Queued;
        Ok(Written {
            image,
            status: image.status.as_db(),
            location: text_or_null(&image.location, queued),
            disk_format: text_or_null(&image.disk_format, queued),
            container_format: text_or_null(&image.container_format, queued),
            size: (!queued).then(|| signed(image.size)).transpose()?,
            checksum: if queued { None } else { Some(&image.checksum) },
            visibility: image.visibility.as_str(),
            min_ram: signed(image.min_ram)?,
            min_disk: signed(image.min_disk)?,
            os_hash_algo: image.os_hash.as_ref().map(|h| h.algo.as_str()),
            os_hash_value: image.os_hash.as_ref().map(|h| h.value.as_str()),
            virtual_size: image.virtual_size.map(signed).transpose()?,
            data_format: image.examined.as_ref().map(|e| e.format.as_str()),
            data_finding: image.examined.as_ref().and_then(|e| e.finding.as_deref()),
        })
    }

    fn values(&self) -> [&(dyn ToSql + Sync); 22] {
        let i = self.image;
        [
            &i.name,
            &self.location,
            &self.status,
            &self.disk_format,
            &self.container_format,
            &self.size,
            &self.checksum,
            &i.md5,
            &i.updated_at,
            &i.deleted_at,
            &self.visibility,
            &i.owner,
            &self.min_ram,
            &self.min_disk,
            &i.protected,
            &i.os_hidden,
            &self.os_hash_algo,
            &self.os_hash_value,
            &self.virtual_size,
            &i.uploaded,
            &self.data_format,
            &self.data_finding,
        ]
    }
}

impl AwaitImagesTx for PgTx<'_> {
    async fn readable_image(
        &self,
        id: &ImageId,
        caller: &str,
        visit: &mut Visit<'_>,
    ) -> Result<bool, DbError> {
        let mut buf = [0; 36];
        let id = id.encode(&mut buf);
        let Some(row) = self.row(&READABLE_IMAGE, &[&caller, &id]).await? else {
            return Ok(false);
        };
        visit(readable_row(&row)?);
        Ok(true)
    }

    async fn image_for_caller(
        &self,
        id: &ImageId,
        caller: &str,
    ) -> Result<Option<(StoredImage, bool)>, DbError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {COLUMNS}, {PROPERTIES}, {MODEL_COLUMNS}, (i.visibility = 'community' \
                 OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
                 WHERE m.image_seq = i.seq AND m.member = $2))) FROM images i WHERE i.id = $1"
            )
        });
        let Some(row) = self.row(&SQL, &[&id.to_string(), &caller]).await? else {
            return Ok(None);
        };
        Ok(Some((image_from_row(&row)?, get(&row, IMAGE_ROW_WIDTH)?)))
    }

    async fn live_image_at(&self, location: &str) -> Result<Option<StoredImage>, DbError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {COLUMNS}, {PROPERTIES}, {MODEL_COLUMNS} FROM images i \
                 WHERE i.location = $1 AND i.deleted_at IS NULL"
            )
        });
        let row = self.row(&SQL, &[&location]).await?;
        row.as_ref().map(image_from_row).transpose()
    }

    /// Two processes registering one location at once: the second's insert
    /// finds the first's row in the live-location index and inserts
    /// nothing (`insert`), so its transaction is run again, and then finds
    /// the image and re-registers it: one image (§18).
    async fn upsert_at_location(&self, image: &Image) -> Result<Image, DbError> {
        let mut image = image.clone();
        match self.live_image_at(&image.location).await? {
            Some(existing) => {
                image = image.reregistering(&existing.image);
                self.update(&existing, &image).await?;
            }
            None => {
                while self.id_exists(&image.id).await? {
                    image.id = ImageId::generate();
                }
                if !self.insert(&image).await? {
                    return Err(self.run_again());
                }
            }
        }
        Ok(image)
    }

    /// The image's row is updated first: a concurrent writer of the same
    /// image waits on its row lock and then fails to serialize (and is run
    /// again), so the property and tag rows below are never rewritten by
    /// two transactions at once.
    async fn update(&self, stored: &StoredImage, image: &Image) -> Result<(), DbError> {
        let written = Written::of(image)?;
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&stored.key];
        values.extend(written.values());
        self.run(&UPDATE, &values).await?;
        self.replace_properties(stored.key, image).await?;
        self.replace_tags(stored.key, image).await
    }

    /// An id taken by a concurrent writer: nothing is inserted and the
    /// transaction is run again, which then sees the id taken (false).
    async fn insert_new(&self, image: &Image) -> Result<bool, DbError> {
        if self.id_exists(&image.id).await? {
            return Ok(false);
        }
        if !self.insert(image).await? {
            return Err(self.run_again());
        }
        Ok(true)
    }

    async fn v2_page(
        &self,
        caller: &str,
        q: &V2Listing,
        visit: &mut dyn FnMut(&V2ListedImage<'_>),
    ) -> Result<bool, DbError> {
        self.v2_listing(caller, q, visit).await
    }

    async fn members(&self, image: &StoredImage) -> Result<Vec<String>, DbError> {
        let rows = self
            .rows(
                "SELECT member FROM image_members WHERE image_seq = $1 ORDER BY member",
                &[&image.key],
            )
            .await?;
        rows.iter().map(|r| get(r, 0)).collect()
    }

    /// Members already there keep their status and times, new ones are
    /// `accepted` (docs/api.md §17.12).
    async fn set_members(&self, image: &StoredImage, members: &[String]) -> Result<(), DbError> {
        self.run(
            "DELETE FROM image_members WHERE image_seq = $1 AND member <> ALL($2)",
            &[&image.key, &members],
        )
        .await?;
        for m in members {
            self.add_member(image, m).await?;
        }
        Ok(())
    }

    async fn add_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError> {
        self.run(&ADD_MEMBER, &[&image.key, &member]).await?;
        // v1 has no visibility: sharing a private image through it means
        // sharing it (docs/api.md §17.12).
        self.run(
            "UPDATE images SET visibility = 'shared' WHERE seq = $1 AND visibility = 'private'",
            &[&image.key],
        )
        .await?;
        Ok(())
    }

    async fn remove_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError> {
        self.run(
            "DELETE FROM image_members WHERE image_seq = $1 AND member = $2",
            &[&image.key, &member],
        )
        .await?;
        Ok(())
    }

    async fn shared_images(&self, caller: &str, member: &str) -> Result<Vec<ImageId>, DbError> {
        let rows = if caller == member {
            self.rows(
                "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
                 WHERE m.member = $1 AND i.deleted_at IS NULL AND m.status <> 'rejected' \
                 AND i.visibility IN ('shared', 'public') ORDER BY i.created_at, i.id",
                &[&caller],
            )
            .await?
        } else {
            self.rows(
                "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
                 WHERE i.deleted_at IS NULL AND m.status <> 'rejected' \
                 AND i.visibility IN ('shared', 'public') AND ((m.member = $1 AND i.owner = $2) \
                 OR (m.member = $2 AND i.owner = $1)) ORDER BY i.created_at, i.id",
                &[&caller, &member],
            )
            .await?
        };
        rows.iter()
            .map(|r| {
                let id: &str = get(r, 0)?;
                ImageId::parse(id).map_err(|_| DbError::internal(format!("stored id '{id}'")))
            })
            .collect()
    }

    async fn locations_owing_os_hash(
        &self,
        min_size: u64,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        let min = i64::try_from(min_size).unwrap_or(i64::MAX);
        let rows = self
            .rows(
                "SELECT location FROM images WHERE deleted_at IS NULL AND status = 'active' \
                 AND os_hash_value IS NULL AND size >= $1 ORDER BY created_at, id LIMIT $2",
                &[&min, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(|r| get(r, 0)).collect()
    }

    async fn count_images(&self) -> Result<i64, DbError> {
        match self.row("SELECT count(*) FROM images", &[]).await? {
            Some(row) => get(&row, 0),
            None => Ok(0),
        }
    }

    async fn cached_hash(&self, path: &str) -> Result<Option<CachedHash>, DbError> {
        let Some(r) = self
            .row(
                "SELECT path, size, mtime_ns, checksum, md5, os_hash_algo, os_hash_value \
                 FROM object_hashes WHERE path = $1",
                &[&path],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(CachedHash {
            path: get(&r, 0)?,
            size: super::rows::unsigned(get(&r, 1)?, "size")?,
            mtime_ns: get(&r, 2)?,
            checksum: get(&r, 3)?,
            md5: get(&r, 4)?,
            os_hash: match (get(&r, 5)?, get(&r, 6)?) {
                (Some(algo), Some(value)) => Some(OsHash { algo, value }),
                _ => None,
            },
        }))
    }

    /// An upsert: two processes remembering one path at once leave one row.
    async fn remember_hash(&self, h: &CachedHash) -> Result<(), DbError> {
        let size = signed(h.size)?;
        self.run(
            "INSERT INTO object_hashes (path, size, mtime_ns, checksum, md5, os_hash_algo, \
             os_hash_value) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
             checksum = excluded.checksum, md5 = excluded.md5, \
             os_hash_algo = excluded.os_hash_algo, os_hash_value = excluded.os_hash_value",
            &[
                &h.path,
                &size,
                &h.mtime_ns,
                &h.checksum,
                &h.md5,
                &h.os_hash.as_ref().map(|o| o.algo.as_str()),
                &h.os_hash.as_ref().map(|o| o.value.as_str()),
            ],
        )
        .await?;
        Ok(())
    }

    async fn marker_position(
        &self,
        caller: &str,
        marker: &ImageId,
        q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError> {
        self.marker(caller, marker, q).await
    }

    async fn list_piece(
        &self,
        plan: &ListPlan<'_>,
        visit: &mut Visit<'_>,
    ) -> Result<Piece, DbError> {
        self.list(plan, visit).await
    }

    async fn object_meta(&self, path: &str) -> Result<Option<ObjectMeta>, DbError> {
        self.object(path).await
    }

    async fn object_metas_under(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, ObjectMeta>, DbError> {
        self.objects_under(prefix).await
    }

    async fn put_object_meta(&self, path: &str, m: &ObjectMeta) -> Result<(), DbError> {
        self.put_object(path, m).await
    }

    async fn forget_object(&self, path: &str) -> Result<(), DbError> {
        self.forget(path).await
    }

    async fn image_lets_read(&self, location: &str, caller: &str) -> Result<bool, DbError> {
        self.lets_read(location, caller).await
    }

    async fn image_readable_under(
        &self,
        prefix: &str,
        caller: &str,
    ) -> Result<HashSet<String>, DbError> {
        self.readable_under(prefix, caller).await
    }

    async fn shared_objects(&self) -> Result<Vec<(String, ObjectMeta)>, DbError> {
        self.with_sharing().await
    }

    async fn object_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<(String, ObjectMeta)>, DbError> {
        self.published(public_id).await
    }
}

impl PgTx<'_> {
    /// Inserts `image` as a new row, with its properties and tags; false
    /// (and nothing written) if a concurrent writer took its id or its
    /// live location first.
    async fn insert(&self, image: &Image) -> Result<bool, DbError> {
        let id = image.id.to_string();
        let written = Written::of(image)?;
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&id, &image.created_at];
        values.extend(written.values());
        let Some(row) = self.row(&INSERT, &values).await? else {
            return Ok(false);
        };
        let seq: i64 = get(&row, 0)?;
        self.replace_properties(seq, image).await?;
        self.replace_tags(seq, image).await?;
        Ok(true)
    }

    /// Whether any image, live or deleted, ever had this id.
    async fn id_exists(&self, id: &ImageId) -> Result<bool, DbError> {
        match self
            .row(
                "SELECT EXISTS (SELECT 1 FROM images WHERE id = $1)",
                &[&id.to_string()],
            )
            .await?
        {
            Some(row) => get(&row, 0),
            None => Ok(false),
        }
    }

    /// Replaces the property set of row `seq` with `image`'s (each row also
    /// holds the image's creation time and id, for the index that reads a
    /// property's images in creation order), in two statements whatever
    /// their number.
    async fn replace_properties(&self, seq: i64, image: &Image) -> Result<(), DbError> {
        let properties = &image.properties;
        self.run("DELETE FROM image_properties WHERE image_seq = $1", &[&seq])
            .await?;
        if !properties.is_empty() {
            let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
            let values: Vec<&str> = properties.values().map(String::as_str).collect();
            self.run(
                "INSERT INTO image_properties (image_seq, key, value, created_at, image_id) \
                 SELECT $1, k, v, $4, $5 FROM unnest($2::text[], $3::text[]) AS p (k, v)",
                &[
                    &seq,
                    &keys,
                    &values,
                    &image.created_at,
                    &image.id.to_string(),
                ],
            )
            .await?;
        }
        let json = serde_json::to_string(properties).map_err(DbError::internal)?;
        self.run(
            "UPDATE images SET properties_json = $2 WHERE seq = $1",
            &[&seq, &json],
        )
        .await?;
        Ok(())
    }

    /// Replaces the tags of row `seq` with `image`'s.
    async fn replace_tags(&self, seq: i64, image: &Image) -> Result<(), DbError> {
        self.run("DELETE FROM image_tags WHERE image_seq = $1", &[&seq])
            .await?;
        if !image.tags.is_empty() {
            let tags: Vec<&str> = image.tags.iter().map(String::as_str).collect();
            self.run(
                "INSERT INTO image_tags (image_seq, tag) SELECT $1, unnest($2::text[])",
                &[&seq, &tags],
            )
            .await?;
        }
        Ok(())
    }
}
