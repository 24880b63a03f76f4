//! `port-db`'s SQLite ends: a file read in one read transaction, and a new
//! file written under a temporary name and renamed into place.

use std::path::{Path, PathBuf};

use rusqlite::types::{Type, Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::{in_copy_order, quoted, Cell, Copied, Sink as AnySink, Table, BATCH};
use crate::db::sqlite::ops::{self, Snapshot};

/// The tables of the catalogue in `conn` (the engine's own left out).
fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// A SQLite catalogue being read, all of it in one read transaction.
pub(crate) struct Source {
    snapshot: Snapshot,
}

impl Source {
    /// Opens the file at `path`, which must be of this release's schema,
    /// and begins the read transaction.
    pub(crate) fn open(path: &Path) -> Result<Source, String> {
        let snapshot = Snapshot::open(path)?;
        snapshot.require_current(path)?;
        snapshot
            .connection()
            .execute_batch("BEGIN")
            .map_err(|e| format!("database {}: {e}", path.display()))?;
        Ok(Source { snapshot })
    }

    /// The tables to copy, in the order to copy them, with their columns.
    pub(crate) fn tables(&self) -> Result<Vec<Table>, String> {
        let conn = self.snapshot.connection();
        let read = || -> rusqlite::Result<Vec<Table>> {
            let names = table_names(conn)?;
            let mut refers = Vec::new();
            for t in &names {
                let mut s = conn.prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")?;
                for to in s.query_map([t], |r| r.get::<_, String>(0))? {
                    refers.push((t.clone(), to?));
                }
            }
            in_copy_order(names, &refers)
                .into_iter()
                .map(|name| {
                    let columns = conn
                        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
                        .query_map([&name], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok(Table { name, columns })
                })
                .collect()
        };
        read().map_err(|e| format!("reading the source's tables: {e}"))
    }

    /// Copies every row of `tables` into `sink`, a batch at a time.
    pub(crate) async fn copy_into(
        &self,
        tables: &[Table],
        sink: &mut AnySink,
    ) -> Result<Copied, String> {
        let mut copied = Vec::new();
        for table in tables {
            let n = self.copy_table(table, sink).await?;
            copied.push((table.name.clone(), n));
        }
        Ok(copied)
    }

    async fn copy_table(&self, table: &Table, sink: &mut AnySink) -> Result<u64, String> {
        let failed = |e: rusqlite::Error| format!("reading {}: {e}", table.name);
        let sql = format!(
            "SELECT {} FROM {}",
            table.column_list(),
            quoted(&table.name)
        );
        let mut stmt = self.snapshot.connection().prepare(&sql).map_err(failed)?;
        let mut rows = stmt.query([]).map_err(failed)?;
        sink.begin(table).await?;
        let (mut batch, mut n) = (Vec::with_capacity(BATCH), 0u64);
        while let Some(row) = rows.next().map_err(failed)? {
            let cells = (0..table.columns.len())
                .map(|i| cell(row.get_ref(i)?, i))
                .collect::<rusqlite::Result<Vec<Cell>>>()
                .map_err(failed)?;
            batch.push(cells);
            if batch.len() == BATCH {
                sink.write(&batch).await?;
                n += batch.len() as u64;
                batch.clear();
            }
        }
        sink.write(&batch).await?;
        n += batch.len() as u64;
        sink.end().await?;
        Ok(n)
    }
}

/// One SQLite value as a `Cell`; text that is not UTF-8 is refused (no
/// PostgreSQL text column could hold it).
fn cell(value: ValueRef<'_>, i: usize) -> rusqlite::Result<Cell> {
    Ok(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(t) => {
            Cell::Text(String::from_utf8(t.to_vec()).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))
            })?)
        }
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    })
}

/// A new SQLite file being written: under a temporary name beside the
/// target, in one transaction, renamed into place at the end.
pub(crate) struct Sink {
    target: PathBuf,
    temporary: PathBuf,
    conn: Option<Connection>,
    insert: String,
}

impl Sink {
    /// Checks that `target` is empty (not there, or a catalogue with no
    /// rows that no process has open) and makes the temporary file, migrated.
    pub(crate) fn open(target: &Path, _tables: &[Table]) -> Result<Sink, String> {
        crate::db::check_directory(target).map_err(|e| crate::error::chain(&e))?;
        if target.exists() {
            refuse_unless_empty(target)?;
        }
        let name = target
            .file_name()
            .ok_or_else(|| format!("{} is not a file name", target.display()))?;
        let temporary = target.with_file_name(format!(
            ".{}.port-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&temporary);
        let mut sink = Sink {
            target: target.to_path_buf(),
            temporary,
            conn: None,
            insert: String::new(),
        };
        let conn = ops::create_catalogue(&sink.temporary).inspect_err(|_| sink.remove())?;
        sink.conn = Some(conn);
        sink.run("BEGIN")?;
        Ok(sink)
    }

    fn conn(&self) -> Result<&Connection, String> {
        self.conn
            .as_ref()
            .ok_or_else(|| "the new file is closed".to_owned())
    }

    fn run(&self, sql: &str) -> Result<(), String> {
        self.conn()?
            .execute_batch(sql)
            .map_err(|e| format!("writing {}: {e}", self.temporary.display()))
    }

    /// Starts the rows of `table`.
    pub(crate) fn begin(&mut self, table: &Table) -> Result<(), String> {
        let marks = vec!["?"; table.columns.len()].join(", ");
        self.insert = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quoted(&table.name),
            table.column_list()
        );
        Ok(())
    }

    /// Writes a batch of rows.
    pub(crate) fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), String> {
        let failed = |e: rusqlite::Error| format!("writing {}: {e}", self.temporary.display());
        let mut stmt = self.conn()?.prepare_cached(&self.insert).map_err(failed)?;
        for row in rows {
            let values = row.iter().map(value);
            stmt.execute(rusqlite::params_from_iter(values))
                .map_err(failed)?;
        }
        Ok(())
    }

    /// Commits, syncs and renames the new file into place.
    pub(crate) fn commit(mut self) -> Result<(), String> {
        let result = self.run("COMMIT").and_then(|()| self.place());
        if result.is_err() {
            self.remove();
        }
        result
    }

    fn place(&mut self) -> Result<(), String> {
        if let Some(conn) = self.conn.take() {
            conn.close().map_err(|(_, e)| e.to_string())?;
        }
        let io = |e: std::io::Error| format!("{}: {e}", self.target.display());
        std::fs::File::open(&self.temporary)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&self.temporary, &self.target).map_err(io)?;
        let dir = match self.target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Gives up: the temporary file removed, the target untouched.
    pub(crate) fn abandon(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        drop(self.conn.take());
        let _ = std::fs::remove_file(&self.temporary);
        let journal = format!("{}-journal", self.temporary.display());
        let _ = std::fs::remove_file(journal);
    }
}

/// A `Cell` as SQLite stores it: a flag as 0 or 1.
fn value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(n) => Value::Integer(*n),
        Cell::Bool(b) => Value::Integer(i64::from(*b)),
        Cell::Real(x) => Value::Real(*x),
        Cell::Text(t) => Value::Text(t.clone()),
        Cell::Blob(b) => Value::Blob(b.clone()),
    }
}

/// Refuses an existing `target` unless it is an empty file or a catalogue
/// of this release's schema or an older one, with no rows, that no process
/// has open (its `-wal` file would outlive the rename and be read into the
/// copy).
fn refuse_unless_empty(target: &Path) -> Result<(), String> {
    let shown = target.display();
    let wal = PathBuf::from(format!("{}-wal", target.display()));
    // Read-write (never create): a WAL file's readers need its -shm.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(target, flags).map_err(|e| format!("{shown}: {e}"))?;
    let read = |e: rusqlite::Error| format!("{shown} is not a SQLite catalogue: {e}");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(read)?;
    if version > ops::known_version() as i64 {
        return Err(format!(
            "{shown}: schema version {version} is newer than this plankton's ({})",
            ops::known_version()
        ));
    }
    for table in table_names(&conn).map_err(read)? {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(&table));
        let rows: bool = conn.query_row(&sql, [], |r| r.get(0)).map_err(read)?;
        if rows {
            return Err(format!(
                "the target {shown} is not empty: its table {table} has rows"
            ));
        }
    }
    drop(conn);
    if wal.exists() {
        return Err(format!(
            "the target {shown} is open in another process (it has a -wal file): stop it first"
        ));
    }
    Ok(())
}
