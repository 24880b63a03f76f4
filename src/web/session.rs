//! Browser sessions (docs/api.md §15): kept in the server's memory, keyed
//! by the SHA-256 of a random id that only the session cookie carries; each
//! holds the user's token (which never leaves the server), its CSRF value,
//! its expiry and a one-time notice for the next page.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The cookie that names a session.
pub(crate) const SESSION_COOKIE: &str = "plankton_session";

/// The cookie of the login form's CSRF value (there is no session yet).
pub(crate) const LOGIN_COOKIE: &str = "plankton_login";

/// At most this many sessions are kept; past it the one nearest its end goes.
const MAX_SESSIONS: usize = 100_000;

/// A notice shown once, on the next page the session sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// Whether it reports a failure.
    pub(crate) failed: bool,
    /// What it says.
    pub(crate) text: String,
}

struct Session {
    token: String,
    csrf: String,
    expires: Instant,
    notice: Option<Notice>,
}

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// The id from the cookie.
    pub(crate) id: String,
    /// The user's token, for the identity backend and the store.
    pub(crate) token: String,
    /// The value every changing form must carry in its `csrf` field.
    pub(crate) csrf: String,
}

/// Every live session of this process.
pub(crate) struct Sessions {
    ttl: Duration,
    map: Mutex<HashMap<String, Session>>,
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

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// No sessions yet; each will last `ttl` from its login.
    pub(crate) fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic elsewhere while holding the lock leaves the map whole.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for `token`; returns its id (for the cookie).
    pub(crate) fn start(&self, token: String) -> String {
        let id = random_hex();
        let now = Instant::now();
        let mut map = self.map();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                map.remove(&k);
            }
        }
        map.insert(
            key(&id),
            Session {
                token,
                csrf: random_hex(),
                expires: now + self.ttl,
                notice: None,
            },
        );
        id
    }

    /// The live session with this id; an expired one is removed.
    pub(crate) fn get(&self, id: &str) -> Option<Live> {
        let k = key(id);
        let mut map = self.map();
        match map.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(Live {
                id: id.to_string(),
                token: s.token.clone(),
                csrf: s.csrf.clone(),
            }),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session (logout, or a token the identity backend no longer takes).
    pub(crate) fn end(&self, id: &str) {
        self.map().remove(&key(id));
    }

    /// Leaves a notice for the session's next page.
    pub(crate) fn notify(&self, id: &str, notice: Notice) {
        if let Some(s) = self.map().get_mut(&key(id)) {
            s.notice = Some(notice);
        }
    }

    /// Takes the session's notice, if any.
    pub(crate) fn take_notice(&self, id: &str) -> Option<Notice> {
        self.map().get_mut(&key(id)).and_then(|s| s.notice.take())
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

    #[test]
    fn a_session_lives_until_its_end_or_expiry() {
        let s = Sessions::new(Duration::from_secs(60));
        let id = s.start("tok".into());
        let live = s.get(&id).unwrap();
        assert_eq!(live.token, "tok");
        assert_eq!(live.csrf.len(), 64);
        assert_ne!(live.csrf, id);
        assert!(s.get(&random_hex()).is_none());
        s.notify(
            &id,
            Notice {
                failed: false,
                text: "hi".into(),
            },
        );
        assert_eq!(s.take_notice(&id).unwrap().text, "hi");
        assert!(s.take_notice(&id).is_none());
        s.end(&id);
        assert!(s.get(&id).is_none());
        let short = Sessions::new(Duration::from_millis(1));
        let id = short.start("tok".into());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get(&id).is_none());
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
