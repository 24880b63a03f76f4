//! The `database` setting as a PostgreSQL URL (docs/api.md §18): libpq's
//! URI form, read by tokio-postgres's own parser except for the TLS
//! parameters, which plankton answers itself (`sslmode=verify-full` and
//! `sslrootcert` are libpq's, tokio-postgres has neither). The password
//! is kept only inside the connection settings: every way of showing a
//! `PgUrl` (`Display`, `Debug`, errors) writes `***` in its place.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use tokio_postgres::config::{Host, SslMode};

/// How the connection is encrypted, libpq's `sslmode` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never.
    Disable,
    /// When the server offers it, without checking its certificate
    /// (libpq's default).
    Prefer,
    /// Always, without checking the certificate (libpq's meaning).
    Require,
    /// Always, the certificate checked against the roots and the host name.
    VerifyFull,
}

impl TlsMode {
    fn parse(word: &str) -> Option<TlsMode> {
        Some(match word {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed `postgresql://` URL: the connection settings, and how TLS is
/// used.
#[derive(Clone)]
pub struct PgUrl {
    config: tokio_postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
}

/// Whether `text` is meant as a URL rather than a file path: it begins
/// with a scheme and `://`.
pub(crate) fn looks_like_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

impl PgUrl {
    /// Parses a `postgresql://` or `postgres://` URL. The error says what
    /// is wrong without repeating the URL (it may hold a password).
    pub(crate) fn parse(text: &str) -> Result<PgUrl, String> {
        let Some(rest) = text
            .strip_prefix("postgresql://")
            .or_else(|| text.strip_prefix("postgres://"))
        else {
            return Err("a URL must begin postgresql:// or postgres:// \
                 (or give a file path for SQLite)"
                .into());
        };
        if rest.contains('#') {
            return Err("a PostgreSQL URL has no #fragment".into());
        }
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (kept, tls, root_cert) = tls_parameters(query)?;
        let mut plain = format!("postgresql://{base}");
        if !kept.is_empty() {
            plain.push('?');
            plain.push_str(&kept.join("&"));
        }
        let mut config = tokio_postgres::Config::from_str(&plain)
            .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        if config
            .get_hosts()
            .iter()
            .any(|h| matches!(h, Host::Tcp(name) if name.contains('@')))
        {
            // A second '@': the password's own, not percent-encoded. The
            // host would hold the rest of the password, and be shown.
            return Err("a '@' in the password must be written %40".into());
        }
        if config.get_hosts().is_empty() {
            // libpq's default on Debian: the local server's socket.
            config.host_path("/run/postgresql");
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
        });
        Ok(PgUrl {
            config,
            tls,
            root_cert,
        })
    }

    /// The connection settings, password included: for connecting only.
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// How TLS is used.
    pub(crate) fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The roots to check the server's certificate against under
    /// `verify-full` (`sslrootcert`); none: the system's.
    pub(crate) fn root_cert(&self) -> Option<&PathBuf> {
        self.root_cert.as_ref()
    }

    /// `text` with the password, and its percent-encoded form, replaced by
    /// `***`: for messages that come from elsewhere (the driver, the
    /// server) and might quote it.
    pub(crate) fn redact(&self, text: &str) -> String {
        let Some(password) = self.config.get_password().filter(|p| !p.is_empty()) else {
            return text.to_owned();
        };
        let plain = String::from_utf8_lossy(password).into_owned();
        let encoded =
            percent_encoding::utf8_percent_encode(&plain, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        text.replace(&plain, "***").replace(&encoded, "***")
    }
}

/// The query's TLS parameters, which plankton reads itself, and the
/// others as they were, for tokio-postgres to read.
fn tls_parameters(query: &str) -> Result<(Vec<&str>, TlsMode, Option<PathBuf>), String> {
    let mut kept = Vec::new();
    let mut tls = TlsMode::Prefer;
    let mut root_cert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value)?;
        match decode(key)?.as_str() {
            "sslmode" => {
                tls = TlsMode::parse(&value).ok_or_else(|| {
                    format!("sslmode '{value}' is not one of disable, prefer, require, verify-full")
                })?;
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            _ => kept.push(pair),
        }
    }
    Ok((kept, tls, root_cert))
}

/// One percent-decoded part of the query.
fn decode(part: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| "a URL parameter is not UTF-8 once decoded".into())
}

/// The URL as it can be shown: the password as `***`, socket directories
/// as `host=` parameters.
impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.write_str("postgresql://")?;
        let user = c.get_user().unwrap_or("");
        match c.get_password() {
            Some(_) => write!(f, "{user}:***@")?,
            None if !user.is_empty() => write!(f, "{user}@")?,
            None => {}
        }
        let mut sockets = Vec::new();
        let mut tcp = Vec::new();
        for (i, host) in c.get_hosts().iter().enumerate() {
            let port = c.get_ports().get(i).or_else(|| c.get_ports().first());
            match host {
                Host::Tcp(name) if name.contains(':') => tcp.push(format!("[{name}]")),
                Host::Tcp(name) => tcp.push(name.clone()),
                Host::Unix(dir) => sockets.push(format!("host={}", dir.display())),
            }
            if let (Some(port), Host::Tcp(_)) = (port, host) {
                if let Some(last) = tcp.last_mut() {
                    last.push_str(&format!(":{port}"));
                }
            }
        }
        write!(f, "{}/{}", tcp.join(","), c.get_dbname().unwrap_or(""))?;
        let mut params = sockets;
        if self.tls != TlsMode::Prefer {
            params.push(format!("sslmode={}", self.tls.word()));
        }
        if let Some(root) = &self.root_cert {
            params.push(format!("sslrootcert={}", root.display()));
        }
        if !params.is_empty() {
            write!(f, "?{}", params.join("&"))?;
        }
        Ok(())
    }
}

/// As `Display`: a `Debug` that printed the settings would print the
/// password.
impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

/// Two URLs are the same when they show the same (the password aside).
impl PartialEq for PgUrl {
    fn eq(&self, other: &PgUrl) -> bool {
        self.to_string() == other.to_string()
            && self.config.get_password() == other.config.get_password()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PgUrl {
        PgUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_form_of_the_contract_parses() {
        let u = parse("postgresql://plankton:s3cret@db.example:6543/catalogue");
        assert_eq!(u.config().get_user(), Some("plankton"));
        assert_eq!(u.config().get_password(), Some(&b"s3cret"[..]));
        assert_eq!(u.config().get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(u.config().get_ports(), [6543]);
        assert_eq!(u.config().get_dbname(), Some("catalogue"));
        assert_eq!(u.tls(), TlsMode::Prefer);
        assert_eq!(
            u.to_string(),
            "postgresql://plankton:***@db.example:6543/catalogue"
        );

        let u = parse("postgres://me@/plankton?host=/run/postgresql");
        assert_eq!(
            u.config().get_hosts(),
            [Host::Unix("/run/postgresql".into())]
        );
        assert_eq!(
            u.to_string(),
            "postgresql://me@/plankton?host=/run/postgresql"
        );

        let u = parse("postgresql://me@%2Fvar%2Frun%2Fpg/plankton");
        assert_eq!(u.config().get_hosts(), [Host::Unix("/var/run/pg".into())]);

        for (word, mode) in [
            ("disable", TlsMode::Disable),
            ("prefer", TlsMode::Prefer),
            ("require", TlsMode::Require),
            ("verify-full", TlsMode::VerifyFull),
        ] {
            let u = parse(&format!(
                "postgresql://u:p@h/d?sslmode={word}&application_name=x"
            ));
            assert_eq!(u.tls(), mode, "{word}");
            assert_eq!(u.config().get_application_name(), Some("x"));
        }
        let u = parse("postgresql://u@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem");
        assert_eq!(u.root_cert(), Some(&PathBuf::from("/etc/ca.pem")));
        assert_eq!(
            u.to_string(),
            "postgresql://u@h:5432/d?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        );
    }

    #[test]
    fn defaults_are_libpqs() {
        let u = parse("postgresql:///plankton");
        assert_eq!(
            u.config().get_hosts(),
            [Host::Unix("/run/postgresql".into())]
        );
        assert_eq!(u.config().get_dbname(), Some("plankton"));
        let u = parse("postgresql://[::1]:5433/x");
        assert_eq!(u.config().get_hosts(), [Host::Tcp("::1".into())]);
        assert_eq!(u.to_string(), "postgresql://[::1]:5433/x");
    }

    #[test]
    fn a_password_in_the_query_or_encoded_is_hidden_too() {
        let u = parse("postgresql://u@h/d?password=hunter%2F2");
        assert_eq!(u.config().get_password(), Some(&b"hunter/2"[..]));
        assert!(!u.to_string().contains("hunter"), "{u}");
        assert!(!format!("{u:?}").contains("hunter"), "{u:?}");
        assert_eq!(
            u.redact("failed for hunter/2 and hunter%2F2"),
            "failed for *** and ***"
        );
    }

    #[test]
    fn malformed_urls_are_refused_without_echoing_them() {
        for bad in [
            "postgresql://u:pw0rd@h:notaport/d",
            "postgresql://u:pw0rd@h/d?sslmode=verify-ca",
            "postgresql://u:pw0rd@h/d?sslmode=allow",
            "postgresql://u:pw0rd@h/d?nosuchoption=1",
            "postgresql://u:pw0rd@h/d?sslmode=%FF",
            "postgresql://u:pw0rd@[::1/d",
            "postgresql://u:pw0rd@h/d#frag",
            "mysql://u:pw0rd@h/d",
            "postgresql://u:pw0rd@h/d?keepalives=maybe",
            "postgresql://u:pw@0rd@h/d",
        ] {
            let e = PgUrl::parse(bad).expect_err(bad);
            assert!(!e.contains("pw0rd") && !e.contains("0rd@"), "{bad}: {e}");
        }
    }

    #[test]
    fn urls_are_told_from_paths() {
        assert!(looks_like_url("postgresql://x"));
        assert!(looks_like_url("mysql://x"));
        assert!(!looks_like_url("./var/plankton.db"));
        assert!(!looks_like_url("/srv/a://b.db"));
        assert!(!looks_like_url("plankton.db"));
    }
}
