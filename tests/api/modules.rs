// The modules of the `api` suite, in one place: `tests/api/main.rs`,
// `tests/api_http/main.rs` and `tests/api_pg/main.rs` each `include!` this
// list, so a module added here runs in all three (the fs store and SQLite,
// HTTP backends, PostgreSQL). Each path is written from `tests/`'s
// subdirectories (`../api/`), the same from any of the three.

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
#[path = "../api/kept.rs"]
mod kept;
#[path = "../api/lifecycle.rs"]
mod lifecycle;
#[path = "../api/listing.rs"]
mod listing;
#[path = "../api/listing_nulls.rs"]
mod listing_nulls;
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
