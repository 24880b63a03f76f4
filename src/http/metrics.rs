//! Counting and timing every request for `<base>/metrics`: a middleware
//! around the whole app, which reads the route pattern the router leaves on
//! the response (`RouteName`) and counts the bytes of both bodies as they
//! pass; and the `/metrics` endpoint itself.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use prometheus_client::metrics::counter::Counter;

use crate::config::MetricsAccess;
use crate::error::AppError;
use crate::http::fault;
use crate::metrics::{Metrics, RequestLabels, RouteLabels};

/// The route pattern a request matched (`/images/{}`), left on its
/// response by the router for the metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteName(pub(crate) &'static str);

/// Wraps the request's body to count its bytes.
pub(crate) fn count_request_body(req: &mut ServiceRequest, metrics: &Metrics) {
    let counter = metrics.bytes_in.clone();
    let body = req.take_payload().map(move |chunk| {
        if let Ok(c) = &chunk {
            counter.inc_by(c.len() as u64);
        }
        chunk
    });
    let boxed: Pin<Box<dyn Stream<Item = _>>> = Box::pin(body);
    req.set_payload(Payload::from(boxed));
}

/// Counts the answered request, and wraps the response's body to count its
/// bytes as they are sent.
pub(crate) fn observe(
    res: ServiceResponse<BoxBody>,
    metrics: &Metrics,
    started: Instant,
) -> ServiceResponse<BoxBody> {
    let route = res
        .response()
        .extensions()
        .get::<RouteName>()
        .map_or("unmatched", |r| r.0);
    metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method: method_label(res.request().method().as_str()),
            status: res.status().as_u16(),
        })
        .inc();
    let counter = metrics.bytes_out.clone();
    res.map_body(move |_, body| BoxBody::new(Counted { body, counter }))
}

/// The method's label: those RFC 9110 and WebDAV's COPY/MOVE define, as
/// they are; anything else is `other`, so that the label's values stay few.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 11] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "COPY",
        "MOVE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// A response body that counts the bytes it yields.
struct Counted {
    body: BoxBody,
    counter: Counter,
}

impl MessageBody for Counted {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            this.counter.inc_by(chunk.len() as u64);
        }
        polled
    }
}

/// `GET <base>/metrics`, to whom `metrics.access` allows it.
pub(crate) fn serve(req: &HttpRequest, metrics: &Metrics, access: MetricsAccess) -> HttpResponse {
    let allowed = match access {
        MetricsAccess::Everyone => true,
        MetricsAccess::Loopback => req.peer_addr().is_some_and(|a| a.ip().is_loopback()),
        MetricsAccess::Off => false,
    };
    if !allowed {
        return fault::json(&AppError::NotFound(match access {
            MetricsAccess::Off => "No such route: metrics are off (metrics.access)".into(),
            _ => "No such route: metrics are served to loopback only (metrics.access)".into(),
        }));
    }
    if !matches!(req.method().as_str(), "GET" | "HEAD") {
        return fault::json(&AppError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: "GET, HEAD".into(),
        });
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}

/// The metrics of the app, for the middleware.
pub(crate) fn of(req: &ServiceRequest) -> Option<Metrics> {
    req.app_data::<web::Data<crate::http::AppState>>()
        .map(|s| s.metrics.clone())
}
