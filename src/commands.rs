//! The operator's subcommands: `config`, `backup FILE` and `check`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::backends::identity::TokenFile;
use crate::backends::store::{FsStore, ObjectStore};
use crate::config::{IdentityBackendKind, Settings, StoreBackendKind};
use crate::db::ops::Snapshot;
use crate::domain::location::Location;
use crate::error::chain;

/// `plankton config`: prints the effective settings as TOML (secrets
/// redacted), then checks that the files and directories they name can be
/// used; non-zero if any cannot.
pub fn config(settings: &Settings) -> ExitCode {
    match toml::to_string(&settings.redacted()) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("plankton: cannot render the settings: {e}");
            return ExitCode::from(1);
        }
    }
    let mut problems = Vec::new();
    if settings.identity.backend == IdentityBackendKind::Tokenfile {
        if let Err(e) = TokenFile::open(&settings.identity.token_file) {
            problems.push(chain(&e));
        }
    }
    if settings.store.backend == StoreBackendKind::Fs {
        if let Err(e) = FsStore::open(&settings.store.root) {
            problems.push(format!("store root {}: {e}", settings.store.root.display()));
        }
    }
    if let Err(e) = crate::db::check_directory(&settings.database) {
        problems.push(chain(&e));
    }
    for p in &problems {
        eprintln!("plankton: {p}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `plankton backup FILE`: a consistent copy of the catalogue, taken in one
/// read transaction while the service keeps serving and writing. The copy is
/// written beside FILE, synced, then renamed into place.
pub fn backup(settings: &Settings, target: &Path) -> ExitCode {
    match backup_to(&settings.database, target) {
        Ok(bytes) => {
            println!(
                "backed up {} to {} ({bytes} bytes)",
                settings.database.display(),
                target.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("plankton: backup failed: {e}");
            ExitCode::from(1)
        }
    }
}

fn backup_to(database: &Path, target: &Path) -> Result<u64, String> {
    if target.exists() {
        return Err(format!("{} exists; give a new file name", target.display()));
    }
    let name = target
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", target.display()))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => ".".into(),
    };
    let tmp = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let snapshot = Snapshot::open(database)?;
    let result = snapshot.copy_to(&tmp).and_then(|_| {
        let f = std::fs::File::open(&tmp).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, target).map_err(|e| e.to_string())?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        std::fs::metadata(target)
            .map(|m| m.len())
            .map_err(|e| e.to_string())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `plankton check`: SQLite's integrity check, then every live image's object
/// read through and compared with its recorded size and hash. Prints each
/// problem; progress goes to standard error. Non-zero if anything is wrong.
pub fn check(settings: &Settings) -> ExitCode {
    match run_check(settings) {
        Ok(0) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("{n} problem(s) found");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("plankton: check failed: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_check(settings: &Settings) -> Result<usize, String> {
    let snapshot = Snapshot::open(&settings.database)?;
    let mut problems = 0;
    let integrity = snapshot.integrity()?;
    if integrity != ["ok"] {
        for line in &integrity {
            println!("database: {line}");
        }
        problems += integrity.len();
    }
    let out_of_step = snapshot.properties_out_of_step()?;
    if out_of_step > 0 {
        println!("database: {out_of_step} image(s) whose properties_json disagrees with their property rows");
        problems += out_of_step as usize;
    }
    let store = match settings.store.backend {
        StoreBackendKind::Fs => {
            let fs = FsStore::open(&settings.store.root)
                .map_err(|e| format!("store root {}: {e}", settings.store.root.display()))?;
            sweep_blocks(&fs);
            ObjectStore::Fs(Arc::new(fs))
        }
        StoreBackendKind::Pithos => {
            return Err("checking objects in Pithos is not available in this version".into())
        }
    };
    let rows = snapshot.live_images()?;
    drop(snapshot);
    if let ObjectStore::Fs(fs) = &store {
        recover_staging(fs);
    }
    let total = rows.len();
    let mut bytes = 0u64;
    let mut stderr = std::io::stderr();
    for (n, row) in rows.iter().enumerate() {
        let what = format!("image {} ({})", row.id, row.name);
        let verdict = match Location::parse(&row.location) {
            Err(_) => Some(format!(
                "{what}: its location {} does not parse",
                row.location
            )),
            Ok(loc) => match store.rehash(&loc) {
                Err(e) => Some(format!("{what}: {e}")),
                Ok(None) => Some(format!("{what}: object missing at {}", row.location)),
                Ok(Some(info)) => {
                    bytes += info.size;
                    if info.size != row.size {
                        Some(format!(
                            "{what}: object at {} has {} bytes, {} recorded",
                            row.location, info.size, row.size
                        ))
                    } else if info.checksum != row.checksum {
                        Some(format!(
                            "{what}: object at {} changed: hash {}, {} recorded",
                            row.location, info.checksum, row.checksum
                        ))
                    } else {
                        None
                    }
                }
            },
        };
        if let Some(v) = verdict {
            println!("{v}");
            problems += 1;
        }
        let _ = write!(
            stderr,
            "\rchecked {}/{total} images, {} MiB read",
            n + 1,
            bytes >> 20
        );
    }
    if total > 0 {
        let _ = writeln!(stderr);
    }
    Ok(problems)
}

/// Removes uploaded blocks left unused for a day (a running server does the
/// same; blocks that old are of no upload in progress).
fn sweep_blocks(fs: &FsStore) {
    match crate::backends::store::blocks::sweep_expired(fs.root()) {
        Ok(0) => {}
        Ok(n) => eprintln!("removed {n} block(s) unused for a day"),
        Err(e) => eprintln!("blocks not swept: {e}"),
    }
}

/// Removes what writes left in staging, unless a running server holds it;
/// placements not yet settled are left for the next start, which can ask
/// the catalogue (docs/behaviour.md, "Crash protocol"). Says what it did on
/// standard error (leftovers are not problems: no location reaches them).
fn recover_staging(fs: &FsStore) {
    match fs.recover(None) {
        Ok(Some(done)) if done.removed + done.left > 0 => eprintln!(
            "staging: {} unplaced write(s) removed, {} placement(s) left for the next start",
            done.removed, done.left
        ),
        Ok(Some(_)) => {}
        Ok(None) => eprintln!("staging left alone: a server is running on this store root"),
        Err(e) => eprintln!("staging not recovered: {e}"),
    }
}
