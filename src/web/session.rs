//! Browser sessions (docs/api.md §15): kept in the catalogue (§18), so
//! that a login on one process is good on every other and a restart keeps
//! people logged in; keyed by the SHA-256 of a random id that only the
//! session cookie carries. Each holds the user's token (which never leaves
//! the server, and is kept sealed with a key drawn from that id: `seal`),
//! its CSRF value, its end and a one-time notice for the next page. The
//! login counts stay in each process's memory.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::backends::identity::throttle::{Rule, Throttle};
use crate::config::UiSettings;
use crate::domain::session::{NewSession, SessionCaps, StoredSession};
use crate::domain::time::now_micros;
use crate::error::AppError;
use crate::registry::Registry;

pub(crate) use crate::domain::session::Notice;

/// The cookie that names a session.
pub(crate) const SESSION_COOKIE: &str = "plankton_session";

/// The cookie of the login form's CSRF value (there is no session yet).
pub(crate) const LOGIN_COOKIE: &str = "plankton_login";

/// At most this many sessions are kept in all; past it a new login is
/// refused (never another user's session ended). Each user's own cap
/// (`ui.max_sessions_per_user`) keeps one user from filling it.
const MAX_SESSIONS: usize = 100_000;

/// How many users and addresses the login counts remember.
const LOGIN_KEYS: usize = 65_536;

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// The id from the cookie.
    pub(crate) id: String,
    /// The user's token, for the identity backend and the store.
    pub(crate) token: String,
    /// The value every changing form must carry in its `csrf` field.
    pub(crate) csrf: String,
    /// The notice left for this page, taken (shown once).
    pub(crate) notice: Option<Notice>,
}

/// What a login may do (`Sessions::admit_login`).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum LoginKey {
    Address(IpAddr),
    User(String),
}

/// The sessions' rules, and this process's login counts.
pub(crate) struct Sessions {
    ttl: Duration,
    caps: SessionCaps,
    logins: Throttle<LoginKey>,
}

/// 32 random bytes as hex.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    // The system's generator failing is a broken machine; no session can
    // be made safely, so this is a panic (a 500), never a weak id.
    getrandom::fill(&mut bytes).expect("the system's random number generator");
    hex::encode(bytes)
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The keystream that hides a session's token in the catalogue: SHA-256 of
/// a label, the session's id (which only the cookie carries; the
/// catalogue keeps its hash) and a block counter, as long as the token.
/// Each id is 32 random bytes drawn for one session and one token, so no
/// keystream is ever used twice; without the cookie, the catalogue's copy
/// (a backup, a stolen file or dump) gives up no token.
fn keystream(id: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(b"plankton session token\0");
        h.update(id.as_bytes());
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

/// `token` as the catalogue keeps it for session `id` (hex).
fn seal(id: &str, token: &str) -> String {
    let stream = keystream(id, token.len());
    hex::encode(
        token
            .bytes()
            .zip(stream)
            .map(|(b, k)| b ^ k)
            .collect::<Vec<u8>>(),
    )
}

/// The token the catalogue keeps sealed for session `id`; `None` if it is
/// not what `seal` wrote (a damaged row).
fn unseal(id: &str, sealed: &str) -> Option<String> {
    let bytes = hex::decode(sealed).ok()?;
    let stream = keystream(id, bytes.len());
    String::from_utf8(bytes.iter().zip(stream).map(|(b, k)| b ^ k).collect()).ok()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Each session will last `ui.session_ttl` from its login.
    pub(crate) fn new(settings: &UiSettings) -> Sessions {
        let rule = Rule {
            burst: settings.logins_per_minute,
            per_minute: settings.logins_per_minute,
        };
        Sessions {
            ttl: Duration::from_secs(settings.session_ttl),
            caps: SessionCaps {
                per_user: settings.max_sessions_per_user.max(1),
                total: MAX_SESSIONS,
            },
            logins: Throttle::new(rule, LOGIN_KEYS),
        }
    }

    /// How long a session lasts.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Counts a login of `user` from `from`: `Err` with how long to wait
    /// when either has logged in `ui.logins_per_minute` times too fast.
    pub(crate) fn admit_login(&self, from: Option<IpAddr>, user: &str) -> Result<(), Duration> {
        let now = Instant::now();
        self.logins.check(&LoginKey::User(user.to_string()), now)?;
        if let Some(ip) = from {
            self.logins.spend(LoginKey::Address(ip), now)?;
        }
        self.logins.spend(LoginKey::User(user.to_string()), now)
    }

    /// Starts a session of `user` for `token`; returns its id (for the
    /// cookie), or `None` when every session the server keeps is taken.
    /// The user's oldest session ends if they are at their cap.
    pub(crate) async fn start(
        &self,
        registry: &Registry,
        token: String,
        user: &str,
    ) -> Result<Option<String>, AppError> {
        let id = random_hex();
        let now = now_micros();
        let ttl = i64::try_from(self.ttl.as_micros()).unwrap_or(i64::MAX);
        let new = NewSession {
            key: key(&id),
            started_at: now,
            session: StoredSession {
                user: user.to_string(),
                token: seal(&id, &token),
                csrf: random_hex(),
                ends_at: now.saturating_add(ttl),
                notice: None,
            },
        };
        let started = registry.start_session(new, self.caps).await?;
        Ok(started.then_some(id))
    }

    /// The live session with this id, its notice taken.
    pub(crate) async fn get(
        &self,
        registry: &Registry,
        id: &str,
    ) -> Result<Option<Live>, AppError> {
        let Some(s) = registry.session(&key(id)).await? else {
            return Ok(None);
        };
        Ok(unseal(id, &s.token).map(|token| Live {
            id: id.to_string(),
            token,
            csrf: s.csrf,
            notice: s.notice,
        }))
    }

    /// Ends a session (logout, or a token the identity backend no longer takes).
    pub(crate) async fn end(&self, registry: &Registry, id: &str) -> Result<(), AppError> {
        registry.end_session(&key(id)).await
    }

    /// Leaves a notice for the session's next page.
    pub(crate) async fn notify(
        &self,
        registry: &Registry,
        id: &str,
        notice: Notice,
    ) -> Result<(), AppError> {
        registry.set_notice(&key(id), Some(notice)).await
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, if it is
/// well formed (64 hex digits, as every cookie of ours is).
pub(crate) fn cookie<'a>(
    headers: &'a actix_web::http::header::HeaderMap,
    name: &str,
) -> Option<&'a str> {
    headers
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `Set-Cookie` value for one of our cookies, scoped to `path`; `None`
/// clears it.
pub(crate) fn set_cookie(
    name: &str,
    value: Option<&str>,
    path: &str,
    max_age: Duration,
    secure: bool,
) -> String {
    let (value, age) = match value {
        Some(v) => (v, max_age.as_secs()),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={age}; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(ttl: u64) -> UiSettings {
        UiSettings {
            session_ttl: ttl,
            max_sessions_per_user: 3,
            logins_per_minute: 2,
        }
    }

    #[test]
    fn a_sealed_token_opens_only_with_its_sessions_id() {
        let (id, other) = (random_hex(), random_hex());
        let token = "a-token_of-alice.0123456789".repeat(3);
        let sealed = seal(&id, &token);
        assert!(!sealed.contains(&hex::encode(&token)) && !sealed.contains(&token));
        assert_eq!(sealed.len(), token.len() * 2);
        assert_eq!(unseal(&id, &sealed).as_deref(), Some(token.as_str()));
        assert_ne!(unseal(&other, &sealed).as_deref(), Some(token.as_str()));
        assert_ne!(
            seal(&other, &token),
            sealed,
            "another session, another stream"
        );
        assert_eq!(unseal(&id, "not hex"), None);
    }

    #[test]
    fn logins_are_counted_per_user_and_per_address() {
        let s = Sessions::new(&ui(60));
        let here: IpAddr = "10.0.0.1".parse().unwrap();
        let there: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(s.admit_login(Some(here), "alice").is_ok());
        assert!(s.admit_login(Some(here), "alice").is_ok());
        assert!(
            s.admit_login(Some(there), "alice").is_err(),
            "alice: too fast"
        );
        assert!(
            s.admit_login(Some(here), "bob").is_err(),
            "this address: too fast"
        );
        assert!(s.admit_login(Some(there), "bob").is_ok());
    }

    #[test]
    fn cookies_are_read_only_when_well_formed() {
        let mut h = actix_web::http::header::HeaderMap::new();
        let id = "a".repeat(64);
        h.append(
            actix_web::http::header::COOKIE,
            format!("x=1; {SESSION_COOKIE}={id}; y=2").parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some(id.as_str()));
        assert_eq!(cookie(&h, LOGIN_COOKIE), None);
        let mut bad = actix_web::http::header::HeaderMap::new();
        bad.append(
            actix_web::http::header::COOKIE,
            format!("{SESSION_COOKIE}=short").parse().unwrap(),
        );
        assert_eq!(cookie(&bad, SESSION_COOKIE), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
        let c = set_cookie(
            SESSION_COOKIE,
            Some("v"),
            "/b/ui",
            Duration::from_secs(9),
            true,
        );
        assert_eq!(
            c,
            "plankton_session=v; Path=/b/ui; Max-Age=9; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
