//! The v2 routes (docs/api.md §17.1): one row per path, its methods in the
//! order `Allow` lists them, each with its handler. Every route but the
//! versions document needs a token.
//!
//! The image, file, list and create routes are here. The rows still to
//! add come with their handlers (`tags`, `actions`, `members`: another
//! branch of issue 23); until then they are left out, so that the table
//! never promises a method it cannot serve, and they answer 404. In this
//! order, after `images {} file` and before `schemas`:
//!
//! | path | label | methods |
//! |---|---|---|
//! | `images {} tags {}` | `/v2/images/{}/tags/{}` | PUT, DELETE |
//! | `images {} actions deactivate` | `/v2/images/{}/actions/deactivate` | POST |
//! | `images {} actions reactivate` | `/v2/images/{}/actions/reactivate` | POST |
//! | `images {} members` | `/v2/images/{}/members` | GET, HEAD, POST |
//! | `images {} members {}` | `/v2/images/{}/members/{}` | GET, HEAD, PUT, DELETE |

use super::{actions, file, images, members, meta, schemas, tags, Handler};
use crate::http::routing::{Route, Seg};
use crate::http::surface::h;

use Seg::{Lit, Param};

/// Every route of the v2 surface.
pub(super) static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[],
        label: "/v2/",
        open: true,
        methods: &[("GET", h!(meta::versions)), ("HEAD", h!(meta::versions))],
    },
    Route {
        path: &[Lit("images")],
        label: "/v2/images",
        open: false,
        methods: &[
            ("GET", h!(images::list)),
            ("HEAD", h!(images::list)),
            ("POST", h!(images::create)),
        ],
    },
    Route {
        path: &[Lit("images"), Param],
        label: "/v2/images/{}",
        open: false,
        methods: &[
            ("GET", h!(images::show)),
            ("HEAD", h!(images::show)),
            ("PATCH", h!(images::update)),
            ("DELETE", h!(images::delete)),
        ],
    },
    Route {
        path: &[Lit("images"), Param, Lit("file")],
        label: "/v2/images/{}/file",
        open: false,
        methods: &[
            ("GET", h!(file::download)),
            ("HEAD", h!(file::download)),
            ("PUT", h!(file::upload)),
        ],
    },
    Route {
        path: &[Lit("images"), Param, Lit("tags"), Param],
        label: "/v2/images/{}/tags/{}",
        open: false,
        methods: &[("PUT", h!(tags::add)), ("DELETE", h!(tags::remove))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("actions"), Lit("deactivate")],
        label: "/v2/images/{}/actions/deactivate",
        open: false,
        methods: &[("POST", h!(actions::deactivate))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("actions"), Lit("reactivate")],
        label: "/v2/images/{}/actions/reactivate",
        open: false,
        methods: &[("POST", h!(actions::reactivate))],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members")],
        label: "/v2/images/{}/members",
        open: false,
        methods: &[
            ("GET", h!(members::list)),
            ("HEAD", h!(members::list)),
            ("POST", h!(members::add)),
        ],
    },
    Route {
        path: &[Lit("images"), Param, Lit("members"), Param],
        label: "/v2/images/{}/members/{}",
        open: false,
        methods: &[
            ("GET", h!(members::show)),
            ("HEAD", h!(members::show)),
            ("PUT", h!(members::answer)),
            ("DELETE", h!(members::remove)),
        ],
    },
    Route {
        path: &[Lit("schemas"), Lit("image")],
        label: "/v2/schemas/image",
        open: false,
        methods: &[("GET", h!(schemas::image)), ("HEAD", h!(schemas::image))],
    },
    Route {
        path: &[Lit("schemas"), Lit("images")],
        label: "/v2/schemas/images",
        open: false,
        methods: &[("GET", h!(schemas::images)), ("HEAD", h!(schemas::images))],
    },
    Route {
        path: &[Lit("schemas"), Lit("member")],
        label: "/v2/schemas/member",
        open: false,
        methods: &[("GET", h!(schemas::member)), ("HEAD", h!(schemas::member))],
    },
    Route {
        path: &[Lit("schemas"), Lit("members")],
        label: "/v2/schemas/members",
        open: false,
        methods: &[
            ("GET", h!(schemas::members)),
            ("HEAD", h!(schemas::members)),
        ],
    },
    Route {
        path: &[Lit("info"), Lit("import")],
        label: "/v2/info/import",
        open: false,
        methods: &[
            ("GET", h!(meta::import_info)),
            ("HEAD", h!(meta::import_info)),
        ],
    },
    Route {
        path: &[Lit("tenants")],
        label: "/v2/tenants",
        open: false,
        methods: &[("GET", h!(meta::tenants)), ("HEAD", h!(meta::tenants))],
    },
    Route {
        path: &[Lit("tenants"), Param],
        label: "/v2/tenants/{}",
        open: false,
        methods: &[("GET", h!(meta::tenants)), ("HEAD", h!(meta::tenants))],
    },
];

/// The segments of a path after `/v2/`; `images/` is `images`, and no
/// other trailing slash is taken (its empty last segment matches nothing).
pub(super) fn segments(rest: &str) -> Vec<&str> {
    match rest {
        "" => Vec::new(),
        "images/" => vec!["images"],
        r => r.split('/').collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proptests::config;
    use crate::http::routing::{find, Miss};
    use proptest::prelude::*;

    fn label(rest: &str, method: &str) -> Option<&'static str> {
        find(ROUTES, &segments(rest), method).label
    }

    #[test]
    fn the_served_routes_resolve_and_no_other_trailing_slash_does() {
        assert_eq!(label("", "GET"), Some("/v2/"));
        assert_eq!(
            label("schemas/members", "HEAD"),
            Some("/v2/schemas/members")
        );
        assert_eq!(label("tenants/p", "GET"), Some("/v2/tenants/{}"));
        assert_eq!(label("images/", "POST"), Some("/v2/images"));
        assert_eq!(label("images/x", "PATCH"), Some("/v2/images/{}"));
        assert_eq!(label("images/x/file", "PUT"), Some("/v2/images/{}/file"));
        for rest in [
            "schemas/image/",
            "tenants/",
            "info/import/",
            "schemas",
            "stage",
            "images/x/",
            "info/stores",
        ] {
            assert_eq!(label(rest, "GET"), None, "{rest}");
        }
        let miss = find(ROUTES, &segments("info/import"), "POST").found.err();
        assert_eq!(miss, Some(Miss::Method("GET, HEAD".into())));
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_path_resolves_with_its_parameters_or_misses(rest in "[a-z/%.-]{0,30}|\\PC{0,30}") {
            if let Ok(found) = find(ROUTES, &segments(&rest), "GET").found {
                for p in found.params {
                    prop_assert!(!p.is_empty() && !p.contains('/'));
                }
            }
        }
    }
}
