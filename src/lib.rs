//! plankton: a single-binary image registry speaking Synnefo's Cyclades/Image
//! API and the OpenStack Glance v1 API, with its catalogue in SQLite.
//!
//! The layers, top down (an import only ever points down):
//! - `startup`, `router`: the server, and which surface a path belongs to;
//! - surfaces: `api` (the image API), `identity` (offline identity),
//!   `objects` (the object-store endpoint), `web` (the browser view), over
//!   `http`, what they share;
//! - `registry`: the use cases, in domain types;
//! - `db` (every SQL statement) and `backends` (identity, object store);
//! - `domain`, `error`, `config`: types every layer uses.

mod api;
mod backends;
pub mod commands;
pub mod config;
pub mod database_url;
mod db;
mod domain;
pub mod error;
mod http;
mod identity;
mod inspect;
mod metrics;
mod objects;
#[cfg(test)]
mod proptests;
mod registry;
mod router;
pub mod startup;
mod v2;
mod web;
