//! The object-store endpoint's statements: the metadata of objects (keyed
//! by their path under the store root, `<account>/<container>/<object>`),
//! and which objects a live image lets a caller read.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, OptionalExtension, Row};

use super::SqliteTx;
use crate::db::error::DbError;
use crate::domain::objects::{ObjectMeta, Sharing};

const META_COLUMNS: &str =
    "content_type, meta_json, read_list, write_list, public, version, modified_by, modified_at, \
     uuid, public_id";

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads `META_COLUMNS` from `first` on.
fn meta_from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<ObjectMeta> {
    let json: String = row.get(first + 1)?;
    let meta = serde_json::from_str::<BTreeMap<String, String>>(&json).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            first + 1,
            rusqlite::types::Type::Text,
            format!("stored object metadata '{json}' is invalid").into(),
        )
    })?;
    Ok(ObjectMeta {
        content_type: row.get(first)?,
        meta,
        sharing: Sharing {
            read: list(&row.get::<_, String>(first + 2)?),
            write: list(&row.get::<_, String>(first + 3)?),
        },
        public: row.get(first + 4)?,
        version: row.get::<_, i64>(first + 5)? as u64,
        modified_by: row.get(first + 6)?,
        modified_at: row.get(first + 7)?,
        uuid: row.get(first + 8)?,
        public_id: row.get(first + 9)?,
    })
}

/// The smallest string after every string that starts with `prefix` (which
/// ends with `/`): the prefix with its last `/` turned into `0`.
fn past(prefix: &str) -> String {
    let mut end = prefix.trim_end_matches('/').to_string();
    end.push('0');
    end
}

impl SqliteTx<'_> {
    /// What the catalogue keeps of the object at `path`.
    pub(super) fn object(&self, path: &str) -> Result<Option<ObjectMeta>, DbError> {
        let sql = format!("SELECT {META_COLUMNS} FROM objects WHERE path = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![path], |r| meta_from_row(r, 0))
            .optional()?)
    }

    /// The metadata of every object whose path starts with `prefix` (ending in `/`).
    pub(super) fn objects_under(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, ObjectMeta>, DbError> {
        let sql = format!(
            "SELECT path, {META_COLUMNS} FROM objects WHERE path >= ?1 AND path < ?2 ORDER BY path"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![prefix, past(prefix)], |r| {
            Ok((r.get::<_, String>(0)?, meta_from_row(r, 1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The path and metadata of every object with a sharing list.
    pub(super) fn with_sharing(&self) -> Result<Vec<(String, ObjectMeta)>, DbError> {
        let sql = format!(
            "SELECT path, {META_COLUMNS} FROM objects WHERE read_list != '' OR write_list != ''"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, meta_from_row(r, 1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The path and metadata of the object published under `public_id`.
    pub(super) fn published(
        &self,
        public_id: &str,
    ) -> Result<Option<(String, ObjectMeta)>, DbError> {
        let sql = format!("SELECT path, {META_COLUMNS} FROM objects WHERE public_id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![public_id], |r| {
                Ok((r.get::<_, String>(0)?, meta_from_row(r, 1)?))
            })
            .optional()?)
    }

    /// Records (or replaces) the metadata of the object at `path`.
    pub(super) fn put_object(&self, path: &str, m: &ObjectMeta) -> Result<(), DbError> {
        let json = serde_json::to_string(&m.meta).map_err(DbError::internal)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO objects (path, {META_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                path,
                m.content_type,
                json,
                m.sharing.read.join(","),
                m.sharing.write.join(","),
                m.public,
                m.version as i64,
                m.modified_by,
                m.modified_at,
                m.uuid,
                m.public_id
            ])?;
        Ok(())
    }

    /// Forgets the object at `path`: its metadata and its remembered hash.
    pub(super) fn forget(&self, path: &str) -> Result<(), DbError> {
        self.conn
            .prepare_cached("DELETE FROM objects WHERE path = ?1")?
            .execute(params![path])?;
        self.conn
            .prepare_cached("DELETE FROM object_hashes WHERE path = ?1")?
            .execute(params![path])?;
        Ok(())
    }

    /// Whether a live image registered at `location` lets `caller` read it
    /// (public, or the caller a member).
    pub(super) fn lets_read(&self, location: &str, caller: &str) -> Result<bool, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM images i WHERE i.location = ?1 AND i.deleted_at IS NULL \
             AND (i.visibility IN ('public', 'community') OR i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
             WHERE m.image_seq = i.seq AND m.member = ?2)))",
        )?;
        Ok(stmt.query_row(params![location, caller], |r| r.get(0))?)
    }

    /// The locations starting with `prefix` (ending in `/`) of live images
    /// that let `caller` read them.
    pub(super) fn readable_under(
        &self,
        prefix: &str,
        caller: &str,
    ) -> Result<HashSet<String>, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.location FROM images i WHERE i.location >= ?1 AND i.location < ?2 \
             AND i.deleted_at IS NULL AND (i.visibility IN ('public', 'community') OR i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
             WHERE m.image_seq = i.seq AND m.member = ?3))",
        )?;
        let rows = stmt.query_map(params![prefix, past(prefix), caller], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::past;

    #[test]
    fn past_a_prefix_is_after_everything_under_it() {
        let p = "alice/pithos/";
        let end = past(p);
        for under in [
            "alice/pithos/a",
            "alice/pithos/\u{10FFFF}",
            "alice/pithos/~",
        ] {
            assert!(under >= p && under < end.as_str(), "{under}");
        }
        for outside in ["alice/pithos", "alice/pithos0", "alice/pithos-x/a"] {
            assert!(!(outside >= p && outside < end.as_str()), "{outside}");
        }
    }
}
