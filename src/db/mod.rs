//! The SQLite catalogue: connection pool for reads, one writer thread that
//! commits requests' writes in groups, and the migrations.

pub mod queries;
mod writer;

use std::path::Path;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use crate::error::AppError;
use writer::Writer;

/// The schema, applied as migration 1.
const SCHEMA: &str = include_str!("../../schema.sql");

/// How long a connection waits for a lock held by another process (a backup, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Readers in the pool; writes go through the one writer connection. As many
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

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(SCHEMA), M::up(PROPERTIES_JSON)])
}

/// Per-connection settings: foreign keys, busy timeout, durable commits.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// The catalogue: a pool of reader connections and the writer.
#[derive(Clone)]
pub struct Database {
    pool: Pool<SqliteConnectionManager>,
    writer: Writer,
}

/// Checks that the directory a database file goes in exists (the file itself
/// may not yet).
pub fn check_directory(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "database directory {} does not exist",
            dir.display()
        ))
    }
}

impl Database {
    /// Opens (creating if needed) the database file, migrates it, and starts the
    /// writer. The file's directory must exist.
    pub fn open(path: &Path) -> Result<Database, String> {
        check_directory(path)?;
        let mut conn =
            Connection::open(path).map_err(|e| format!("database {}: {e}", path.display()))?;
        configure(&conn).map_err(|e| format!("database {}: {e}", path.display()))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "database {}: could not switch to WAL mode (got {mode})",
                path.display()
            ));
        }
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| format!("database {}: migration failed: {e}", path.display()))?;
        let manager =
            SqliteConnectionManager::file(path).with_init(|c: &mut Connection| configure(c));
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            // A local file's connection does not go stale; testing it on every
            // checkout parsed and ran a query per request.
            .test_on_check_out(false)
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        Ok(Database {
            pool,
            writer: Writer::start(conn),
        })
    }

    /// Runs `f` on a reader connection inside one read transaction, off the
    /// async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || db.read_blocking(f)).await?
    }

    /// Runs `f` on a reader connection inside one read transaction, on this thread.
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Connection) -> Result<T, AppError>,
    {
        let conn = self.pool.get()?;
        // BEGIN and COMMIT from the statement cache: parsing them anew for
        // every read showed in profiles of small reads.
        conn.prepare_cached("BEGIN")?.execute([])?;
        match f(&conn) {
            Ok(out) => {
                conn.prepare_cached("COMMIT")?.execute([])?;
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

    /// Runs `f` in the writer's transaction and answers once it is committed.
    /// If `f` fails, everything it wrote is rolled back and nothing else is.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        self.writer.submit(f).await
    }

    /// Finishes queued writes and closes the writer cleanly (WAL checkpointed).
    pub fn close(&self) {
        self.writer.stop();
    }

    /// The SQLite library version, for the start-up line.
    pub fn sqlite_version() -> &'static str {
        rusqlite::version()
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
        let db = Database::open(&path).unwrap();
        let json: String = db
            .read_blocking(|c| {
                Ok(c.query_row("SELECT properties_json FROM images", [], |r| r.get(0))?)
            })
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, serde_json::json!({"b": "x\"y", "os": "debian"}));
        assert_eq!(
            db.read_blocking(queries::properties_out_of_step).unwrap(),
            0
        );
    }

    #[test]
    fn opening_sets_wal_and_user_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let db = Database::open(&path).unwrap();
        let (mode, version): (String, i64) = db
            .read_blocking(|c| {
                Ok((
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(version, 2);
        drop(db);
        assert!(
            Database::open(&path).is_ok(),
            "reopening an up-to-date file"
        );
        assert!(Database::open(&dir.path().join("missing/p.db")).is_err());
    }
}
