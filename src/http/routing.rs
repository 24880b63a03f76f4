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
}

/// A route: its path, whether it needs a token, and its methods.
pub(crate) struct Route<H: 'static> {
    /// The path's segments.
    pub(crate) path: &'static [Seg],
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

/// The handler of `method` on the route whose path is `segs`.
pub(crate) fn find<'t, H>(
    table: &'t [Route<H>],
    segs: &[&str],
    method: &str,
) -> Result<Found<'t, H>, Miss> {
    let (route, params) = locate(table, segs).ok_or(Miss::NoRoute)?;
    let handler = route
        .methods
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, h)| h)
        .ok_or_else(|| {
            let allow: Vec<&str> = route.methods.iter().map(|(m, _)| *m).collect();
            Miss::Method(allow.join(", "))
        })?;
    Ok(Found {
        handler,
        open: route.open,
        params,
    })
}

/// The pattern of the route whose path is `segs`, e.g. `/images/{}` (for
/// the metrics: a parameter is never shown).
pub(crate) fn pattern<H>(table: &[Route<H>], segs: &[&str]) -> Option<String> {
    let (route, _) = locate(table, segs)?;
    let mut out = String::new();
    for seg in route.path {
        out.push('/');
        out.push_str(match seg {
            Seg::Lit(s) => s,
            Seg::Param => "{}",
        });
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
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
        .filter(|(p, _)| **p == Seg::Param)
        .map(|(_, s)| s.to_string())
        .collect();
    Some((route, params))
}

fn matches(path: &[Seg], segs: &[&str]) -> bool {
    path.len() == segs.len()
        && path.iter().zip(segs).all(|(p, s)| match p {
            Seg::Lit(l) => l == s,
            Seg::Param => !s.is_empty(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: &[Route<u8>] = &[
        Route {
            path: &[Seg::Lit("images"), Seg::Lit("detail")],
            open: false,
            methods: &[("GET", 1), ("HEAD", 1)],
        },
        Route {
            path: &[Seg::Lit("images"), Seg::Param],
            open: false,
            methods: &[("GET", 2), ("DELETE", 3)],
        },
    ];

    #[test]
    fn finds_literals_before_parameters_and_names_allowed_methods() {
        let found = find(TABLE, &["images", "detail"], "HEAD").unwrap();
        assert_eq!((*found.handler, found.params.len()), (1, 0));
        let found = find(TABLE, &["images", "x"], "DELETE").unwrap();
        assert_eq!((*found.handler, found.params), (3, vec!["x".to_string()]));
        assert_eq!(
            find(TABLE, &["images", "x"], "PUT").err(),
            Some(Miss::Method("GET, DELETE".into()))
        );
        assert_eq!(
            find(TABLE, &["images", ""], "GET").err(),
            Some(Miss::NoRoute)
        );
        assert_eq!(find(TABLE, &["images"], "GET").err(), Some(Miss::NoRoute));
    }
}
