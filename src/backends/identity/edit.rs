//! `plankton token`: adding and revoking tokens in the token file. Each edit
//! keeps every line it does not own (comments, other users, lines it cannot
//! read) and replaces the file atomically, so that a running server reads
//! either the old file or the new one.

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::tokenfile::{Entry, TokenTable};
use crate::domain::ids::is_valid_user_id;

/// Random bytes in a token: 128 bits, printed as 32 hex digits.
const TOKEN_BYTES: usize = 16;

/// One line of `plankton token list`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Whose token it is.
    pub(crate) user: String,
    /// The display name, if the line gives one.
    pub(crate) name: Option<String>,
    /// The token's first characters, never the whole of it.
    pub(crate) prefix: String,
}

/// Adds a fresh random token for `user` (with a display name, if not empty)
/// and returns it; the file is made if it does not exist.
pub(crate) fn add(path: &Path, user: &str, name: &str) -> Result<String, String> {
    if !is_valid_user_id(user) {
        return Err(format!(
            "user id '{user}' is not 1-255 characters of A-Z a-z 0-9 @ . _ -"
        ));
    }
    if name.contains(['#', '\n', '\r']) {
        return Err("a display name cannot hold '#' or a line break".into());
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes: {e}"))?;
    let token = hex::encode(bytes);
    edit(path, |text| {
        let mut text = text.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let line = format!("{token} {user} {name}");
        text.push_str(line.trim_end());
        text.push('\n');
        Ok(text)
    })?;
    Ok(token)
}

/// Removes every token of `user`; returns how many there were (an error if none).
pub(crate) fn revoke(path: &Path, user: &str) -> Result<usize, String> {
    let mut removed = 0;
    edit(path, |text| {
        let kept: String = text
            .split_inclusive('\n')
            .filter(|line| !matches!(Entry::parse(line), Ok(Some(e)) if e.user == user))
            .collect();
        removed = text.split_inclusive('\n').count() - kept.split_inclusive('\n').count();
        if removed == 0 {
            return Err(format!("{}: user {user} has no token", path.display()));
        }
        Ok(kept)
    })?;
    Ok(removed)
}

/// Every token's user and name, in the file's order.
pub(crate) fn list(path: &Path) -> Result<Vec<Listed>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    TokenTable::parse(&text).map_err(|why| format!("{}: {why}", path.display()))?;
    let entries = text.lines().filter_map(|l| Entry::parse(l).ok().flatten());
    Ok(entries
        .map(|e| Listed {
            user: e.user.to_string(),
            name: e.name,
            // A short token would be given away by any prefix of it.
            prefix: e
                .token
                .chars()
                .take(e.token.len().saturating_sub(12).min(4))
                .collect(),
        })
        .collect())
}

/// Reads the file (empty if missing), applies `change`, checks that the
/// result parses, and puts it in place. Edits are serialised by a lock on
/// the directory, so that two at once do not lose one.
fn edit(path: &Path, change: impl FnOnce(&str) -> Result<String, String>) -> Result<(), String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    let dir = directory_of(path);
    let guard = File::open(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    guard
        .lock()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let (text, old) = match std::fs::read_to_string(path) {
        Ok(text) => (text, Some(std::fs::metadata(path).map_err(at)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), None),
        Err(e) => return Err(at(e)),
    };
    let new = change(&text)?;
    TokenTable::parse(&new).map_err(|why| {
        format!(
            "{}: {why} (fix that line first; nothing changed)",
            path.display()
        )
    })?;
    replace(path, &dir, &new, old.as_ref()).map_err(at)
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `text` beside `path`, syncs it, renames it over `path` and syncs
/// the directory. The file keeps its owner and group (a root-owned file read
/// by the service's group stays so) and is never readable by others.
fn replace(path: &Path, dir: &Path, text: &str, old: Option<&Metadata>) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.new-{}", std::process::id()));
    let mode = old.map_or(0o600, |m| (m.mode() & 0o640) | 0o600);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(Permissions::from_mode(mode))?;
        if let Some(m) = old {
            if let Err(e) = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid())) {
                log::warn!(
                    "{}: owner not kept ({e}); the server may not read it",
                    path.display()
                );
            }
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_lists_and_revokes_keeping_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            "# users\nabcdefghijklmnopqrstuvwx alice Alice # first\n",
        )
        .unwrap();
        let token = add(&path, "bob", "Bob  the Builder").unwrap();
        assert_eq!(token.len(), 32);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# users\nabcdefghijklmnopqrstuvwx alice Alice # first\n"));
        assert!(
            text.ends_with(&format!("{token} bob Bob the Builder\n")),
            "{text}"
        );
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077 & !0o040, 0, "{mode:o}");
        let listed = list(&path).unwrap();
        assert_eq!(listed[0].prefix, "abcd");
        assert_eq!(listed[1].name.as_deref(), Some("Bob the Builder"));
        assert_eq!(revoke(&path, "alice").unwrap(), 1);
        assert!(revoke(&path, "alice").unwrap_err().contains("no token"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# users\n") && !text.contains("alice"),
            "{text}"
        );
    }

    #[test]
    fn refuses_bad_ids_and_names_and_a_file_that_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        assert!(add(&path, "a/b", "").is_err());
        assert!(add(&path, "bob", "x # y").is_err());
        let token = add(&path, "bob", "").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(std::fs::read_to_string(&path).unwrap() == format!("{token} bob\n"));
        std::fs::write(&path, "broken\n").unwrap();
        assert!(add(&path, "bob", "").unwrap_err().contains("line 1"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "broken\n");
    }
}
