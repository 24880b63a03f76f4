//! The fake backends of the `api_http` suite: small actix apps on port 0 that
//! speak the documented wire protocols of Astakos (`astakos`) and Pithos
//! (`pithos`), the latter over TLS with a CA made at test time (`tls`).
//! They share the users of the test token file, so that every test of the
//! `api` suite runs unchanged against them.

pub mod astakos;
pub mod pithos;
pub mod tls;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use plankton::config::{IdentityBackendKind, Settings, StoreBackendKind};

use crate::support::users::{ALICE, ALICE_NAME, BOB, CAROL};

/// A user both fakes know: the token, the user id Astakos answers for it, and
/// a display name.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub token: String,
    pub id: String,
    pub name: String,
}

/// The users of the test token file (`tests/support/users.rs`), as the fakes know them.
pub fn test_users() -> Vec<FakeUser> {
    [(ALICE, ALICE_NAME), (BOB, "Bob"), (CAROL, "Carol")]
        .iter()
        .map(|((token, id), name)| FakeUser {
            token: token.to_string(),
            id: id.to_string(),
            name: name.to_string(),
        })
        .collect()
}

/// A running fake server: its address and a handle that stops it when dropped.
pub struct Served {
    /// `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub origin: String,
    handle: ServerHandle,
}

impl Drop for Served {
    fn drop(&mut self) {
        // The stop command is sent at once; the future only waits for it.
        drop(self.handle.stop(false));
    }
}

/// Serves the routes `config` sets up on 127.0.0.1, port 0, over TLS if given a
/// server configuration. One worker: the handlers never block it.
pub fn serve(
    tls: Option<rustls::ServerConfig>,
    config: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a fake backend");
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || App::new().configure(config.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0);
    let (server, scheme) = match tls {
        Some(tls) => (server.listen_rustls_0_23(listener, tls), "https"),
        None => (server.listen(listener), "http"),
    };
    let server = server.expect("listen").run();
    let handle = server.handle();
    tokio::spawn(server);
    Served {
        origin: format!("{scheme}://127.0.0.1:{port}"),
        handle,
    }
}

/// A URL on which nothing listens: a port bound for a moment and let go.
pub fn closed_url(scheme: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("{scheme}://127.0.0.1:{port}")
}

/// The fake Astakos (plain HTTP) and the fake Pithos (HTTPS) of one test app,
/// and the CA file plankton is told to trust.
pub struct Backends {
    pub astakos: astakos::FakeAstakos,
    pub pithos: pithos::FakePithos,
    pub ca_file: PathBuf,
}

impl Backends {
    /// Starts both fakes: Pithos serves the objects under `root`; the CA
    /// certificate is written into `dir`.
    pub fn start(dir: &Path, root: &Path) -> Backends {
        let users = test_users();
        let ca = tls::make_ca();
        let ca_file = dir.join("test-ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).unwrap();
        Backends {
            astakos: astakos::FakeAstakos::start(&users, None),
            pithos: pithos::FakePithos::start(root, &users, Some(ca.server)),
            ca_file,
        }
    }

    /// Points plankton's identity and store at the fakes.
    pub fn configure(&self, settings: &mut Settings) {
        settings.identity.backend = IdentityBackendKind::Astakos;
        settings.identity.auth_url = Some(self.astakos.url());
        settings.store.backend = StoreBackendKind::Pithos;
        settings.store.pithos_url = Some(self.pithos.url());
        settings.http.tls_ca_file = Some(self.ca_file.clone());
    }
}
