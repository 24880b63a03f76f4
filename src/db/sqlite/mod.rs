//! The SQLite arm of the catalogue: reader connections owned by the threads
//! that read (each async worker keeps its own, with its own statement
//! cache), a pool of readers for blocking threads, one writer thread that
//! commits requests' writes in groups, and the migrations. Every SQL
//! statement of the service is in this module: the catalogue's in
//! `catalogue` and `list`, the objects' in `objects`, the operator
//! commands' in `ops`.

mod blocks;
mod catalogue;
mod list;
mod members;
mod objects;
pub(crate) mod ops;
mod owned;
mod sessions;
mod v2list;
mod writer;

use catalogue::SqliteTx;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use super::error::DbError;
use super::tx::CatalogueTx;
use crate::error::AppError;
use crate::metrics::WriterMetrics;
use writer::Writer;

/// The schema, applied as migration 1.
const SCHEMA: &str = include_str!("../../../schema.sql");

/// How long a connection waits for a lock held by another process (a backup, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Readers in the pool that blocking threads read through (the async
/// workers own theirs); writes go through the one writer connection. As many
/// as there are blocking threads (4 per worker, 2 workers on 2 cores) so that
/// no query waits for a connection.
const POOL_SIZE: u32 = 8;

/// Each image's properties also as one JSON object, kept by every write with
/// the property rows, so that a listing reads one column per image instead of
/// gathering rows (profiles showed the gathering as most of a page's cost).
const PROPERTIES_JSON: &str = "
ALTER TABLE images ADD COLUMN properties_json TEXT NOT NULL DEFAULT '{}';
UPDATE images SET properties_json = (
    SELECT coalesce(json_group_object(p.key, p.value), '{}')
    FROM image_properties p WHERE p.image_seq = images.seq);
";

/// What the object-store endpoint keeps of an object beside its file
/// (docs/api.md §14): keyed by its path under the store root, as
/// `object_hashes` is, which holds the hashes of what was written.
const OBJECTS: &str = "
CREATE TABLE objects (
    path         TEXT    PRIMARY KEY,
    content_type TEXT    NOT NULL,
    meta_json    TEXT    NOT NULL DEFAULT '{}',
    read_list    TEXT    NOT NULL DEFAULT '',
    write_list   TEXT    NOT NULL DEFAULT '',
    public       INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    version      INTEGER NOT NULL CHECK (version >= 1),
    modified_by  TEXT    NOT NULL,
    modified_at  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Each property row also holds its image's creation time and id (neither
/// ever changes), so that one index gives a property's images in the
/// listings' default order: a filtered page reads its own images and no
/// others (issue 13). The index replaces `image_properties_by_value`, whose
/// (key, value) it begins with.
const PROPERTIES_IN_ORDER: &str = "
ALTER TABLE image_properties ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE image_properties ADD COLUMN image_id TEXT NOT NULL DEFAULT '';
UPDATE image_properties SET
    created_at = (SELECT i.created_at FROM images i WHERE i.seq = image_seq),
    image_id = (SELECT i.id FROM images i WHERE i.seq = image_seq);
DROP INDEX image_properties_by_value;
CREATE INDEX image_properties_in_order
    ON image_properties (key, value, created_at, image_id);
";

/// The image model of all three APIs (docs/api.md §17.2, §17.12): the
/// images table rebuilt (SQLite cannot drop a column's NOT NULL) with
/// `visibility` in place of `is_public`, v2's status words, nullable data
/// columns for queued images, and the new fields; tags; members with a
/// status and times; the hash cache with the `os_hash`. `seq` is kept, so
/// the property and member rows still point at their images (foreign keys
/// are off while this runs: dropping the old table must not cascade).
/// `uploaded` starts false: which locations an upload wrote depends on
/// `store.upload_container`, a setting that migrations do not see.
const IMAGE_MODEL: &str = "
CREATE TABLE images_v5 (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    location         TEXT,
    status           TEXT    NOT NULL CHECK (status IN
                     ('queued', 'saving', 'active', 'deactivated', 'killed', 'deleted')),
    disk_format      TEXT,
    container_format TEXT,
    size             INTEGER CHECK (size >= 0),
    checksum         TEXT,
    md5              TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER,
    visibility       TEXT    NOT NULL
                     CHECK (visibility IN ('public', 'community', 'shared', 'private')),
    owner            TEXT    NOT NULL,
    min_ram          INTEGER NOT NULL DEFAULT 0 CHECK (min_ram >= 0),
    min_disk         INTEGER NOT NULL DEFAULT 0 CHECK (min_disk >= 0),
    properties_json  TEXT    NOT NULL DEFAULT '{}',
    protected        INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
    os_hidden        INTEGER NOT NULL DEFAULT 0 CHECK (os_hidden IN (0, 1)),
    os_hash_algo     TEXT,
    os_hash_value    TEXT,
    virtual_size     INTEGER CHECK (virtual_size >= 0),
    uploaded         INTEGER NOT NULL DEFAULT 0 CHECK (uploaded IN (0, 1)),
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
    CHECK ((os_hash_algo IS NULL) = (os_hash_value IS NULL)),
    CHECK (status = 'queued' OR (location IS NOT NULL AND size IS NOT NULL
           AND checksum IS NOT NULL AND disk_format IS NOT NULL
           AND container_format IS NOT NULL))
);
INSERT INTO images_v5 (seq, id, name, location, status, disk_format, container_format,
    size, checksum, md5, created_at, updated_at, deleted_at, visibility, owner,
    min_ram, min_disk, properties_json)
SELECT seq, id, name, location,
    CASE status WHEN 'available' THEN 'active' WHEN 'error' THEN 'killed' ELSE status END,
    disk_format, container_format, size, checksum, md5, created_at, updated_at, deleted_at,
    CASE is_public WHEN 1 THEN 'public' ELSE 'shared' END, owner, min_ram, min_disk,
    properties_json
FROM images;
DROP TABLE images;
ALTER TABLE images_v5 RENAME TO images;
CREATE UNIQUE INDEX images_live_location ON images (location)
    WHERE deleted_at IS NULL AND location IS NOT NULL;
CREATE INDEX images_owner            ON images (owner, created_at);
CREATE INDEX images_visibility       ON images (visibility, created_at);
CREATE INDEX images_created_at       ON images (created_at, id);
CREATE INDEX images_updated_at       ON images (updated_at, id);
CREATE INDEX images_name             ON images (name, id);
CREATE INDEX images_status           ON images (status, id);
CREATE INDEX images_size             ON images (size, id);
CREATE INDEX images_disk_format      ON images (disk_format, id);
CREATE INDEX images_container_format ON images (container_format, id);

CREATE TABLE image_tags (
    image_seq INTEGER NOT NULL REFERENCES images (seq) ON DELETE CASCADE,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (image_seq, tag)
) WITHOUT ROWID;
CREATE INDEX image_tags_by_tag ON image_tags (tag, image_seq);

ALTER TABLE image_members ADD COLUMN status TEXT NOT NULL DEFAULT 'accepted'
    CHECK (status IN ('pending', 'accepted', 'rejected'));
ALTER TABLE image_members ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE image_members ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE image_members SET created_at = NOW_MICROS, updated_at = NOW_MICROS;

ALTER TABLE object_hashes ADD COLUMN os_hash_algo TEXT;
ALTER TABLE object_hashes ADD COLUMN os_hash_value TEXT;
";

/// The current time in microseconds, in SQL.
pub(super) const NOW_MICROS: &str =
    "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";

/// Migration 5's SQL, with the time of the migration in it.
static IMAGE_MODEL_SQL: LazyLock<String> =
    LazyLock::new(|| IMAGE_MODEL.replace("NOW_MICROS", NOW_MICROS));

/// The object store's round two (issue 24): each object's UUID, kept
/// across its versions, and the id of its public URL while it is
/// published (unique: the public path names one object).
const OBJECTS_ROUND_TWO: &str = "
ALTER TABLE objects ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN public_id TEXT;
CREATE UNIQUE INDEX objects_by_public_id ON objects (public_id) WHERE public_id IS NOT NULL;
";

/// Known blocks (issue 24, item 7): where each block of a recorded object
/// is, by hash, with the size and mtime its file had when recorded (an
/// entry whose file has changed since is not used). An object's entries go
/// with its row.
const OBJECT_BLOCKS: &str = "
CREATE TABLE object_blocks (
    path     TEXT    NOT NULL,
    idx      INTEGER NOT NULL,
    hash     TEXT    NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    PRIMARY KEY (path, idx)
) WITHOUT ROWID;
CREATE INDEX object_blocks_by_hash ON object_blocks (hash);
CREATE TRIGGER object_blocks_go_with_their_object AFTER DELETE ON objects
BEGIN
    DELETE FROM object_blocks WHERE path = OLD.path;
END;
";

/// Inspection (issue 27, docs/api.md §19): the format the inspector found
/// in an image's data and what made it unsafe, if anything; NULL for an
/// image never inspected (registered before this, or with inspection off).
const INSPECTION: &str = "
ALTER TABLE images ADD COLUMN data_format TEXT;
ALTER TABLE images ADD COLUMN data_finding TEXT;
";

/// The migrations in order: the schema's version is their number.
fn steps() -> Vec<M<'static>> {
    vec![
        M::up(SCHEMA),
        M::up(PROPERTIES_JSON),
        M::up(OBJECTS),
        M::up(PROPERTIES_IN_ORDER),
        M::up(IMAGE_MODEL_SQL.as_str()).foreign_key_check(),
        M::up(OBJECTS_ROUND_TWO),
        M::up(OBJECT_BLOCKS),
        M::up(INSPECTION),
        M::up(sessions::SESSIONS),
    ]
}

fn migrations() -> Migrations<'static> {
    Migrations::new(steps())
}

/// Per-connection settings: foreign keys, busy timeout, durable commits.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// The SQLite catalogue: the readers and the writer.
#[derive(Clone)]
pub(crate) struct SqliteCatalogue {
    pool: Pool<SqliteConnectionManager>,
    owned: Arc<owned::Owners>,
    writer: Writer,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The directory the file goes in is not there.
    #[error("database directory {} does not exist", .0.display())]
    NoDirectory(PathBuf),
    /// SQLite refused.
    #[error("database {}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file would not take write-ahead logging.
    #[error("database {}: could not switch to WAL mode (got {mode})", path.display())]
    NotWal {
        /// The file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// A migration failed.
    #[error("database {}: migration failed", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite_migration::Error,
    },
    /// The reader pool could not be built.
    #[error("database {}: reader pool", path.display())]
    Pool {
        /// The file.
        path: PathBuf,
        /// Why.
        source: r2d2::Error,
    },
}

/// Checks that the directory a database file goes in exists (the file itself
/// may not yet).
pub(crate) fn check_directory(path: &Path) -> Result<(), OpenError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(OpenError::NoDirectory(dir.to_path_buf()))
    }
}

/// SQLite's errors by what they mean, read from their extended result
/// codes: a unique violation, a lock held too long, a file that cannot be
/// opened, a full disk; everything else (a failing disk among them) is
/// internal.
impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        use rusqlite::ffi;
        let rusqlite::Error::SqliteFailure(failure, _) = &e else {
            return match e {
                rusqlite::Error::QueryReturnedNoRows => DbError::NotFound,
                e => DbError::internal(e),
            };
        };
        match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                DbError::Unique(e.to_string())
            }
            c if c & 0xff == ffi::SQLITE_BUSY || c & 0xff == ffi::SQLITE_LOCKED => DbError::Busy,
            c if c & 0xff == ffi::SQLITE_CANTOPEN => DbError::Unavailable(e.to_string()),
            // ENOSPC: SQLite says FULL for its files' writes, and SHMSIZE
            // when the WAL index cannot grow.
            ffi::SQLITE_IOERR_SHMSIZE => DbError::Full(e.to_string()),
            c if c & 0xff == ffi::SQLITE_FULL => DbError::Full(e.to_string()),
            _ => DbError::internal(e),
        }
    }
}

/// No reader came free in the pool's wait, or one could not be opened.
impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> DbError {
        DbError::Unavailable(format!("reader pool: {e}"))
    }
}

impl SqliteCatalogue {
    /// Opens (creating if needed) the database file, migrates it, and starts the
    /// writer. The file's directory must exist.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<SqliteCatalogue, OpenError> {
        Self::open_measured(path, WriterMetrics::default())
    }

    /// `open`, with the writer's batches and commits counted in `metrics`.
    pub(crate) fn open_measured(
        path: &Path,
        metrics: WriterMetrics,
    ) -> Result<SqliteCatalogue, OpenError> {
        check_directory(path)?;
        let conn = open_writer(path)?;
        Ok(SqliteCatalogue {
            pool: reader_pool(path)?,
            owned: Arc::new(owned::Owners::new(path)),
            writer: Writer::start(conn, metrics),
        })
    }

    /// Runs `f` inside one read transaction on the connection this thread
    /// owns (opened on its first read): for the short, indexed reads that
    /// answer a request, which cost less than handing them to another
    /// thread and back (docs/behaviour.md, "Reads"). A read that may be
    /// long (one whose size no limit bounds) goes through `read_off`.
    pub(crate) fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        self.on_owned(|conn| in_read(conn, f))
    }

    /// `read` for a closure that runs one statement: without BEGIN and
    /// COMMIT around it, as in autocommit a statement is its own read
    /// transaction (one snapshot, its subqueries included).
    pub(crate) fn read_one<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        self.on_owned(|conn| f(&SqliteTx::new(conn)))
    }

    /// Runs `read` on the connection this thread owns.
    fn on_owned<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        match self.owned.with(read) {
            owned::Outcome::Done(out) => out,
            // A read inside a read, or a thread being torn down: a pooled
            // connection instead.
            owned::Outcome::Busy(read) => read(&*self.pool.get().map_err(DbError::from)?),
            owned::Outcome::Failed(e) => Err(DbError::from(e).into()),
        }
    }

    /// Runs `f` on a pooled reader connection inside one read transaction,
    /// on a blocking thread: for reads whose length nothing bounds.
    pub(crate) async fn read_off<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.read_blocking(f))
            .await
            .map_err(|e| AppError::Internal(format!("blocking pool: {e}")))?
    }

    /// Runs `f` on a pooled reader connection inside one read transaction,
    /// on this (blocking) thread.
    pub(crate) fn read_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        let conn = self.pool.get().map_err(DbError::from)?;
        in_read(&conn, f)
    }

    /// Runs `f` in the writer's transaction and answers once it is committed.
    /// If `f` fails, everything it wrote is rolled back and nothing else is.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: Fn(&dyn CatalogueTx) -> Result<T, AppError> + Send + 'static,
    {
        self.writer
            .submit(move |conn| f(&SqliteTx::new(conn)))
            .await
    }

    /// How many write batches have ended (`Writer::generation`).
    pub(crate) fn generation(&self) -> u64 {
        self.writer.generation()
    }

    /// Finishes queued writes and closes the writer cleanly (WAL checkpointed).
    pub(crate) fn close(&self) {
        self.writer.stop();
    }

    /// The SQLite library version, for the start-up line.
    pub(crate) fn version() -> &'static str {
        rusqlite::version()
    }
}

/// The writer's connection to `path`, in WAL mode, migrated.
fn open_writer(path: &Path) -> Result<Connection, OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sqlite)?;
    configure(&conn).map_err(sqlite)?;
    // Each request's savepoint copies the pages it changes first into a
    // sub-journal, which SQLite otherwise keeps in a temporary file: a
    // write and its page faults for every page of every request showed in
    // the writer's profile. In memory it is one request's pages at most,
    // and it only ever serves to roll a request back: the WAL, synced at
    // the commit, is what makes a write durable.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sqlite)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // Migration 5 rebuilds the images table: with foreign keys on, dropping
    // the old one would delete every property and member row with it.
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(sqlite)?;
    let migrated = migrations().to_latest(&mut conn);
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .map_err(sqlite)?;
    migrated.map_err(|source| OpenError::Migration {
        path: path.to_path_buf(),
        source,
    })?;
    // A v2 upload cut off by a stop or crash left its image `saving`
    // without data (docs/api.md §17.4): it goes back to queued. The data,
    // if placed and not recorded, is undone by the crash protocol.
    let requeued = conn
        .execute(REQUEUE_UNFINISHED_UPLOADS, [])
        .map_err(sqlite)?;
    if requeued > 0 {
        log::info!("{requeued} image(s) left saving by an interrupted v2 upload are queued again");
    }
    Ok(conn)
}

/// Images left `saving` without data (no checksum: §17.4's saving state)
/// back to queued, their data columns NULL.
const REQUEUE_UNFINISHED_UPLOADS: &str = "UPDATE images SET status = 'queued', location = NULL, \
    size = NULL, checksum = NULL, md5 = NULL, os_hash_algo = NULL, os_hash_value = NULL \
    WHERE status = 'saving' AND checksum = ''";

/// The pool of readers for blocking threads.
fn reader_pool(path: &Path) -> Result<Pool<SqliteConnectionManager>, OpenError> {
    let manager = SqliteConnectionManager::file(path).with_init(|c: &mut Connection| configure(c));
    Pool::builder()
        .max_size(POOL_SIZE)
        // A local file's connection does not go stale; testing it on every
        // checkout parsed and ran a query per request.
        .test_on_check_out(false)
        .min_idle(Some(2))
        .connection_timeout(Duration::from_secs(30))
        .build(manager)
        .map_err(|source| OpenError::Pool {
            path: path.to_path_buf(),
            source,
        })
}

/// Runs `f` inside one read transaction on `conn`.
fn in_read<T>(
    conn: &Connection,
    f: impl FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
) -> Result<T, AppError> {
    // BEGIN and COMMIT from the statement cache: parsing them anew for
    // every read showed in profiles of small reads.
    let run = |sql| -> Result<(), DbError> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    run("BEGIN")?;
    match f(&SqliteTx::new(conn)) {
        Ok(out) => {
            run("COMMIT")?;
            Ok(out)
        }
        Err(e) => {
            let _ = conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tx::ImagesTx;
    use crate::domain::ids::ImageId;

    #[test]
    fn schema_migrates_and_validates() {
        assert!(migrations().validate().is_ok());
    }

    #[test]
    fn migration_2_fills_properties_json_from_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(vec![M::up(SCHEMA)])
                .to_latest(&mut conn)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO images (id, name, location, status, disk_format, container_format, \
                 size, checksum, created_at, updated_at, is_public, owner) VALUES \
                 ('5583ffe1-5273-4c84-9e32-2fbe476bd7b7', 'n', 'pithos://a/c/o', 'available', \
                 'diskdump', 'bare', 1, 'x', 1, 1, 0, 'a'); \
                 INSERT INTO image_properties VALUES (1, 'os', 'debian'), (1, 'b', 'x\"y');",
            )
            .unwrap();
        }
        let _db = SqliteCatalogue::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let json: String = conn
            .query_row("SELECT properties_json FROM images", [], |r| r.get(0))
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, serde_json::json!({"b": "x\"y", "os": "debian"}));
        assert_eq!(SqliteTx::new(&conn).properties_out_of_step().unwrap(), 0);
    }

    /// Rows of every kind a catalogue of migration 4 may hold, each as v1
    /// shows it: (id, location, status, is_public, owner, deleted).
    const OLD_ROWS: [(&str, &str, &str, i64, &str, bool); 5] = [
        (
            "11111111-1111-4111-8111-111111111111",
            "pithos://alice/c/pub",
            "available",
            1,
            "alice",
            false,
        ),
        (
            "22222222-2222-4222-8222-222222222222",
            "pithos://alice/c/priv",
            "saving",
            0,
            "alice",
            false,
        ),
        (
            "33333333-3333-4333-8333-333333333333",
            "pithos://bob/c/err",
            "error",
            0,
            "bob",
            false,
        ),
        (
            "44444444-4444-4444-8444-444444444444",
            "pithos://alice/c/pub",
            "deleted",
            1,
            "alice",
            true,
        ),
        (
            "55555555-5555-4555-8555-555555555555",
            "pithos://alice/images/55555555-5555-4555-8555-555555555555",
            "available",
            0,
            "alice",
            false,
        ),
    ];

    fn fill_migration_4(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        Migrations::new(steps().into_iter().take(4).collect())
            .to_latest(&mut conn)
            .unwrap();
        for (n, (id, loc, status, public, owner, deleted)) in OLD_ROWS.iter().enumerate() {
            let deleted_at = deleted.then_some(9_i64);
            conn.execute(
                "INSERT INTO images (id, name, location, status, disk_format, container_format, \
                 size, checksum, md5, created_at, updated_at, deleted_at, is_public, owner, \
                 min_ram, min_disk) VALUES (?1, ?2, ?3, ?4, 'diskdump', 'bare', ?5, 'c', 'm', \
                 ?5, ?5, ?6, ?7, ?8, 1, 2)",
                rusqlite::params![
                    id,
                    format!("n{n}"),
                    loc,
                    status,
                    n as i64,
                    deleted_at,
                    public,
                    owner
                ],
            )
            .unwrap();
            let seq = conn.last_insert_rowid();
            conn.execute(
                "INSERT INTO image_properties (image_seq, key, value, created_at, image_id) \
                 VALUES (?1, 'os', ?2, ?3, ?4)",
                rusqlite::params![seq, format!("os{n}"), n as i64, id],
            )
            .unwrap();
            conn.execute(
                "UPDATE images SET properties_json = json_object('os', ?2) WHERE seq = ?1",
                rusqlite::params![seq, format!("os{n}")],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO image_members VALUES (2, 'bob'), (2, 'carol'), (3, 'alice'); \
             INSERT INTO object_hashes VALUES ('alice/c/pub', 1, 1, 'c', 'm');",
        )
        .unwrap();
    }

    #[test]
    fn migration_5_keeps_what_v1_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        fill_migration_4(&path);
        let db = SqliteCatalogue::open(&path).unwrap();
        drop(db);
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        let tx = SqliteTx::new(&conn);
        for (n, (id, loc, status, public, owner, deleted)) in OLD_ROWS.iter().enumerate() {
            let id = ImageId::parse(id).unwrap();
            let (stored, member) = tx.image_for_caller(&id, "bob").unwrap().unwrap();
            let i = &stored.image;
            assert_eq!(
                (
                    i.location.as_str(),
                    i.status.as_str(),
                    i.is_public(),
                    i.owner.as_str()
                ),
                (*loc, *status, *public == 1, *owner),
                "{id}"
            );
            assert_eq!(
                (i.name.clone(), i.size, i.created_at),
                (format!("n{n}"), n as u64, n as i64)
            );
            assert_eq!(
                (i.deleted_at.is_some(), i.min_ram, i.min_disk),
                (*deleted, 1, 2)
            );
            assert_eq!((i.checksum.as_str(), i.md5.as_deref()), ("c", Some("m")));
            assert_eq!(i.properties.get("os"), Some(&format!("os{n}")));
            assert_eq!(member, n == 1);
        }
        let priv_id = ImageId::parse(OLD_ROWS[1].0).unwrap();
        let (stored, _) = tx.image_for_caller(&priv_id, "alice").unwrap().unwrap();
        assert_eq!(tx.members(&stored).unwrap(), ["bob", "carol"]);
        assert_eq!(tx.shared_images("bob", "bob").unwrap(), [priv_id]);
        assert!(tx.cached_hash("alice/c/pub").unwrap().is_some());
        assert_eq!(tx.properties_out_of_step().unwrap(), 0);
        let (visibility, statuses, accepted, timed): (String, String, i64, i64) = conn
            .query_row(
                "SELECT (SELECT group_concat(v) FROM (SELECT visibility AS v FROM images ORDER BY seq)), \
                 (SELECT group_concat(s) FROM (SELECT status AS s FROM images ORDER BY seq)), \
                 (SELECT count(*) FROM image_members WHERE status = 'accepted'), \
                 (SELECT count(*) FROM image_members WHERE created_at > 0 AND updated_at = created_at)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(visibility, "public,shared,shared,public,shared");
        assert_eq!(statuses, "active,saving,killed,deleted,active");
        assert_eq!((accepted, timed), (3, 3));
        let fk: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
    }

    #[test]
    fn opening_sets_wal_and_user_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let db = SqliteCatalogue::open(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        let (mode, version): (String, i64) = (
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap(),
            c.query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap(),
        );
        drop(c);
        assert_eq!(mode, "wal");
        assert_eq!(version, steps().len() as i64);
        drop(db);
        assert!(
            SqliteCatalogue::open(&path).is_ok(),
            "reopening an up-to-date file"
        );
        assert!(SqliteCatalogue::open(&dir.path().join("missing/p.db")).is_err());
    }

    #[test]
    fn sqlite_errors_say_what_happened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.db");
        let _db = SqliteCatalogue::open(&path).unwrap();
        let a = Connection::open(&path).unwrap();
        let insert = "INSERT INTO object_hashes (path, size, mtime_ns, checksum, md5) \
                      VALUES ('p', 1, 1, 'c', 'm')";
        a.execute_batch(insert).unwrap();
        let twice = a.execute_batch(insert).unwrap_err();
        assert!(matches!(DbError::from(twice), DbError::Unique(_)));
        a.execute_batch("BEGIN IMMEDIATE").unwrap();
        let b = Connection::open(&path).unwrap();
        b.busy_timeout(Duration::ZERO).unwrap();
        let locked = b.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert_eq!(DbError::from(locked), DbError::Busy);
        a.execute_batch("ROLLBACK").unwrap();
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let missing = Connection::open_with_flags(dir.path().join("none/x.db"), flags).unwrap_err();
        assert!(matches!(DbError::from(missing), DbError::Unavailable(_)));
        let none = a
            .query_row("SELECT 1 WHERE 0", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(DbError::from(none), DbError::NotFound);
    }
}
