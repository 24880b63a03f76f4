//! The image API's routes (docs/api.md §1): one row per path, its methods in
//! the order `Allow` lists them, each with its handler. Every route but the
//! versions document needs a token.

use super::{images, members, shared, versions, Handler};
use crate::http::routing::{Route, Seg};

use Seg::{Lit, Param};

/// A handler of the table, from an `async fn(Req) -> Result<HttpResponse, AppError>`.
macro_rules! h {
    ($f:path) => {
        (|r| Box::pin($f(r))) as Handler
    };
}

/// Every route of the image API.
pub(super) static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[],
        open: true,
        methods: &[("GET", h!(versions::get)), ("HEAD", h!(versions::get))],
    },
    Route {
        path: &[Lit("images")],
        open: false,
        methods: &[
            ("GET", h!(images::list)),
            ("HEAD", h!(images::list)),
            ("POST", h!(images::register)),
        ],
    },
    Route {
        path: &[Lit("images"), Lit("detail")],
        open: false,
        methods: &[("GET", h!(images::detail)), ("HEAD", h!(images::detail))],
    },
    Route {
        path: &[Lit("images"), Param],
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
        open: false,
        methods: &[
            ("GET", h!(members::list)),
            ("HEAD", h!(members::list)),
            ("PUT", h!(members::replace)),
        ],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members"), Param],
        open: false,
        methods: &[("PUT", h!(members::add)), ("DELETE", h!(members::remove))],
    },
    Route {
        path: &[Lit("shared-images"), Param],
        open: false,
        methods: &[("GET", h!(shared::list)), ("HEAD", h!(shared::list))],
    },
];

/// The segments of a path after the dialect's prefix; `images/` is `images`.
pub(super) fn segments(rest: &str) -> Vec<&str> {
    match rest {
        "" => Vec::new(),
        "images/" => vec!["images"],
        r => r.split('/').collect(),
    }
}
