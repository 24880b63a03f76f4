//! The web view (docs/api.md §15) over HTTP, without a browser: the real
//! server on port 0, pages fetched and forms posted as a browser would,
//! and what the image API shows afterwards. `tests/browser` drives the
//! same pages in Chromium.

mod form_fields;
mod helpers;
mod safety;
#[path = "../support/mod.rs"]
mod support;
mod views;
