//! What the object store and the catalogue share about image data: an
//! object's size and hashes, a remembered hash, and who may read an object.

/// What the store says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    /// Bytes.
    pub(crate) size: u64,
    /// The Pithos hash, lower-case hex.
    pub(crate) checksum: String,
    /// The MD5 of the data, where the store knows it.
    pub(crate) md5: Option<String>,
}

/// A remembered hash of an fs-store object, valid while its size and mtime hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedHash {
    /// The object's path relative to the store root.
    pub(crate) path: String,
    /// Its size when hashed.
    pub(crate) size: u64,
    /// Its modification time when hashed, in nanoseconds.
    pub(crate) mtime_ns: i64,
    /// The Pithos hash.
    pub(crate) checksum: String,
    /// The MD5.
    pub(crate) md5: String,
    /// The `os_hash`, when one was computed: an entry of another algorithm
    /// than the setting's is computed afresh (docs/api.md §17.2).
    pub(crate) os_hash: Option<OsHash>,
}

/// An `os_hash_algo`/`os_hash_value` pair (docs/api.md §17.2); the
/// algorithm as stored, so a value keeps its name when the setting changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OsHash {
    /// `sha512` or `sha256`.
    pub(crate) algo: String,
    /// Lower-case hex.
    pub(crate) value: String,
}

/// Who may read an object in the store, as plankton wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readers {
    /// Only the owner.
    Owner,
    /// Everyone (a public image).
    Everyone,
    /// The owner and these users (an image's members), sorted.
    Users(Vec<String>),
}

impl Readers {
    /// The readers an image's publicity and members call for.
    pub(crate) fn of(is_public: bool, members: &[String]) -> Readers {
        if is_public {
            Readers::Everyone
        } else if members.is_empty() {
            Readers::Owner
        } else {
            let mut m = members.to_vec();
            m.sort();
            m.dedup();
            Readers::Users(m)
        }
    }
}
