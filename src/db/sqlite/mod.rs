//! The SQLite arm of the catalogue: reader connections owned by the threads
//! that read (each async worker keeps its own, with its own statement
//! cache), a pool of readers for blocking threads, one writer thread that
//! commits requests' writes in groups, and the migrations. Every SQL
//! statement of the service is in this module: the catalogue's in
//! `catalogue` and `list`, the objects' in `objects`, the operator
//! commands' in `ops`.

mod catalogue;
mod list;
mod objects;
pub(crate) mod ops;
mod owned;
mod writer;

use catalogue::SqliteTx;

use std::path::{Path, PathBuf};
use std::sync::Arc;
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

/// The object store's round two (issue 24): each object's UUID, kept
/// across its versions, and the id of its public URL while it is
/// published (unique: the public path names one object).
const OBJECTS_ROUND_TWO: &str = "
ALTER TABLE objects ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN public_id TEXT;
CREATE UNIQUE INDEX objects_by_public_id ON objects (public_id) WHERE public_id IS NOT NULL;
";

/// The migrations in order: the schema's version is their number.
fn steps() -> Vec<M<'static>> {
    vec![
        M::up(SCHEMA),
        M::up(PROPERTIES_JSON),
        M::up(OBJECTS),
        M::up(PROPERTIES_IN_ORDER),
        M::up(OBJECTS_ROUND_TWO),
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
/// opened; everything else (a failing disk among them) is internal.
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
        match self.owned.with(|conn| in_read(conn, f)) {
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
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    migrations()
        .to_latest(&mut conn)
        .map_err(|source| OpenError::Migration {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(conn)
}

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
