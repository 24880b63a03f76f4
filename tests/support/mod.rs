//! What every test binary stands on, written once: the test users and their
//! token file (`users`), plankton in-process (`app`) or as a process of the
//! built binary (`process`), one request over a raw socket (`raw`), the
//! checks of a JSON answer and of a fault (`check`), and the image API as
//! the page tests drive it beside their pages (`images`), and a throwaway
//! PostgreSQL server (`postgres`).
//!
//! Each binary includes it with `#[path = "../support/mod.rs"] mod support;`
//! and uses what it needs; the rest is dead code there, hence the allow.
#![allow(dead_code)]

pub mod app;
pub mod check;
pub mod images;
pub mod postgres;
pub mod process;
pub mod raw;
pub mod users;
