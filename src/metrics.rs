//! What the server counts and times, served at `<base>/metrics` in the
//! Prometheus (OpenMetrics) text format by `prometheus-client`. One set per
//! server, made at start; each part of the server keeps a clone of the
//! handles it updates (they share their values).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};

/// A request's route, method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The route's pattern, e.g. `/images/{}` (never the path itself).
    pub(crate) route: &'static str,
    /// The method, one of those HTTP defines, or `other`: a client can
    /// send any token as a method, and each would be a new series.
    pub(crate) method: &'static str,
    /// The status code.
    pub(crate) status: u16,
}

/// A route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    /// The route's pattern.
    pub(crate) route: &'static str,
}

/// A call to a network backend.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    /// `astakos` or `pithos`.
    pub(crate) backend: &'static str,
    /// What was asked, e.g. `HEAD`, `PUT`, `authenticate`.
    pub(crate) call: &'static str,
}

/// Hits or misses of a cache.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CacheLabels {
    /// `hit` or `miss`.
    pub(crate) result: &'static str,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, from 100 µs to about 100 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.5, 16))
}

/// Every metric of the server.
#[derive(Clone)]
pub(crate) struct Metrics {
    registry: Arc<Registry>,
    /// Requests answered.
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// How long requests took, by route.
    pub(crate) latency: Timings<RouteLabels>,
    /// Request body bytes read.
    pub(crate) bytes_in: Counter,
    /// Response body bytes sent.
    pub(crate) bytes_out: Counter,
    /// The writer's batches and commits.
    pub(crate) writer: WriterMetrics,
    /// Identity cache lookups.
    pub(crate) identity_cache: Family<CacheLabels, Counter>,
    /// Network backend calls.
    pub(crate) backend: BackendMetrics,
    /// Uploads being received (image API and object store).
    pub(crate) uploads_in_flight: Gauge,
}

/// The writer's figures (the default: counted, but in no registry).
#[derive(Clone)]
pub(crate) struct WriterMetrics {
    /// Requests committed together in one transaction.
    pub(crate) batch_size: Histogram,
    /// How long a batch took to commit (from `BEGIN` to the end of `COMMIT`).
    pub(crate) commit_seconds: Histogram,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        WriterMetrics {
            batch_size: Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            commit_seconds: seconds(),
        }
    }
}

/// The network backends' figures.
#[derive(Clone)]
pub(crate) struct BackendMetrics {
    /// How long calls took to answer.
    pub(crate) latency: Timings<CallLabels>,
    /// Calls that got no usable answer (no connection, timeout, a 5xx).
    pub(crate) errors: Family<CallLabels, Counter>,
}

impl BackendMetrics {
    /// Records a call of `took`, and whether it failed.
    pub(crate) fn record(
        &self,
        backend: &'static str,
        call: &'static str,
        took: Duration,
        failed: bool,
    ) {
        let labels = CallLabels { backend, call };
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if failed {
            self.errors.get_or_create(&labels).inc();
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set, registered under the prefix `plankton`.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("plankton");
        let (requests, latency, bytes_in, bytes_out) = http_metrics(&mut registry);
        let r = &mut registry;
        let fresh = WriterMetrics::default();
        let writer = WriterMetrics {
            batch_size: registered(
                r,
                "db_write_batch_size",
                "Write requests committed together in one transaction",
                fresh.batch_size,
            ),
            commit_seconds: registered(
                r,
                "db_commit_duration_seconds",
                "Time to run and commit one batch of writes",
                fresh.commit_seconds,
            ),
        };
        let (identity_cache, backend) = backend_metrics(r);
        let uploads_in_flight = registered(
            r,
            "uploads_in_flight",
            "Uploads being received now",
            Gauge::default(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            bytes_in,
            bytes_out,
            writer,
            identity_cache,
            backend,
            uploads_in_flight,
        }
    }

    /// Every metric in the text format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts an upload as in flight until the guard is dropped.
    pub(crate) fn upload_started(&self) -> InFlight {
        self.uploads_in_flight.inc();
        InFlight(self.uploads_in_flight.clone())
    }
}

/// `metric`, registered under `name` with its `help`.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// The request counters, timings and byte counts, registered.
fn http_metrics(
    r: &mut Registry,
) -> (
    Family<RequestLabels, Counter>,
    Timings<RouteLabels>,
    Counter,
    Counter,
) {
    (
        registered(
            r,
            "http_requests",
            "Requests answered, by route pattern, method and status",
            Family::default(),
        ),
        registered(
            r,
            "http_request_duration_seconds",
            "Time from the request's head to its answer's head, by route pattern",
            Family::new_with_constructor(seconds),
        ),
        registered(
            r,
            "http_request_body_bytes",
            "Request body bytes read",
            Counter::default(),
        ),
        registered(
            r,
            "http_response_body_bytes",
            "Response body bytes sent",
            Counter::default(),
        ),
    )
}

/// The identity cache's and the network backends' figures, registered.
fn backend_metrics(r: &mut Registry) -> (Family<CacheLabels, Counter>, BackendMetrics) {
    let identity_cache = registered(
        r,
        "identity_cache_lookups",
        "Tokens looked up in the identity cache, by hit or miss",
        Family::default(),
    );
    let backend = BackendMetrics {
        latency: registered(
            r,
            "backend_call_duration_seconds",
            "Time network backends took to answer, by backend and call",
            Family::new_with_constructor(seconds),
        ),
        errors: registered(
            r,
            "backend_call_errors",
            "Network backend calls with no usable answer, by backend and call",
            Family::default(),
        ),
    };
    (identity_cache, backend)
}

/// An upload in flight; dropping it ends it.
pub(crate) struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
