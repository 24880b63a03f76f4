//! Browser sessions (docs/api.md §15): kept in the server's memory, keyed
//! by the SHA-256 of a random id that only the session cookie carries; each
//! holds the user's token (which never leaves the server), its CSRF value,
//! its expiry and a one-time notice for the next page.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::backends::identity::throttle::{Rule, Throttle};
use crate::config::UiSettings;

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
    user: String,
    csrf: String,
    /// Its end, and a number no other session has: its key in `by_end`.
    ends: (Instant, u64),
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

/// The sessions, indexed three ways so that no login costs more than a
/// few map operations, whatever the number of sessions.
#[derive(Default)]
struct Table {
    /// By the hash of the cookie's id.
    by_key: HashMap<String, Session>,
    /// Each user's session keys, oldest first (at most the per-user cap).
    by_user: HashMap<String, VecDeque<String>>,
    /// Every session's key by its end, soonest first.
    by_end: BTreeMap<(Instant, u64), String>,
    /// The last number given to a session.
    seq: u64,
}

impl Table {
    /// Removes one session from every index.
    fn remove(&mut self, key: &str) -> Option<Session> {
        let s = self.by_key.remove(key)?;
        self.by_end.remove(&s.ends);
        if let Some(keys) = self.by_user.get_mut(&s.user) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_user.remove(&s.user);
            }
        }
        Some(s)
    }

    /// Removes the sessions that have ended by `now`: only those.
    fn expire(&mut self, now: Instant) {
        while let Some(entry) = self.by_end.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.remove(&key);
        }
    }
}

/// What a login may do (`Sessions::admit_login`).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
enum LoginKey {
    Address(IpAddr),
    User(String),
}

/// Every live session of this process, and the login counts.
pub(crate) struct Sessions {
    ttl: Duration,
    per_user: usize,
    table: Mutex<Table>,
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

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// No sessions yet; each will last `ui.session_ttl` from its login.
    pub(crate) fn new(settings: &UiSettings) -> Sessions {
        let rule = Rule {
            burst: settings.logins_per_minute,
            per_minute: settings.logins_per_minute,
        };
        Sessions {
            ttl: Duration::from_secs(settings.session_ttl),
            per_user: settings.max_sessions_per_user.max(1),
            table: Mutex::new(Table::default()),
            logins: Throttle::new(rule, LOGIN_KEYS),
        }
    }

    /// How long a session lasts.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic elsewhere while holding the lock leaves the table whole.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    pub(crate) fn start(&self, token: String, user: &str) -> Option<String> {
        let id = random_hex();
        let now = Instant::now();
        let mut t = self.table();
        t.expire(now);
        while t
            .by_user
            .get(user)
            .is_some_and(|k| k.len() >= self.per_user)
        {
            let oldest = t.by_user.get_mut(user).and_then(VecDeque::pop_front)?;
            t.remove(&oldest);
        }
        if t.by_key.len() >= MAX_SESSIONS {
            return None;
        }
        t.seq += 1;
        let (k, ends) = (key(&id), (now + self.ttl, t.seq));
        t.by_end.insert(ends, k.clone());
        t.by_user
            .entry(user.to_string())
            .or_default()
            .push_back(k.clone());
        let session = Session {
            token,
            user: user.to_string(),
            csrf: random_hex(),
            ends,
            notice: None,
        };
        t.by_key.insert(k, session);
        Some(id)
    }

    /// The live session with this id; an expired one is removed.
    pub(crate) fn get(&self, id: &str) -> Option<Live> {
        let k = key(id);
        let mut t = self.table();
        match t.by_key.get(&k) {
            Some(s) if s.ends.0 > Instant::now() => Some(Live {
                id: id.to_string(),
                token: s.token.clone(),
                csrf: s.csrf.clone(),
            }),
            Some(_) => {
                t.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session (logout, or a token the identity backend no longer takes).
    pub(crate) fn end(&self, id: &str) {
        self.table().remove(&key(id));
    }

    /// Leaves a notice for the session's next page.
    pub(crate) fn notify(&self, id: &str, notice: Notice) {
        if let Some(s) = self.table().by_key.get_mut(&key(id)) {
            s.notice = Some(notice);
        }
    }

    /// Takes the session's notice, if any.
    pub(crate) fn take_notice(&self, id: &str) -> Option<Notice> {
        self.table()
            .by_key
            .get_mut(&key(id))
            .and_then(|s| s.notice.take())
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
        let s = Sessions::new(&ui(60));
        let id = s.start("tok".into(), "alice").unwrap();
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
        let short = Sessions::new(&ui(1));
        let id = short.start("tok".into(), "alice").unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(short.get(&id).is_none());
        assert!(short.table().by_end.is_empty() && short.table().by_user.is_empty());
    }

    fn ui(ttl: u64) -> UiSettings {
        UiSettings {
            session_ttl: ttl,
            max_sessions_per_user: 3,
            logins_per_minute: 2,
        }
    }

    #[test]
    fn a_users_logins_past_the_cap_end_their_own_oldest_sessions_only() {
        let s = Sessions::new(&ui(60));
        let bob = s.start("b".into(), "bob").unwrap();
        let alice: Vec<String> = (0..5)
            .map(|_| s.start("a".into(), "alice").unwrap())
            .collect();
        assert!(s.get(&alice[0]).is_none() && s.get(&alice[1]).is_none());
        assert!(alice[2..].iter().all(|id| s.get(id).is_some()));
        assert!(s.get(&bob).is_some(), "another user keeps theirs");
        let t = s.table();
        assert_eq!(
            (t.by_key.len(), t.by_end.len(), t.by_user["alice"].len()),
            (4, 4, 3)
        );
    }

    #[test]
    fn a_full_table_refuses_a_login_in_time_that_does_not_grow_with_it() {
        let s = Sessions::new(&ui(3600));
        let started = std::time::Instant::now();
        for _ in 0..3 {
            s.start("t".into(), "user-0").unwrap();
        }
        for n in 3..MAX_SESSIONS {
            assert!(s.start("t".into(), &format!("user-{n}")).is_some(), "{n}");
        }
        // The old sweep of every session at each login took minutes here.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
        let first = s.table().by_user["user-3"][0].clone();
        assert!(s.start("t".into(), "newcomer").is_none(), "full: refused");
        assert!(
            s.table().by_key.contains_key(&first),
            "nobody's session ended"
        );
        // A user at their own cap still logs in: their oldest makes room.
        assert!(s.start("t".into(), "user-0").is_some());
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
