//! TLS to PostgreSQL as `sslmode` asks, against a second test server that
//! listens on 127.0.0.1 with a certificate signed by a CA made here.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::support::postgres::{available, migrate, PgServer};

/// The TLS server, its port, and the CA's certificate (PEM) in a file.
struct Tls {
    server: PgServer,
    port: u16,
    ca_file: std::path::PathBuf,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "plankton pg test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.use_authority_key_identifier_extension = true;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let (server, port) = PgServer::start_tls(&cert.pem(), &key.serialize_pem());
        let ca_file = server.dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        Tls {
            server,
            port,
            ca_file,
        }
    })
}

/// A new empty database on the TLS server: its name.
fn database() -> String {
    let url = tls().server.empty_database();
    crate::support::postgres::name_of(&url).to_owned()
}

/// Whether the server logged a TLS connection to `db`.
fn encrypted(db: &str) -> bool {
    tls()
        .server
        .log()
        .lines()
        .any(|l| l.contains(&format!("database={db}")) && l.contains("SSL enabled"))
}

#[test]
fn require_encrypts_without_checking_the_certificate() {
    if !available() {
        return;
    }
    let db = database();
    let port = tls().port;
    migrate(&format!(
        "postgresql://postgres:pw@127.0.0.1:{port}/{db}?sslmode=require"
    ))
    .unwrap();
    assert!(encrypted(&db), "{}", tls().server.log());
}

#[test]
fn verify_full_checks_the_certificate_and_the_host_name() {
    if !available() {
        return;
    }
    let db = database();
    let (port, ca) = (tls().port, tls().ca_file.display());
    migrate(&format!(
        "postgresql://postgres@localhost:{port}/{db}?sslmode=verify-full&sslrootcert={ca}"
    ))
    .unwrap();
    assert!(encrypted(&db));

    // The certificate names localhost, not 127.0.0.1: refused, at once.
    let started = Instant::now();
    let e = migrate(&format!(
        "postgresql://postgres:Tr0ub4dor@127.0.0.1:{port}/{db}?sslmode=verify-full&sslrootcert={ca}"
    ))
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    assert!(e.contains("TLS handshake"), "{e}");
    assert!(!e.contains("Tr0ub4dor"), "{e}");
}

#[test]
fn require_against_a_server_without_tls_is_refused_at_once() {
    if !available() {
        return;
    }
    let url = crate::support::postgres::server().empty_database();
    let started = Instant::now();
    let e = migrate(&format!("{url}&sslmode=require")).unwrap_err();
    // Over a Unix socket the server offers no TLS.
    assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    assert!(e.contains("does not support TLS"), "{e}");
}
