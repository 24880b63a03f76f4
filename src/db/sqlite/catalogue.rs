//! The SQLite catalogue's images, members and hashes behind the
//! intent-level methods of `CatalogueTx`, each one statement or a few,
//! inside the transaction the `SqliteTx` stands for. Listings are in
//! `list`, objects in `objects`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::NOW_MICROS;
use crate::db::columns::WRITTEN;
use crate::db::error::DbError;
use crate::db::plan::{ListPlan, ListPosition, Piece};
use crate::db::tx::{ImagesTx, StoredImage, Visit};
use crate::domain::ids::ImageId;
use crate::domain::image::{Examined, Image, OsHash, Status};
use crate::domain::listing::{ListQuery, ListedImage};
use crate::domain::model::{V2ListedImage, V2Listing, Visibility};
use crate::domain::object::CachedHash;
use crate::domain::objects::ObjectMeta;

/// One SQLite transaction of the catalogue, read or write.
pub(super) struct SqliteTx<'c> {
    pub(super) conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    /// The catalogue as seen through `conn`, inside a transaction the caller
    /// has begun.
    pub(super) fn new(conn: &'c Connection) -> SqliteTx<'c> {
        SqliteTx { conn }
    }
}

/// The image columns every read of images reads, in this order.
pub(super) const COLUMNS: &str = "i.seq, i.id, i.name, i.location, i.status, i.disk_format, \
    i.container_format, i.size, i.checksum, i.md5, i.created_at, i.updated_at, \
    i.deleted_at, (i.visibility = 'public'), i.owner, i.min_ram, i.min_disk, i.protected";

/// The properties of row `i` as one JSON object (kept beside the property
/// rows by every write), so that a page of images and all their properties
/// come back from one statement.
pub(super) const PROPERTIES: &str = "i.properties_json";

// In VISIBLE and LISTED, `+i.visibility` keeps the visibility index out of
// the plan: with it SQLite reads the rule's OR through three indexes and
// sorts the union, where walking the order's index reads only a page.

/// Whether the caller (parameter `?1`) may read row `i` by id (docs/api.md
/// §17.10): owner; everyone for public and community; members of any
/// status for shared; the owner alone for private.
pub(super) const VISIBLE: &str = "(i.owner = ?1 OR +i.visibility IN ('public', 'community') \
    OR (+i.visibility = 'shared' AND EXISTS \
    (SELECT 1 FROM image_members m WHERE m.image_seq = i.seq AND m.member = ?1)))";

/// Whether v1's lists show row `i` to the caller (parameter `?1`, §17.12):
/// own, public, and shared where a pending or accepted member.
pub(super) const LISTED: &str = "(i.owner = ?1 OR +i.visibility = 'public' \
    OR (+i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
    WHERE m.image_seq = i.seq AND m.member = ?1 AND m.status <> 'rejected')))";

/// The columns of v2's fields that `image_from_row` reads after
/// `PROPERTIES` (19 on): kept apart from `COLUMNS`, whose positions the
/// listings rely on. The tags come back as one JSON array.
pub(super) const MODEL_COLUMNS: &str = "i.visibility, i.os_hidden, i.os_hash_algo, \
    i.os_hash_value, i.virtual_size, i.uploaded, (SELECT coalesce(json_group_array(t.tag), '[]') \
    FROM image_tags t WHERE t.image_seq = i.seq), i.data_format, i.data_finding";

/// How many columns `image_from_row` reads: what a query adds comes after.
const IMAGE_ROW_WIDTH: usize = 28;

static INSERT: LazyLock<String> = LazyLock::new(|| {
    let marks: Vec<String> = (0..WRITTEN.len()).map(|i| format!("?{}", i + 3)).collect();
    format!(
        "INSERT INTO images (id, created_at, {}) VALUES (?1, ?2, {})",
        WRITTEN.join(", "),
        marks.join(", ")
    )
});

/// Adds a member through v1: `accepted` at once, created and updated now.
static ADD_MEMBER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT OR IGNORE INTO image_members (image_seq, member, status, created_at, updated_at) \
         VALUES (?1, ?2, 'accepted', {NOW_MICROS}, {NOW_MICROS})"
    )
});

/// One image by id (`?1`), and whether the caller (`?2`) reads it beyond
/// ownership and publicity: made once, not per HEAD.
static IMAGE_FOR_CALLER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, {PROPERTIES}, {MODEL_COLUMNS}, (i.visibility = 'community' \
         OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
         WHERE m.image_seq = i.seq AND m.member = ?2))) FROM images i WHERE i.id = ?1"
    )
});

/// One image by id (`?2`) as a HEAD shows it, if the caller (`?1`) may
/// read it (`VISIBLE`, and not deleted): `COLUMNS`, the visibility's word
/// (18) and the properties (19), without the tags' subquery.
static READABLE_IMAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, i.visibility, {PROPERTIES} FROM images i \
         WHERE i.id = ?2 AND i.status <> 'deleted' AND {VISIBLE}"
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = WRITTEN
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    format!("UPDATE images SET {} WHERE seq = ?1", sets.join(", "))
});

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

/// `s`, or NULL for "" while `queued`: the schema wants every data column
/// of any other status set, so the tombstone of an image deleted while
/// queued keeps v1's "" (not live, so no clash on the location index).
fn text_or_null(s: &str, queued: bool) -> Option<&str> {
    (!(queued && s.is_empty())).then_some(s)
}

impl<'a> Written<'a> {
    fn of(image: &'a Image) -> Written<'a> {
        let queued = image.status == Status::Queued;
        Written {
            image,
            status: image.status.as_db(),
            location: text_or_null(&image.location, queued),
            disk_format: text_or_null(&image.disk_format, queued),
            container_format: text_or_null(&image.container_format, queued),
            size: (!queued).then_some(image.size as i64),
            checksum: if queued { None } else { Some(&image.checksum) },
            visibility: image.visibility.as_str(),
            min_ram: image.min_ram as i64,
            min_disk: image.min_disk as i64,
            os_hash_algo: image.os_hash.as_ref().map(|h| h.algo.as_str()),
            os_hash_value: image.os_hash.as_ref().map(|h| h.value.as_str()),
            virtual_size: image.virtual_size.map(|v| v as i64),
            data_format: image.examined.as_ref().map(|e| e.format.as_str()),
            data_finding: image.examined.as_ref().and_then(|e| e.finding.as_deref()),
        }
    }

    fn values(&self) -> [&dyn ToSql; 22] {
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

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} '{value}' is invalid").into(),
    )
}

/// Reads the columns of `COLUMNS`, the properties (`PROPERTIES`) and
/// `MODEL_COLUMNS` after them.
pub(super) fn image_from_row(row: &Row<'_>) -> rusqlite::Result<StoredImage> {
    // What is only parsed is read in place, not copied into a `String`.
    let text = |i: usize| -> rusqlite::Result<&str> {
        row.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    let id = text(1)?;
    let status = text(4)?;
    let json = text(18)?;
    let properties = serde_json::from_str::<BTreeMap<String, String>>(json)
        .map_err(|_| corrupt("properties", json))?;
    let visibility = text(19)?;
    let tags = text(25)?;
    Ok(StoredImage {
        key: row.get(0)?,
        image: Image {
            id: ImageId::parse(id).map_err(|_| corrupt("id", id))?,
            name: row.get(2)?,
            // A queued image has no data: v1 shows its location, checksum
            // and formats as "" and its size as 0 (docs/api.md §17.12).
            location: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
            status: Status::from_db(status).ok_or_else(|| corrupt("status", status))?,
            disk_format: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
            container_format: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
            size: row.get::<_, Option<i64>>(7)?.unwrap_or(0) as u64,
            checksum: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
            md5: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            deleted_at: row.get(12)?,
            visibility: Visibility::parse(visibility)
                .ok_or_else(|| corrupt("visibility", visibility))?,
            owner: row.get(14)?,
            min_ram: row.get::<_, i64>(15)? as u64,
            min_disk: row.get::<_, i64>(16)? as u64,
            protected: row.get(17)?,
            properties,
            os_hidden: row.get(20)?,
            os_hash: match (row.get(21)?, row.get(22)?) {
                (Some(algo), Some(value)) => Some(OsHash { algo, value }),
                _ => None,
            },
            virtual_size: row.get::<_, Option<i64>>(23)?.map(|v| v as u64),
            uploaded: row.get(24)?,
            examined: row
                .get::<_, Option<String>>(26)?
                .map(|format| -> rusqlite::Result<Examined> {
                    Ok(Examined {
                        format,
                        finding: row.get(27)?,
                    })
                })
                .transpose()?,
            tags: serde_json::from_str::<BTreeSet<String>>(tags)
                .map_err(|_| corrupt("tags", tags))?,
        },
    })
}

/// v1's word for a stored status (docs/api.md §17.12).
fn v1_status(stored: &str) -> &str {
    match stored {
        "active" => "available",
        "killed" => "error",
        other => other,
    }
}

pub(super) fn listed_row<'a>(row: &'a Row<'_>, detail: bool) -> rusqlite::Result<ListedImage<'a>> {
    // NULL reads as "": a queued image's data columns (docs/api.md §17.12).
    let text = |i: usize| -> rusqlite::Result<&'a str> {
        row.get_ref(i)?
            .as_str_or_null()
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
            })
    };
    Ok(ListedImage {
        id: text(1)?,
        name: text(2)?,
        location: text(3)?,
        status: v1_status(text(4)?),
        disk_format: text(5)?,
        container_format: text(6)?,
        size: row.get::<_, Option<i64>>(7)?.unwrap_or(0),
        checksum: text(8)?,
        md5: row.get_ref(9)?.as_str_or_null().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, e.into())
        })?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        deleted_at: row.get(12)?,
        is_public: row.get(13)?,
        visibility: text(18)?,
        owner: text(14)?,
        min_ram: row.get(15)?,
        min_disk: row.get(16)?,
        protected: row.get(17)?,
        properties_json: if detail { Some(text(19)?) } else { None },
    })
}

/// A row of `READABLE_IMAGE`, borrowed: a detailed listing's row
/// (`listed_row`, a queued image's NULLs as "" and 0), whose stored
/// status and visibility must also parse, as `image_from_row` requires
/// (a word that does not is a bad row, an error), so that a HEAD answers
/// as it did from an `Image`.
fn readable_row<'a>(row: &'a Row<'_>) -> rusqlite::Result<ListedImage<'a>> {
    let image = listed_row(row, true)?;
    let stored = row.get_ref(4)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
    })?;
    Status::from_db(stored).ok_or_else(|| corrupt("status", stored))?;
    Visibility::parse(image.visibility).ok_or_else(|| corrupt("visibility", image.visibility))?;
    Ok(image)
}

impl ImagesTx for SqliteTx<'_> {
    fn readable_image(
        &self,
        id: &ImageId,
        caller: &str,
        visit: &mut Visit<'_>,
    ) -> Result<bool, DbError> {
        let mut stmt = self.conn.prepare_cached(&READABLE_IMAGE)?;
        let mut rows = stmt.query(params![caller, id.encode(&mut [0; 36])])?;
        match rows.next()? {
            Some(row) => {
                visit(readable_row(row)?);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// One image by id with its properties, and whether `caller` reads it
    /// beyond ownership and publicity (a member of a shared image, or any
    /// caller of a community one: docs/api.md §17.10).
    fn image_for_caller(
        &self,
        id: &ImageId,
        caller: &str,
    ) -> Result<Option<(StoredImage, bool)>, DbError> {
        let mut stmt = self.conn.prepare_cached(&IMAGE_FOR_CALLER)?;
        let found = stmt
            .query_row(params![id.encode(&mut [0; 36]), caller], |row| {
                Ok((image_from_row(row)?, row.get::<_, bool>(IMAGE_ROW_WIDTH)?))
            })
            .optional()?;
        Ok(found)
    }

    /// The live image registered at `location`, if any.
    fn live_image_at(&self, location: &str) -> Result<Option<StoredImage>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS}, {PROPERTIES}, {MODEL_COLUMNS} FROM images i \
             WHERE i.location = ?1 AND i.deleted_at IS NULL"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![location], image_from_row)
            .optional()?)
    }

    /// Registers `image` at its location: a new image with a fresh id, or,
    /// if a live image is registered there, that image with its id and
    /// creation time kept (re-registration). Returns the image as stored.
    fn upsert_at_location(&self, image: &Image) -> Result<Image, DbError> {
        let mut image = image.clone();
        match self.live_image_at(&image.location)? {
            Some(existing) => {
                image = image.reregistering(&existing.image);
                self.update(&existing, &image)?;
            }
            None => {
                while self.id_exists(&image.id)? {
                    image.id = ImageId::generate();
                }
                self.insert(&image)?;
            }
        }
        Ok(image)
    }

    /// Overwrites every column of `stored` but its id and creation time, and
    /// its properties, with `image`.
    fn update(&self, stored: &StoredImage, image: &Image) -> Result<(), DbError> {
        let mut stmt = self.conn.prepare_cached(&UPDATE)?;
        let mut values: Vec<&dyn ToSql> = vec![&stored.key];
        let written = Written::of(image);
        values.extend(written.values());
        stmt.execute(values.as_slice())?;
        self.replace_properties(stored.key, image)?;
        self.replace_tags(stored.key, image)
    }

    /// Inserts a new image under its own id, unless that id was ever used.
    fn insert_new(&self, image: &Image) -> Result<bool, DbError> {
        if self.id_exists(&image.id)? {
            return Ok(false);
        }
        self.insert(image)?;
        Ok(true)
    }

    fn v2_page(
        &self,
        caller: &str,
        q: &V2Listing,
        visit: &mut dyn FnMut(&V2ListedImage<'_>),
    ) -> Result<bool, DbError> {
        SqliteTx::v2_page(self, caller, q, visit)
    }

    /// The member ids of an image, sorted.
    fn members(&self, image: &StoredImage) -> Result<Vec<String>, DbError> {
        let seq = image.key;
        let mut stmt = self.conn.prepare_cached(
            "SELECT member FROM image_members WHERE image_seq = ?1 ORDER BY member",
        )?;
        let rows = stmt.query_map(params![seq], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the member list of an image: members already there keep
    /// their status and times, new ones are `accepted` (docs/api.md §17.12).
    fn set_members(&self, image: &StoredImage, members: &[String]) -> Result<(), DbError> {
        let seq = image.key;
        let kept = serde_json::to_string(members).map_err(DbError::internal)?;
        self.conn
            .prepare_cached(
                "DELETE FROM image_members WHERE image_seq = ?1 \
                 AND member NOT IN (SELECT value FROM json_each(?2))",
            )?
            .execute(params![seq, kept])?;
        for m in members {
            self.add_member(image, m)?;
        }
        Ok(())
    }

    /// Adds one member to an image (idempotent).
    fn add_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError> {
        let seq = image.key;
        self.conn
            .prepare_cached(&ADD_MEMBER)?
            .execute(params![seq, member])?;
        // v1 has no visibility: sharing a private image through it means
        // sharing it (docs/api.md §17.12).
        self.conn
            .prepare_cached(
                "UPDATE images SET visibility = 'shared' WHERE seq = ?1 AND visibility = 'private'",
            )?
            .execute(params![seq])?;
        Ok(())
    }

    /// Removes one member from an image (idempotent).
    fn remove_member(&self, image: &StoredImage, member: &str) -> Result<(), DbError> {
        let seq = image.key;
        self.conn
            .prepare_cached("DELETE FROM image_members WHERE image_seq = ?1 AND member = ?2")?
            .execute(params![seq, member])?;
        Ok(())
    }

    /// Ids of the live images shared between `caller` and `member` (docs/api.md §8), oldest first.
    fn shared_images(&self, caller: &str, member: &str) -> Result<Vec<ImageId>, DbError> {
        let sql = if caller == member {
            "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
             WHERE m.member = ?1 AND i.deleted_at IS NULL AND m.status <> 'rejected' \
             AND i.visibility IN ('shared', 'public') ORDER BY i.created_at, i.id"
        } else {
            "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
             WHERE i.deleted_at IS NULL AND m.status <> 'rejected' \
             AND i.visibility IN ('shared', 'public') AND ((m.member = ?1 AND i.owner = ?2) \
             OR (m.member = ?2 AND i.owner = ?1)) ORDER BY i.created_at, i.id"
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let ids: Vec<String> = if caller == member {
            stmt.query_map(params![caller], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        } else {
            stmt.query_map(params![caller, member], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            out.push(
                ImageId::parse(&id).map_err(|_| DbError::internal(format!("stored id '{id}'")))?,
            );
        }
        Ok(out)
    }

    /// How many images the catalogue holds, deleted ones included.
    fn count_images(&self) -> Result<i64, DbError> {
        let mut stmt = self.conn.prepare_cached("SELECT count(*) FROM images")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    fn locations_owing_os_hash(&self, min_size: u64, limit: u32) -> Result<Vec<String>, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT location FROM images WHERE deleted_at IS NULL AND status = 'active' \
             AND os_hash_value IS NULL AND size >= ?1 ORDER BY created_at, id LIMIT ?2",
        )?;
        let min = i64::try_from(min_size).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![min, limit], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The remembered hash of an fs-store object.
    fn cached_hash(&self, path: &str) -> Result<Option<CachedHash>, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns, checksum, md5, os_hash_algo, os_hash_value \
             FROM object_hashes WHERE path = ?1",
        )?;
        Ok(stmt
            .query_row(params![path], |r| {
                Ok(CachedHash {
                    path: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    checksum: r.get(3)?,
                    md5: r.get(4)?,
                    os_hash: match (r.get(5)?, r.get(6)?) {
                        (Some(algo), Some(value)) => Some(OsHash { algo, value }),
                        _ => None,
                    },
                })
            })
            .optional()?)
    }

    /// Remembers the hash of an fs-store object.
    fn remember_hash(&self, h: &CachedHash) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "INSERT INTO object_hashes (path, size, mtime_ns, checksum, md5, os_hash_algo, \
             os_hash_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
             checksum = excluded.checksum, md5 = excluded.md5, \
             os_hash_algo = excluded.os_hash_algo, os_hash_value = excluded.os_hash_value",
            )?
            .execute(params![
                h.path,
                h.size as i64,
                h.mtime_ns,
                h.checksum,
                h.md5,
                h.os_hash.as_ref().map(|o| o.algo.as_str()),
                h.os_hash.as_ref().map(|o| o.value.as_str()),
            ])?;
        Ok(())
    }

    fn marker_position(
        &self,
        caller: &str,
        marker: &ImageId,
        q: &ListQuery,
    ) -> Result<Option<ListPosition>, DbError> {
        self.marker(caller, marker, q)
    }

    fn list_piece(&self, plan: &ListPlan<'_>, visit: &mut Visit<'_>) -> Result<Piece, DbError> {
        self.list(plan, visit)
    }

    fn object_meta(&self, path: &str) -> Result<Option<ObjectMeta>, DbError> {
        self.object(path)
    }

    fn object_metas_under(&self, prefix: &str) -> Result<BTreeMap<String, ObjectMeta>, DbError> {
        self.objects_under(prefix)
    }

    fn put_object_meta(&self, path: &str, m: &ObjectMeta) -> Result<(), DbError> {
        self.put_object(path, m)
    }

    fn forget_object(&self, path: &str) -> Result<(), DbError> {
        self.forget(path)
    }

    fn image_lets_read(&self, location: &str, caller: &str) -> Result<bool, DbError> {
        self.lets_read(location, caller)
    }

    fn image_readable_under(&self, prefix: &str, caller: &str) -> Result<HashSet<String>, DbError> {
        self.readable_under(prefix, caller)
    }

    fn shared_objects(&self) -> Result<Vec<(String, ObjectMeta)>, DbError> {
        self.with_sharing()
    }

    fn object_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<(String, ObjectMeta)>, DbError> {
        self.published(public_id)
    }
}

impl SqliteTx<'_> {
    /// Inserts `image` as a new row, with its properties and tags.
    fn insert(&self, image: &Image) -> Result<(), DbError> {
        let mut stmt = self.conn.prepare_cached(&INSERT)?;
        let id = image.id.to_string();
        let mut values: Vec<&dyn ToSql> = vec![&id, &image.created_at];
        let written = Written::of(image);
        values.extend(written.values());
        stmt.execute(values.as_slice())?;
        let seq = self.conn.last_insert_rowid();
        self.replace_properties(seq, image)?;
        self.replace_tags(seq, image)
    }

    /// Whether any image, live or deleted, ever had this id.
    fn id_exists(&self, id: &ImageId) -> Result<bool, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1)")?;
        Ok(stmt.query_row(params![id.to_string()], |r| r.get(0))?)
    }

    /// Replaces the property set of row `seq` with `image`'s (each row also
    /// holds the image's creation time and id, which never change, for the
    /// index that reads a property's images in creation order).
    fn replace_properties(&self, seq: i64, image: &Image) -> Result<(), DbError> {
        let properties = &image.properties;
        self.conn
            .prepare_cached("DELETE FROM image_properties WHERE image_seq = ?1")?
            .execute(params![seq])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO image_properties (image_seq, key, value, created_at, image_id) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let id = image.id.to_string();
        for (k, v) in properties {
            insert.execute(params![seq, k, v, image.created_at, id])?;
        }
        let json = serde_json::to_string(properties).map_err(DbError::internal)?;
        self.conn
            .prepare_cached("UPDATE images SET properties_json = ?2 WHERE seq = ?1")?
            .execute(params![seq, json])?;
        Ok(())
    }

    /// Replaces the tags of row `seq` with `image`'s.
    fn replace_tags(&self, seq: i64, image: &Image) -> Result<(), DbError> {
        self.conn
            .prepare_cached("DELETE FROM image_tags WHERE image_seq = ?1")?
            .execute(params![seq])?;
        let mut insert = self
            .conn
            .prepare_cached("INSERT INTO image_tags (image_seq, tag) VALUES (?1, ?2)")?;
        for tag in &image.tags {
            insert.execute(params![seq, tag])?;
        }
        Ok(())
    }

    /// How many images' `properties_json`, or the creation time and id
    /// their property rows hold, disagree with their property rows or the
    /// image (for `plankton check`; always 0 unless the file was changed
    /// behind our back).
    pub(super) fn properties_out_of_step(&self) -> Result<i64, DbError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM images i WHERE json(i.properties_json) IS NOT json(\
             (SELECT coalesce(json_group_object(p.key, p.value), '{}') \
              FROM image_properties p WHERE p.image_seq = i.seq)) \
             OR EXISTS (SELECT 1 FROM image_properties p WHERE p.image_seq = i.seq \
              AND (p.created_at IS NOT i.created_at OR p.image_id IS NOT i.id))",
            [],
            |r| r.get(0),
        )?)
    }
}
