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

mod authorization;
mod clients;
mod control_chars;
mod data;
mod deleted;
mod dialects;
mod documented;
mod durability;
mod errors;
mod heads;
mod helpers;
mod image_model;
mod json_bodies;
mod lifecycle;
mod listing;
mod locations;
mod members;
mod metadata_headers;
mod metrics;
mod objects;
mod objects_blocks;
mod objects_copy;
mod objects_defects;
mod objects_links;
mod objects_pithos;
mod pithos_hash;
mod registration;
mod robustness;
mod routing;
mod smoke;
#[path = "../support/mod.rs"]
mod support;
mod uploads;
mod util;
mod v2_bad_input;
mod v2_basics;
mod v2_hashes;
mod v2_images;
mod v2_members;
