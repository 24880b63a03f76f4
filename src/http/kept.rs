//! Answers of recent reads of one image, kept while the catalogue stays the
//! same (docs/behaviour.md, "Reads"): a HEAD or a v2 show of an image read
//! a moment ago is answered without the catalogue, and so is a page of a
//! listing that the same caller asked for a moment ago.
//!
//! An entry is what one read rendered, the catalogue's generation read
//! before that read (`Catalogue::generation`), and the callers the
//! catalogue let read the image at that generation. It answers a caller it
//! names while the generation is the same: every write ends a batch and
//! moves it, before the write is answered, so no entry outlives a change
//! (a membership, a visibility, the image's own) that anybody was told of.
//! Access is never decided here: a caller the entry does not name is read
//! from the catalogue, whose answer adds them. With PostgreSQL there is no
//! generation (other processes write unseen) and nothing is kept.
//!
//! A page's key names its caller, its surface and its whole query: what it
//! lists is that caller's view, decided by the catalogue as for an image.
//!
//! Each worker thread keeps its own (`thread_local!` in the handler's
//! module): no lock, and a bounded size (`ENTRIES` images of a few KiB each,
//! `CALLERS` names each; `PAGES` pages of at most `PAGE_BYTES`).

use std::cell::RefCell;
use std::hash::Hash;
use std::thread::LocalKey;

use bytes::Bytes;
use hashlink::LruCache;

/// Images kept per worker thread and kind of answer.
pub(crate) const ENTRIES: usize = 128;

/// Pages of a listing kept per worker thread and surface: each names one
/// caller (a page is the caller's own view), and only a page of at most
/// `PAGE_BYTES` is kept.
pub(crate) const PAGES: usize = 16;

/// The largest page kept: a page of 25 images is about 20 KiB.
const PAGE_BYTES: usize = 64 << 10;

/// Callers named per image; a further one takes the oldest one's place.
const CALLERS: usize = 8;

/// Answers kept on each worker thread (a `thread_local!`).
pub(crate) type PerWorker<K, V> = LocalKey<RefCell<Kept<K, V>>>;

/// The answer this worker keeps in `kept` for `key` and `caller` at
/// `generation` (`Kept::seen`); none without a generation (PostgreSQL).
pub(crate) fn seen<K: Hash + Eq, V: Clone>(
    kept: &'static PerWorker<K, V>,
    key: &K,
    caller: &str,
    generation: Option<u64>,
) -> Option<V> {
    let g = generation?;
    kept.with_borrow_mut(|kept| kept.seen(key, caller, g))
}

/// Keeps `answer` in this worker's `kept` (`Kept::keep`); nothing without
/// a generation (PostgreSQL).
pub(crate) fn keep<K: Hash + Eq, V: Clone>(
    kept: &'static PerWorker<K, V>,
    key: K,
    caller: &str,
    generation: Option<u64>,
    answer: &V,
) {
    if let Some(g) = generation {
        kept.with_borrow_mut(|kept| kept.keep(key, caller, g, answer));
    }
}

/// `keep` for a page of a listing: only one of at most `PAGE_BYTES`.
pub(crate) fn keep_page<K: Hash + Eq>(
    kept: &'static PerWorker<K, Bytes>,
    key: K,
    caller: &str,
    generation: Option<u64>,
    page: &Bytes,
) {
    if page.len() <= PAGE_BYTES {
        keep(kept, key, caller, generation, page);
    }
}

struct Entry<V> {
    generation: u64,
    readers: Vec<String>,
    answer: V,
}

/// Answers of kind `V` kept by key `K` (an image, and how it was asked).
pub(crate) struct Kept<K: Hash + Eq, V> {
    entries: LruCache<K, Entry<V>>,
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    /// Nothing kept yet; room for `entries` answers.
    pub(crate) fn new(entries: usize) -> Self {
        Kept {
            entries: LruCache::new(entries),
        }
    }

    /// The answer kept for `key` for `caller`, if the catalogue is still at
    /// `generation` and let `caller` read the image there.
    pub(crate) fn seen(&mut self, key: &K, caller: &str, generation: u64) -> Option<V> {
        let entry = self.entries.get(key)?;
        if entry.generation != generation {
            self.entries.remove(key);
            return None;
        }
        entry
            .readers
            .iter()
            .any(|r| r == caller)
            .then(|| entry.answer.clone())
    }

    /// Keeps `answer`, which a read after `generation` rendered of `key`
    /// for `caller`.
    pub(crate) fn keep(&mut self, key: K, caller: &str, generation: u64, answer: &V) {
        match self.entries.get_mut(&key) {
            Some(entry) if entry.generation == generation => {
                if !entry.readers.iter().any(|r| r == caller) {
                    if entry.readers.len() == CALLERS {
                        entry.readers.remove(0);
                    }
                    entry.readers.push(caller.to_string());
                }
            }
            _ => {
                let entry = Entry {
                    generation,
                    readers: vec![caller.to_string()],
                    answer: answer.clone(),
                };
                self.entries.insert(key, entry);
            }
        }
    }

    /// How many images are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_a_named_caller_at_the_same_generation() {
        let mut kept = Kept::new(ENTRIES);
        kept.keep(("img", 1), "alice", 7, &"a");
        assert_eq!(kept.seen(&("img", 1), "alice", 7), Some("a"));
        // Another caller is read from the catalogue, which decides.
        assert_eq!(kept.seen(&("img", 1), "bob", 7), None);
        kept.keep(("img", 1), "bob", 7, &"a");
        assert_eq!(kept.seen(&("img", 1), "bob", 7), Some("a"));
        // Another way of asking is another answer.
        assert_eq!(kept.seen(&("img", 2), "alice", 7), None);
        // A write moved the generation: nothing kept answers, for anyone.
        assert_eq!(kept.seen(&("img", 1), "alice", 8), None);
        assert_eq!(
            kept.seen(&("img", 1), "bob", 7),
            None,
            "the stale entry is gone"
        );
        kept.keep(("img", 1), "alice", 8, &"b");
        assert_eq!(kept.seen(&("img", 1), "alice", 8), Some("b"));
        assert_eq!(
            kept.seen(&("img", 1), "bob", 8),
            None,
            "bob was let in at 7, not 8"
        );
    }

    #[test]
    fn names_a_few_callers_and_keeps_a_bounded_number_of_images() {
        let mut kept = Kept::new(ENTRIES);
        for i in 0..=CALLERS {
            kept.keep(0usize, &format!("u{i}"), 1, &"a");
        }
        assert_eq!(kept.seen(&0, "u0", 1), None, "the oldest caller gave way");
        assert_eq!(kept.seen(&0, &format!("u{CALLERS}"), 1), Some("a"));
        for i in 1..=ENTRIES {
            kept.keep(i, "u", 1, &"x");
        }
        assert_eq!(kept.seen(&0, &format!("u{CALLERS}"), 1), None, "pushed out");
        assert_eq!(kept.len(), ENTRIES);
    }
}
