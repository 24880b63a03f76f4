//! The operator commands' statements (`plankton backup`, `plankton check`,
//! `plankton port-db`), on a connection of their own to a file that may be
//! in use by a running service.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SqliteTx;

/// A read-only look at an existing catalogue file.
pub(crate) struct Snapshot {
    conn: Connection,
}

/// A live image as `plankton check` needs it.
pub(crate) struct LiveImage {
    /// Its id.
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// Its canonical location.
    pub(crate) location: String,
    /// Its recorded size.
    pub(crate) size: u64,
    /// Its recorded Pithos hash.
    pub(crate) checksum: String,
    /// The format the inspector found; `None`: never inspected.
    pub(crate) data_format: Option<String>,
    /// What the inspector found unsafe, if anything.
    pub(crate) data_finding: Option<String>,
}

impl Snapshot {
    /// Opens `path`, which must exist, read-only.
    pub(crate) fn open(path: &Path) -> Result<Snapshot, String> {
        if !path.is_file() {
            return Err(format!("database {} does not exist", path.display()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        conn.busy_timeout(super::BUSY_TIMEOUT)
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        Ok(Snapshot { conn })
    }

    /// Refuses a catalogue whose schema is not this release's: `check`
    /// reads its columns, and a read-only look does not migrate (a running
    /// service may hold the file). A backup copies any version.
    pub(crate) fn require_current(&self, path: &Path) -> Result<(), String> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        let known = super::steps().len() as i64;
        if version != known {
            let (who, what) = if version < known {
                ("an older", "start `plankton serve` of this release on it once (it migrates at start), then run this again")
            } else {
                ("a newer", "use the release that made it")
            };
            return Err(format!(
                "database {}: schema version {version} is {who} plankton's (this release's is {known}): {what}",
                path.display()
            ));
        }
        Ok(())
    }

    /// SQLite's integrity check: `["ok"]`, or the problems it found.
    pub(crate) fn integrity(&self) -> Result<Vec<String>, String> {
        self.conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| format!("integrity check: {e}"))
    }

    /// How many images' properties JSON disagrees with their property rows.
    pub(crate) fn properties_out_of_step(&self) -> Result<i64, String> {
        SqliteTx::new(&self.conn)
            .properties_out_of_step()
            .map_err(|e| format!("comparing properties: {e}"))
    }

    /// Every live image with data, oldest first (a queued image has no
    /// object to check).
    pub(crate) fn live_images(&self) -> Result<Vec<LiveImage>, String> {
        self.conn
            .prepare(
                "SELECT id, name, location, size, checksum, data_format, data_finding FROM images \
                 WHERE deleted_at IS NULL AND location IS NOT NULL ORDER BY created_at, id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(LiveImage {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        location: r.get(2)?,
                        size: r.get::<_, i64>(3)? as u64,
                        checksum: r.get(4)?,
                        data_format: r.get(5)?,
                        data_finding: r.get(6)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| format!("reading images: {e}"))
    }

    /// Writes a consistent copy of the whole file to `target` (which must not
    /// exist), in one read transaction.
    pub(crate) fn copy_to(&self, target: &Path) -> Result<(), String> {
        let text = target
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", target.display()))?;
        self.conn
            .execute("VACUUM INTO ?1", [text])
            .map(|_| ())
            .map_err(|e| format!("copying the database: {e}"))
    }

    /// The connection, for `port-db`'s reads.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// The schema version this release's migrations reach.
pub(crate) fn known_version() -> usize {
    super::steps().len()
}

/// Makes a new catalogue file at `path` (which must not exist), migrated to
/// this release's schema, in SQLite's default rollback journal (a single
/// file, to be renamed into place; `serve` turns on WAL when it opens it).
pub(crate) fn create_catalogue(path: &Path) -> Result<Connection, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)
        .map_err(|e| format!("database {}: {e}", path.display()))?;
    super::migrations()
        .to_latest(&mut conn)
        .map_err(|e| format!("database {}: migrating: {e}", path.display()))?;
    Ok(conn)
}

/// The tables of this release's schema and their columns, read from a
/// catalogue made in memory: what `check` expects to find on PostgreSQL.
pub(crate) fn schema_tables() -> Result<Vec<(String, Vec<String>)>, String> {
    let mut conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
    super::migrations()
        .to_latest(&mut conn)
        .map_err(|e| format!("migrating in memory: {e}"))?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| e.to_string())?;
    tables
        .into_iter()
        .map(|t| {
            let columns = conn
                .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                .and_then(|mut s| s.query_map([&t], |r| r.get(0))?.collect())
                .map_err(|e| e.to_string())?;
            Ok((t, columns))
        })
        .collect()
}
