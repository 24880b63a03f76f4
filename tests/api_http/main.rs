//! The `api` suite again, every test unchanged, with plankton on HTTP
//! backends: a fake Astakos for identity and a fake Pithos (over TLS, with a
//! CA made at test time) for the store, both real servers on port 0 speaking
//! the documented protocols. Plus `faults`: what plankton answers when those
//! backends are down, slow, wrong or unwilling.

/// The server talks to HTTP backends; fs-store-only tests skip themselves.
pub const HTTP_BACKENDS: bool = true;

/// Whether the catalogue is PostgreSQL (`api_pg`); tests of the SQLite
/// file itself skip themselves there.
pub const POSTGRES: bool = false;

pub use fakes::Backends;

mod fakes;
mod faults;
mod inspect;

include!("../api/modules.rs");
