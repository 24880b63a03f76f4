//! The image API's routes (docs/api.md §1): one row per path, its methods in
//! the order `Allow` lists them, each with its handler. Every route but the
//! versions document needs a token.

use super::{images, members, shared, versions, Dialect, Handler};
use crate::http::routing::{Route, Seg};
use crate::http::surface::h;

use Seg::{Lit, Param};

/// Every route of the image API, each labelled for the metrics under
/// `$prefix` (Glance's routes are told apart from Cyclades's by it).
macro_rules! table {
    ($prefix:literal) => {
        &[
            Route {
                path: &[],
                label: concat!($prefix, "/"),
                open: true,
                methods: &[("GET", h!(versions::get)), ("HEAD", h!(versions::get))],
            },
            Route {
                path: &[Lit("images")],
                label: concat!($prefix, "/images"),
                open: false,
                methods: &[
                    ("GET", h!(images::list)),
                    ("HEAD", h!(images::list)),
                    ("POST", h!(images::register)),
                ],
            },
            Route {
                path: &[Lit("images"), Lit("detail")],
                label: concat!($prefix, "/images/detail"),
                open: false,
                methods: &[("GET", h!(images::detail)), ("HEAD", h!(images::detail))],
            },
            Route {
                path: &[Lit("images"), Param],
                label: concat!($prefix, "/images/{}"),
                open: false,
                methods: &[
                    ("GET", h!(images::data)),
                    ("HEAD", h!(images::head)),
                    ("PUT", h!(images::update)),
                    ("DELETE", h!(images::unregister)),
                ],
            },
            Route {
                path: &[Lit("images"), Param, Lit("members")],
                label: concat!($prefix, "/images/{}/members"),
                open: false,
                methods: &[
                    ("GET", h!(members::list)),
                    ("HEAD", h!(members::list)),
                    ("PUT", h!(members::replace)),
                ],
            },
            Route {
                path: &[Lit("images"), Param, Lit("members"), Param],
                label: concat!($prefix, "/images/{}/members/{}"),
                open: false,
                methods: &[("PUT", h!(members::add)), ("DELETE", h!(members::remove))],
            },
            Route {
                path: &[Lit("shared-images"), Param],
                label: concat!($prefix, "/shared-images/{}"),
                open: false,
                methods: &[("GET", h!(shared::list)), ("HEAD", h!(shared::list))],
            },
        ]
    };
}

/// Cyclades's routes, labelled as they are.
static CYCLADES: &[Route<Handler>] = table!("");

/// Glance's routes: the same, labelled under `/v1`.
static GLANCE: &[Route<Handler>] = table!("/v1");

/// The routes of a dialect.
pub(super) fn table(dialect: Dialect) -> &'static [Route<Handler>] {
    match dialect {
        Dialect::Cyclades => CYCLADES,
        Dialect::Glance => GLANCE,
    }
}

/// The segments of a path after the dialect's prefix; `images/` is `images`.
pub(super) fn segments(rest: &str) -> Vec<&str> {
    match rest {
        "" => Vec::new(),
        "images/" => vec!["images"],
        r => r.split('/').collect(),
    }
}
