//! Route tables: each surface lists its routes as data (path segments, and
//! per method the handler), and the one matcher here finds the route and
//! method of a request, or why there is none (404, or 405 with `Allow`).

/// One segment of a route's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg {
    /// This exact text.
    Lit(&'static str),
    /// Any non-empty segment, passed to the handler (still percent-encoded).
    Param,
    /// Any segment, even an empty one, passed to the handler: the object
    /// store's names, which its handlers check themselves (its last one
    /// holds the rest of the path, `/` and all).
    Any,
}

/// A route: its path, its label, whether it needs a token, and its methods.
pub(crate) struct Route<H: 'static> {
    /// The path's segments.
    pub(crate) path: &'static [Seg],
    /// The route's pattern in the metrics, e.g. `/images/{}`: never the
    /// path itself, so that the label's values stay few.
    pub(crate) label: &'static str,
    /// Whether the route answers without a token.
    pub(crate) open: bool,
    /// The methods it takes, in the order `Allow` lists them, with their handlers.
    pub(crate) methods: &'static [(&'static str, H)],
}

/// The route and method a request matched.
pub(crate) struct Found<'t, H: 'static> {
    /// The handler of the method.
    pub(crate) handler: &'t H,
    /// Whether it answers without a token.
    pub(crate) open: bool,
    /// The `Param` segments, in order.
    pub(crate) params: Vec<String>,
}

/// Why a request matched no handler.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// No route has this path.
    NoRoute,
    /// The route does not take the method; the methods it takes.
    Method(String),
}

/// What the router found in a surface's table for one request.
pub(crate) struct Lookup<'t, H: 'static> {
    /// The label of the route whose path matched, if one did (whatever
    /// the method).
    pub(crate) label: Option<&'static str>,
    /// The handler of the method, or why there is none.
    pub(crate) found: Result<Found<'t, H>, Miss>,
}

/// The handler of `method` on the route whose path is `segs`, matched once.
pub(crate) fn find<'t, H>(table: &'t [Route<H>], segs: &[&str], method: &str) -> Lookup<'t, H> {
    let Some((route, params)) = locate(table, segs) else {
        return Lookup {
            label: None,
            found: Err(Miss::NoRoute),
        };
    };
    let handler = route
        .methods
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, h)| h)
        .ok_or_else(|| {
            let allow: Vec<&str> = route.methods.iter().map(|(m, _)| *m).collect();
            Miss::Method(allow.join(", "))
        });
    Lookup {
        label: Some(route.label),
        found: handler.map(|handler| Found {
            handler,
            open: route.open,
            params,
        }),
    }
}

/// The route whose path is `segs`, and its `Param` segments in order.
pub(crate) fn locate<'t, H>(
    table: &'t [Route<H>],
    segs: &[&str],
) -> Option<(&'t Route<H>, Vec<String>)> {
    let route = table.iter().find(|r| matches(r.path, segs))?;
    let params = route
        .path
        .iter()
        .zip(segs)
        .filter(|(p, _)| matches!(p, Seg::Param | Seg::Any))
        .map(|(_, s)| s.to_string())
        .collect();
    Some((route, params))
}

fn matches(path: &[Seg], segs: &[&str]) -> bool {
    path.len() == segs.len()
        && path.iter().zip(segs).all(|(p, s)| match p {
            Seg::Lit(l) => l == s,
            Seg::Param => !s.is_empty(),
            Seg::Any => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: &[Route<u8>] = &[
        Route {
            path: &[Seg::Lit("images"), Seg::Lit("detail")],
            label: "/images/detail",
            open: false,
            methods: &[("GET", 1), ("HEAD", 1)],
        },
        Route {
            path: &[Seg::Lit("images"), Seg::Param],
            label: "/images/{}",
            open: false,
            methods: &[("GET", 2), ("DELETE", 3)],
        },
    ];

    #[test]
    fn finds_literals_before_parameters_and_names_allowed_methods() {
        let found = find(TABLE, &["images", "detail"], "HEAD").found.unwrap();
        assert_eq!((*found.handler, found.params.len()), (1, 0));
        let found = find(TABLE, &["images", "x"], "DELETE").found.unwrap();
        assert_eq!((*found.handler, found.params), (3, vec!["x".to_string()]));
        let wrong = find(TABLE, &["images", "x"], "PUT");
        assert_eq!(wrong.found.err(), Some(Miss::Method("GET, DELETE".into())));
        assert_eq!(
            wrong.label,
            Some("/images/{}"),
            "a 405 keeps its route's label"
        );
        let none = find(TABLE, &["images", ""], "GET");
        assert_eq!((none.found.err(), none.label), (Some(Miss::NoRoute), None));
        assert_eq!(
            find(TABLE, &["images"], "GET").found.err(),
            Some(Miss::NoRoute)
        );
    }
}
