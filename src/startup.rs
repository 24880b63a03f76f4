//! Building the application from settings: backends, database, listener, server.

use std::cell::Cell;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, KeepAlive};
use actix_web::middleware::Condition;
use actix_web::{web, App, HttpMessage, HttpServer};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::backends::http::build_clients;
use crate::backends::identity::throttle::Guesses;
use crate::backends::identity::{Astakos, Identity, TokenFile};
use crate::backends::store::{FsStore, ObjectStore, PithosStore};
use crate::config::{Database, IdentityBackendKind, Settings, StoreBackendKind};
use crate::db::{Catalogue, PgCatalogue};
use crate::error::AppError;
use crate::http::conn::{self, Admission};
use crate::http::AppState;
use crate::metrics::Metrics;
use crate::registry::{Registry, Uploads};
use crate::router::dispatch;
use crate::web::WebState;

/// Open connections per worker (one worker per core).
pub const MAX_CONNECTIONS_PER_WORKER: usize = 1024;

/// Blocking threads per worker (actix starts one worker per core).
pub const BLOCKING_THREADS_PER_WORKER: usize = 4;

/// The cause of a startup error, from the layer that met it.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the service could not start; `error::chain` prints it with its causes.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The HTTP client of the network backends could not be built.
    #[error("cannot start: {0}")]
    HttpClient(String),
    /// The token file cannot be used.
    #[error("cannot start")]
    TokenFile(#[source] Cause),
    /// The store root cannot be used.
    #[error("cannot start: store root {}", path.display())]
    StoreRoot {
        /// The configured root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database cannot be opened.
    #[error("cannot start")]
    Database(#[source] Cause),
    /// The lock beside the database cannot be taken.
    #[error("cannot start: lock file {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process serves the catalogue.
    #[error(
        "cannot start: the catalogue {} is in use by process {holder} (it holds {}); one server per catalogue: stop that one first",
        database.display(),
        lock.display()
    )]
    InUse {
        /// The database.
        database: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The process id written in the lock file.
        holder: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("cannot start: {0}")]
    Tls(String),
    /// The listening socket cannot be bound.
    #[error("cannot start: listen {addr}")]
    Listen {
        /// The configured address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    signals: Signals,
    /// Held until the process ends: one server per catalogue.
    _lock: Option<Arc<File>>,
}

/// The signals a server takes, claimed at build so that none of them ends
/// the process by its default action once the server is bound.
struct Signals {
    hangup: Option<Signal>,
    stop: Option<StopSignals>,
}

/// SIGINT and SIGTERM drain, SIGQUIT stops at once (as actix did).
struct StopSignals {
    int: Signal,
    term: Signal,
    quit: Signal,
}

impl StopSignals {
    fn claim() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// The next of them to arrive.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.quit.recv() => "SIGQUIT",
        }
    }
}

/// What start-up does with the catalogue before `Application::build`, on
/// engines that wait on a network: with a PostgreSQL URL, connects (within
/// 30 s), warns if the server is not durable, and migrates the schema;
/// with a SQLite file, nothing (`build` opens it). For the tests too: it
/// is how their PostgreSQL template database is migrated.
pub async fn prepare_catalogue(settings: &Settings) -> Result<(), StartupError> {
    let Database::Postgres(url) = &settings.database else {
        return Ok(());
    };
    let db = PgCatalogue::open(url, settings.database_pool)
        .await
        .map_err(|e| StartupError::Database(e.into()))?;
    let (from, to) = db.migrated();
    log::info!(
        "database {url}: {}, schema version {to}{}, a pool of {} connections",
        db.describe(),
        if from == to {
            String::new()
        } else {
            format!(" (migrated from {from})")
        },
        db.pool_size()
    );
    Ok(())
}

/// The start-up line: version, address, backends.
fn announce(settings: &Settings, addr: std::net::SocketAddr, backends: &str) {
    let scheme = if settings.tls.certificate.is_some() {
        "https"
    } else {
        "http"
    };
    log::info!(
        "plankton {} listening on {scheme}://{addr}{} ({backends})",
        env!("CARGO_PKG_VERSION"),
        settings.base_path,
    );
}

/// The catalogue `database` names, opened: a SQLite file under its lock
/// (one process per file), or a PostgreSQL database (any number).
fn open_catalogue(
    settings: &Settings,
    metrics: &Metrics,
) -> Result<(Catalogue, Option<Arc<File>>), StartupError> {
    let opened = match &settings.database {
        Database::File(path) => {
            let lock = lock_catalogue(path)?;
            let db = Catalogue::open(path, metrics.writer.clone())
                .map_err(|e| StartupError::Database(e.into()))?;
            (db, lock)
        }
        Database::Postgres(url) => {
            let db = Catalogue::connect(url, settings.database_pool)
                .map_err(|e| StartupError::Database(e.into()))?;
            (db, None)
        }
    };
    Ok(opened)
}

impl Application {
    /// Opens the backends and the database and binds the listener (port 0 picks one).
    /// Must be called from within an async runtime.
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let metrics = Metrics::new();
        let (identity, store) = backends(&settings, &metrics)?;
        let (db, lock) = open_catalogue(&settings, &metrics)?;
        let listener = TcpListener::bind(&settings.listen).map_err(listen_error(&settings))?;
        let addr = listener.local_addr().map_err(listen_error(&settings))?;
        let backends = format!(
            "identity: {}; store: {}; database: {}; {}",
            identity.describe(),
            store.describe(),
            settings.database,
            db.describe()
        );
        announce(&settings, addr, &backends);
        let signals = Signals::claim();
        let uploads = Uploads {
            container: settings.store.upload_container.clone(),
            quota: settings.store.quota,
            hashing: settings.hashing_algorithm,
            inspection: settings.images.inspection,
        };
        let limits = settings.limits.clone();
        let registry = Registry::new(db, store, identity, limits, (uploads, metrics.clone()));
        // On a thread of its own, outside the runtime `build` runs in: the
        // catalogue's blocking reads may not wait inside an async context.
        std::thread::scope(|s| {
            s.spawn(|| registry.recover_uploads())
                .join()
                .unwrap_or_else(|_| Err(AppError::internal("recovering uploads panicked")))
        })
        .map_err(|e| StartupError::Database(e.into()))?;
        let state = web::Data::new(AppState {
            registry,
            base_path: settings.base_path.clone(),
            formats: settings.formats.clone(),
            metrics,
            metrics_access: settings.metrics.access,
            guesses: Guesses::new(
                settings.identity.failures_per_minute,
                settings.identity.failure_addresses,
            ),
            links: crate::http::links::Links {
                public_url: settings.public_url.clone(),
                trust_forwarded: settings.trust_forwarded_headers,
            },
        });
        let server = http_server(&settings, state.clone(), listener)?;
        Ok(Application {
            port: addr.port(),
            server,
            state,
            signals,
            _lock: lock,
        })
    }

    /// The port the server is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT or SIGTERM, or the handle): requests in
    /// flight are answered, then the database is closed cleanly; a second
    /// SIGINT or SIGTERM stops at once. SIGHUP re-reads the token file meanwhile.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            signals,
            _lock,
            ..
        } = self;
        let reloader = signals
            .hangup
            .map(|hup| tokio::spawn(reread_on(hup, state.clone())));
        let settler = tokio::spawn(settle_abandoned(state.clone()));
        settle_owed(state.clone());
        let (forced_tx, forced_rx) = tokio::sync::oneshot::channel();
        let stopper = signals
            .stop
            .map(|stop| tokio::spawn(stop_on(stop, server.handle(), forced_tx)));
        // Dropping the server future on a second signal stops its workers
        // without waiting for the requests in flight.
        let result = tokio::select! {
            result = server => result,
            Ok(()) = forced_rx => Ok(()),
        };
        for task in [reloader, stopper, Some(settler)].into_iter().flatten() {
            task.abort();
        }
        state.registry.close();
        log::info!("stopped; database closed");
        result
    }
}

/// Once, at start: the `os_hash`es that large registrations left owed when
/// their server stopped first (`Registry::settle_owed_os_hashes`), on a
/// thread of its own with a runtime of its own (a catalogue transaction is
/// awaited where it was begun, so this work cannot move between threads);
/// the catalogue and the store serve it as they serve any request.
fn settle_owed(state: web::Data<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("plankton-owed".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let settled = match runtime {
                Ok(rt) => rt.block_on(state.registry.settle_owed_os_hashes()),
                Err(e) => Err(crate::error::AppError::internal(e)),
            };
            if let Err(e) = settled {
                log::warn!("computing the os_hashes large registrations left owed: {e}");
            }
        });
    if let Err(e) = spawned {
        log::warn!("no thread to compute the os_hashes left owed: {e}");
    }
}

/// How often a server looks for what processes that died beside it left
/// in the store root's staging.
const SETTLE_EVERY: Duration = Duration::from_secs(30);

/// Now and then, settles what processes that died while others served the
/// same store root left in its staging (`FsStore::recover`), on a blocking
/// thread: with several processes no one starts alone to do it.
async fn settle_abandoned(state: web::Data<AppState>) {
    loop {
        tokio::time::sleep(SETTLE_EVERY).await;
        let s = state.clone();
        match web::block(move || s.registry.recover_uploads()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("settling what a dead process left in staging: {e}"),
            Err(e) => log::warn!("settling what a dead process left in staging: {e}"),
        }
    }
}

impl Signals {
    fn claim() -> Signals {
        let hangup = signal(SignalKind::hangup())
            .map_err(|e| log::warn!("SIGHUP will not re-read the token file: {e}"))
            .ok();
        let stop = StopSignals::claim()
            .map_err(|e| {
                log::warn!("SIGINT, SIGTERM and SIGQUIT will end the process at once: {e}");
            })
            .ok();
        Signals { hangup, stop }
    }
}

async fn reread_on(mut hup: Signal, state: web::Data<AppState>) {
    while hup.recv().await.is_some() {
        log::info!("SIGHUP: re-reading the token file");
        state.registry.reload_identity();
    }
}

/// SIGINT and SIGTERM alike (Ctrl-C must not cut uploads): the first
/// drains, the second forces; SIGQUIT forces at once.
async fn stop_on(
    mut stops: StopSignals,
    handle: ServerHandle,
    forced: tokio::sync::oneshot::Sender<()>,
) {
    let mut name = stops.next().await;
    if name != "SIGQUIT" {
        log::info!(
            "{name}: answering the requests in flight, then stopping (at most {SHUTDOWN_TIMEOUT} s); \
             send SIGINT or SIGTERM again to stop at once"
        );
        // The command is sent now; its completion is the server future's.
        drop(handle.stop(true));
        name = stops.next().await;
    }
    log::warn!("{name}: stopping now, cutting the requests in flight");
    let _ = forced.send(());
}

/// Seconds a stopping server waits for the requests in flight.
const SHUTDOWN_TIMEOUT: u64 = 30;

/// The catalogue locks this process holds, for a server built while
/// another of the same process is still stopping (a library user's restart):
/// it shares the lock rather than being refused by its own process.
static HELD: Mutex<Vec<(PathBuf, Weak<File>)>> = Mutex::new(Vec::new());

/// An exclusive lock on `<database>.lock` holding this process's id: SQLite
/// serves one process per catalogue. `check` and `backup` only read and do
/// not take it. A missing directory is left for the database to report.
fn lock_catalogue(database: &Path) -> Result<Option<Arc<File>>, StartupError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let failed = |source| StartupError::Lock {
        path: path.clone(),
        source,
    };
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path);
    let mut file = match opened {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(failed)?,
    };
    let key = std::fs::canonicalize(&path).map_err(failed)?;
    let mut held = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(ours) = held.iter().find(|(k, _)| *k == key) {
        return Ok(ours.1.upgrade());
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use(database, path)),
        Err(TryLockError::Error(e)) => return Err(failed(e)),
    }
    file.set_len(0)
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .map_err(failed)?;
    let file = Arc::new(file);
    held.push((key, Arc::downgrade(&file)));
    Ok(Some(file))
}

/// Another process holds the lock: its id is in the file.
fn in_use(database: &Path, lock: PathBuf) -> StartupError {
    let holder = std::fs::read_to_string(&lock).unwrap_or_default();
    StartupError::InUse {
        database: database.to_path_buf(),
        holder: holder.trim().to_string(),
        lock,
    }
}

fn listen_error(settings: &Settings) -> impl Fn(std::io::Error) -> StartupError + '_ {
    move |source| StartupError::Listen {
        addr: settings.listen.clone(),
        source,
    }
}

/// The identity and store backends the settings choose.
fn backends(
    settings: &Settings,
    metrics: &Metrics,
) -> Result<(Identity, ObjectStore), StartupError> {
    // The clients, built once, shared by both network backends.
    let http = if settings.needs_http_client() {
        Some(build_clients(&settings.http).map_err(StartupError::HttpClient)?)
    } else {
        None
    };
    let timeout = Duration::from_secs(settings.http.timeout);
    let identity = match (settings.identity.backend, &http) {
        (IdentityBackendKind::Astakos, Some(clients)) => Identity::Astakos(Box::new(Astakos::new(
            clients.calls.clone(),
            settings.identity.auth_url.as_deref().unwrap_or_default(),
            Duration::from_secs(settings.identity.token_cache_ttl),
            timeout,
            settings.identity.token_cache_size,
            (metrics.identity_cache.clone(), metrics.backend.clone()),
        ))),
        _ => Identity::TokenFile(
            TokenFile::watch(&settings.identity.token_file)
                .map_err(|e| StartupError::TokenFile(e.into()))?,
        ),
    };
    let store = match (settings.store.backend, &http) {
        (StoreBackendKind::Pithos, Some(clients)) => ObjectStore::Pithos(PithosStore::new(
            clients,
            settings.store.pithos_url.as_deref().unwrap_or_default(),
            timeout,
            settings.store.sync_sharing,
            metrics.backend.clone(),
        )),
        _ => ObjectStore::Fs(Arc::new(
            FsStore::serve(&settings.store.root, settings.database.file().is_none()).map_err(
                |source| StartupError::StoreRoot {
                    path: settings.store.root.clone(),
                    source,
                },
            )?,
        )),
    };
    Ok((identity, store))
}

/// The HTTP server over the state, serving on `listener`.
fn http_server(
    settings: &Settings,
    state: web::Data<AppState>,
    listener: TcpListener,
) -> Result<Server, StartupError> {
    let web_state = web::Data::new(WebState::new(&settings.ui));
    let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let admission = Admission::new(
        settings.limits.max_connections_per_address,
        Duration::from_secs(settings.limits.keep_alive),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web_state.clone())
            // Inside the log's wrapper: it sees the router's answer.
            .wrap_fn(measure)
            // The access log only where its lines are kept: the logger
            // formats each request's line as it begins, whether or not
            // the line is written (a tenth of a HEAD's time in profiles).
            .wrap(Condition::new(access_log, crate::http::access::logger()))
            .default_service(web::to(dispatch))
    })
    // Connection limits, set here rather than left to actix's defaults
    // (tests/abuse checks them; docs/behaviour.md documents them). They
    // must come before `listen`, which takes them.
    .keep_alive(match settings.limits.keep_alive {
        0 => KeepAlive::Disabled,
        n => KeepAlive::Timeout(Duration::from_secs(n)),
    })
    .client_request_timeout(conn::HEAD_DEADLINE)
    .on_connect(move |io, data| admission.on_connect(io, data))
    .client_disconnect_timeout(Duration::from_secs(1))
    .max_connections(MAX_CONNECTIONS_PER_WORKER)
    .backlog(1024)
    // A streamed listing ends in a small chunk; with Nagle's algorithm it
    // waited for the client's delayed ACK (40 ms on Linux) after the
    // piece before it.
    .tcp_nodelay(true)
    // Blocking work (long reads, file hashing, uploads) runs on a small
    // pool per worker: more threads than cores buy nothing but memory
    // (each thread keeps its own allocator arena).
    .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
    .shutdown_timeout(SHUTDOWN_TIMEOUT)
    // SIGINT and SIGTERM are `run_until_stopped`'s: both drain.
    .disable_signals();
    let server = match (&settings.tls.certificate, &settings.tls.private_key) {
        (Some(certificate), Some(private_key)) => {
            let tls =
                crate::http::tls::config(certificate, private_key).map_err(StartupError::Tls)?;
            server.listen_rustls_0_23(listener, tls)
        }
        _ => server.listen(listener),
    };
    Ok(server.map_err(listen_error(settings))?.run())
}

/// The middleware of every request: paces its body, marks its connection
/// busy until the answer is out, and counts it for the metrics.
fn measure<S>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let started = std::time::Instant::now();
    let slow = Rc::new(Cell::new(false));
    if declares_body(&req) {
        let payload = req.take_payload();
        req.set_payload(crate::http::body::paced(payload, Rc::clone(&slow)));
    }
    let conn = conn::begin(&req);
    let metrics = crate::http::metrics::of(&req);
    if let Some(m) = &metrics {
        crate::http::metrics::count_request_body(&mut req, m);
    }
    let answer = srv.call(req);
    async move {
        let res = match answer.await {
            Ok(mut res) => {
                // The rest of a trickled body is not worth waiting for.
                if slow.get() {
                    let head = res.response_mut().head_mut();
                    head.set_connection_type(ConnectionType::Close);
                }
                conn::answered(res, conn, slow.get())
            }
            Err(e) => {
                conn::failed(conn);
                return Err(e);
            }
        };
        Ok(match metrics {
            Some(m) => crate::http::metrics::observe(res, &m, started),
            None => res,
        })
    }
}

/// Whether a request says it has a body (a length above 0, or chunks).
fn declares_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key("transfer-encoding")
        || headers
            .get("content-length")
            .is_some_and(|v| v.as_bytes() != b"0")
}
