//! The web view's routes (docs/api.md §15), under `<base>/ui/`: one row per
//! path, its methods in the order `Allow` lists them. Only the login page
//! and the static files are open without a session.

use super::{assets, catalogue, forms, image, login, upload, Handler};
use crate::http::routing::{Route, Seg};

use Seg::{Lit, Param};

/// A handler of the table, from an `async fn(Req) -> Result<HttpResponse, AppError>`.
macro_rules! h {
    ($f:path) => {
        (|r| Box::pin($f(r))) as Handler
    };
}

/// Every route of the web view.
pub(super) static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[],
        open: false,
        methods: &[("GET", h!(catalogue::list)), ("HEAD", h!(catalogue::list))],
    },
    Route {
        path: &[Lit("login")],
        open: true,
        methods: &[
            ("GET", h!(login::form)),
            ("HEAD", h!(login::form)),
            ("POST", h!(login::login)),
        ],
    },
    Route {
        path: &[Lit("logout")],
        open: false,
        methods: &[("POST", h!(login::logout))],
    },
    Route {
        path: &[Lit("upload")],
        open: false,
        methods: &[
            ("GET", h!(upload::show)),
            ("HEAD", h!(upload::show)),
            ("POST", h!(upload::upload)),
        ],
    },
    Route {
        path: &[Lit("register")],
        open: false,
        methods: &[("POST", h!(upload::register))],
    },
    Route {
        path: &[Lit("images"), Param],
        open: false,
        methods: &[("GET", h!(image::show)), ("HEAD", h!(image::show))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("download")],
        open: false,
        methods: &[("GET", h!(image::download)), ("HEAD", h!(image::download))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("name")],
        open: false,
        methods: &[("POST", h!(forms::rename))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("public")],
        open: false,
        methods: &[("POST", h!(forms::publicity))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("properties")],
        open: false,
        methods: &[("POST", h!(forms::property))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members")],
        open: false,
        methods: &[("POST", h!(forms::add_member))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members"), Lit("remove")],
        open: false,
        methods: &[("POST", h!(forms::remove_member))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("unregister")],
        open: false,
        methods: &[
            ("GET", h!(image::confirm_unregister)),
            ("HEAD", h!(image::confirm_unregister)),
            ("POST", h!(forms::unregister)),
        ],
    },
    Route {
        path: &[Lit("static"), Param],
        open: true,
        methods: &[("GET", h!(assets::get)), ("HEAD", h!(assets::get))],
    },
];

/// The segments of a path after `ui/`.
pub(super) fn segments(rest: &str) -> Vec<&str> {
    match rest {
        "" => Vec::new(),
        r => r.split('/').collect(),
    }
}
