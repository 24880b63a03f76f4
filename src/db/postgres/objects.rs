//! The object-store endpoint's statements on PostgreSQL, as SQLite's
//! (`sqlite::objects`): the metadata of objects, keyed by their path under
//! the store root, and which objects a live image lets a caller read.

use std::collections::{BTreeMap, HashSet};

use tokio_postgres::Row;

use super::images::signed;
use super::rows::{corrupt, unsigned};
use super::tx::{get, PgTx};
use crate::db::error::DbError;
use crate::domain::objects::{ObjectMeta, Sharing};

/// The columns of an object's metadata, in `meta_from_row`'s order.
macro_rules! meta_columns {
    () => {
        "content_type, meta_json, read_list, write_list, public, version, modified_by, \
         modified_at, uuid, public_id"
    };
}

/// Whether live image `i` lets the caller (`$2`) read it.
macro_rules! lets_read {
    () => {
        "i.deleted_at IS NULL AND (i.visibility IN ('public', 'community') \
         OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
         WHERE m.image_seq = i.seq AND m.member = $2)))"
    };
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads `META_COLUMNS` from `first` on.
fn meta_from_row(row: &Row, first: usize) -> Result<ObjectMeta, DbError> {
    let json: &str = get(row, first + 1)?;
    let meta = serde_json::from_str::<BTreeMap<String, String>>(json)
        .map_err(|_| corrupt("object metadata", json))?;
    Ok(ObjectMeta {
        content_type: get(row, first)?,
        meta,
        sharing: Sharing {
            read: list(get(row, first + 2)?),
            write: list(get(row, first + 3)?),
        },
        public: get(row, first + 4)?,
        version: unsigned(get(row, first + 5)?, "version")?,
        modified_by: get(row, first + 6)?,
        modified_at: get(row, first + 7)?,
        uuid: get(row, first + 8)?,
        public_id: get(row, first + 9)?,
    })
}

/// A row of `path, META_COLUMNS`.
fn path_and_meta(row: &Row) -> Result<(String, ObjectMeta), DbError> {
    Ok((get(row, 0)?, meta_from_row(row, 1)?))
}

/// The smallest string after every string that starts with `prefix` (which
/// ends with `/`): the prefix with its last `/` turned into `0`. Paths
/// compare by their bytes (`COLLATE "C"`), so the range is exact.
fn past(prefix: &str) -> String {
    let mut end = prefix.trim_end_matches('/').to_string();
    end.push('0');
    end
}

impl PgTx<'_> {
    /// What the catalogue keeps of the object at `path`.
    pub(super) async fn object(&self, path: &str) -> Result<Option<ObjectMeta>, DbError> {
        let sql = concat!("SELECT ", meta_columns!(), " FROM objects WHERE path = $1");
        let row = self.row(sql, &[&path]).await?;
        row.map(|r| meta_from_row(&r, 0)).transpose()
    }

    /// The metadata of every object whose path starts with `prefix`.
    pub(super) async fn objects_under(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, ObjectMeta>, DbError> {
        let sql = concat!(
            "SELECT path, ",
            meta_columns!(),
            " FROM objects WHERE path >= $1 AND path < $2 ORDER BY path"
        );
        let rows = self.rows(sql, &[&prefix, &past(prefix)]).await?;
        rows.iter().map(path_and_meta).collect()
    }

    /// The path and metadata of every object with a sharing list.
    pub(super) async fn with_sharing(&self) -> Result<Vec<(String, ObjectMeta)>, DbError> {
        let sql = concat!(
            "SELECT path, ",
            meta_columns!(),
            " FROM objects WHERE read_list <> '' OR write_list <> ''"
        );
        let rows = self.rows(sql, &[]).await?;
        rows.iter().map(path_and_meta).collect()
    }

    /// The path and metadata of the object published under `public_id`.
    pub(super) async fn published(
        &self,
        public_id: &str,
    ) -> Result<Option<(String, ObjectMeta)>, DbError> {
        let sql = concat!(
            "SELECT path, ",
            meta_columns!(),
            " FROM objects WHERE public_id = $1"
        );
        let row = self.row(sql, &[&public_id]).await?;
        row.as_ref().map(path_and_meta).transpose()
    }

    /// Records (or replaces) the metadata of the object at `path`: an
    /// upsert, so that two processes recording one new object at once
    /// never meet a unique violation (the second fails to serialize and is
    /// run again, after reading the first's version: versions count up
    /// without duplicates). Its known blocks stay, as on SQLite.
    pub(super) async fn put_object(&self, path: &str, m: &ObjectMeta) -> Result<(), DbError> {
        let json = serde_json::to_string(&m.meta).map_err(DbError::internal)?;
        let sql = concat!(
            "INSERT INTO objects (path, ",
            meta_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (path) DO UPDATE SET content_type = excluded.content_type, \
             meta_json = excluded.meta_json, read_list = excluded.read_list, \
             write_list = excluded.write_list, public = excluded.public, \
             version = excluded.version, modified_by = excluded.modified_by, \
             modified_at = excluded.modified_at, uuid = excluded.uuid, \
             public_id = excluded.public_id"
        );
        self.run(
            sql,
            &[
                &path,
                &m.content_type,
                &json,
                &m.sharing.read.join(","),
                &m.sharing.write.join(","),
                &m.public,
                &signed(m.version)?,
                &m.modified_by,
                &m.modified_at,
                &m.uuid,
                &m.public_id,
            ],
        )
        .await?;
        Ok(())
    }

    /// Forgets the object at `path`: its metadata and its remembered hash
    /// (its known blocks go with its row, by the schema's trigger).
    pub(super) async fn forget(&self, path: &str) -> Result<(), DbError> {
        self.run("DELETE FROM objects WHERE path = $1", &[&path])
            .await?;
        self.run("DELETE FROM object_hashes WHERE path = $1", &[&path])
            .await?;
        Ok(())
    }

    /// Whether a live image registered at `location` lets `caller` read it.
    pub(super) async fn lets_read(&self, location: &str, caller: &str) -> Result<bool, DbError> {
        let sql = concat!(
            "SELECT EXISTS (SELECT 1 FROM images i WHERE i.location = $1 AND ",
            lets_read!(),
            ")"
        );
        match self.row(sql, &[&location, &caller]).await? {
            Some(row) => get(&row, 0),
            None => Ok(false),
        }
    }

    /// The locations starting with `prefix` of live images that let
    /// `caller` read them.
    pub(super) async fn readable_under(
        &self,
        prefix: &str,
        caller: &str,
    ) -> Result<HashSet<String>, DbError> {
        let sql = concat!(
            "SELECT i.location FROM images i WHERE i.location >= $1 AND i.location < $3 AND ",
            lets_read!()
        );
        let rows = self.rows(sql, &[&prefix, &caller, &past(prefix)]).await?;
        rows.iter().map(|r| get(r, 0)).collect()
    }
}
