//! The links plankton writes (versions document, identity catalog) come
//! from `public_url` when it is set, and never from a client's forwarded
//! headers unless `trust_forwarded_headers` says so.

use std::time::Duration;

use crate::support::raw as http;
use crate::support::users::ALICE;
use crate::Server;

/// Every `href` and `publicURL` of a JSON answer.
fn links(body: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut out = Vec::new();
    collect(&v, &mut out);
    out
}

fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v.as_str()) {
                    ("href" | "publicURL", Some(s)) => out.push(s.to_string()),
                    _ => collect(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// The links of the versions document and of the identity catalog, asked
/// for with `headers`.
fn links_seen(srv: &Server, headers: &[(&str, &str)]) -> Vec<String> {
    let headers: Vec<(&str, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (*k, v.as_bytes().to_vec()))
        .collect();
    let t = Duration::from_secs(5);
    let versions = http::request(srv.addr, "GET", "/versions", &headers, b"", t).unwrap();
    assert_eq!(versions.status, 200);
    let mut with_json = headers.clone();
    with_json.push(("Content-Type", b"application/json".to_vec()));
    let body = format!(r#"{{"auth": {{"token": {{"id": "{}"}}}}}}"#, ALICE.0);
    let tokens = http::request(
        srv.addr,
        "POST",
        "/identity/v2.0/tokens",
        &with_json,
        body.as_bytes(),
        t,
    )
    .unwrap();
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    let mut all = links(&versions.text());
    all.extend(links(&tokens.text()));
    assert!(all.len() > 3, "{all:?}");
    all
}

const FORWARDED: [(&str, &str); 3] = [
    ("X-Forwarded-Host", "attacker.example"),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", "host=attacker.example;proto=https"),
];

#[test]
fn forwarded_headers_are_ignored_unless_trusted() {
    let srv = Server::start();
    let all = links_seen(&srv, &FORWARDED);
    let own = format!("http://{}", srv.addr);
    assert!(all.iter().all(|l| l.starts_with(&own)), "{all:#?}");
    let trusting = Server::start_with(&[("PLANKTON_TRUST_FORWARDED_HEADERS", "true")]);
    let all = links_seen(&trusting, &FORWARDED);
    assert!(
        all.iter()
            .all(|l| l.starts_with("https://attacker.example/")),
        "{all:#?}"
    );
}

#[test]
fn public_url_is_used_for_every_link_when_set() {
    let url = "https://images.example.org/image";
    let srv = Server::start_with(&[("PLANKTON_PUBLIC_URL", "https://images.example.org/image/")]);
    for headers in [&FORWARDED[..], &[][..]] {
        let all = links_seen(&srv, headers);
        assert!(all.iter().all(|l| l.starts_with(url)), "{all:#?}");
        assert!(all.contains(&format!("{url}/v2/")), "{all:#?}");
    }
}

#[test]
fn a_host_with_odd_bytes_is_not_copied_into_links() {
    let srv = Server::start_with(&[("PLANKTON_TRUST_FORWARDED_HEADERS", "true")]);
    let all = links_seen(&srv, &[("X-Forwarded-Host", "a\"b<script>")]);
    assert!(
        all.iter().all(|l| !l.contains('<') && !l.contains('"')),
        "{all:#?}"
    );
}

#[test]
fn a_public_url_that_is_no_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::users::write_tokens(&dir.path().join("tokens"), &[(ALICE, None)]);
    std::fs::create_dir_all(dir.path().join("objects")).unwrap();
    let out = crate::support::process::command(dir.path())
        .env("PLANKTON_PUBLIC_URL", "images.example.org")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("public_url"), "{err}");
}
