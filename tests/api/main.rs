//! End-to-end tests: the real server on a real port, driven over HTTP.

mod helpers;
mod smoke;
