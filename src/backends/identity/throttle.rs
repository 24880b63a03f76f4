//! Rate limits on what a client could repeat to attack the service: failed
//! authentications per address (token guessing, issue 25 item 5) and
//! logins per address and per user (item 3). A token bucket per key, kept
//! in an LRU table of fixed capacity (`hashlink`'s `LruCache`, the one
//! rusqlite already uses), so memory is bounded whatever the number of
//! addresses: past the capacity the entry touched longest ago goes.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LruCache;

use crate::error::AppError;

/// How much a key may do: `burst` at once, then `per_minute` (evenly spread).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rule {
    /// Actions allowed at once, from a full bucket.
    pub(crate) burst: u32,
    /// Actions the bucket regains a minute.
    pub(crate) per_minute: u32,
}

/// One key's bucket: its level when last touched.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Rule {
    /// The bucket's level at `now`, refilled since it was last touched.
    fn level(&self, b: &Bucket, now: Instant) -> f64 {
        let gained =
            now.saturating_duration_since(b.at).as_secs_f64() * f64::from(self.per_minute) / 60.0;
        (b.level + gained).min(f64::from(self.burst))
    }

    /// How long until a bucket at `level` holds one action again.
    fn wait(&self, level: f64) -> Duration {
        if self.per_minute == 0 {
            return Duration::from_secs(60);
        }
        let missing = (1.0 - level).max(0.0);
        Duration::from_secs_f64(missing * 60.0 / f64::from(self.per_minute))
    }
}

/// Rate-limited keys, at most `capacity` of them remembered.
pub(crate) struct Throttle<K: Hash + Eq> {
    rule: Rule,
    table: Mutex<LruCache<K, Bucket>>,
}

impl<K: Hash + Eq> Throttle<K> {
    /// An empty table that follows `rule` and remembers at most `capacity` keys.
    pub(crate) fn new(rule: Rule, capacity: usize) -> Throttle<K> {
        Throttle {
            rule,
            table: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, LruCache<K, Bucket>> {
        // A panic elsewhere while holding the lock leaves the table whole.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `key` may act now, without spending: `Err` with how long it
    /// must wait. A key not in the table has a full bucket.
    pub(crate) fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let table = self.table();
        match table.peek(key) {
            Some(b) if self.rule.level(b, now) < 1.0 => {
                Err(self.rule.wait(self.rule.level(b, now)))
            }
            _ => Ok(()),
        }
    }

    /// Spends one action of `key`'s bucket: `Err` with how long it must
    /// wait if the bucket had none left (nothing is spent then).
    pub(crate) fn spend(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut table = self.table();
        let level = table
            .get(&key)
            .map_or(f64::from(self.rule.burst), |b| self.rule.level(b, now));
        if level < 1.0 {
            return Err(self.rule.wait(level));
        }
        table.insert(
            key,
            Bucket {
                level: level - 1.0,
                at: now,
            },
        );
        Ok(())
    }

    /// Takes one action of `key`'s bucket only if the table remembers the
    /// key: `Ok(true)` if one was taken, `Ok(false)` if the key is unknown
    /// (or refilled to full, and then forgotten) and nothing was taken,
    /// `Err` with how long to wait if its bucket is empty.
    pub(crate) fn take_if_known(&self, key: &K, now: Instant) -> Result<bool, Duration> {
        let mut table = self.table();
        let Some(b) = table.get_mut(key) else {
            return Ok(false);
        };
        let level = self.rule.level(b, now);
        if level >= f64::from(self.rule.burst) {
            table.remove(key);
            return Ok(false);
        }
        if level < 1.0 {
            return Err(self.rule.wait(level));
        }
        *b = Bucket {
            level: level - 1.0,
            at: now,
        };
        Ok(true)
    }

    /// Gives back an action `spend` took (it turned out not to count); a
    /// key whose bucket is full again is forgotten, so that keys that
    /// only ever get their actions back take no room.
    pub(crate) fn refund(&self, key: &K) {
        let mut table = self.table();
        let full = match table.peek_mut(key) {
            Some(b) => {
                b.level += 1.0;
                b.level >= f64::from(self.rule.burst)
            }
            None => false,
        };
        if full {
            table.remove(key);
        }
    }

    /// How many keys the table remembers now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }
}

/// Failed authentications per client address (issue 25, item 5): an
/// address that fails `identity.failures_per_minute` times too fast is
/// answered 429, without its token being looked at, until it has waited.
pub(crate) struct Guesses {
    failures: Throttle<IpAddr>,
    /// (address, token) pairs that authenticated lately, as keyed digests
    /// (no token is kept): a right token already in use from an address
    /// is not held back by someone else's guesses from that address (a
    /// lab behind one NAT). A guesser learns nothing from it: a token new
    /// to the address is never looked at during a penalty.
    known: Mutex<LruCache<u64, ()>>,
    /// The digests' key, random per process.
    keys: std::collections::hash_map::RandomState,
}

impl Guesses {
    /// No failures yet; `per_minute` at once and then a minute, `capacity`
    /// addresses remembered.
    pub(crate) fn new(per_minute: u32, capacity: usize) -> Guesses {
        let rule = Rule {
            burst: per_minute,
            per_minute,
        };
        Guesses {
            failures: Throttle::new(rule, capacity),
            known: Mutex::new(LruCache::new(capacity.max(1))),
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    fn digest(&self, ip: IpAddr, token: &str) -> u64 {
        use std::hash::BuildHasher;
        self.keys.hash_one((ip, token))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, LruCache<u64, ()>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `attempt` (an authentication of `token`) for a client at
    /// `from`, unless that address is waiting out its failures (429, and
    /// the attempt is not made: a right token is not told from a wrong one
    /// then) and `token` has not authenticated from there lately; only a
    /// rejected token counts against the address.
    pub(crate) async fn guarded<T>(
        &self,
        from: Option<IpAddr>,
        token: &str,
        attempt: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let Some(ip) = from.map(client_key) else {
            return attempt.await;
        };
        let digest = self.digest(ip, token);
        if self.known().get(&digest).is_some() {
            let result = attempt.await;
            if matches!(result, Err(AppError::Unauthenticated(_))) {
                // Revoked since: it counts as any other failure.
                self.known().remove(&digest);
                let _ = self.failures.spend(ip, Instant::now());
            }
            return result;
        }
        // An address that has failed lately has its count taken before the
        // attempt (given back if the token is good), so that guesses sent
        // at once cannot all pass one check; one that has not is only
        // counted once it fails, so that a client's many requests at once
        // with a good token never wait on each other.
        let taken = self
            .failures
            .take_if_known(&ip, Instant::now())
            .map_err(too_many)?;
        let result = attempt.await;
        match (matches!(result, Err(AppError::Unauthenticated(_))), taken) {
            (true, false) => {
                // Past the bucket already: the next attempt is refused.
                let _ = self.failures.spend(ip, Instant::now());
            }
            (false, true) => self.failures.refund(&ip),
            _ => {}
        }
        if result.is_ok() {
            self.known().insert(digest, ());
        }
        result
    }
}

/// The 429 of an address that must wait.
fn too_many(wait: Duration) -> AppError {
    let secs = retry_after_secs(wait);
    AppError::TooMany {
        message: format!(
            "Too many failed authentications from this address: try again in {secs} s"
        ),
        retry_after: secs,
    }
}

/// The key of a client address: an IPv4 address, or an IPv6 address's /64
/// (one host is usually given a whole /64, so its addresses are one client).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Whole seconds to wait, rounded up and at least 1: a `Retry-After`.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_spends_its_burst_then_waits_for_the_refill() {
        let t = Throttle::new(
            Rule {
                burst: 3,
                per_minute: 6,
            },
            16,
        );
        let now = Instant::now();
        for _ in 0..3 {
            assert!(t.check(&1, now).is_ok());
            assert!(t.spend(1, now).is_ok());
        }
        let wait = t.check(&1, now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert_eq!(t.spend(1, now).unwrap_err(), wait);
        assert!(t.check(&2, now).is_ok(), "another key is not held back");
        let later = now + Duration::from_secs(10);
        assert!(t.spend(1, later).is_ok());
        assert!(t.check(&1, later).is_err());
        assert!(t.check(&1, now + Duration::from_secs(3600)).is_ok());
    }

    #[test]
    fn refunded_actions_leave_nothing_behind() {
        let t = Throttle::new(
            Rule {
                burst: 2,
                per_minute: 1,
            },
            16,
        );
        let now = Instant::now();
        for _ in 0..10 {
            assert!(t.spend(7, now).is_ok());
            t.refund(&7);
        }
        assert_eq!(
            t.len(),
            0,
            "a key that always gets its action back takes no room"
        );
        assert!(t.spend(7, now).is_ok() && t.spend(7, now).is_ok());
        assert!(t.spend(7, now).is_err());
    }

    #[test]
    fn only_known_keys_are_taken_from_and_full_ones_are_forgotten() {
        let t = Throttle::new(
            Rule {
                burst: 2,
                per_minute: 60,
            },
            16,
        );
        let now = Instant::now();
        assert_eq!(t.take_if_known(&1, now), Ok(false));
        assert_eq!(t.len(), 0);
        t.spend(1, now).unwrap();
        assert_eq!(t.take_if_known(&1, now), Ok(true));
        assert!(t.take_if_known(&1, now).is_err());
        let later = now + Duration::from_secs(5);
        assert_eq!(t.take_if_known(&1, later), Ok(false), "refilled to full");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn the_table_never_holds_more_than_its_capacity() {
        let t = Throttle::new(
            Rule {
                burst: 1,
                per_minute: 1,
            },
            64,
        );
        let now = Instant::now();
        for k in 0..10_000u32 {
            let _ = t.spend(k, now);
        }
        assert_eq!(t.len(), 64);
        assert!(t.check(&9_999, now).is_err(), "the newest are remembered");
        assert!(t.check(&0, now).is_ok(), "the oldest were forgotten");
    }

    #[test]
    fn addresses_key_by_ipv4_or_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let m: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(m), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
