//! The one writer: a thread that owns the write connection and commits the
//! writes of several concurrent requests in one durable transaction, each
//! inside its own savepoint so that a failing request changes nothing.
//!
//! Checkpoints (copying the WAL's pages into the database file and syncing
//! it) run on a thread of their own with its own connection, woken after
//! commits and at most every `CHECKPOINT_PAUSE`, so that the writer's time
//! is its requests' writes and the WAL's fsync. A commit is durable once
//! the WAL is synced (`synchronous = FULL`); a checkpoint moves committed
//! pages and never decides what is committed.
//!
//! No transaction is ever run twice: the writer takes the write lock
//! (`BEGIN IMMEDIATE`) before running any request's writes, so none of them
//! can meet a busy or locked database. If the lock cannot be had (another
//! process held it past the busy timeout), the batch's requests are
//! answered with `DbError::Busy` without running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::db::error::DbError;
use crate::error::AppError;
use crate::metrics::WriterMetrics;

/// The most requests committed together.
const MAX_BATCH: usize = 128;

/// Statements the writer keeps parsed.
const WRITER_STATEMENTS: usize = 128;

/// The checkpointer's rest after each checkpoint: commits meanwhile wait
/// in the WAL for the next.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);

/// The writer's own checkpoint, in WAL pages: a back-stop should the
/// checkpointer fall behind (SQLite's default, 1,000, when there is none).
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Called after the batch's commit with its outcome (`None`: committed).
type Completion = Box<dyn FnOnce(Option<&DbError>) + Send>;

/// One request's writes and the way to answer it.
trait WriteJob: Send {
    /// Runs the writes in a savepoint; returns how to answer once the commit is known.
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    /// Answers with a failure without running anything.
    fn fail(self: Box<Self>, e: &DbError);
}

type Job = Box<dyn WriteJob>;

/// What the writer thread is asked to do.
enum Message {
    /// Run one request's writes.
    Job(Job),
    /// Finish the queue, checkpoint the WAL and close the connection.
    Stop,
}

struct TypedJob<T, F> {
    f: F,
    tx: oneshot::Sender<Result<T, AppError>>,
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let TypedJob { f, tx } = *self;
        let result = in_savepoint(conn, f);
        Box::new(move |commit_error: Option<&DbError>| {
            let answer = match (commit_error, result) {
                (Some(e), Ok(_)) => Err(failed("commit failed", e)),
                (_, r) => r,
            };
            let _ = tx.send(answer);
        })
    }

    fn fail(self: Box<Self>, e: &DbError) {
        let _ = self
            .tx
            .send(Err(failed("could not begin a write transaction", e)));
    }
}

/// A batch's failure as each of its requests is answered: what it meant
/// (busy, unavailable...), an internal one with what was being done.
fn failed(doing: &str, e: &DbError) -> AppError {
    match e {
        DbError::Internal(why) => DbError::Internal(format!("{doing}: {why}")),
        e => e.clone(),
    }
    .into()
}

/// A handle to the writer thread; cloned freely, the thread ends with the last one.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Message>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// How many batches have ended (committed or not): it moves after
    /// every change and before any request of it is answered.
    generation: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(conn: Connection, metrics: WriterMetrics) -> Writer {
        let (jobs, rx) = mpsc::channel::<Message>();
        let generation = Arc::new(AtomicU64::new(0));
        let ended = Arc::clone(&generation);
        let thread = std::thread::Builder::new()
            .name("plankton-writer".into())
            .spawn(move || run(conn, rx, (metrics, ended)))
            .expect("spawning the writer thread");
        Writer {
            jobs,
            thread: Arc::new(Mutex::new(Some(thread))),
            generation,
        }
    }

    /// The catalogue's generation: how many write batches have ended. Two
    /// equal readings mean nothing was committed between them, except by a
    /// batch whose requests are not answered yet.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Lets queued writes finish, checkpoints the WAL and closes the writer's
    /// connection; later writes fail. Waits for the thread. Idempotent.
    pub(crate) fn stop(&self) {
        let _ = self.jobs.send(Message::Stop);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Queues `f` and waits for the commit of the batch it ran in.
    pub(crate) async fn submit<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(TypedJob { f, tx });
        self.jobs
            .send(Message::Job(job))
            .map_err(|_| AppError::internal("the writer thread has stopped"))?;
        rx.await
            .map_err(|_| AppError::internal("the writer thread dropped a request"))?
    }
}

/// Runs one statement without rows from the connection's statement cache:
/// parsing the transaction's and savepoints' statements anew for every
/// request showed in the writer's profile.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    run_cached(conn, "SAVEPOINT request").map_err(DbError::from)?;
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(AppError::internal("a write panicked")));
    let end = if result.is_ok() {
        run_cached(conn, "RELEASE request")
    } else {
        run_cached(conn, "ROLLBACK TO request").and_then(|()| run_cached(conn, "RELEASE request"))
    };
    match end {
        Ok(()) => result,
        Err(e) => Err(AppError::internal(format!("savepoint: {e}"))),
    }
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Message>,
    (metrics, generation): (WriterMetrics, Arc<AtomicU64>),
) {
    // Every kind of write's statements, the transaction's among them, stay
    // parsed (rusqlite keeps 16 by default).
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    let checkpointer = Checkpointer::start(&conn);
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::new();
        match first {
            Message::Job(job) => batch.push(job),
            Message::Stop => break,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let (size, started) = (batch.len(), std::time::Instant::now());
        commit_batch(&conn, batch, &generation);
        metrics.batch_size.observe(size as f64);
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Some(c) = &checkpointer {
            c.wake();
        }
    }
    if let Some(c) = checkpointer {
        c.stop();
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("closing the database: checkpoint failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        log::warn!("closing the database: {e}");
    }
}

/// The thread that checkpoints the WAL beside the writer.
struct Checkpointer {
    wake: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens a second connection to the writer's file and starts the
    /// thread; the writer then checkpoints only past
    /// `WRITER_CHECKPOINT_PAGES`. `None` (the writer checkpointing as
    /// SQLite does by default) if either cannot be had.
    fn start(writer: &Connection) -> Option<Checkpointer> {
        let opened = writer
            .path()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| "the database has no file".to_string())
            .and_then(|path| {
                let conn = Connection::open(path).map_err(|e| e.to_string())?;
                super::configure(&conn).map_err(|e| e.to_string())?;
                Ok(conn)
            });
        let conn = match opened {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("checkpoints stay on the writer: {e}");
                return None;
            }
        };
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("plankton-checkpoint".into())
            .spawn(move || checkpoint_when_woken(&conn, &woken));
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                log::warn!("checkpoints stay on the writer: no thread: {e}");
                return None;
            }
        };
        if let Err(e) = writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES) {
            log::warn!("the writer's checkpoint stays at SQLite's default: {e}");
        }
        Some(Checkpointer { wake, thread })
    }

    /// Asks for a checkpoint (one already asked for is enough).
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    /// Lets the last checkpoint finish and ends the thread.
    fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

/// A passive checkpoint (it waits for no reader or writer) each time the
/// writer asks, then a rest; returns when the writer is gone.
fn checkpoint_when_woken(conn: &Connection, woken: &mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            log::warn!("checkpoint: {e}");
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>, generation: &AtomicU64) {
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        // No transaction: answer every request of the batch with the failure
        // without running its writes.
        log::error!("could not begin a write transaction: {e}");
        let e = DbError::from(e);
        batch.into_iter().for_each(|job| job.fail(&e));
        return;
    }
    let completions: Vec<Completion> = batch.into_iter().map(|job| job.run(conn)).collect();
    let committed = run_cached(conn, "COMMIT");
    // Before any answer: a reader that sees the old generation after a
    // request was answered cannot be (see `Writer::generation`).
    generation.fetch_add(1, Ordering::AcqRel);
    match committed {
        Ok(()) => completions.into_iter().for_each(|c| c(None)),
        Err(e) => {
            log::error!("commit failed: {e}");
            let _ = conn.execute_batch("ROLLBACK");
            let e = DbError::from(e);
            completions.into_iter().for_each(|c| c(Some(&e)));
        }
    }
}
