//! The access log's line, with every token kept out of it: a query
//! parameter that can carry one is written with its value replaced.

use std::borrow::Cow;

use actix_web::dev::ServiceRequest;
use actix_web::middleware::Logger;

use crate::http::CallerId;

/// What replaces a token's value in the log.
const HIDDEN: &str = "***";

/// The access log: who asked for what (the request line, tokens hidden),
/// the answer, its size and time, and the caller's user id.
pub(crate) fn logger() -> Logger {
    Logger::new("%a \"%{request}xi\" %s %b %Dms user=%{user}xo")
        .custom_request_replace("request", request_line)
        .custom_response_replace("user", |res| {
            res.response()
                .extensions()
                .get::<CallerId>()
                .map_or_else(|| "-".into(), |c| c.0.clone())
        })
}

/// `METHOD path?query VERSION`, as actix's `%r` writes it, but with the
/// query's token values hidden.
fn request_line(req: &ServiceRequest) -> String {
    let query = req.query_string();
    let sep = if query.is_empty() { "" } else { "?" };
    format!(
        "{} {}{sep}{} {:?}",
        req.method(),
        req.path(),
        redact_query(query),
        req.version()
    )
}

/// The query with the value of every parameter whose name, decoded, holds
/// "token" in any case (`X-Auth-Token`, `x-auth-%74oken`, `token`) replaced
/// by `***`: the object store takes `?X-Auth-Token=`, and a guess under any
/// other name is a token all the same.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(holds_token) {
        return Cow::Borrowed(query);
    }
    let parts: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if holds_token(pair) {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                Cow::Owned(format!("{name}={HIDDEN}"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

/// Whether a `name=value` pair's name names a token.
fn holds_token(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    let plus_as_space = name.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&plus_as_space).decode_utf8_lossy();
    decoded.to_ascii_lowercase().contains("token")
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn token_values_are_hidden_whatever_their_spelling() {
        for (query, want) in [
            ("X-Auth-Token=s3cret", "X-Auth-Token=***"),
            (
                "format=json&X-Auth-Token=s3cret",
                "format=json&X-Auth-Token=***",
            ),
            ("x-auth-%74oken=s3cret&a=b", "x-auth-%74oken=***&a=b"),
            ("token=a&token=b", "token=***&token=***"),
            ("AUTH+TOKEN=s3cret", "AUTH+TOKEN=***"),
            ("X-Auth-Token", "X-Auth-Token=***"),
            ("X-Auth-Token=a=b", "X-Auth-Token=***"),
        ] {
            assert_eq!(redact_query(query), want, "{query}");
        }
    }

    #[test]
    fn other_queries_are_left_as_they_are() {
        for query in ["", "name=a&sort_key=name", "marker=%20x", "a=token"] {
            assert_eq!(redact_query(query), query);
        }
    }
}
