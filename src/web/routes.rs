//! The web view's routes (docs/api.md §15), under `<base>/ui/`: one row per
//! path, its methods in the order `Allow` lists them. Only the login page
//! and the static files are open without a session.

use super::{assets, catalogue, forms, image, login, upload, Handler, LABEL};
use crate::http::routing::{Route, Seg};
use crate::http::surface::h;

use Seg::{Lit, Param};

/// Every route of the web view.
pub(super) static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[],
        label: LABEL,
        open: false,
        methods: &[("GET", h!(catalogue::list)), ("HEAD", h!(catalogue::list))],
    },
    Route {
        path: &[Lit("login")],
        label: LABEL,
        open: true,
        methods: &[
            ("GET", h!(login::form)),
            ("HEAD", h!(login::form)),
            ("POST", h!(login::login)),
        ],
    },
    Route {
        path: &[Lit("logout")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(login::logout))],
    },
    Route {
        path: &[Lit("upload")],
        label: LABEL,
        open: false,
        methods: &[
            ("GET", h!(upload::show)),
            ("HEAD", h!(upload::show)),
            ("POST", h!(upload::upload)),
        ],
    },
    Route {
        path: &[Lit("register")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(upload::register))],
    },
    Route {
        path: &[Lit("images"), Param],
        label: LABEL,
        open: false,
        methods: &[("GET", h!(image::show)), ("HEAD", h!(image::show))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("download")],
        label: LABEL,
        open: false,
        methods: &[("GET", h!(image::download)), ("HEAD", h!(image::download))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("name")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::rename))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("public")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::publicity))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("visibility")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::visibility))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("properties")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::property))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::add_member))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members"), Lit("remove")],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(forms::remove_member))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("unregister")],
        label: LABEL,
        open: false,
        methods: &[
            ("GET", h!(image::confirm_unregister)),
            ("HEAD", h!(image::confirm_unregister)),
            ("POST", h!(forms::unregister)),
        ],
    },
    Route {
        path: &[Lit("static"), Param],
        label: LABEL,
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
