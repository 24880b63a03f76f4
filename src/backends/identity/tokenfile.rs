//! The offline identity backend: a token file, one `<token> <user-id> [name]`
//! a line, re-read within a second of a change on disk by a thread of its
//! own, so that no request waits on the disk.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::domain::ids::is_valid_user_id;
use crate::domain::user::User;

/// One line of a token file that names a token.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// The token.
    pub(crate) token: &'a str,
    /// Whose it is.
    pub(crate) user: &'a str,
    /// The display name, its words joined by one space.
    pub(crate) name: Option<String>,
}

impl Entry<'_> {
    /// Parses one line: `None` for a blank or comment line, an error saying
    /// what is wrong with a malformed one.
    pub(crate) fn parse(line: &str) -> Result<Option<Entry<'_>>, String> {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            return Ok(None);
        }
        let mut fields = line.split_whitespace();
        let token = fields.next().unwrap_or_default();
        let Some(user) = fields.next() else {
            return Err("expected '<token> <user-id> [name]'".into());
        };
        if !is_valid_user_id(user) {
            return Err(format!(
                "user id '{user}' is not 1-255 characters of A-Z a-z 0-9 @ . _ -"
            ));
        }
        let name: Vec<&str> = fields.collect();
        let name = (!name.is_empty()).then(|| name.join(" "));
        Ok(Some(Entry { token, user, name }))
    }
}

/// The parsed contents of a token file.
#[derive(Debug, Default)]
pub(crate) struct TokenTable {
    by_token: HashMap<String, User>,
}

impl TokenTable {
    /// Parses `<token> <user-id> [display name...]` lines; `#` starts a comment.
    pub(crate) fn parse(text: &str) -> Result<TokenTable, String> {
        let mut by_token = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let Some(entry) = Entry::parse(line).map_err(|why| format!("line {}: {why}", n + 1))?
            else {
                continue;
            };
            let user = User {
                id: entry.user.to_string(),
                name: entry.name,
            };
            if by_token.insert(entry.token.to_string(), user).is_some() {
                return Err(format!("line {}: the token is listed twice", n + 1));
            }
        }
        Ok(TokenTable { by_token })
    }

    /// The display name of a user id (the id itself where the file gives none),
    /// or `None` for an id the file does not know.
    pub(crate) fn display_name(&self, user_id: &str) -> Option<String> {
        let mut found = None;
        for u in self.by_token.values().filter(|u| u.id == user_id) {
            if let Some(n) = &u.name {
                return Some(n.clone());
            }
            found = Some(u.id.clone());
        }
        found
    }

    /// The user id with this display name (or, failing that, this user id).
    pub(crate) fn user_id_of(&self, name: &str) -> Option<String> {
        let by_name = self
            .by_token
            .values()
            .filter(|u| u.name.as_deref() == Some(name))
            .map(|u| u.id.clone())
            .min();
        by_name.or_else(|| {
            self.by_token
                .values()
                .any(|u| u.id == name)
                .then(|| name.to_string())
        })
    }

    /// The user a token belongs to.
    pub(crate) fn user(&self, token: &str) -> Option<User> {
        self.by_token.get(token).cloned()
    }

    /// How many tokens the table holds.
    pub(crate) fn len(&self) -> usize {
        self.by_token.len()
    }
}

/// What identifies one version of the file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

/// The offline identity backend: a token file, re-read when it changes.
pub(crate) struct TokenFile {
    shared: Arc<Shared>,
}

/// What the request path and the watcher share.
struct Shared {
    path: PathBuf,
    /// Read by every request: held only to clone the `Arc`.
    table: RwLock<Arc<TokenTable>>,
    /// The version of the file last seen; the watcher's alone.
    stamp: Mutex<Stamp>,
}

/// How often the watcher looks at the file.
const WATCH_EVERY: Duration = Duration::from_secs(1);

impl TokenFile {
    /// Reads the file; a missing, unreadable or malformed file is an error naming it.
    pub(crate) fn open(path: &Path) -> Result<TokenFile, TokenFileError> {
        let (stamp, table) = read_table(path)?;
        let shared = Shared {
            path: path.to_path_buf(),
            table: RwLock::new(Arc::new(table)),
            stamp: Mutex::new(stamp),
        };
        Ok(TokenFile {
            shared: Arc::new(shared),
        })
    }

    /// Opens the file and starts a thread that takes each change to it
    /// within a second, so that no request waits on the disk; the thread
    /// ends with the last `TokenFile`.
    pub(crate) fn watch(path: &Path) -> Result<TokenFile, TokenFileError> {
        let tf = TokenFile::open(path)?;
        let weak = Arc::downgrade(&tf.shared);
        let spawned = std::thread::Builder::new()
            .name("token-file".into())
            .spawn(move || loop {
                std::thread::sleep(WATCH_EVERY);
                match weak.upgrade() {
                    Some(shared) => shared.refresh(),
                    None => return,
                }
            });
        if let Err(e) = spawned {
            log::warn!("token file changes will need a SIGHUP: {e}");
        }
        Ok(tf)
    }

    /// The table now in force.
    pub(crate) fn table(&self) -> Arc<TokenTable> {
        self.shared.current()
    }

    /// Takes the file if it changed on disk since it was last read (the
    /// watcher's step, for tests that do not wait for it).
    #[cfg(test)]
    pub(crate) fn refresh(&self) {
        self.shared.refresh();
    }

    /// Re-reads the file now (on SIGHUP), whether or not it looks changed.
    /// A file that does not parse leaves the table in force and is logged.
    pub(crate) fn reload(&self) {
        match read_table(&self.shared.path) {
            Ok((stamp, table)) => {
                log::info!(
                    "token file {} re-read: {} tokens",
                    self.shared.path.display(),
                    table.len()
                );
                self.shared.swap(stamp, table);
            }
            Err(e) => log::error!("token file not re-read, keeping the previous one: {e}"),
        }
    }

    /// The user a token belongs to.
    pub(crate) fn lookup(&self, token: &str) -> Option<User> {
        self.table().user(token)
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.shared.path
    }
}

impl Shared {
    fn current(&self) -> Arc<TokenTable> {
        self.table
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn swap(&self, stamp: Stamp, table: TokenTable) {
        *self
            .stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stamp;
        *self
            .table
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }

    fn refresh(&self) {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return;
        };
        let seen = Stamp::of(&meta);
        if seen
            == *self
                .stamp
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return;
        }
        match read_table(&self.path) {
            Ok((stamp, table)) => {
                log::info!(
                    "token file {} reloaded: {} tokens",
                    self.path.display(),
                    table.len()
                );
                self.swap(stamp, table);
            }
            Err(e) => {
                // Keep serving the last good table; say so once per change.
                log::error!("token file not reloaded, keeping the previous one: {e}");
                *self
                    .stamp
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
            }
        }
    }
}

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenFileError {
    /// It could not be read.
    #[error("token file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is a directory or a device.
    #[error("token file {}: not a regular file", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// A line does not parse.
    #[error("token file {}: {why}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which line, and what is wrong with it.
        why: String,
    },
}

fn read_table(path: &Path) -> Result<(Stamp, TokenTable), TokenFileError> {
    let read = |source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(TokenFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.mode() & 0o004 != 0 {
        log::warn!(
            "token file {} is readable by other users (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        );
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    let table = TokenTable::parse(&text).map_err(|why| TokenFileError::Malformed {
        path: path.to_path_buf(),
        why,
    })?;
    Ok((Stamp::of(&meta), table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokens_names_and_comments() {
        let t =
            TokenTable::parse("# users\nabc alice Alice Liddell\n\n  def bob # no name\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.by_token["abc"].name.as_deref(), Some("Alice Liddell"));
        assert_eq!(t.by_token["def"].id, "bob");
        assert_eq!(t.by_token["def"].name, None);
    }

    #[test]
    fn maps_ids_and_display_names_both_ways() {
        let t = TokenTable::parse("a alice Alice Liddell\nb bob\n").unwrap();
        assert_eq!(t.display_name("alice").as_deref(), Some("Alice Liddell"));
        assert_eq!(t.display_name("bob").as_deref(), Some("bob"));
        assert_eq!(t.display_name("zed"), None);
        assert_eq!(t.user_id_of("Alice Liddell").as_deref(), Some("alice"));
        assert_eq!(t.user_id_of("bob").as_deref(), Some("bob"));
        assert_eq!(t.user_id_of("Zed"), None);
    }

    #[test]
    fn rejects_bad_lines_by_number() {
        assert!(TokenTable::parse("abc\n").unwrap_err().contains("line 1"));
        assert!(TokenTable::parse("x a\nabc a/b\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(TokenTable::parse("x a\nx b\n")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn reloads_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "t1 alice\n").unwrap();
        let tf = TokenFile::open(&path).unwrap();
        assert_eq!(tf.lookup("t1").unwrap().id, "alice");
        std::fs::write(&path, "t2 bob\n").unwrap();
        tf.refresh();
        assert_eq!(tf.lookup("t1"), None);
        assert_eq!(tf.lookup("t2").unwrap().id, "bob");
        std::fs::write(&path, "broken\n").unwrap();
        tf.refresh();
        assert_eq!(tf.lookup("t2").unwrap().id, "bob");
    }
}
