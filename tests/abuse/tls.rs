//! Serving HTTPS itself (issue 25, item 10): a certificate made at test
//! time, a client trusting only its CA, links and the web view's cookie,
//! and the files read again when they change.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use crate::support::users::{write_tokens, ALICE};

/// A CA's certificate (PEM), and a server certificate it signed for
/// 127.0.0.1 with its key (PEM).
fn make_pair() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// The server, killed when dropped.
struct Tls {
    child: Child,
    url: String,
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Tls {
    std::fs::create_dir_all(dir.join("objects")).unwrap();
    write_tokens(&dir.join("tokens"), &[(ALICE, None)]);
    let mut child = crate::support::process::command(dir)
        .env("PLANKTON_TLS__CERTIFICATE", dir.join("cert.pem"))
        .env("PLANKTON_TLS__PRIVATE_KEY", dir.join("key.pem"))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("a start-up line").unwrap();
        if let Some(at) = line.find("listening on https://") {
            let rest = &line[at + "listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Tls { child, url }
}

/// A GET over HTTPS trusting only `ca`: status, `Set-Cookie`, body.
fn get(ca: &str, url: &str) -> Result<(u16, String, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let resp = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Ok((status, cookie, resp.text().await.unwrap()))
    })
}

#[test]
fn https_serves_with_the_certificate_given_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pair();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let srv = start(dir.path());
    let (status, _, body) = get(&ca, &format!("{}/versions", srv.url)).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("\"{}/v2/\"", srv.url)),
        "links are https: {body}"
    );
    let (status, cookie, _) = get(&ca, &format!("{}/ui/login", srv.url)).unwrap();
    assert_eq!(status, 200);
    assert!(cookie.contains("; Secure"), "{cookie}");
    // A renewal: new files, and new connections see the new certificate.
    let (ca2, cert2, key2) = make_pair();
    std::fs::write(dir.path().join("key.pem"), key2).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert2).unwrap();
    let url = format!("{}/healthz", srv.url);
    assert_eq!(get(&ca2, &url).map(|r| r.0), Ok(200));
    assert!(
        get(&ca, &url).is_err(),
        "the old certificate is still served"
    );
    // A broken file keeps the pair served.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    assert_eq!(get(&ca2, &url).map(|r| r.0), Ok(200));
}

#[test]
fn plain_http_to_the_https_port_gets_no_answer_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = make_pair();
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let srv = start(dir.path());
    let addr = srv.url.trim_start_matches("https://").parse().unwrap();
    let o = crate::send(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
    assert!(o.status.is_none() && o.closed, "{o:?}");
}

#[test]
fn a_certificate_without_its_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::process::command(dir.path())
        .env("PLANKTON_TLS__CERTIFICATE", dir.path().join("cert.pem"))
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls.private_key"), "{err}");
}
