//! The object store's own terms (docs/api.md §14): what the catalogue keeps
//! of an object beside its file (content type, metadata, sharing, version),
//! who may read it, and the parsed inputs of the object-store endpoint
//! (query flags, listings, hashmaps, preconditions).

pub(crate) mod conditions;
pub(crate) mod hashmap;
pub(crate) mod listing;
pub(crate) mod query;

use std::collections::BTreeMap;

use super::ids::{is_valid_user_id, truncate};
use super::time::Micros;
use crate::error::AppError;

/// The content type of an object that was given none (or was put there by hand).
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The most `X-Object-Meta-*` keys an object keeps.
pub(crate) const MAX_META: usize = 64;
/// The longest `X-Object-Meta-*` key, in bytes.
pub(crate) const MAX_META_KEY: usize = 128;
/// The longest `X-Object-Meta-*` value, in bytes.
pub(crate) const MAX_META_VALUE: usize = 4096;

/// Who besides the owner may read or write an object (`X-Object-Sharing`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sharing {
    /// User ids, or `*`, that may read.
    pub(crate) read: Vec<String>,
    /// User ids, or `*`, that may write (and so read; writing in another
    /// user's account is refused all the same).
    pub(crate) write: Vec<String>,
}

impl Sharing {
    /// Parses `read=a,b;write=c` (either part optional; empty clears).
    pub(crate) fn parse(raw: &str) -> Result<Sharing, AppError> {
        let bad = |why: &str| {
            AppError::invalid(format!(
                "Invalid X-Object-Sharing '{}': {why}; expected read=<user>,...;write=<user>,...",
                truncate(raw, 120)
            ))
        };
        let mut sharing = Sharing::default();
        for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, users) = part.split_once('=').ok_or_else(|| bad("no '='"))?;
            let list = match kind.trim().to_ascii_lowercase().as_str() {
                "read" => &mut sharing.read,
                "write" => &mut sharing.write,
                other => {
                    return Err(bad(&format!(
                        "unknown permission '{}'",
                        truncate(other, 40)
                    )))
                }
            };
            for user in users.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                if user != "*" && !is_valid_user_id(user) {
                    return Err(bad(&format!("'{}' is not a user id", truncate(user, 80))));
                }
                if !list.iter().any(|u| u == user) {
                    list.push(user.to_string());
                }
            }
        }
        Ok(sharing)
    }

    /// Whether nobody but the owner is named.
    pub(crate) fn is_empty(&self) -> bool {
        self.read.is_empty() && self.write.is_empty()
    }

    /// Whether `user` is named (or covered by `*`) in either list.
    pub(crate) fn lets_read(&self, user: &str) -> bool {
        self.read
            .iter()
            .chain(&self.write)
            .any(|u| u == "*" || u == user)
    }

    /// The header form, `read=a,b;write=c`; empty when nobody is named.
    pub(crate) fn render(&self) -> String {
        let mut parts = Vec::new();
        if !self.read.is_empty() {
            parts.push(format!("read={}", self.read.join(",")));
        }
        if !self.write.is_empty() {
            parts.push(format!("write={}", self.write.join(",")));
        }
        parts.join(";")
    }
}

/// What the catalogue keeps of an object beside its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectMeta {
    /// The content type, as it was sent.
    pub(crate) content_type: String,
    /// `X-Object-Meta-*`, keys lower case.
    pub(crate) meta: BTreeMap<String, String>,
    /// Who else may read it.
    pub(crate) sharing: Sharing,
    /// `X-Object-Public`: every authenticated user may read it.
    pub(crate) public: bool,
    /// Counts up from 1 with each write of its data.
    pub(crate) version: u64,
    /// The user whose write made this version.
    pub(crate) modified_by: String,
    /// When this version was written.
    pub(crate) modified_at: Micros,
    /// `X-Object-UUID`: one per object, kept across its versions (and a
    /// move), new after a delete; empty until the object is first written here.
    pub(crate) uuid: String,
    /// The id of its public URL while it is published (128 random bits).
    pub(crate) public_id: Option<String>,
}

impl ObjectMeta {
    /// The metadata of an object the catalogue knows nothing of (a file put
    /// under the root by hand): its owner wrote version 1.
    pub(crate) fn unrecorded(owner: &str, modified_at: Micros) -> ObjectMeta {
        ObjectMeta {
            content_type: DEFAULT_CONTENT_TYPE.to_string(),
            meta: BTreeMap::new(),
            sharing: Sharing::default(),
            public: false,
            version: 1,
            modified_by: owner.to_string(),
            modified_at,
            uuid: String::new(),
            public_id: None,
        }
    }
}

/// A change of an object's metadata (`POST .../<object>`, or the headers
/// of a `PUT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MetaChange {
    /// The new sharing, if the header was sent.
    pub(crate) sharing: Option<Sharing>,
    /// The new public flag, if the header was sent.
    pub(crate) public: Option<bool>,
    /// `X-Object-Meta-*` sent (an empty value deletes the key when merging).
    pub(crate) meta: BTreeMap<String, String>,
    /// Merge `meta` into the old keys (`?update`) rather than replace them.
    pub(crate) merge: bool,
}

impl MetaChange {
    /// Applies the change to `meta`.
    pub(crate) fn apply(&self, meta: &mut ObjectMeta) -> Result<(), AppError> {
        if let Some(s) = &self.sharing {
            meta.sharing = s.clone();
        }
        if let Some(p) = self.public {
            meta.public = p;
        }
        if !self.merge {
            meta.meta.clear();
        }
        for (k, v) in &self.meta {
            if v.is_empty() {
                meta.meta.remove(k);
            } else {
                meta.meta.insert(k.clone(), v.clone());
            }
        }
        if meta.meta.len() > MAX_META {
            return Err(AppError::OverLimit(format!(
                "An object holds at most {MAX_META} X-Object-Meta-* keys"
            )));
        }
        Ok(())
    }
}

/// Whether the object's own sharing lets `caller` read it.
pub(crate) fn shared_with(meta: &ObjectMeta, caller: &str) -> bool {
    meta.public || meta.sharing.lets_read(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_parses_renders_and_grants() {
        let s = Sharing::parse("read=bob, carol;write=dave").unwrap();
        assert_eq!(s.read, ["bob", "carol"]);
        assert_eq!(s.render(), "read=bob,carol;write=dave");
        assert!(s.lets_read("dave") && s.lets_read("bob") && !s.lets_read("eve"));
        assert!(Sharing::parse("").unwrap().is_empty());
        assert!(Sharing::parse("read=*").unwrap().lets_read("anyone"));
        for bad in ["read", "delete=bob", "read=b/c", "read=a b"] {
            assert!(Sharing::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn meta_changes_merge_or_replace() {
        let mut m = ObjectMeta::unrecorded("alice", 0);
        m.meta.insert("a".into(), "1".into());
        let mut change = MetaChange {
            merge: true,
            ..Default::default()
        };
        change.meta.insert("b".into(), "2".into());
        change.apply(&mut m).unwrap();
        assert_eq!(m.meta.len(), 2);
        change.meta.insert("a".into(), String::new());
        change.apply(&mut m).unwrap();
        assert_eq!(m.meta.keys().collect::<Vec<_>>(), ["b"]);
        change.merge = false;
        change.meta.clear();
        change.meta.insert("c".into(), "3".into());
        change.apply(&mut m).unwrap();
        assert_eq!(m.meta.keys().collect::<Vec<_>>(), ["c"]);
    }
}
