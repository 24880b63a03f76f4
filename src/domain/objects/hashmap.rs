//! Hashmaps: an object named by the hashes of its blocks,
//! `{"bytes": N, "hashes": [...]}` (docs/api.md §14).

use serde::Deserialize;

use super::super::ids::truncate;
use crate::error::AppError;

/// The block size of the object store: 4 MiB, as Pithos's.
pub(crate) const BLOCK_SIZE: u64 = 4 * 1024 * 1024;

/// The hash of an all-NUL block (trailing NULs are not hashed): SHA-256 of nothing.
pub(crate) const EMPTY_HASH: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A checked hashmap: as many hashes as its size needs, each 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hashmap {
    /// The object's size.
    pub(crate) bytes: u64,
    /// The hash of each block, in order.
    pub(crate) hashes: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    bytes: serde_json::Value,
    hashes: Vec<serde_json::Value>,
}

impl Hashmap {
    /// Parses and checks a hashmap body; every failure is a 400 naming it.
    pub(crate) fn parse(body: &[u8]) -> Result<Hashmap, AppError> {
        let bad = |why: String| AppError::invalid(format!("Invalid hashmap: {why}"));
        let raw: Raw = serde_json::from_slice(body).map_err(|e| {
            bad(format!(
                "{e}; expected {{\"bytes\": <size>, \"hashes\": [<64 hex digits>, ...]}}"
            ))
        })?;
        let bytes = raw.bytes.as_u64().ok_or_else(|| {
            bad(format!(
                "bytes {} is not a size",
                truncate(&raw.bytes.to_string(), 40)
            ))
        })?;
        let mut hashes = Vec::with_capacity(raw.hashes.len());
        for (i, h) in raw.hashes.iter().enumerate() {
            match h.as_str() {
                Some(s) if is_block_hash(s) => hashes.push(s.to_string()),
                _ => {
                    return Err(bad(format!(
                        "hash {i} ({}) is not 64 lower-case hex digits",
                        truncate(&h.to_string(), 80)
                    )))
                }
            }
        }
        let needed = bytes.div_ceil(BLOCK_SIZE);
        if hashes.len() as u64 != needed {
            return Err(bad(format!(
                "{bytes} bytes take {needed} block(s) of {BLOCK_SIZE} bytes, but {} hash(es) were given",
                hashes.len()
            )));
        }
        Ok(Hashmap { bytes, hashes })
    }

    /// The hashes `known` does not know, each once, in order of first use.
    pub(crate) fn missing(&self, known: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.hashes
            .iter()
            .filter(|h| seen.insert(h.as_str()))
            .filter(|h| !known(h))
            .cloned()
            .collect()
    }

    /// The size of block `i`'s slot in the object: a full block but for the last.
    pub(crate) fn slot(&self, i: usize) -> u64 {
        let start = i as u64 * BLOCK_SIZE;
        BLOCK_SIZE.min(self.bytes.saturating_sub(start))
    }
}

/// Whether `s` is a block hash: 64 lower-case hex digits.
pub(crate) fn is_block_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    #[test]
    fn a_hashmap_needs_as_many_hashes_as_its_blocks() {
        let body = format!(
            r#"{{"bytes": {}, "hashes": ["{}", "{}"]}}"#,
            BLOCK_SIZE + 1,
            h('a'),
            h('b')
        );
        let m = Hashmap::parse(body.as_bytes()).unwrap();
        assert_eq!((m.slot(0), m.slot(1)), (BLOCK_SIZE, 1));
        assert!(Hashmap::parse(br#"{"bytes": 0, "hashes": []}"#).is_ok());
        for bad in [
            r#"{"bytes": 1, "hashes": []}"#.to_string(),
            format!(
                r#"{{"bytes": {}, "hashes": ["{}"]}}"#,
                BLOCK_SIZE + 1,
                h('a')
            ),
            format!(r#"{{"bytes": 0, "hashes": ["{}"]}}"#, h('a')),
            r#"{"bytes": -1, "hashes": []}"#.to_string(),
            format!(r#"{{"bytes": "1", "hashes": ["{}"]}}"#, h('a')),
            format!(r#"{{"bytes": 1, "hashes": ["{}"]}}"#, h('A')),
            r#"{"bytes": 1, "hashes": ["abc"]}"#.to_string(),
            r#"{"bytes": 1, "hashes": [7]}"#.to_string(),
            "{".to_string(),
            "[]".to_string(),
        ] {
            assert!(Hashmap::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_hashes_come_once_in_order_of_first_use() {
        let m = Hashmap {
            bytes: 4 * BLOCK_SIZE,
            hashes: vec![h('b'), h('a'), h('b'), h('c')],
        };
        assert_eq!(m.missing(|x| x == h('a')), [h('b'), h('c')]);
    }
}
