//! The catalogue behind intent-level methods: everything the registry asks
//! of the database, each one statement or a few, inside the transaction the
//! `Tx` stands for. Nothing of SQL leaves this module; a second engine is a
//! second implementation of these methods.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use std::sync::LazyLock;

use rusqlite::types::ToSql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::domain::ids::ImageId;
use crate::domain::image::{Image, Status};
use crate::domain::listing::{ListQuery, ListedImage, SortKey};
use crate::domain::object::CachedHash;
use crate::error::AppError;

/// An image as stored: the image and the key that joins it to its
/// properties and members.
#[derive(Debug, Clone)]
pub(crate) struct StoredImage {
    seq: i64,
    /// The image.
    pub(crate) image: Image,
}

/// One transaction of the catalogue, read or write: the only way the
/// registry reaches the database.
pub(crate) struct Tx<'c> {
    pub(super) conn: &'c Connection,
}

impl<'c> Tx<'c> {
    /// The catalogue as seen through `conn`, inside a transaction the caller
    /// has begun.
    pub(super) fn new(conn: &'c Connection) -> Tx<'c> {
        Tx { conn }
    }
}

const COLUMNS: &str = "i.seq, i.id, i.name, i.location, i.status, i.disk_format, \
    i.container_format, i.size, i.checksum, i.md5, i.created_at, i.updated_at, \
    i.deleted_at, i.is_public, i.owner, i.min_ram, i.min_disk";

/// The properties of row `i` as one JSON object (kept beside the property
/// rows by every write), so that a page of images and all their properties
/// come back from one statement.
const PROPERTIES: &str = "i.properties_json";

/// Whether the caller (parameter `?1`) may see row `i`.
const VISIBLE: &str = "(i.owner = ?1 OR i.is_public = 1 OR EXISTS \
    (SELECT 1 FROM image_members m WHERE m.image_seq = i.seq AND m.member = ?1))";

/// The columns every write sets, in the order `Written::values` binds them:
/// an insert binds the id and creation time before them, an update the row.
const WRITTEN: [&str; 14] = [
    "name",
    "location",
    "status",
    "disk_format",
    "container_format",
    "size",
    "checksum",
    "md5",
    "updated_at",
    "deleted_at",
    "is_public",
    "owner",
    "min_ram",
    "min_disk",
];

static INSERT: LazyLock<String> = LazyLock::new(|| {
    let marks: Vec<String> = (3..WRITTEN.len() + 3).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO images (id, created_at, {}) VALUES (?1, ?2, {})",
        WRITTEN.join(", "),
        marks.join(", ")
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

/// An image's values for the `WRITTEN` columns, converted once.
struct Written<'a> {
    image: &'a Image,
    status: &'static str,
    size: i64,
    min_ram: i64,
    min_disk: i64,
}

impl<'a> Written<'a> {
    fn of(image: &'a Image) -> Written<'a> {
        Written {
            image,
            status: image.status.as_str(),
            size: image.size as i64,
            min_ram: image.min_ram as i64,
            min_disk: image.min_disk as i64,
        }
    }

    fn values(&self) -> [&dyn ToSql; 14] {
        let i = self.image;
        [
            &i.name,
            &i.location,
            &self.status,
            &i.disk_format,
            &i.container_format,
            &self.size,
            &i.checksum,
            &i.md5,
            &i.updated_at,
            &i.deleted_at,
            &i.is_public,
            &i.owner,
            &self.min_ram,
            &self.min_disk,
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

/// Reads the columns of `COLUMNS` and the properties (`PROPERTIES`) after them.
fn image_from_row(row: &Row<'_>) -> rusqlite::Result<StoredImage> {
    let id: String = row.get(1)?;
    let status: String = row.get(4)?;
    let json: String = row.get(17)?;
    let properties = serde_json::from_str::<BTreeMap<String, String>>(&json)
        .map_err(|_| corrupt("properties", &json))?;
    Ok(StoredImage {
        seq: row.get(0)?,
        image: Image {
            id: ImageId::parse(&id).map_err(|_| corrupt("id", &id))?,
            name: row.get(2)?,
            location: row.get(3)?,
            status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            disk_format: row.get(5)?,
            container_format: row.get(6)?,
            size: row.get::<_, i64>(7)? as u64,
            checksum: row.get(8)?,
            md5: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            deleted_at: row.get(12)?,
            is_public: row.get(13)?,
            owner: row.get(14)?,
            min_ram: row.get::<_, i64>(15)? as u64,
            min_disk: row.get::<_, i64>(16)? as u64,
            properties,
        },
    })
}

impl Tx<'_> {
    /// One image by id with its properties, and whether `caller` is a member of it.
    pub(crate) fn image_for_caller(
        &self,
        id: &ImageId,
        caller: &str,
    ) -> Result<Option<(StoredImage, bool)>, AppError> {
        let sql = format!(
            "SELECT {COLUMNS}, {PROPERTIES}, EXISTS (SELECT 1 FROM image_members m \
             WHERE m.image_seq = i.seq AND m.member = ?2) FROM images i WHERE i.id = ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let found = stmt
            .query_row(params![id.to_string(), caller], |row| {
                Ok((image_from_row(row)?, row.get::<_, bool>(18)?))
            })
            .optional()?;
        Ok(found)
    }

    /// The live image registered at `location`, if any.
    pub(crate) fn live_image_at(&self, location: &str) -> Result<Option<StoredImage>, AppError> {
        let sql = format!(
            "SELECT {COLUMNS}, {PROPERTIES} FROM images i \
             WHERE i.location = ?1 AND i.deleted_at IS NULL"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![location], image_from_row)
            .optional()?)
    }

    /// Whether any image, live or deleted, ever had this id.
    fn id_exists(&self, id: &ImageId) -> Result<bool, AppError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1)")?;
        Ok(stmt.query_row(params![id.to_string()], |r| r.get(0))?)
    }

    /// Registers `image` at its location: a new image with a fresh id, or,
    /// if a live image is registered there, that image with its id and
    /// creation time kept (re-registration). Returns the image as stored.
    pub(crate) fn upsert_at_location(&self, mut image: Image) -> Result<Image, AppError> {
        match self.live_image_at(&image.location)? {
            Some(existing) => {
                image.id = existing.image.id;
                image.created_at = existing.image.created_at;
                image.updated_at = image.updated_at.max(existing.image.updated_at);
                self.update(&existing, &image)?;
            }
            None => {
                while self.id_exists(&image.id)? {
                    image.id = ImageId::generate();
                }
                let mut stmt = self.conn.prepare_cached(&INSERT)?;
                let id = image.id.to_string();
                let mut values: Vec<&dyn ToSql> = vec![&id, &image.created_at];
                let written = Written::of(&image);
                values.extend(written.values());
                stmt.execute(values.as_slice())?;
                let seq = self.conn.last_insert_rowid();
                self.replace_properties(seq, &image)?;
            }
        }
        Ok(image)
    }

    /// Overwrites every column of `stored` but its id and creation time, and
    /// its properties, with `image`.
    pub(crate) fn update(&self, stored: &StoredImage, image: &Image) -> Result<(), AppError> {
        let mut stmt = self.conn.prepare_cached(&UPDATE)?;
        let mut values: Vec<&dyn ToSql> = vec![&stored.seq];
        let written = Written::of(image);
        values.extend(written.values());
        stmt.execute(values.as_slice())?;
        self.replace_properties(stored.seq, image)
    }

    /// Replaces the property set of row `seq` with `image`'s (each row also
    /// holds the image's creation time and id, which never change, for the
    /// index that reads a property's images in creation order).
    fn replace_properties(&self, seq: i64, image: &Image) -> Result<(), AppError> {
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
        let json = serde_json::to_string(properties).map_err(AppError::internal)?;
        self.conn
            .prepare_cached("UPDATE images SET properties_json = ?2 WHERE seq = ?1")?
            .execute(params![seq, json])?;
        Ok(())
    }

    /// How many images' `properties_json`, or the creation time and id
    /// their property rows hold, disagree with their property rows or the
    /// image (for `plankton check`; always 0 unless the file was changed
    /// behind our back).
    pub(crate) fn properties_out_of_step(&self) -> Result<i64, AppError> {
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

    /// The member ids of an image, sorted.
    pub(crate) fn members(&self, image: &StoredImage) -> Result<Vec<String>, AppError> {
        let seq = image.seq;
        let mut stmt = self.conn.prepare_cached(
            "SELECT member FROM image_members WHERE image_seq = ?1 ORDER BY member",
        )?;
        let rows = stmt.query_map(params![seq], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the member list of an image.
    pub(crate) fn set_members(
        &self,
        image: &StoredImage,
        members: &[String],
    ) -> Result<(), AppError> {
        let seq = image.seq;
        self.conn
            .prepare_cached("DELETE FROM image_members WHERE image_seq = ?1")?
            .execute(params![seq])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO image_members (image_seq, member) VALUES (?1, ?2)",
        )?;
        for m in members {
            insert.execute(params![seq, m])?;
        }
        Ok(())
    }

    /// Adds one member to an image (idempotent).
    pub(crate) fn add_member(&self, image: &StoredImage, member: &str) -> Result<(), AppError> {
        let seq = image.seq;
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO image_members (image_seq, member) VALUES (?1, ?2)",
            )?
            .execute(params![seq, member])?;
        Ok(())
    }

    /// Removes one member from an image (idempotent).
    pub(crate) fn remove_member(&self, image: &StoredImage, member: &str) -> Result<(), AppError> {
        let seq = image.seq;
        self.conn
            .prepare_cached("DELETE FROM image_members WHERE image_seq = ?1 AND member = ?2")?
            .execute(params![seq, member])?;
        Ok(())
    }

    /// Ids of the live images shared between `caller` and `member` (docs/api.md §8), oldest first.
    pub(crate) fn shared_images(
        &self,
        caller: &str,
        member: &str,
    ) -> Result<Vec<ImageId>, AppError> {
        let sql = if caller == member {
            "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
             WHERE m.member = ?1 AND i.deleted_at IS NULL ORDER BY i.created_at, i.id"
        } else {
            "SELECT i.id FROM image_members m JOIN images i ON i.seq = m.image_seq \
             WHERE i.deleted_at IS NULL AND ((m.member = ?1 AND i.owner = ?2) \
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
                ImageId::parse(&id).map_err(|_| AppError::internal(format!("stored id '{id}'")))?,
            );
        }
        Ok(out)
    }

    /// How many images the catalogue holds, deleted ones included.
    pub(crate) fn count_images(&self) -> Result<i64, AppError> {
        let mut stmt = self.conn.prepare_cached("SELECT count(*) FROM images")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    /// The remembered hash of an fs-store object.
    pub(crate) fn cached_hash(&self, path: &str) -> Result<Option<CachedHash>, AppError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns, checksum, md5 FROM object_hashes WHERE path = ?1",
        )?;
        Ok(stmt
            .query_row(params![path], |r| {
                Ok(CachedHash {
                    path: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    checksum: r.get(3)?,
                    md5: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Remembers the hash of an fs-store object.
    pub(crate) fn remember_hash(&self, h: &CachedHash) -> Result<(), AppError> {
        self.conn.prepare_cached(
            "INSERT INTO object_hashes (path, size, mtime_ns, checksum, md5) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
             checksum = excluded.checksum, md5 = excluded.md5",
        )?
        .execute(params![h.path, h.size as i64, h.mtime_ns, h.checksum, h.md5])?;
        Ok(())
    }

    /// The first piece of the images `caller` can see that match `q`, in
    /// its order and within its limit (what is still wanted), handed to
    /// `visit` one row at a time: at most `PIECE` images, or, when a rare
    /// property filter's matches are sorted whole, at most `SORTED`.
    /// `detail` also fetches every image's properties, in the same
    /// statement. With `after` (the `last` of the piece before), the
    /// listing goes on from there and `q`'s marker is not looked at.
    pub(crate) fn list(
        &self,
        caller: &str,
        q: &ListQuery,
        detail: bool,
        after: Option<&ListPosition>,
        mut visit: impl FnMut(ListedImage<'_>),
    ) -> Result<Piece, AppError> {
        let ListStatement {
            sql,
            args,
            piece,
            driving,
        } = self.list_statement(caller, q, detail, after)?;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut count = 0;
        let mut last = ListPosition {
            value: Value::Null,
            id: String::new(),
            driving,
        };
        let at = sort_column_index(q.sort_key);
        while let Some(row) = rows.next()? {
            let listed = listed_row(row, detail)?;
            last.id.clear();
            last.id.push_str(listed.id);
            last.value = row.get(at)?;
            visit(listed);
            count += 1;
        }
        Ok(Piece {
            count,
            more: count == piece as usize && q.limit != Some(piece),
            last: (count > 0).then_some(last),
        })
    }
}

/// The most images one read of a listing returns: one short read
/// transaction (about 0.4 ms with properties) on the thread that serves
/// the request, and about 70 KB of JSON held at a time per reader.
const PIECE: u32 = 128;

/// A rare property filter's matches are read from the property index and
/// sorted whole, in one read, when fewer than this (a listing that wants
/// more than a piece counts up to this many); sorting them again for every
/// piece would cost more than scanning the catalogue once.
const SORTED: u32 = 2048;

/// A listing's statement: its SQL and arguments, how many images it reads,
/// and the rare property filter, if any, it is read through.
struct ListStatement {
    sql: String,
    args: Vec<Value>,
    piece: u32,
    driving: Option<usize>,
}

/// One piece of a listing.
pub(crate) struct Piece {
    /// How many images it had.
    pub(crate) count: usize,
    /// Whether another piece may follow.
    pub(crate) more: bool,
    /// Where its last image stands, for the next piece.
    pub(crate) last: Option<ListPosition>,
}

/// For a page of at most a piece, a property filter matched by fewer
/// images than this is read from its index and sorted; one matched by
/// more, by reading the images in the listing's order (see `Tx::list`).
/// About where the two cost the same for a page of 25 of 10,000 images
/// (BENCHMARKS.md, "Property filters").
const RARE: u32 = 256;

/// Where a listing stands: the sort value and id of an image in it (the
/// last one of a piece, or a marker's), and the filter the listing is read
/// through.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListPosition {
    value: Value,
    id: String,
    driving: Option<usize>,
}

/// Where in `COLUMNS` the column `key` sorts by is.
fn sort_column_index(key: SortKey) -> usize {
    match key {
        SortKey::Id => 1,
        SortKey::Name => 2,
        SortKey::Status => 4,
        SortKey::DiskFormat => 5,
        SortKey::ContainerFormat => 6,
        SortKey::Size => 7,
        SortKey::CreatedAt => 10,
        SortKey::UpdatedAt => 11,
    }
}

impl Tx<'_> {
    /// The statement that reads a piece of a listing (see `list`).
    fn list_statement(
        &self,
        caller: &str,
        q: &ListQuery,
        detail: bool,
        after: Option<&ListPosition>,
    ) -> Result<ListStatement, AppError> {
        let mut sql = format!("SELECT {COLUMNS}");
        if detail {
            sql.push_str(", ");
            sql.push_str(PROPERTIES);
        }
        // In creation order (the default), a property filter is read from
        // the index that holds each property in that order, (key, value,
        // created_at, image_id): a page reads its own images and no others.
        let in_order = q.sort_key == SortKey::CreatedAt && !q.properties.is_empty();
        sql.push_str(if in_order {
            " FROM image_properties pd JOIN images i ON i.seq = pd.image_seq WHERE "
        } else {
            " FROM images i WHERE "
        });
        sql.push_str(VISIBLE);
        let mut args: Vec<Value> = vec![Value::Text(caller.to_string())];
        let mut arg = |sql: &mut String, clause: &str, v: Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        match q.changes_since {
            Some(t) => arg(&mut sql, " AND i.updated_at > ?", Value::Integer(t)),
            None => sql.push_str(" AND i.deleted_at IS NULL"),
        }
        for (clause, v) in [
            (" AND i.name = ?", &q.name),
            (" AND i.status = ?", &q.status),
            (" AND i.disk_format = ?", &q.disk_format),
            (" AND i.container_format = ?", &q.container_format),
            (" AND i.owner = ?", &q.owner),
        ] {
            if let Some(v) = v {
                arg(&mut sql, clause, Value::Text(v.clone()));
            }
        }
        if let Some(n) = q.size_min {
            arg(&mut sql, " AND i.size >= ?", Value::Integer(n as i64));
        }
        if let Some(n) = q.size_max {
            arg(&mut sql, " AND i.size <= ?", Value::Integer(n as i64));
        }
        if q.shared_with_caller {
            sql.push_str(
                " AND i.owner <> ?1 AND EXISTS (SELECT 1 FROM image_members m \
                 WHERE m.image_seq = i.seq AND m.member = ?1)",
            );
        }
        if let Some(p) = q.is_public {
            arg(&mut sql, " AND i.is_public = ?", Value::Integer(p as i64));
        }
        // Decided on the first piece; the later ones keep it.
        let driving = match after {
            Some(at) => at.driving,
            None if in_order => None,
            None => self.rare_property(q)?,
        };
        let most = if driving.is_some() { SORTED } else { PIECE };
        let piece = q.limit.map_or(most, |l| l.min(most));
        for (n, (k, v)) in q.properties.iter().enumerate() {
            if in_order && n == 0 {
                arg(&mut sql, " AND pd.key = ?", Value::Text(k.clone()));
                arg(&mut sql, " AND pd.value = ?", Value::Text(v.clone()));
                continue;
            }
            let clause = if Some(n) == driving {
                // Few images have it: they are read from the (key, value,
                // image_seq) index and sorted, fewer than a scan would pass.
                " AND i.seq IN (SELECT pf.image_seq FROM image_properties pf WHERE pf.key = ?"
            } else {
                // Many have it: the images are read in the listing's order
                // and each looked up, so a page stops after its last image
                // instead of sorting every match.
                " AND EXISTS (SELECT 1 FROM image_properties pf \
                 WHERE pf.image_seq = i.seq AND pf.key = ?"
            };
            arg(&mut sql, clause, Value::Text(k.clone()));
            arg(&mut sql, " AND pf.value = ?)", Value::Text(v.clone()));
        }
        // What the listing is ordered by: the image's column, or its copy
        // in the property index the listing is read from.
        let (col, id) = if in_order {
            ("pd.created_at".to_string(), "pd.image_id")
        } else {
            (format!("i.{}", q.sort_key.column()), "i.id")
        };
        let (cmp, dir) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let from = match (after, &q.marker) {
            (Some(at), _) => Some(at.clone()),
            (None, Some(marker)) => Some(marker_position(self.conn, caller, marker, q)?),
            (None, None) => None,
        };
        if let Some(ListPosition {
            value,
            id: marker_id,
            ..
        }) = from
        {
            if q.sort_key == SortKey::Id {
                arg(
                    &mut sql,
                    &format!(" AND i.id {cmp} ?"),
                    Value::Text(marker_id),
                );
            } else {
                // A row value: SQLite seeks the (col, id) index to it.
                arg(&mut sql, &format!(" AND ({col}, {id}) {cmp} (?"), value);
                arg(&mut sql, ", ?)", Value::Text(marker_id));
            }
        }
        if q.sort_key == SortKey::Id {
            sql.push_str(&format!(" ORDER BY i.id {dir}"));
        } else {
            sql.push_str(&format!(" ORDER BY {col} {dir}, {id} {dir}"));
        }
        // In the text, not bound: SQLite's planner reads a bound LIMIT, so
        // that binding it (even to the same value) makes the statement
        // be parsed and planned again on every run, which profiles showed
        // as a fifth of a page's time.
        sql.push_str(&format!(" LIMIT {piece}"));
        Ok(ListStatement {
            sql,
            args,
            piece,
            driving,
        })
    }

    /// Which of `q`'s property filters, if any, few enough images match
    /// for their sorting to cost less than a scan (the rarest of them):
    /// fewer than `RARE` for a page of at most a piece, else fewer than
    /// `SORTED`; counted through the index, no further than that.
    fn rare_property(&self, q: &ListQuery) -> Result<Option<usize>, AppError> {
        let cap = i64::from(if q.limit.is_some_and(|l| l <= PIECE) {
            RARE
        } else {
            SORTED
        });
        let mut rarest: Option<(usize, i64)> = None;
        for (n, (k, v)) in q.properties.iter().enumerate() {
            // The cap in the text, as `list`'s LIMIT is, for the same reason.
            let count: i64 = self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM (SELECT 1 FROM image_properties \
                     WHERE key = ?1 AND value = ?2 LIMIT {cap})"
                ))?
                .query_row(params![k, v], |r| r.get(0))?;
            if count < cap && rarest.is_none_or(|(_, c)| count < c) {
                rarest = Some((n, count));
            }
        }
        Ok(rarest.map(|(n, _)| n))
    }
}

/// Why a listing's marker was refused.
pub(crate) const MARKER_NOT_FOUND: &str = "Invalid marker";

fn listed_row<'a>(row: &'a Row<'_>, detail: bool) -> rusqlite::Result<ListedImage<'a>> {
    let text = |i: usize| -> rusqlite::Result<&'a str> {
        row.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(ListedImage {
        id: text(1)?,
        name: text(2)?,
        location: text(3)?,
        status: text(4)?,
        disk_format: text(5)?,
        container_format: text(6)?,
        size: row.get(7)?,
        checksum: text(8)?,
        md5: row.get_ref(9)?.as_str_or_null().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, e.into())
        })?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        deleted_at: row.get(12)?,
        is_public: row.get(13)?,
        owner: text(14)?,
        min_ram: row.get(15)?,
        min_disk: row.get(16)?,
        properties_json: if detail { Some(text(17)?) } else { None },
    })
}

/// The sort value and id of a listing's marker, which the caller must be able
/// to see (and which must be live unless `changes-since` is given).
fn marker_position(
    conn: &Connection,
    caller: &str,
    marker: &ImageId,
    q: &ListQuery,
) -> Result<ListPosition, AppError> {
    let col = q.sort_key.column();
    let sql = format!(
        "SELECT i.{col}, i.id, i.deleted_at IS NULL FROM images i WHERE i.id = ?2 AND {VISIBLE}"
    );
    let found: Option<(Value, String, bool)> = conn
        .prepare_cached(&sql)?
        .query_row(params![caller, marker.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match found {
        Some((value, id, live)) if live || q.changes_since.is_some() => Ok(ListPosition {
            value,
            id,
            driving: None,
        }),
        _ => Err(AppError::invalid(format!(
            "{MARKER_NOT_FOUND} '{marker}': no such image in this listing"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite's planner makes of a listing's statement, step by step.
    fn plan(
        conn: &Connection,
        caller: &str,
        q: &ListQuery,
        after: Option<&ListPosition>,
    ) -> String {
        let st = Tx::new(conn)
            .list_statement(caller, q, true, after)
            .unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", st.sql))
            .unwrap();
        let steps: Vec<String> = stmt
            .query_map(params_from_iter(st.args.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        steps.join("\n")
    }

    #[test]
    fn pages_in_creation_order_are_read_in_index_order_without_sorting_their_matches() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations().to_latest(&mut conn).unwrap();
        let page = ListQuery {
            limit: Some(25),
            ..ListQuery::default()
        };
        let filtered = ListQuery {
            properties: vec![("os".into(), "debian".into())],
            ..page.clone()
        };
        let two_filters = ListQuery {
            properties: vec![
                ("os".into(), "debian".into()),
                ("arch".into(), "x86".into()),
            ],
            descending: true,
            ..page.clone()
        };
        let after = ListPosition {
            value: Value::Integer(1),
            id: "5583ffe1-5273-4c84-9e32-2fbe476bd7b7".into(),
            driving: None,
        };
        for (what, q, index) in [
            ("a page", &page, "images_created_at"),
            ("a filtered page", &filtered, "image_properties_in_order"),
            (
                "two filters, descending",
                &two_filters,
                "image_properties_in_order",
            ),
        ] {
            for from in [None, Some(&after)] {
                let plan = plan(&conn, "alice", q, from);
                assert!(plan.contains(index), "{what} ({from:?}): {plan}");
                assert!(
                    !plan.contains("TEMP B-TREE"),
                    "{what} ({from:?}) sorts: {plan}"
                );
            }
        }
        // Going on from a position seeks the index to it.
        let plan = plan(&conn, "alice", &filtered, Some(&after));
        assert!(
            plan.contains("created_at>?") || plan.contains("(created_at,image_id)>(?,?)"),
            "{plan}"
        );
    }
}
