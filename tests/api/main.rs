//! End-to-end tests: the real server on a real port, driven over HTTP, with
//! the token file and the fs store (`api_http` runs these same tests against
//! fake Astakos and Pithos).

/// Whether the server talks to HTTP backends; tests that only make sense for
/// the fs store skip themselves when it does.
pub const HTTP_BACKENDS: bool = false;

/// Whether the catalogue is PostgreSQL (`api_pg`); tests of the SQLite
/// file itself skip themselves there.
pub const POSTGRES: bool = false;

/// No backends to start: the token file and the fs store need none.
pub struct Backends;

impl Backends {
    pub fn start(_dir: &std::path::Path, _root: &std::path::Path) -> Backends {
        Backends
    }

    pub fn configure(&self, _settings: &mut plankton::config::Settings) {}
}

include!("modules.rs");
