//! The reference limit of `make bench`: actix-web answering `GET /` with a
//! fixed body, and nothing else: no routing beyond one route, no middleware,
//! no token, no database, no blocking hand-off. Whatever plankton's rates are
//! below this one is plankton's own cost; this one is the HTTP stack's and the
//! machine's (and wrk's, on the same cores).
//!
//! The body is plankton's versions document as it answers it on 127.0.0.1
//! (`GET /`, 110 bytes with a five-digit port), with its content type. The
//! server settings are plankton's (src/startup.rs): actix's default workers
//! (one per core; plankton does not set them either), keep-alive 5 s, the
//! same timeouts, connection limit and backlog.
//!
//! Usage: plankton-bench-reference 127.0.0.1:PORT

use std::time::Duration;

use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpResponse, HttpServer};

const BODY: &str = r#"{"versions":[{"id":"v1.0","links":[{"href":"http://127.0.0.1:40000/v1.0/","rel":"self"}],"status":"CURRENT"}]}"#;

async fn versions() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(BODY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    HttpServer::new(|| App::new().route("/", web::get().to(versions)))
        .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .max_connections(1024)
        .backlog(1024)
        .shutdown_timeout(1)
        .bind(addr)?
        .run()
        .await
}
