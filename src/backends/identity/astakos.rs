//! The Astakos identity backend: `POST <auth_url>/tokens`, with answers cached
//! in memory so that a burst of requests with one token costs one round trip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::IdentityError;
use crate::domain::ids::is_valid_user_id;
use crate::domain::user::User;
use crate::metrics::{BackendMetrics, CacheLabels};

/// Tokens are kept hashed: a memory dump does not hand them out.
type TokenKey = [u8; 32];

fn key_of(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// What one round trip to Astakos found: a user and how long to trust it,
/// Astakos's no (`None`), or why it could not be asked.
type Outcome = Result<Option<(User, Instant)>, IdentityError>;

/// Counts of the cache, for the log and the benchmarks.
#[derive(Debug, Default)]
pub(crate) struct CacheStats {
    /// Answers served from memory.
    pub(crate) hits: AtomicU64,
    /// Round trips to Astakos.
    pub(crate) round_trips: AtomicU64,
}

/// The Astakos backend.
pub(crate) struct Astakos {
    client: reqwest::Client,
    tokens_url: String,
    ttl: Duration,
    timeout: Duration,
    max_entries: usize,
    cache: Mutex<HashMap<TokenKey, (User, Instant)>>,
    /// One lookup per token under way: every request that misses the cache
    /// meanwhile shares its outcome, good or bad (a hanging Astakos costs a
    /// burst one timeout, not one each in turn).
    in_flight: Mutex<HashMap<TokenKey, Arc<tokio::sync::OnceCell<Outcome>>>>,
    /// Hit and miss counts.
    pub(crate) stats: CacheStats,
    /// The same, and the round trips' times, for `/metrics`.
    metrics: (Family<CacheLabels, Counter>, BackendMetrics),
}

#[derive(Deserialize)]
struct TokensAnswer {
    access: Access,
}

#[derive(Deserialize)]
struct Access {
    token: Option<TokenInfo>,
    user: UserInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    id: String,
    name: Option<String>,
}

impl Astakos {
    /// A backend for `auth_url` (e.g. `https://accounts.example.org/identity/v2.0`).
    pub(crate) fn new(
        client: reqwest::Client,
        auth_url: &str,
        ttl: Duration,
        timeout: Duration,
        max_entries: usize,
        metrics: (Family<CacheLabels, Counter>, BackendMetrics),
    ) -> Astakos {
        Astakos {
            client,
            tokens_url: format!("{}/tokens", auth_url.trim_end_matches('/')),
            ttl,
            timeout,
            max_entries: max_entries.max(1),
            cache: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            stats: CacheStats::default(),
            metrics,
        }
    }

    /// The tokens endpoint, for the start-up line.
    pub(crate) fn tokens_url(&self) -> &str {
        &self.tokens_url
    }

    fn cached(&self, key: &TokenKey) -> Option<User> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.get(key) {
            Some((user, until)) if *until > Instant::now() => Some(user.clone()),
            _ => None,
        }
    }

    fn remember(&self, key: TokenKey, user: User, until: Instant) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= self.max_entries && !cache.contains_key(&key) {
            let now = Instant::now();
            cache.retain(|_, (_, t)| *t > now);
            if cache.len() >= self.max_entries {
                if let Some(oldest) = cache.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k) {
                    cache.remove(&oldest);
                }
            }
        }
        cache.insert(key, (user, until));
    }

    /// The user of `token`: from the cache, or by one round trip to Astakos.
    /// Astakos saying no is `Ok(None)`; Astakos down, slow or talking
    /// nonsense is a 503.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<User>, IdentityError> {
        let key = key_of(token);
        if let Some(user) = self.cached(&key) {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            self.count_lookup("hit");
            return Ok(Some(user));
        }
        let flight = {
            let mut flights = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(flights.entry(key).or_default())
        };
        let mut asked = false;
        let outcome = flight
            .get_or_init(|| async {
                asked = true;
                let outcome = self.ask(token).await;
                if let Ok(Some((user, until))) = &outcome {
                    self.remember(key, user.clone(), *until);
                }
                outcome
            })
            .await;
        {
            // The lookup is over: the next miss asks afresh.
            let mut flights = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(&key);
            }
        }
        if asked {
            self.count_lookup("miss");
        } else {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            self.count_lookup("hit");
        }
        match outcome {
            Ok(found) => Ok(found.as_ref().map(|(user, _)| user.clone())),
            Err(e) => Err(e.clone()),
        }
    }

    fn count_lookup(&self, result: &'static str) {
        self.metrics.0.get_or_create(&CacheLabels { result }).inc();
    }

    /// One round trip, timed for the metrics.
    async fn ask(&self, token: &str) -> Outcome {
        let started = std::time::Instant::now();
        let outcome = self.ask_once(token).await;
        self.metrics
            .1
            .record("astakos", "tokens", started.elapsed(), outcome.is_err());
        outcome
    }

    async fn ask_once(&self, token: &str) -> Outcome {
        self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
        let down = |why: String| {
            log::warn!("astakos {}: {why}", self.tokens_url);
            IdentityError::Unreachable
        };
        let body = serde_json::json!({"auth": {"token": {"id": token}}});
        let resp = self
            .client
            .post(&self.tokens_url)
            .timeout(self.timeout)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| down(format!("no answer: {e}")))?;
        let status = resp.status().as_u16();
        match status {
            200 => {}
            401 | 404 => return Ok(None),
            other => return Err(down(format!("answered {other}"))),
        }
        let bytes = tokio::time::timeout(self.timeout, resp.bytes())
            .await
            .map_err(|_| down("answer too slow".into()))?
            .map_err(|e| down(format!("answer cut short: {e}")))?;
        let parsed: TokensAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| down(format!("answer is not the expected JSON: {e}")))?;
        let id = parsed.access.user.id;
        if !is_valid_user_id(&id) {
            return Err(down(format!(
                "answered a user id that is not valid: {id:?}"
            )));
        }
        let expires = parsed.access.token.and_then(|t| t.expires);
        let Some(until) = self.cache_until(expires).map_err(down)? else {
            return Ok(None);
        };
        Ok(Some((
            User {
                id,
                name: parsed.access.user.name,
            },
            until,
        )))
    }

    /// Until when an answer may be cached: the TTL, but never past the
    /// token's own expiry; `None` for a token already expired.
    fn cache_until(&self, expires: Option<String>) -> Result<Option<Instant>, String> {
        let now = Instant::now();
        let until = now + self.ttl;
        let Some(expires) = expires else {
            return Ok(Some(until));
        };
        let Some(at) = crate::domain::time::parse_since(&expires) else {
            return Err(format!(
                "answered an expiry that does not parse: {expires:?}"
            ));
        };
        let left = at - crate::domain::time::now_micros();
        if left <= 0 {
            return Ok(None);
        }
        Ok(Some(until.min(now + Duration::from_micros(left as u64))))
    }
}
