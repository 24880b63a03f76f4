//! The quota's ledger (docs/api.md §14, `store.quota`): the space writes in
//! progress reserved, and the uploaded blocks each account made that no
//! object has consumed yet. A write claims its space as it starts, with the
//! account's usage read under the ledger's lock, so writes at once never
//! add up past the quota: a finished write's bytes are on disk before its
//! claim is released, so they are counted once or (briefly) twice, never
//! not at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The space of one store root's writes in progress and unconsumed blocks.
#[derive(Default)]
pub(crate) struct Ledger {
    /// By account: the bytes its writes in progress claimed.
    held: Mutex<HashMap<String, u64>>,
    /// By account: the blocks it made (hash → bytes kept) and no object
    /// consumed yet.
    uploaded: Mutex<HashMap<String, HashMap<String, u64>>>,
}

/// Space claimed by one write, given back when dropped.
pub(crate) struct Claim {
    ledger: Arc<Ledger>,
    account: String,
    bytes: u64,
    /// What the quota left the write when it claimed.
    pub(crate) left: u64,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes claimed by {}", self.bytes, self.account)
    }
}

/// What a write asks of the quota.
pub(crate) struct Ask {
    /// The account.
    pub(crate) account: String,
    /// Its quota (not 0).
    pub(crate) quota: u64,
    /// The bytes of the object the write replaces (freed by it).
    pub(crate) replaced: u64,
    /// The bytes it will write; `None`: unknown, it claims all that is left.
    pub(crate) need: Option<u64>,
    /// The blocks it will consume (not counted as unconsumed).
    pub(crate) consumes: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ledger {
    /// Claims the space of a write; `Err(left)` when `need` passes what is
    /// left. `usage` reads the account's bytes on disk (blocking), under the lock.
    pub(crate) fn claim<E>(
        self: &Arc<Self>,
        ask: &Ask,
        usage: impl FnOnce() -> Result<u64, E>,
    ) -> Result<Result<Claim, u64>, E> {
        let mut held = lock(&self.held);
        let used = usage()?.saturating_sub(ask.replaced);
        let pending: u64 = lock(&self.uploaded).get(&ask.account).map_or(0, |m| {
            m.iter()
                .filter(|(h, _)| !ask.consumes.contains(h))
                .map(|(_, n)| n)
                .sum()
        });
        let others = held.get(&ask.account).copied().unwrap_or(0);
        let left = ask
            .quota
            .saturating_sub(used)
            .saturating_sub(pending)
            .saturating_sub(others);
        let bytes = match ask.need {
            Some(n) if n > left => return Ok(Err(left)),
            Some(n) => n,
            None => left,
        };
        *held.entry(ask.account.clone()).or_default() += bytes;
        Ok(Ok(Claim {
            ledger: Arc::clone(self),
            account: ask.account.clone(),
            bytes,
            left: bytes,
        }))
    }

    /// Notes blocks the account made (hash, bytes kept).
    pub(crate) fn made(&self, account: &str, blocks: impl IntoIterator<Item = (String, u64)>) {
        lock(&self.uploaded)
            .entry(account.to_string())
            .or_default()
            .extend(blocks);
    }

    /// Forgets blocks that are gone (consumed by an object, or expired).
    pub(crate) fn gone(&self, hashes: &[String]) {
        let mut uploaded = lock(&self.uploaded);
        for m in uploaded.values_mut() {
            m.retain(|h, _| !hashes.contains(h));
        }
        uploaded.retain(|_, m| !m.is_empty());
    }

    /// Keeps only the blocks `exists` still finds (a sweep removed the others).
    pub(crate) fn prune(&self, exists: impl Fn(&str) -> bool) {
        let mut uploaded = lock(&self.uploaded);
        for m in uploaded.values_mut() {
            m.retain(|h, _| exists(h));
        }
        uploaded.retain(|_, m| !m.is_empty());
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = lock(&self.ledger.held);
        if let Some(n) = held.get_mut(&self.account) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                held.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(need: Option<u64>, consumes: &[String]) -> Ask {
        Ask {
            account: "a".into(),
            quota: 100,
            replaced: 0,
            need,
            consumes: consumes.to_vec(),
        }
    }

    #[test]
    fn claims_and_unconsumed_blocks_add_up_to_the_quota() {
        let ledger = Arc::new(Ledger::default());
        let disk = || Ok::<u64, ()>(10);
        let first = ledger.claim(&ask(Some(50), &[]), disk).unwrap().unwrap();
        assert_eq!(
            ledger
                .claim(&ask(Some(41), &[]), disk)
                .unwrap()
                .unwrap_err(),
            40
        );
        ledger.made("a", [("h".to_string(), 30)]);
        assert_eq!(
            ledger
                .claim(&ask(Some(11), &[]), disk)
                .unwrap()
                .unwrap_err(),
            10
        );
        let consuming = ["h".to_string()];
        let second = ledger
            .claim(&ask(Some(40), &consuming), disk)
            .unwrap()
            .unwrap();
        drop((first, second));
        let all = ledger.claim(&ask(None, &[]), disk).unwrap().unwrap();
        assert_eq!(all.left, 60, "an unknown length claims what is left");
        drop(all);
        ledger.gone(&consuming);
        assert!(ledger.claim(&ask(Some(90), &[]), disk).unwrap().is_ok());
    }
}
