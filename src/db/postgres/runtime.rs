//! The engine's own runtime: one current-thread tokio runtime on a thread
//! of its own, started on first use and kept for the process's life. Every
//! connection to PostgreSQL is made and driven there (`EngineConnect`), so
//! that a connection's socket and its task belong to no actix worker: a
//! worker that is busy, or stopped by a graceful shutdown, never holds up
//! the connections other workers share through the pool. The workers only
//! talk to a connection through its client's channel, which needs no
//! runtime of its own.

use std::sync::OnceLock;

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, Error};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The engine's runtime, started on the first call.
pub(super) fn engine() -> &'static Handle {
    static ENGINE: OnceLock<Handle> = OnceLock::new();
    ENGINE.get_or_init(start)
}

/// Starts the engine's thread: its runtime runs until the process ends
/// (`block_on` of a future that never ends keeps its I/O and timer
/// drivers going, which `Handle::block_on` from other threads relies on).
fn start() -> Handle {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("plankton-pg")
        .build()
        // Without a runtime the process cannot serve at all: said at once.
        .expect("cannot start the PostgreSQL engine's runtime");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("plankton-pg".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("cannot start the PostgreSQL engine's thread");
    handle
}

/// Connects on the engine's runtime and drives each connection there.
pub(super) struct EngineConnect {
    /// TLS as the URL's `sslmode` asks.
    pub(super) tls: MakeRustlsConnect,
}

impl Connect for EngineConnect {
    fn connect(&self, config: &Config) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), Error>> {
        let config = config.clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            // The socket is opened on the engine's runtime (its reactor
            // owns it), then its connection driven there.
            let opening = engine().spawn(async move { config.connect(tls).await });
            let (client, connection) = match opening.await {
                Ok(opened) => opened?,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => return Err(runtime_gone().await),
            };
            let driving = engine().spawn(async move {
                if let Err(e) = connection.await {
                    log::warn!("database: a connection to PostgreSQL ended: {e}");
                }
            });
            Ok((client, driving))
        })
    }
}

/// The error of a connection the engine's runtime dropped (it lives as
/// long as the process, so only at exit). tokio-postgres makes its errors
/// only itself: a configuration with no host is refused at once, without
/// any I/O, which gives one.
async fn runtime_gone() -> Error {
    match Config::new().connect(tokio_postgres::NoTls).await {
        Err(e) => e,
        Ok(_) => unreachable!("a configuration without a host never connects"),
    }
}
