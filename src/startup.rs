//! Building the application from settings: backends, database, listener, server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, ServiceResponse};
use actix_web::http::KeepAlive;
use actix_web::middleware::{Condition, Logger};
use actix_web::{web, App, HttpServer};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::backends::http::build_clients;
use crate::backends::identity::{Astakos, Identity, TokenFile};
use crate::backends::store::{FsStore, ObjectStore, PithosStore};
use crate::config::{IdentityBackendKind, Settings, StoreBackendKind};
use crate::db::Catalogue;
use crate::http::{AppState, CallerId};
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
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database cannot be opened.
    #[error("cannot start")]
    Database(#[source] Cause),
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
    hangup: Option<Signal>,
}

impl Application {
    /// Opens the backends and the database and binds the listener (port 0 picks one).
    /// Must be called from within an async runtime.
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let needs_http = settings.identity.backend == IdentityBackendKind::Astakos
            || settings.store.backend == StoreBackendKind::Pithos;
        // The clients, built once, shared by both network backends.
        let http = if needs_http {
            Some(build_clients(&settings.http).map_err(StartupError::HttpClient)?)
        } else {
            None
        };
        let timeout = Duration::from_secs(settings.http.timeout);
        let metrics = Metrics::new();
        let identity = match (settings.identity.backend, &http) {
            (IdentityBackendKind::Astakos, Some(clients)) => Identity::Astakos(Astakos::new(
                clients.calls.clone(),
                settings.identity.auth_url.as_deref().unwrap_or_default(),
                Duration::from_secs(settings.identity.token_cache_ttl),
                timeout,
                settings.identity.token_cache_size,
                (metrics.identity_cache.clone(), metrics.backend.clone()),
            )),
            _ => Identity::TokenFile(
                TokenFile::open(&settings.identity.token_file)
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
            _ => ObjectStore::Fs(Arc::new(FsStore::serve(&settings.store.root).map_err(
                |source| StartupError::StoreRoot {
                    path: settings.store.root.clone(),
                    source,
                },
            )?)),
        };
        let db = Catalogue::open(&settings.database, metrics.writer.clone())
            .map_err(|e| StartupError::Database(e.into()))?;
        let listen = |source| StartupError::Listen {
            addr: settings.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&settings.listen).map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        log::info!(
            "plankton {} listening on http://{addr}{} (identity: {}; store: {}; database: {}; {})",
            env!("CARGO_PKG_VERSION"),
            settings.base_path,
            identity.describe(),
            store.describe(),
            settings.database.display(),
            db.describe(),
        );
        // Take SIGHUP now, before serving: its default action would end the process.
        let hangup = signal(SignalKind::hangup())
            .map_err(|e| log::warn!("SIGHUP will not re-read the token file: {e}"))
            .ok();
        let uploads = Uploads {
            container: settings.store.upload_container.clone(),
            quota: settings.store.quota,
        };
        let registry = Registry::new(
            db,
            store,
            identity,
            settings.limits.clone(),
            (uploads, metrics.clone()),
        );
        registry
            .recover_uploads()
            .map_err(|e| StartupError::Database(e.into()))?;
        let state = web::Data::new(AppState {
            registry,
            base_path: settings.base_path.clone(),
            formats: settings.formats.clone(),
            metrics: metrics.clone(),
            metrics_access: settings.metrics.access,
        });
        let app_state = state.clone();
        let web_state = web::Data::new(WebState::new(&settings.ui));
        let access_log =
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web_state.clone())
                // Inside the log's wrapper: it sees the router's answer.
                .wrap_fn(measure)
                // The access log only where its lines are kept: the logger
                // formats each request's line as it begins, whether or not
                // the line is written (a tenth of a HEAD's time in profiles).
                .wrap(Condition::new(
                    access_log,
                    Logger::new("%a \"%r\" %s %b %Dms user=%{user}xo").custom_response_replace(
                        "user",
                        |res| {
                            res.response()
                                .extensions()
                                .get::<CallerId>()
                                .map(|c| c.0.clone())
                                .unwrap_or_else(|| "-".into())
                        },
                    ),
                ))
                .default_service(web::to(dispatch))
        })
        // Connection limits, set here rather than left to actix's defaults
        // (tests/abuse checks them; docs/behaviour.md documents them). They
        // must come before `listen`, which takes them.
        .keep_alive(match settings.limits.keep_alive {
            0 => KeepAlive::Disabled,
            n => KeepAlive::Timeout(Duration::from_secs(n)),
        })
        .client_request_timeout(Duration::from_secs(5))
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
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(listen)?
        .run();
        Ok(Application {
            port: addr.port(),
            server,
            state,
            hangup,
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

    /// Serves until stopped (SIGINT / SIGTERM, or the handle): requests in
    /// flight are answered, then the database is closed cleanly. SIGHUP
    /// re-reads the token file meanwhile.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            hangup,
            ..
        } = self;
        let reloader = hangup.map(|mut hup| {
            let state = state.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    log::info!("SIGHUP: re-reading the token file");
                    state.registry.reload_identity();
                }
            })
        });
        let result = server.await;
        if let Some(task) = reloader {
            task.abort();
        }
        state.registry.close();
        log::info!("stopped; database closed");
        result
    }
}

/// The metrics middleware: counts the request's body, then its answer.
fn measure<S>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let started = std::time::Instant::now();
    let metrics = crate::http::metrics::of(&req);
    if let Some(m) = &metrics {
        crate::http::metrics::count_request_body(&mut req, m);
    }
    let answer = srv.call(req);
    async move {
        let res = answer.await?;
        Ok(match metrics {
            Some(m) => crate::http::metrics::observe(res, &m, started),
            None => res,
        })
    }
}
