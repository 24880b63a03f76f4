//! End-to-end tests: the real server on a real port, driven over HTTP.

mod authorization;
mod data;
mod dialects;
mod documented;
mod durability;
mod errors;
mod helpers;
mod lifecycle;
mod listing;
mod locations;
mod members;
mod metadata_headers;
mod pithos_hash;
mod robustness;
mod routing;
mod smoke;
mod util;
