//! Objects a hashmap `PUT` was answered 409 for, waiting for their blocks
//! (docs/behaviour.md, "Blocks written once"): each has a staging file of
//! the object's size, made at that 409, and a block uploaded afterwards by
//! the same account whose hash the map names is written straight into it
//! at its slots, instead of into `+blocks` and then again into the object.
//! The final hashmap `PUT` then copies only what is not there yet and syncs
//! the file once. Nothing here is durable until that `PUT`: a restart
//! removes the staging files (as any unplaced data), and the next `PUT`
//! asks for the blocks again.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::staging::Staged;
use crate::domain::objects::hashmap::{Hashmap, BLOCK_SIZE, EMPTY_HASH};

/// How long an object waits for its blocks.
const TTL: Duration = Duration::from_secs(24 * 3600);

/// The most block hashes the waiting objects of one account name.
const MAX_HASHES_PER_ACCOUNT: usize = 1 << 18;

/// The most block hashes all waiting objects name.
const MAX_HASHES: usize = 1 << 21;

/// The staging file of a waiting object and the hashes written into it,
/// with their lengths (the block without its trailing NULs).
pub(crate) type Filling = (Staged, HashMap<String, u64>);

/// One object waiting for its blocks.
struct Waiting {
    map: Hashmap,
    until: Instant,
    /// By hash, the slots it fills.
    slots: HashMap<String, Vec<usize>>,
    file: Mutex<Option<Filling>>,
}

impl Waiting {
    /// Writes `len` bytes of `src` from `offset` (a block of hash `hash`)
    /// into every slot of it.
    fn put(
        &self,
        staged: &mut Staged,
        hash: &str,
        (src, offset, len): (&File, u64, u64),
    ) -> std::io::Result<()> {
        for &i in self.slots.get(hash).into_iter().flatten() {
            staged.copy_at(src, (offset, len), i as u64 * BLOCK_SIZE)?;
        }
        Ok(())
    }

    /// The hashes written into it so far.
    fn hashes(&self) -> HashSet<String> {
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.as_ref()
            .map(|(_, f)| f.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Its staging file opened anew (a cursor of its own), if it is still
    /// there.
    fn open_file(&self) -> Option<File> {
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let (staged, _) = file.as_ref()?;
        File::open(staged.path()?).ok()
    }
}

/// The objects waiting for their blocks, by object key.
pub(crate) struct Pending {
    waiting: Mutex<HashMap<String, Arc<Waiting>>>,
    /// Whether objects may wait here at all: not where several processes
    /// serve the store root, since a block uploaded through another
    /// process would never reach this one's waiting object.
    enabled: bool,
}

impl Pending {
    /// None waiting yet; with `enabled` false, none ever will.
    pub(crate) fn new(enabled: bool) -> Pending {
        Pending {
            waiting: Mutex::default(),
            enabled,
        }
    }
}

fn account_of(key: &str) -> &str {
    key.split('/').next().unwrap_or_default()
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Waiting>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The object `key` waits for the blocks of `map`: a staging file of its
    /// size under `root` (kept if it waits for this very map already).
    /// The expired, then the oldest beyond the bounds, stop waiting.
    pub(crate) fn expect(&self, root: &Path, key: &str, map: &Hashmap) -> std::io::Result<()> {
        if !self.enabled || self.lock().get(key).is_some_and(|w| w.map == *map) {
            return Ok(());
        }
        let staged = Staged::sized(root, map.bytes)?;
        let mut slots: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, h) in map.hashes.iter().enumerate() {
            if h != EMPTY_HASH {
                slots.entry(h.clone()).or_default().push(i);
            }
        }
        let now = Instant::now();
        let waiting = Arc::new(Waiting {
            map: map.clone(),
            until: now + TTL,
            slots,
            file: Mutex::new(Some((staged, HashMap::new()))),
        });
        let mut all = self.lock();
        all.retain(|_, w| w.until > now);
        all.insert(key.to_string(), waiting);
        let account = account_of(key).to_string();
        bound(&mut all, Some(&account), MAX_HASHES_PER_ACCOUNT);
        bound(&mut all, None, MAX_HASHES);
        Ok(())
    }

    /// Writes a block of `account` (`len` bytes of `part`, trailing NULs
    /// left out) into every waiting object of that account that names its
    /// hash and has not got it yet: whether any waiting object names it
    /// (then the block need not be kept in `+blocks`). A block longer than
    /// one of its slots (a last block cut short) is not taken.
    pub(crate) fn take(
        &self,
        account: &str,
        hash: &str,
        (part, len): (&File, u64),
    ) -> std::io::Result<bool> {
        let now = Instant::now();
        let targets: Vec<Arc<Waiting>> = self
            .lock()
            .iter()
            .filter(|(k, w)| account_of(k) == account && w.until > now)
            .filter(|(_, w)| {
                w.slots
                    .get(hash)
                    .is_some_and(|s| s.iter().all(|&i| len <= w.map.slot(i)))
            })
            .map(|(_, w)| Arc::clone(w))
            .collect();
        let mut taken = false;
        for w in targets {
            let mut file = w.file.lock().unwrap_or_else(PoisonError::into_inner);
            let Some((staged, filled)) = file.as_mut() else {
                continue;
            };
            taken = true;
            if filled.contains_key(hash) {
                continue;
            }
            w.put(staged, hash, (part, 0, len))?;
            filled.insert(hash.to_string(), len);
        }
        Ok(taken)
    }

    /// Fills the object `key` waits for with the blocks other waiting
    /// objects of its account hold (uploaded for them, and named by its
    /// map too), copied from their staging files: an upload is told a
    /// block it sent for another object is there, and keeps its own copy
    /// whatever becomes of that object.
    pub(crate) fn adopt(&self, key: &str) -> std::io::Result<()> {
        let Some(me) = self.lock().get(key).cloned() else {
            return Ok(());
        };
        let others: Vec<Arc<Waiting>> = self
            .lock()
            .iter()
            .filter(|(k, _)| k.as_str() != key && account_of(k) == account_of(key))
            .map(|(_, w)| Arc::clone(w))
            .collect();
        for other in others {
            // Where the other holds blocks this one lacks (read under its
            // lock, copied under this one's: a filled slot never changes).
            let have = me.hashes();
            let found: Vec<(String, u64, u64)> = {
                let theirs = other.file.lock().unwrap_or_else(PoisonError::into_inner);
                let Some((_, held)) = theirs.as_ref() else {
                    continue;
                };
                held.iter()
                    .filter(|(h, _)| me.slots.contains_key(*h) && !have.contains(*h))
                    .filter_map(|(h, len)| {
                        let at = other.slots.get(h)?.first()?;
                        Some((h.clone(), *at as u64 * BLOCK_SIZE, *len))
                    })
                    .collect()
            };
            if found.is_empty() {
                continue;
            }
            let Some(source) = other.open_file() else {
                continue;
            };
            let mut mine = me.file.lock().unwrap_or_else(PoisonError::into_inner);
            let Some((staged, have)) = mine.as_mut() else {
                return Ok(());
            };
            for (h, offset, len) in found {
                let fits = me
                    .slots
                    .get(&h)
                    .into_iter()
                    .flatten()
                    .all(|&i| len <= me.map.slot(i));
                if fits && !have.contains_key(&h) {
                    me.put(staged, &h, (&source, offset, len))?;
                    have.insert(h, len);
                }
            }
        }
        Ok(())
    }

    /// The hashes written for `key` so far, if it waits for `map`.
    pub(crate) fn filled(&self, key: &str, map: &Hashmap) -> HashSet<String> {
        let Some(w) = self.lock().get(key).filter(|w| w.map == *map).cloned() else {
            return HashSet::new();
        };
        w.hashes()
    }

    /// Ends the wait of `key` for `map`: its staging file and the hashes in
    /// it, to finish the object with (`None` if it waits for no such map).
    pub(crate) fn finish(&self, key: &str, map: &Hashmap) -> Option<Filling> {
        let w = {
            let mut all = self.lock();
            if !all.get(key).is_some_and(|w| w.map == *map) {
                return None;
            }
            all.remove(key)?
        };
        let mut file = w.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.take()
    }

    /// Ends the wait of `key` whatever its map (its object was written
    /// another way): the hashes that were written into its file, which goes.
    pub(crate) fn end(&self, key: &str) -> Vec<String> {
        let Some(w) = self.lock().remove(key) else {
            return Vec::new();
        };
        let hashes = w.hashes().into_iter().collect();
        let mut file = w.file.lock().unwrap_or_else(PoisonError::into_inner);
        drop(file.take());
        hashes
    }

    /// Whether a waiting object holds the block `hash`.
    pub(crate) fn holds(&self, hash: &str) -> bool {
        let all: Vec<Arc<Waiting>> = self.lock().values().cloned().collect();
        all.iter().any(|w| {
            let file = w.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.as_ref().is_some_and(|(_, f)| f.contains_key(hash))
        })
    }
}

/// Drops the oldest waiting objects (of `account`, or of all) until the
/// hashes their maps name are at most `max`.
fn bound(all: &mut HashMap<String, Arc<Waiting>>, account: Option<&str>, max: usize) {
    let mine = |k: &str| account.is_none_or(|a| account_of(k) == a);
    let mut held: usize = all
        .iter()
        .filter(|(k, _)| mine(k))
        .map(|(_, w)| w.map.hashes.len())
        .sum();
    while held > max {
        let Some(oldest) = all
            .iter()
            .filter(|(k, _)| mine(k))
            .min_by_key(|(_, w)| w.until)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        if let Some(w) = all.remove(&oldest) {
            held -= w.map.hashes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::store::blocks::block_hash;
    use std::io::Write;

    fn part(dir: &Path, data: &[u8]) -> File {
        let path = dir.join(format!("part-{}", data.len()));
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        f.write_all(data).unwrap();
        f
    }

    #[test]
    fn blocks_go_to_their_slots_once_and_only_for_their_account() {
        let dir = tempfile::tempdir().unwrap();
        let block = BLOCK_SIZE as usize;
        let (a, b) = (vec![1u8; block], vec![2u8, 0, 3]);
        let (ha, hb) = (block_hash(&a), block_hash(&b));
        let map = Hashmap {
            bytes: 3 * block as u64 + 3,
            hashes: vec![ha.clone(), EMPTY_HASH.to_string(), ha.clone(), hb.clone()],
        };
        let pending = Pending::new(true);
        pending.expect(dir.path(), "alice/c/x", &map).unwrap();
        let pa = part(dir.path(), &a);
        assert!(!pending.take("bob", &ha, (&pa, a.len() as u64)).unwrap());
        assert!(pending.take("alice", &ha, (&pa, a.len() as u64)).unwrap());
        assert!(pending.holds(&ha) && !pending.holds(&hb));
        let other = Hashmap {
            bytes: 1,
            hashes: vec![hb.clone()],
        };
        assert!(
            pending.filled("alice/c/x", &other).is_empty(),
            "another map"
        );
        assert!(pending.finish("alice/c/x", &other).is_none());
        let pb = part(dir.path(), &b);
        assert!(pending.take("alice", &hb, (&pb, 3)).unwrap());
        assert_eq!(pending.filled("alice/c/x", &map).len(), 2);
        let (staged, filled) = pending.finish("alice/c/x", &map).unwrap();
        assert_eq!(filled.len(), 2);
        let done = staged.finish_known(String::new(), None).unwrap();
        let bytes = std::fs::read(done.staged_path()).unwrap();
        let want = [a.clone(), vec![0; block], a, b].concat();
        assert_eq!(bytes.len(), want.len());
        assert!(bytes == want, "each block at its slots, holes of NULs");
        assert!(pending.finish("alice/c/x", &map).is_none(), "waits no more");
        assert!(!pending.take("alice", &hb, (&pb, 3)).unwrap());
    }

    #[test]
    fn a_block_longer_than_its_last_slot_is_not_taken_and_bounds_hold() {
        let dir = tempfile::tempdir().unwrap();
        let long = vec![7u8; 10];
        let h = block_hash(&long);
        let map = Hashmap {
            bytes: 4,
            hashes: vec![h.clone()],
        };
        let pending = Pending::new(true);
        pending.expect(dir.path(), "alice/c/x", &map).unwrap();
        let p = part(dir.path(), &long);
        assert!(!pending.take("alice", &h, (&p, 10)).unwrap());
        let mut all = pending.lock();
        bound(&mut all, Some("alice"), 0);
        assert!(all.is_empty());
    }
}
