//! `<base>/metrics` (docs/api.md §16): the Prometheus text format, read back
//! with an OpenMetrics parser (`openmetrics-parser`, strict: a malformed
//! exposition fails to parse); who may read it.

use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};

use crate::helpers::{TestApp, ALICE};
use crate::util::fault;

type Scrape = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

async fn scrape(app: &TestApp) -> Scrape {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = resp.text().await.unwrap();
    assert!(
        text.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends with # EOF"
    );
    openmetrics_parser::openmetrics::parse_openmetrics(&text).expect("a valid exposition")
}

/// The value of the sample of family `metric` whose labels include
/// `labels` (a histogram's count).
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = scrape.families.get(metric)?;
    family
        .iter_samples()
        .find(|s| {
            let set = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| match &s.value {
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => n.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.unwrap_or_default() as f64,
            _ => f64::NAN,
        })
}

#[tokio::test]
async fn requests_latency_bytes_and_the_writer_are_counted_by_route_pattern() {
    let app = TestApp::spawn().await;
    let id = app
        .alice()
        .register("m.img")
        .data(b"metric data")
        .ok()
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.head(&format!("/images/{id}"), ALICE.0).await.status(),
            200
        );
    }
    let got = app.get(&format!("/v1/images/{id}"), ALICE.0).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"metric data");
    let missing = app
        .head("/images/5583ffe1-5273-4c84-9e32-2fbe476bd7b7", ALICE.0)
        .await;
    assert_eq!(missing.status(), 404);

    let s = scrape(&app).await;
    let requests = "plankton_http_requests";
    assert_eq!(
        value(
            &s,
            requests,
            &[
                ("route", "/images/{}"),
                ("method", "HEAD"),
                ("status", "200")
            ]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &s,
            requests,
            &[
                ("route", "/images/{}"),
                ("method", "HEAD"),
                ("status", "404")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            requests,
            &[
                ("route", "/v1/images/{}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        Some(1.0)
    );
    // No label holds an image id: the route is its pattern.
    assert!(!format!("{s:?}").contains(&id));
    let latency = value(
        &s,
        "plankton_http_request_duration_seconds",
        &[("route", "/images/{}")],
    );
    assert_eq!(latency, Some(4.0), "the histogram counts the four HEADs");
    assert!(value(&s, "plankton_http_response_body_bytes", &[]).unwrap() >= 11.0);
    if !crate::POSTGRES {
        // SQLite's writer thread's batches (PostgreSQL has no such thread).
        assert!(value(&s, "plankton_db_write_batch_size", &[]).unwrap() >= 1.0);
        assert!(value(&s, "plankton_db_commit_duration_seconds", &[]).unwrap() >= 1.0);
    }
    assert_eq!(value(&s, "plankton_uploads_in_flight", &[]), Some(0.0));
    if crate::HTTP_BACKENDS {
        // One round trip to Astakos for alice's token, the rest from its cache.
        let lookups = "plankton_identity_cache_lookups";
        assert_eq!(value(&s, lookups, &[("result", "miss")]), Some(1.0));
        assert!(value(&s, lookups, &[("result", "hit")]).unwrap() >= 4.0);
        let calls = "plankton_backend_call_duration_seconds";
        assert_eq!(value(&s, calls, &[("backend", "astakos")]), Some(1.0));
        assert!(value(&s, calls, &[("backend", "pithos"), ("call", "HEAD")]).unwrap() >= 1.0);
        assert!(value(&s, calls, &[("backend", "pithos"), ("call", "GET")]).unwrap() >= 1.0);
        assert_eq!(value(&s, "plankton_backend_call_errors", &[]), None);
    }
}

#[tokio::test]
async fn upload_bytes_are_counted_in() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-name", "counted")
        .body(vec![4u8; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let s = scrape(&app).await;
    assert!(value(&s, "plankton_http_request_body_bytes", &[]).unwrap() >= 100_000.0);
    assert_eq!(
        value(
            &s,
            "plankton_http_requests",
            &[("route", "/images"), ("method", "POST")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app =
        TestApp::spawn_with(|s| s.metrics.access = plankton::config::MetricsAccess::Off).await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    fault(resp, 404, "itemNotFound", &["metrics.access"]).await;
}

#[tokio::test]
async fn made_up_methods_without_a_token_add_no_series() {
    let app = TestApp::spawn().await;
    let series = |s: &Scrape| {
        s.families
            .get("plankton_http_requests")
            .map_or(0, |f| f.iter_samples().count())
    };
    let before = series(&scrape(&app).await);
    for n in 0..200 {
        let method = reqwest::Method::from_bytes(format!("X{n}Y").as_bytes()).unwrap();
        let resp = app
            .client
            .request(method, app.url(&format!("/nowhere/{n}")))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    let after = scrape(&app).await;
    assert!(
        series(&after) <= before + 3,
        "200 made-up methods grew the request counter from {before} to {} series",
        series(&after)
    );
    assert_eq!(
        value(&after, "plankton_http_requests", &[("method", "other")]),
        Some(200.0)
    );
}
