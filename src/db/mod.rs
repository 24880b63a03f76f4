//! The catalogue: one interface (`Catalogue`, and `Tx` inside a
//! transaction) over the engine chosen at start, the way
//! `backends::identity` does it: SQLite (a file, one process) or
//! PostgreSQL (a database, any number of processes). SQL, planner tuning
//! and retry rules stay inside each engine's arm; the registry never asks
//! which engine it has.
//!
//! A transaction is an async closure over `&Tx`: PostgreSQL awaits its
//! queries on the network; SQLite's answer at once, so its closures are
//! polled once on the thread that owns the connection (`at_once`). A
//! write's closure may be run more than once (`AsyncFn`), so that an
//! engine can run again a transaction that failed with a serialization
//! failure.

pub(crate) mod columns;
pub(crate) mod error;
pub(crate) mod plan;
pub(crate) mod port;
mod postgres;
mod sqlite;
pub(crate) mod tx;

pub(crate) use error::DbError;
pub(crate) use plan::ListPosition;
pub(crate) use postgres::{PgCatalogue, PgTx};
pub(crate) use sqlite::{check_directory, ops, OpenError};
pub(crate) use tx::StoredImage;

/// A transaction of the catalogue, whatever its engine (`tx::Tx`).
pub(crate) type Tx<'t> = tx::Tx<'t, PgTx<'t>>;

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::error::AppError;
use crate::metrics::WriterMetrics;

/// The catalogue engine chosen at start.
#[derive(Clone)]
pub(crate) enum Catalogue {
    /// A SQLite file: readers owned by the threads that read, one writer
    /// thread that commits in groups.
    Sqlite(sqlite::SqliteCatalogue),
    /// A PostgreSQL database, shared by any number of processes.
    Postgres(Arc<PgCatalogue>),
}

/// A turn held across processes (`Catalogue::hold`).
pub(crate) struct Held {
    _turn: Option<postgres::PgTurn>,
}

/// The outcome of a transaction's closure run on an engine that answers
/// at once: every query it awaits is ready when first polled, so one poll
/// ends it. A closure that awaited anything else (it must not: it may
/// only query the catalogue) is refused rather than blocked on.
fn at_once<T>(run: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let mut run = pin!(run);
    match run.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(AppError::internal(
            "a catalogue transaction awaited something other than the catalogue",
        )),
    }
}

impl Catalogue {
    /// Opens (creating and migrating if needed) the catalogue at `path`,
    /// with the writer's batches and commits counted in `metrics`.
    pub(crate) fn open(path: &Path, metrics: WriterMetrics) -> Result<Catalogue, OpenError> {
        sqlite::SqliteCatalogue::open_measured(path, metrics).map(Catalogue::Sqlite)
    }

    /// Connects to the PostgreSQL catalogue at `url` (within 30 s) and
    /// migrates it, blocking this thread meanwhile.
    pub(crate) fn connect(
        url: &postgres::PgUrl,
        pool_size: usize,
    ) -> Result<Catalogue, postgres::PgOpenError> {
        PgCatalogue::connect(url, pool_size).map(|db| Catalogue::Postgres(Arc::new(db)))
    }

    /// Runs `f` inside one read transaction, for the short, indexed reads
    /// that answer a request. SQLite runs it at once on the connection the
    /// async worker owns (no hop to another thread: docs/behaviour.md,
    /// "Reads"); PostgreSQL awaits a pooled connection and its queries.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: AsyncFnOnce(&Tx<'_>) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read(|t| at_once(f(&Tx::Now(t)))),
            Catalogue::Postgres(db) => db.read(f).await,
        }
    }

    /// `read` for a closure that runs exactly one statement: SQLite runs
    /// it without BEGIN and COMMIT (a statement alone is its own read
    /// transaction, one snapshot); PostgreSQL as `read`.
    pub(crate) async fn read_one<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: AsyncFnOnce(&Tx<'_>) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read_one(|t| at_once(f(&Tx::Now(t)))),
            Catalogue::Postgres(db) => db.read(f).await,
        }
    }

    /// Runs `f` inside one read transaction where a long read holds no
    /// async worker: for reads whose length nothing bounds. SQLite runs it
    /// on a blocking thread; PostgreSQL's waiting holds no thread at all.
    pub(crate) async fn read_long<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: AsyncFnOnce(&Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        match self {
            Catalogue::Sqlite(db) => db.read_off(|t| at_once(f(&Tx::Now(t)))).await,
            Catalogue::Postgres(db) => db.read(f).await,
        }
    }

    /// Runs `f` inside one read transaction on this thread, which must be
    /// one that may block and is not inside an async runtime (a blocking
    /// pool's, or a plain thread's). On PostgreSQL the thread waits for
    /// the engine's own runtime to run the read: for the few lookups made
    /// from inside work that already holds a blocking thread (hashing a
    /// file), never from an async worker.
    pub(crate) fn read_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: AsyncFnOnce(&Tx<'_>) -> Result<T, AppError>,
    {
        match self {
            Catalogue::Sqlite(db) => db.read_blocking(|t| at_once(f(&Tx::Now(t)))),
            Catalogue::Postgres(db) => db.read_blocking(f),
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
        F: AsyncFn(&Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        match self {
            Catalogue::Sqlite(db) => db.write(move |t| at_once(f(&Tx::Now(t)))).await,
            Catalogue::Postgres(db) => db.write(f).await,
        }
    }

    /// Holds the turn of `key` across every process serving this
    /// catalogue until the `Held` is dropped: with PostgreSQL, an advisory
    /// lock; with SQLite, nothing, as one process serves a file and the
    /// registry's own lock is the turn.
    pub(crate) async fn hold(&self, key: &str) -> Result<Held, AppError> {
        match self {
            Catalogue::Sqlite(_) => Ok(Held { _turn: None }),
            Catalogue::Postgres(db) => Ok(Held {
                _turn: Some(db.turn(key).await?),
            }),
        }
    }

    /// A number that changes whenever the catalogue may have changed, read
    /// before a read so that what the read saw can be kept as long as the
    /// number stays the same: with SQLite, one process holds the file and
    /// every change goes through its one writer, which counts them; with
    /// PostgreSQL other processes change it unseen, so `None` (keep nothing).
    pub(crate) fn generation(&self) -> Option<u64> {
        match self {
            Catalogue::Sqlite(db) => Some(db.generation()),
            Catalogue::Postgres(_) => None,
        }
    }

    /// Finishes queued writes and closes the catalogue cleanly.
    pub(crate) fn close(&self) {
        match self {
            Catalogue::Sqlite(db) => db.close(),
            Catalogue::Postgres(_) => {}
        }
    }

    /// The engine and its version, for the start-up line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Catalogue::Sqlite(_) => format!("SQLite {}", sqlite::SqliteCatalogue::version()),
            Catalogue::Postgres(db) => db.describe().to_string(),
        }
    }
}
