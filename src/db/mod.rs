//! The catalogue: one interface (`Catalogue`, and `CatalogueTx` inside a
//! transaction) over the engine chosen at start, the way
//! `backends::identity` does it. SQLite is the only engine that serves for
//! now (PostgreSQL's connection and schema are in `postgres`, its queries
//! are not yet); SQL, planner tuning and retry rules stay inside each
//! engine's arm.
//!
//! The entry points are shaped for an engine behind a network as well:
//! every one that may wait is async, and a write is a closure that may be
//! run more than once (`Fn`), so that an engine can run again a
//! transaction that failed with a serialization failure.

pub(crate) mod error;
pub(crate) mod plan;
pub(crate) mod port;
mod postgres;
mod sqlite;
pub(crate) mod tx;

pub(crate) use error::DbError;
pub(crate) use plan::ListPosition;
pub(crate) use postgres::PgCatalogue;
pub(crate) use sqlite::{check_directory, ops, OpenError};
pub(crate) use tx::{CatalogueTx, StoredImage, Tx};

use std::path::Path;

use crate::error::AppError;
use crate::metrics::WriterMetrics;

/// The catalogue engine chosen at start.
#[derive(Clone)]
pub(crate) enum Catalogue {
    /// A SQLite file: readers owned by the threads that read, one writer
    /// thread that commits in groups.
    Sqlite(sqlite::SqliteCatalogue),
}

impl Catalogue {
    /// Opens (creating and migrating if needed) the catalogue at `path`,
    /// with the writer's batches and commits counted in `metrics`.
    pub(crate) fn open(path: &Path, metrics: WriterMetrics) -> Result<Catalogue, OpenError> {
        sqlite::SqliteCatalogue::open_measured(path, metrics).map(Catalogue::Sqlite)
    }

    /// Runs `f` inside one read transaction, for the short, indexed reads
    /// that answer a request. SQLite runs it at once on the connection the
    /// async worker owns (no hop to another thread: docs/behaviour.md,
    /// "Reads"); an engine behind a network awaits its connection and
    /// queries here.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read(f),
        }
    }

    /// `read` run to its end on this thread, without awaiting: for a
    /// listing's pieces, read from inside a streaming body. SQLite's
    /// reads do not wait on anything but the file; an engine behind a
    /// network has to fetch its pieces ahead, asynchronously, and hand
    /// them over here.
    pub(crate) fn read_now<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read(f),
        }
    }

    /// Runs `f` inside one read transaction where a long read holds no
    /// async worker: for reads whose length nothing bounds.
    pub(crate) async fn read_long<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError> + Send + 'static,
    {
        match self {
            Catalogue::Sqlite(db) => db.read_off(f).await,
        }
    }

    /// Runs `f` inside one read transaction on this thread, which must be
    /// one that may block (a blocking pool's, or start-up's).
    pub(crate) fn read_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&dyn CatalogueTx) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read_blocking(f),
        }
    }

    /// Runs `f` in a write transaction and answers once it is committed; if
    /// `f` fails, nothing it wrote stays. An engine may run `f` again if
    /// its transaction failed with a serialization failure (`DbError::Busy`),
    /// so `f` must do nothing outside the transaction. The engine knows such
    /// a failure from its own transaction (which raised it, and whose commit
    /// then fails), whatever `f` made of the error: closures just use `?`.
    /// SQLite never needs to: its one writer holds the write lock for the
    /// whole transaction (`sqlite::writer`).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: Fn(&dyn CatalogueTx) -> Result<T, AppError> + Send + 'static,
    {
        match self {
            Catalogue::Sqlite(db) => db.write(f).await,
        }
    }

    /// Finishes queued writes and closes the catalogue cleanly.
    pub(crate) fn close(&self) {
        match self {
            Catalogue::Sqlite(db) => db.close(),
        }
    }

    /// The engine and its version, for the start-up line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Catalogue::Sqlite(_) => format!("SQLite {}", sqlite::SqliteCatalogue::version()),
        }
    }
}
