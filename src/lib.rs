//! plankton: a single-binary image registry speaking Synnefo's Cyclades/Image
//! API and the OpenStack Glance v1 API, with its catalogue in SQLite.

pub mod api;
pub mod backends;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod startup;
