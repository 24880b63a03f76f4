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

#[path = "../api/authorization.rs"]
mod authorization;
#[path = "../api/clients.rs"]
mod clients;
#[path = "../api/control_chars.rs"]
mod control_chars;
#[path = "../api/data.rs"]
mod data;
#[path = "../api/deleted.rs"]
mod deleted;
#[path = "../api/dialects.rs"]
mod dialects;
#[path = "../api/documented.rs"]
mod documented;
#[path = "../api/durability.rs"]
mod durability;
#[path = "../api/errors.rs"]
mod errors;
#[path = "../api/heads.rs"]
mod heads;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/image_model.rs"]
mod image_model;
#[path = "../api/json_bodies.rs"]
mod json_bodies;
#[path = "../api/lifecycle.rs"]
mod lifecycle;
#[path = "../api/listing.rs"]
mod listing;
#[path = "../api/locations.rs"]
mod locations;
#[path = "../api/members.rs"]
mod members;
#[path = "../api/metadata_headers.rs"]
mod metadata_headers;
#[path = "../api/metrics.rs"]
mod metrics;
#[path = "../api/objects.rs"]
mod objects;
#[path = "../api/objects_blocks.rs"]
mod objects_blocks;
#[path = "../api/objects_copy.rs"]
mod objects_copy;
#[path = "../api/objects_defects.rs"]
mod objects_defects;
#[path = "../api/objects_links.rs"]
mod objects_links;
#[path = "../api/objects_pithos.rs"]
mod objects_pithos;
#[path = "../api/pithos_hash.rs"]
mod pithos_hash;
#[path = "../api/registration.rs"]
mod registration;
#[path = "../api/robustness.rs"]
mod robustness;
#[path = "../api/routing.rs"]
mod routing;
mod several;
#[path = "../api/smoke.rs"]
mod smoke;
#[path = "../support/mod.rs"]
mod support;
#[path = "../api/uploads.rs"]
mod uploads;
#[path = "../api/util.rs"]
mod util;
#[path = "../api/v2_bad_input.rs"]
mod v2_bad_input;
#[path = "../api/v2_basics.rs"]
mod v2_basics;
#[path = "../api/v2_hashes.rs"]
mod v2_hashes;
#[path = "../api/v2_images.rs"]
mod v2_images;
#[path = "../api/v2_members.rs"]
mod v2_members;

/// A module added to the `api` suite must be added here too, or it would
/// silently not run against PostgreSQL.
#[test]
fn every_module_of_the_api_suite_runs_here_too() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let api = std::fs::read_to_string(dir.join("api/main.rs")).unwrap();
    let here = std::fs::read_to_string(dir.join("api_pg/main.rs")).unwrap();
    let missing: Vec<&str> = api
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .filter(|m| *m != "support")
        .filter(|m| !here.contains(&format!("#[path = \"../api/{m}.rs\"]\nmod {m};")))
        .collect();
    assert!(
        missing.is_empty(),
        "add to tests/api_pg/main.rs: {missing:?}"
    );
}
