//! `plankton port-db`: the whole catalogue copied from one engine to the
//! other (or to another database of the same engine), table by table,
//! streamed in batches, every key and every value kept as it was
//! (docs/api.md §18, docs/behaviour.md "Moving between engines").
//!
//! The tables and their columns are read from the source, not listed
//! here, so a migration that adds a table is copied without a change
//! here; the target is migrated to the same version first. A target that
//! is not empty, or that is the source itself, is refused before
//! anything is written; the copy lands all at once (PostgreSQL: one
//! transaction; SQLite: a temporary file renamed into place).

mod pg;
mod sqlite;

pub(crate) use pg::PgSnapshot;

use std::path::{Path, PathBuf};

use crate::config::Database;
use crate::database_url::PgUrl;

/// Tables that stay behind: the web view's sessions (whoever was logged
/// in logs in again on the new engine), and each engine's own.
const LEFT_BEHIND: &[&str] = &["sessions", "web_sessions", "schema_version"];

/// Rows handed from source to target at a time: the memory a copy holds.
const BATCH: usize = 500;

/// One value, as both engines can hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (SQLite's INTEGER, PostgreSQL's BIGINT and INTEGER).
    Int(i64),
    /// A flag (PostgreSQL's BOOLEAN; SQLite's 0 and 1).
    Bool(bool),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// A table to copy: its name and its columns.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// The table's name.
    pub(crate) name: String,
    /// Its columns, in the source's order.
    pub(crate) columns: Vec<String>,
}

impl Table {
    /// `"a", "b", "c"`: the columns quoted, for a statement.
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `name` as an SQL identifier (both engines quote alike).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What was copied: each table and its rows, in the order copied.
pub(crate) type Copied = Vec<(String, u64)>;

/// Copies the catalogue at `from` into the empty `to`; what it copied, or
/// why nothing was written.
pub(crate) async fn port(from: &Database, to: &Database) -> Result<Copied, String> {
    refuse_same_place(from, to)?;
    match from {
        Database::File(path) => {
            let source = sqlite::Source::open(path)?;
            let tables = source.tables()?;
            let mut sink = Sink::open(to, &tables).await?;
            let copied = source.copy_into(&tables, &mut sink).await;
            sink.settle(copied).await
        }
        Database::Postgres(url) => {
            let mut source = pg::Source::open(url).await?;
            let tables = source.tables().await?;
            let mut sink = Sink::open(to, &tables).await?;
            let copied = source.copy_into(&tables, &mut sink).await;
            sink.settle(copied).await
        }
    }
}

/// Where the rows go.
pub(crate) enum Sink {
    /// A new SQLite file, written under a temporary name.
    Sqlite(sqlite::Sink),
    /// A PostgreSQL database, inside one transaction (boxed: its
    /// connection settings are large).
    Postgres(Box<pg::Sink>),
}

impl Sink {
    /// Checks that `to` is empty, and makes it ready for `tables`.
    async fn open(to: &Database, tables: &[Table]) -> Result<Sink, String> {
        match to {
            Database::File(path) => sqlite::Sink::open(path, tables).map(Sink::Sqlite),
            Database::Postgres(url) => pg::Sink::open(url, tables)
                .await
                .map(|s| Sink::Postgres(Box::new(s))),
        }
    }

    /// Starts the rows of `table`.
    async fn begin(&mut self, table: &Table) -> Result<(), String> {
        match self {
            Sink::Sqlite(s) => s.begin(table),
            Sink::Postgres(s) => s.begin(table).await,
        }
    }

    /// Writes a batch of rows of the table begun.
    async fn write(&mut self, rows: &[Vec<Cell>]) -> Result<(), String> {
        match self {
            Sink::Sqlite(s) => s.write(rows),
            Sink::Postgres(s) => s.write(rows).await,
        }
    }

    /// Ends the table begun.
    async fn end(&mut self) -> Result<(), String> {
        match self {
            // A SQLite table needs no ending: each row was inserted.
            Sink::Sqlite(_) => Ok(()),
            Sink::Postgres(s) => s.end().await,
        }
    }

    /// Makes the copy the target's if it all went well; else leaves the
    /// target as it was.
    async fn settle(self, copied: Result<Copied, String>) -> Result<Copied, String> {
        match (self, copied) {
            (Sink::Sqlite(s), Ok(c)) => s.commit().map(|()| c),
            (Sink::Postgres(s), Ok(c)) => s.commit().await.map(|()| c),
            (Sink::Sqlite(s), Err(e)) => {
                s.abandon();
                Err(e)
            }
            (Sink::Postgres(s), Err(e)) => {
                s.abandon().await;
                Err(e)
            }
        }
    }
}

/// Refuses a target that is the source: the same file (by canonical
/// path), or the same database on the same server.
fn refuse_same_place(from: &Database, to: &Database) -> Result<(), String> {
    let same = match (from, to) {
        (Database::File(a), Database::File(b)) => canonical(a) == canonical(b),
        (Database::Postgres(a), Database::Postgres(b)) => same_database(a, b),
        _ => false,
    };
    if same {
        Err(format!("the target {to} is the source itself"))
    } else {
        Ok(())
    }
}

/// The file's canonical path; for a file not there yet, its directory's
/// canonical path and its name.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Whether two URLs name one database: the same hosts, ports and
/// database name (libpq's defaults filled in).
fn same_database(a: &PgUrl, b: &PgUrl) -> bool {
    let key = |u: &PgUrl| {
        let c = u.config();
        let ports = if c.get_ports().is_empty() {
            vec![5432]
        } else {
            c.get_ports().to_vec()
        };
        let user = c.get_user().unwrap_or("");
        let db = c.get_dbname().unwrap_or(user).to_owned();
        (format!("{:?}", c.get_hosts()), ports, db)
    };
    key(a) == key(b)
}

/// The tables of `names` to copy, ordered so that a table comes after
/// every table it refers to (`refers`: pairs of a table and one it refers
/// to); the ones left behind dropped.
fn in_copy_order(names: Vec<String>, refers: &[(String, String)]) -> Vec<String> {
    let mut left: Vec<String> = names
        .into_iter()
        .filter(|n| !LEFT_BEHIND.contains(&n.as_str()))
        .collect();
    left.sort();
    let mut ordered = Vec::new();
    while !left.is_empty() {
        let ready = |t: &String| {
            !refers
                .iter()
                .any(|(from, to)| from == t && to != t && left.contains(to))
        };
        // A cycle (none in plankton's schema) is copied in name order.
        let i = left.iter().position(ready).unwrap_or(0);
        ordered.push(left.remove(i));
    }
    ordered
}

/// The lines `port-db` prints for what it copied: a table and its rows.
pub(crate) fn summary(copied: &Copied) -> Vec<String> {
    let width = copied.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    copied
        .iter()
        .map(|(t, n)| format!("  {t:<width$} {n:>10} rows"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_come_after_the_tables_they_refer_to() {
        let names = [
            "image_tags",
            "sessions",
            "images",
            "objects",
            "schema_version",
        ]
        .map(String::from)
        .to_vec();
        let refers = vec![("image_tags".to_owned(), "images".to_owned())];
        assert_eq!(
            in_copy_order(names, &refers),
            ["images", "image_tags", "objects"]
        );
    }

    #[test]
    fn one_database_is_told_by_server_and_name_not_by_spelling() {
        let url = |t: &str| PgUrl::parse(t).unwrap();
        assert!(same_database(
            &url("postgresql://a:x@db:5432/cat"),
            &url("postgres://b@db/cat?sslmode=disable")
        ));
        assert!(!same_database(
            &url("postgresql://db/cat"),
            &url("postgresql://db/other")
        ));
        assert!(!same_database(
            &url("postgresql://db/cat"),
            &url("postgresql://db2/cat")
        ));
        assert!(same_database(
            &url("postgresql://alice@db"),
            &url("postgresql://db/alice")
        ));
    }

    #[test]
    fn a_file_is_the_same_file_by_any_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("c.db");
        let b = dir.path().join(".").join("c.db");
        assert_eq!(canonical(&a), canonical(&b));
        std::fs::write(&a, b"").unwrap();
        assert_eq!(canonical(&a), canonical(&b));
    }
}
