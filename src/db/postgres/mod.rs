//! The PostgreSQL arm of the catalogue (issue 26): the `database` URL
//! (`url`), TLS as `sslmode` asks (`tls`), a pool of connections made and
//! driven on the engine's own runtime thread (`runtime`), connecting at
//! start, the schema with its migrations (`schema`), and every method of
//! the catalogue's interface on a transaction (`tx`; `images`, `list`,
//! `v2list`, `members`, `objects`, `blocks`). What guards what when
//! several processes write at once: docs/behaviour.md, "Several
//! processes".
//!
//! tokio-postgres with deadpool-postgres: async all the way (no thread
//! held while a query waits on the network), and it shares the tree with
//! rusqlite, which sqlx's SQLite driver would not.

mod blocks;
mod error;
mod images;
mod list;
mod members;
mod objects;
mod rows;
mod runtime;
pub(crate) mod schema;
mod sessions;
mod tls;
mod turns;
mod tx;
mod v2list;

pub(crate) use turns::PgTurn;
pub(crate) use tx::PgTx;

pub(crate) use crate::database_url::PgUrl;

use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use runtime::{engine, EngineConnect};
use tokio_postgres::IsolationLevel;

use super::error::DbError;
use super::tx::Tx;
use crate::error::AppError;

/// How long start-up tries to reach the server (docs/api.md §18).
const START_DEADLINE: Duration = Duration::from_secs(30);

/// How long one attempt to connect may take, unless the URL says
/// (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a pooled connection before it is told
/// the catalogue is unavailable (§18: a 503 within 10 s).
const POOL_WAIT: Duration = Duration::from_secs(10);

/// Between two attempts to reach the server at start.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A PostgreSQL catalogue: its pool, connected and migrated.
pub(crate) struct PgCatalogue {
    pool: Pool,
    /// `PostgreSQL <server_version>`, for the start-up line.
    version: String,
    /// The schema version before and after start-up's migrations.
    migrated: (usize, usize),
}

/// Why the PostgreSQL catalogue could not be opened. Every message names
/// the setting and shows the URL with its password as `***`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgOpenError {
    /// TLS could not be set up as `sslmode` asks.
    #[error("database {url}: TLS: {message}")]
    Tls {
        /// The URL, redacted.
        url: String,
        /// Why.
        message: String,
    },
    /// No answer within the start-up deadline.
    #[error("database {url}: PostgreSQL could not be reached within {} s: {cause}", START_DEADLINE.as_secs())]
    Unreachable {
        /// The URL, redacted.
        url: String,
        /// The last attempt's error, redacted.
        cause: String,
    },
    /// The server answered, and refused (a wrong password, no such
    /// database or role).
    #[error("database {url}: PostgreSQL refused the connection: {cause}")]
    Refused {
        /// The URL, redacted.
        url: String,
        /// What the server said, redacted.
        cause: String,
    },
    /// The schema could not be brought up to date.
    #[error("database {url}: {source}")]
    Schema {
        /// The URL, redacted.
        url: String,
        /// Why.
        source: schema::SchemaError,
    },
}

/// A driver error as one line: the server's own words when it answered
/// (tokio-postgres's `Display` says only "db error"), else the chain.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => crate::error::chain(e),
    }
}

/// Whether an error at start is worth another attempt: no answer, or a
/// server that answered it is starting, stopping or full (SQLSTATE classes
/// 57 and 53). Not a refusal (a password, a role, a database), nor a TLS
/// failure (a certificate not trusted, a server without TLS under
/// `require`): waiting mends neither. tokio-postgres tells its error kinds
/// apart only in their text; `tests/pg` holds it to that.
fn worth_retrying(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => matches!(&db.code().code()[..2], "57" | "53"),
        None => !e.to_string().starts_with(TLS_FAILURE),
    }
}

/// How tokio-postgres's `Display` begins for a failed TLS handshake.
const TLS_FAILURE: &str = "error performing TLS handshake";

impl PgCatalogue {
    /// Builds the pool for `url` (at most `pool_size` connections), reaches
    /// the server within 30 s, warns if it is not durable, and migrates.
    pub(crate) async fn open(url: &PgUrl, pool_size: usize) -> Result<PgCatalogue, PgOpenError> {
        let shown = url.to_string();
        let tls = tls::connector(url).map_err(|message| PgOpenError::Tls {
            url: shown.clone(),
            message: url.redact(&message),
        })?;
        let config = connection_settings(url);
        let manager = Manager::from_connect(
            config,
            EngineConnect { tls },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PgOpenError::Tls {
                url: shown.clone(),
                message: e.to_string(),
            })?;
        let mut client = first_connection(&pool, url).await?;
        warn_if_not_durable(&client, &shown).await;
        let version = server_version(&client).await;
        let migrated =
            schema::migrate(&mut client)
                .await
                .map_err(|source| PgOpenError::Schema {
                    url: shown.clone(),
                    source,
                })?;
        analyze_if_never(&client, &shown).await;
        Ok(PgCatalogue {
            pool,
            version,
            migrated: (migrated.from, migrated.to),
        })
    }

    /// `open`, from a thread that may block, even one inside an async
    /// runtime (`Application::build` runs in actix's): the opening runs on
    /// the engine's own runtime and this thread waits for its answer.
    pub(crate) fn connect(url: &PgUrl, pool_size: usize) -> Result<PgCatalogue, PgOpenError> {
        let (answer, opened) = std::sync::mpsc::sync_channel(1);
        let target = url.clone();
        engine().spawn(async move {
            // The receiver waits for this send; it cannot be gone.
            let _ = answer.send(PgCatalogue::open(&target, pool_size).await);
        });
        let db = opened.recv().unwrap_or_else(|_| {
            Err(PgOpenError::Unreachable {
                url: url.to_string(),
                cause: "the PostgreSQL engine's runtime stopped while connecting".into(),
            })
        })?;
        let (from, to) = db.migrated;
        log::info!(
            "database {url}: {}, schema version {to}{}, a pool of {} connections",
            db.version,
            if from == to {
                String::new()
            } else {
                format!(" (migrated from {from})")
            },
            db.pool_size()
        );
        Ok(db)
    }

    /// `PostgreSQL <version>`.
    pub(crate) fn describe(&self) -> &str {
        &self.version
    }

    /// The schema's version before start-up migrated it, and now.
    pub(crate) fn migrated(&self) -> (usize, usize) {
        self.migrated
    }

    /// How many connections the pool may hold.
    pub(crate) fn pool_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// A pooled connection, or unavailable within the pool's wait.
    async fn connection(&self) -> Result<deadpool_postgres::Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// Runs `f` in one read-only transaction that sees one snapshot of the
    /// catalogue (REPEATABLE READ), however many statements it runs.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: for<'t> AsyncFnOnce(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        within(ANSWER_LIMIT, self.read_unlimited(f)).await
    }

    /// `read` without its time limit.
    async fn read_unlimited<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: for<'t> AsyncFnOnce(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        let mut client = self.connection().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(DbError::from)?;
        let out = f(&Tx::Postgres(&PgTx::new(&tx))).await?;
        // A read-only transaction has nothing to commit: dropping it queues
        // its ROLLBACK on the connection without waiting for the answer
        // (the next transaction on it follows in order), one round trip
        // less per read. Every answer the read used has come already.
        drop(tx);
        Ok(out)
    }

    /// `read` run to its end on this thread, which may block and is not
    /// inside an async runtime.
    pub(crate) fn read_blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: for<'t> AsyncFnOnce(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        // The engine's thread drives the runtime's I/O and timers; this
        // thread polls the read itself, in the runtime's context.
        engine().block_on(self.read(f))
    }

    /// Runs `f` in one SERIALIZABLE transaction and answers once it is
    /// committed. A transaction that could not be serialized against a
    /// concurrent one (in any process) is rolled back and `f` run again,
    /// after a short pause that grows and is spread at random, so that
    /// concurrent writers never see their conflict (docs/behaviour.md,
    /// "Several processes"). One that conflicted `ALONE_AFTER` times runs
    /// alone: every write holds the write lock shared, and this one waits
    /// for it exclusively before its transaction begins, so that a large
    /// write (a member list of hundreds) is not starved by small ones.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: for<'t> AsyncFn(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        within(ANSWER_LIMIT, self.write_unlimited(f)).await
    }

    /// `write` without its time limit.
    async fn write_unlimited<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: for<'t> AsyncFn(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        let mut attempt = 0;
        loop {
            let outcome = if attempt < ALONE_AFTER {
                self.write_once(&f).await
            } else {
                self.write_alone(&f).await
            };
            match outcome {
                Attempt::Done(out) => return out,
                Attempt::Conflict if attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(pause_before(attempt)).await;
                }
                // Not a bug, and not to be shown as one: the catalogue is
                // too busy (503, try again).
                Attempt::Conflict => {
                    log::warn!("a write could not be serialized in {MAX_ATTEMPTS} attempts");
                    return Err(DbError::Busy.into());
                }
            }
        }
    }

    /// One attempt of `write`, beside the others: the write lock shared.
    async fn write_once<T, F>(&self, f: &F) -> Attempt<T>
    where
        F: for<'t> AsyncFn(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        match self.connection().await {
            Ok(mut client) => attempt(&mut client, f, true).await,
            Err(e) => Attempt::Done(Err(e.into())),
        }
    }

    /// One attempt of `write` alone: the write lock held exclusively (on
    /// the session, from before the transaction's snapshot to after its
    /// commit), so no other write runs beside it to conflict with.
    async fn write_alone<T, F>(&self, f: &F) -> Attempt<T>
    where
        F: for<'t> AsyncFn(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
    {
        let mut alone = match self.hold_alone(WRITE_LOCK).await {
            Ok(held) => held,
            Err(e) => return Attempt::Done(Err(e.into())),
        };
        match alone.client() {
            Some(client) => attempt(client, f, false).await,
            None => Attempt::Done(Err(
                DbError::internal("a held lock without its connection").into()
            )),
        }
    }
}

/// The advisory lock every write holds shared and a write run alone holds
/// exclusively ("plankton" in ASCII; turns use hashes of their keys).
const WRITE_LOCK: i64 = 0x706c_616e_6b74_6f6e;

/// One attempt of `f` in a SERIALIZABLE transaction on `client`; with
/// `shared`, the transaction first takes the write lock shared.
async fn attempt<T, F>(client: &mut deadpool_postgres::Object, f: &F, shared: bool) -> Attempt<T>
where
    F: for<'t> AsyncFn(&Tx<'t, PgTx<'t>>) -> Result<T, AppError>,
{
    let tx = match client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()
        .await
    {
        Ok(tx) => tx,
        Err(e) => return Attempt::Done(Err(DbError::from(e).into())),
    };
    if shared {
        let lock = format!("SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})");
        match tx.batch_execute(&lock).await.map_err(DbError::from) {
            Ok(()) => {}
            Err(DbError::Busy) => return Attempt::Conflict,
            Err(e) => return Attempt::Done(Err(e.into())),
        }
    }
    let pg = PgTx::new(&tx);
    let out = f(&Tx::Postgres(&pg)).await;
    if pg.conflicted() {
        return Attempt::Conflict;
    }
    let Ok(out) = out else {
        // Dropping the transaction rolls it back.
        return Attempt::Done(out);
    };
    match tx.commit().await.map_err(DbError::from) {
        Ok(()) => Attempt::Done(Ok(out)),
        Err(DbError::Busy) => Attempt::Conflict,
        Err(e) => Attempt::Done(Err(e.into())),
    }
}

/// How long a read or a write may take in all, waits for a connection
/// included, before it is answered unavailable: a server that hangs with
/// its connections open (stopped, or a machine gone silent on a Unix
/// socket, where TCP keepalives do not reach) must still give a 503
/// within 10 s (§18).
pub(super) const ANSWER_LIMIT: Duration = Duration::from_secs(8);

/// `work`, or unavailable once `limit` has passed. A statement cut short
/// is left to its connection: its answer is read and dropped when the
/// server answers, a transaction cut short is rolled back (its `ROLLBACK`
/// queued behind it) and a commit cut short may land, as with any answer
/// lost on the way.
pub(super) async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    match tokio::time::timeout(limit, work).await {
        Ok(out) => out,
        Err(_) => Err(DbError::Unavailable(format!(
            "PostgreSQL did not answer within {} s",
            limit.as_secs()
        ))
        .into()),
    }
}

/// How many times a write is run before its conflicts are given up on.
const MAX_ATTEMPTS: u32 = 30;

/// After how many conflicts a write runs alone.
const ALONE_AFTER: u32 = 6;

/// The outcome of one attempt of a write.
enum Attempt<T> {
    /// Committed, or failed for a reason running it again would not mend.
    Done(Result<T, AppError>),
    /// Not serializable against a concurrent transaction: run it again.
    Conflict,
}

/// The pause before the `attempt`th run of a conflicted write: up to
/// 1 ms doubled per attempt (at most 64 ms), a random part of it, so that
/// the writers that conflicted do not meet again in step.
fn pause_before(attempt: u32) -> Duration {
    let ceiling = 1_000u64 << attempt.min(6);
    let mut bytes = [0u8; 8];
    // Without random bytes the pause is the ceiling: slower, still correct.
    let spread = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) % ceiling,
        Err(_) => ceiling,
    };
    Duration::from_micros(spread + 100)
}

/// One connection to `url`, tried once, for the operator's commands
/// (`port-db`, `backup`, `check`): no pool, no waiting for a server that
/// is not there, no migration. Its driver runs on the current runtime.
/// The error names the URL, redacted.
pub(crate) async fn connect_once(url: &PgUrl) -> Result<tokio_postgres::Client, String> {
    let tls = tls::connector(url)
        .map_err(|message| format!("database {url}: TLS: {}", url.redact(&message)))?;
    let (client, connection) = connection_settings(url)
        .connect(tls)
        .await
        .map_err(|e| format!("database {url}: {}", url.redact(&describe(&e))))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::debug!("a connection of an operator's command ended: {e}");
        }
    });
    Ok(client)
}

/// The URL's settings with plankton's defaults where it says nothing: a
/// time limit on connecting; TCP keepalives and a user timeout, so that a
/// server gone silent (a dead machine, a dropped route) is noticed in
/// seconds rather than hours (§18: a 503 within 10 s, never a hang); and
/// the application name operators see in `pg_stat_activity`.
fn connection_settings(url: &PgUrl) -> tokio_postgres::Config {
    let mut config = url.config().clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(POOL_WAIT);
    }
    if config.get_keepalives_interval().is_none() {
        config
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
    }
    if config.get_application_name().is_none() {
        config.application_name("plankton");
    }
    config
}

/// The first connection, tried until it answers or the deadline passes;
/// a refusal by the server ends the waiting at once.
async fn first_connection(
    pool: &Pool,
    url: &PgUrl,
) -> Result<deadpool_postgres::Object, PgOpenError> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        let cause = match pool.get().await {
            Ok(client) => return Ok(client),
            Err(PoolError::Backend(e)) if !worth_retrying(&e) => {
                return Err(PgOpenError::Refused {
                    url: url.to_string(),
                    cause: url.redact(&describe(&e)),
                })
            }
            Err(PoolError::Backend(e)) => describe(&e),
            Err(e) => crate::error::chain(&e),
        };
        if Instant::now() + RETRY_PAUSE >= deadline {
            return Err(PgOpenError::Unreachable {
                url: url.to_string(),
                cause: url.redact(&cause),
            });
        }
        log::info!(
            "database {url}: not reachable yet ({}); trying again",
            url.redact(&cause)
        );
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// A warning when the server may lose what it answered: `fsync` off (a
/// machine crash corrupts it) or `synchronous_commit` off (a crash loses
/// the last commits, which plankton had answered as durable, §10).
async fn warn_if_not_durable(client: &tokio_postgres::Client, shown: &str) {
    for setting in ["fsync", "synchronous_commit"] {
        match client.query_one(&format!("SHOW {setting}"), &[]).await {
            Ok(row) if row.get::<_, String>(0) == "off" => log::warn!(
                "database {shown}: the server runs with {setting} off: \
                 an answered write may be lost in a crash"
            ),
            Ok(_) => {}
            Err(e) => log::warn!("database {shown}: cannot read {setting}: {}", describe(&e)),
        }
    }
}

/// The catalogue's tables that have rows and have never been analyzed
/// (neither by hand nor by autovacuum, which waits a minute and then
/// for 10 % of changes): the planner then guesses a table of a few rows
/// and a page of 25 of 10,000 images scans and sorts all of them (14 ms,
/// against 0.1 ms through the index once analyzed). After a bulk load (a
/// restore, `port-db`, a fast start) the first start analyzes them; a
/// catalogue with statistics is left to autovacuum.
const NEVER_ANALYZED: &str = "SELECT relname::text FROM pg_stat_user_tables \
    WHERE relname IN ('images', 'image_properties', 'image_members', 'image_tags') \
    AND schemaname = current_schema() AND n_live_tup > 0 \
    AND last_analyze IS NULL AND last_autoanalyze IS NULL";

/// `ANALYZE` of the tables `NEVER_ANALYZED` finds; a failure is a warning
/// (the catalogue serves without statistics, only slower).
async fn analyze_if_never(client: &tokio_postgres::Client, shown: &str) {
    let tables: Vec<String> = match client.query(NEVER_ANALYZED, &[]).await {
        Ok(rows) => rows.iter().filter_map(|r| r.try_get(0).ok()).collect(),
        Err(e) => {
            log::warn!(
                "database {shown}: cannot read the tables' statistics: {}",
                describe(&e)
            );
            return;
        }
    };
    if tables.is_empty() {
        return;
    }
    // Names from the fixed list above, never a user's.
    match client
        .batch_execute(&format!("ANALYZE {}", tables.join(", ")))
        .await
    {
        Ok(()) => log::info!(
            "database {shown}: analyzed {} (no statistics yet)",
            tables.join(", ")
        ),
        Err(e) => log::warn!("database {shown}: ANALYZE failed: {}", describe(&e)),
    }
}

/// `PostgreSQL <server_version>`, or just `PostgreSQL` if it cannot be read.
async fn server_version(client: &tokio_postgres::Client) -> String {
    match client.query_one("SHOW server_version", &[]).await {
        Ok(row) => format!("PostgreSQL {}", row.get::<_, String>(0)),
        Err(_) => "PostgreSQL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::schema::MIGRATIONS;

    /// One history for both engines: a migration added to SQLite's list
    /// needs its PostgreSQL counterpart here, and this says so.
    #[test]
    fn postgres_has_every_migration_sqlite_has() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let db = super::super::sqlite::SqliteCatalogue::open(&path).unwrap();
        db.close();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(MIGRATIONS.len(), usize::try_from(version).unwrap());
    }
}
