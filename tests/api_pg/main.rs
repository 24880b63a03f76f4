//! The `api` suite again, every test unchanged, with plankton's catalogue
//! in PostgreSQL: each server a fresh database of the test binary's own
//! throwaway PostgreSQL server (`support::postgres`), copied from a
//! migrated template. The tests that open the SQLite file behind the
//! server skip themselves here (`POSTGRES`).

/// The server talks to the token file and the fs store, as in `api`.
pub const HTTP_BACKENDS: bool = false;

/// The catalogue is PostgreSQL: tests that read or change the SQLite file
/// directly skip themselves.
pub const POSTGRES: bool = true;

/// No backends to start; the catalogue is the one thing configured.
pub struct Backends;

impl Backends {
    pub fn start(_dir: &std::path::Path, _root: &std::path::Path) -> Backends {
        Backends
    }

    pub fn configure(&self, settings: &mut plankton::config::Settings) {
        support::app::on_postgres(settings);
    }
}

mod several;

include!("../api/modules.rs");
