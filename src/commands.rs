//! The operator's subcommands: `config`, `backup FILE`, `check`,
//! `port-db --to TARGET` and `token`.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::backends::http::build_clients;
use crate::backends::identity::{edit, TokenFile};
use crate::backends::store::{FsStore, ObjectStore};
use crate::config::{Database, IdentityBackendKind, Settings, StoreBackendKind};
use crate::database_url::PgUrl;
use crate::db::ops::{LiveImage, Snapshot};
use crate::db::port::{self, PgSnapshot};
use crate::domain::location::Location;
use crate::error::chain;

/// `println!` that lets a closed standard output (`plankton config | head`)
/// pass instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `plankton config`: prints the effective settings as TOML (secrets
/// redacted), then checks that the files and directories they name can be
/// used; non-zero if any cannot.
pub fn config(settings: &Settings) -> ExitCode {
    match toml::to_string(&settings.redacted()) {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
        Err(e) => {
            eprintln!("plankton: cannot render the settings: {e}");
            return ExitCode::from(1);
        }
    }
    let problems = problems(settings);
    for p in &problems {
        eprintln!("plankton: {p}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What `serve` would refuse before binding, beyond what loading checked:
/// the files and directories the settings name, the listen address's host,
/// the HTTP client's CA file.
fn problems(settings: &Settings) -> Vec<String> {
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
    if let Some(file) = settings.database.file() {
        if let Err(e) = crate::db::check_directory(file) {
            problems.push(chain(&e));
        }
    }
    if let Err(e) = settings.listen.to_socket_addrs() {
        problems.push(format!("listen {}: {e}", settings.listen));
    }
    if settings.needs_http_client() {
        if let Err(e) = build_clients(&settings.http) {
            problems.push(format!("the HTTP client: {e}"));
        }
    }
    problems
}

/// Runs `work` to its end on a runtime of its own: the operator's
/// commands are synchronous, PostgreSQL's driver is not.
fn run_async<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?
        .block_on(work)
}

/// `plankton port-db --to TARGET`: copies the whole catalogue into the
/// empty TARGET (a file path or a URL); prints what it copied.
pub fn port_db(settings: &Settings, target: &str) -> ExitCode {
    let to = match Database::parse(target) {
        Ok(to) => to,
        Err(e) => return failed("port-db refused", &format!("--to: {e}")),
    };
    match run_async(port::port(&settings.database, &to)) {
        Ok(copied) => {
            say!("copied the catalogue from {} to {to}:", settings.database);
            print_copied(&copied);
            ExitCode::SUCCESS
        }
        Err(e) => failed("port-db refused; nothing written", &e),
    }
}

/// The rows copied, a line per table, and their sum.
fn print_copied(copied: &port::Copied) {
    for line in port::summary(copied) {
        say!("{line}");
    }
    let rows: u64 = copied.iter().map(|(_, n)| n).sum();
    say!("{rows} rows in {} tables", copied.len());
}

/// `plankton backup FILE`: a consistent copy of the catalogue, taken in one
/// read transaction while the service keeps serving and writing. The copy is
/// written beside FILE, synced, then renamed into place. A PostgreSQL
/// catalogue is backed up to a SQLite file, as `port-db --to FILE` does.
pub fn backup(settings: &Settings, target: &Path) -> ExitCode {
    let database = match &settings.database {
        Database::File(database) => database,
        Database::Postgres(url) => return backup_postgres(url, target),
    };
    match backup_to(database, target) {
        Ok(bytes) => {
            say!(
                "backed up {} to {} ({bytes} bytes)",
                database.display(),
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

/// `backup` of a PostgreSQL catalogue: a new SQLite file.
fn backup_postgres(url: &PgUrl, target: &Path) -> ExitCode {
    if target.exists() {
        let why = format!("{} exists; give a new file name", target.display());
        return failed("backup failed", &why);
    }
    let from = Database::Postgres(Box::new(url.clone()));
    let to = Database::File(target.to_path_buf());
    match run_async(port::port(&from, &to)) {
        Ok(copied) => {
            say!("backed up {from} to {} (a SQLite file):", target.display());
            print_copied(&copied);
            ExitCode::SUCCESS
        }
        Err(e) => failed("backup failed", &e),
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

/// `plankton check`: SQLite's integrity check, what the inspector found in
/// each live image's data (docs/api.md §19), then every live image's object
/// read through and compared with its recorded size and hash. Prints each
/// problem; progress goes to standard error. Non-zero if anything is wrong
/// (an image never inspected is named, and is no problem).
pub fn check(settings: &Settings) -> ExitCode {
    match run_check(settings) {
        Ok(0) => {
            say!("ok");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            say!("{n} problem(s) found");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("plankton: check failed: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_check(settings: &Settings) -> Result<usize, String> {
    let (mut problems, rows) = match &settings.database {
        Database::File(database) => sqlite_findings(database)?,
        Database::Postgres(url) => run_async(postgres_findings(url))?,
    };
    // What the inspector found needs no store: said before it is opened.
    problems += inspection_problems(&rows);
    let store = store_to_check(settings)?;
    if let ObjectStore::Fs(fs) = &store {
        recover_staging(fs);
    }
    problems += object_problems(&store, &rows);
    Ok(problems)
}

/// The SQLite catalogue's problems, and its live images.
fn sqlite_findings(database: &Path) -> Result<(usize, Vec<LiveImage>), String> {
    let snapshot = Snapshot::open(database)?;
    snapshot.require_current(database)?;
    let problems = database_problems(&snapshot)?;
    Ok((problems, snapshot.live_images()?))
}

/// The PostgreSQL catalogue's problems, and its live images. It has no
/// `integrity_check`; what it can tell is checked, and said: the schema's
/// version, every table and column there, the properties' two copies.
async fn postgres_findings(url: &PgUrl) -> Result<(usize, Vec<LiveImage>), String> {
    let snapshot = PgSnapshot::open(url).await?;
    say!(
        "database: {url} ({}): schema version current; \
         checked every table and column is there and the properties' two copies agree \
         (SQLite's integrity_check has no PostgreSQL counterpart)",
        snapshot.server().await
    );
    let mut problems = 0;
    for line in snapshot.missing().await? {
        say!("database: {line}");
        problems += 1;
    }
    if problems > 0 {
        // The queries below need those tables.
        return Ok((problems, Vec::new()));
    }
    let out_of_step = snapshot.properties_out_of_step().await?;
    if out_of_step > 0 {
        say!("database: {out_of_step} image(s) whose properties_json disagrees with their property rows");
        problems += usize::try_from(out_of_step).unwrap_or(usize::MAX);
    }
    Ok((problems, snapshot.live_images().await?))
}

/// SQLite's integrity check and the properties' two copies; each problem
/// printed, their number returned.
fn database_problems(snapshot: &Snapshot) -> Result<usize, String> {
    let mut problems = 0;
    let integrity = snapshot.integrity()?;
    if integrity != ["ok"] {
        for line in &integrity {
            say!("database: {line}");
        }
        problems += integrity.len();
    }
    let out_of_step = snapshot.properties_out_of_step()?;
    if out_of_step > 0 {
        say!("database: {out_of_step} image(s) whose properties_json disagrees with their property rows");
        problems += out_of_step as usize;
    }
    Ok(problems)
}

/// A line for every live image whose data is unsafe (a problem) or was
/// never inspected (registered before inspection existed, or with it off);
/// the number of unsafe ones.
fn inspection_problems(rows: &[LiveImage]) -> usize {
    let mut unsafe_images = 0;
    for row in rows {
        let what = format!("image {} ({})", row.id, row.name);
        match (&row.data_format, &row.data_finding) {
            (None, _) => say!("{what}: data never inspected"),
            (Some(format), Some(finding)) => {
                say!("{what}: unsafe data, {format}: {finding}");
                unsafe_images += 1;
            }
            (Some(_), None) => {}
        }
    }
    unsafe_images
}

/// The store whose objects are checked; old unused blocks are swept first.
fn store_to_check(settings: &Settings) -> Result<ObjectStore, String> {
    match settings.store.backend {
        StoreBackendKind::Fs => {
            let fs = FsStore::open(&settings.store.root)
                .map_err(|e| format!("store root {}: {e}", settings.store.root.display()))?;
            sweep_blocks(&fs);
            Ok(ObjectStore::Fs(Arc::new(fs)))
        }
        StoreBackendKind::Pithos => {
            Err("checking objects in Pithos is not available in this version".into())
        }
    }
}

/// Every live image's object read through; each problem printed, progress
/// on standard error, their number returned.
fn object_problems(store: &ObjectStore, rows: &[LiveImage]) -> usize {
    let total = rows.len();
    let (mut problems, mut bytes) = (0, 0u64);
    let mut stderr = std::io::stderr();
    for (n, row) in rows.iter().enumerate() {
        if let Some(v) = object_verdict(store, row, &mut bytes) {
            say!("{v}");
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
    problems
}

/// What is wrong with one image's object, if anything; adds the bytes read.
fn object_verdict(store: &ObjectStore, row: &LiveImage, bytes: &mut u64) -> Option<String> {
    let what = format!("image {} ({})", row.id, row.name);
    let Ok(loc) = Location::parse(&row.location) else {
        return Some(format!(
            "{what}: its location {} does not parse",
            row.location
        ));
    };
    let info = match store.rehash(&loc) {
        Err(e) => return Some(format!("{what}: {e}")),
        Ok(None) => return Some(format!("{what}: object missing at {}", row.location)),
        Ok(Some(info)) => info,
    };
    *bytes += info.size;
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

/// The token file `plankton token` edits, or why there is none to edit.
fn token_file(settings: &Settings) -> Result<&Path, String> {
    match settings.identity.backend {
        IdentityBackendKind::Tokenfile => Ok(&settings.identity.token_file),
        IdentityBackendKind::Astakos => Err(
            "identity.backend is astakos: users and tokens are Astakos's; \
             `plankton token` edits the tokenfile backend's file"
                .into(),
        ),
    }
}

/// Prints an error and gives the exit code of a failed command.
fn failed(what: &str, why: &str) -> ExitCode {
    eprintln!("plankton: {what}: {why}");
    ExitCode::from(1)
}

/// `plankton token add USER [NAME...]`: prints the new token alone on
/// standard output (for scripts), what was done on standard error.
pub fn token_add(settings: &Settings, user: &str, name: &str) -> ExitCode {
    let added = token_file(settings).and_then(|path| Ok((path, edit::add(path, user, name)?)));
    match added {
        Ok((path, token)) => {
            let _ = writeln!(std::io::stdout(), "{token}");
            eprintln!(
                "added a token for {user} to {}; a running server takes it within a second",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("token not added", &e),
    }
}

/// `plankton token list`: each token's user, name and first characters.
pub fn token_list(settings: &Settings) -> ExitCode {
    match token_file(settings).and_then(edit::list) {
        Ok(listed) => {
            let mut out = std::io::stdout().lock();
            for l in listed {
                let name = l.name.as_deref().unwrap_or("");
                let _ = writeln!(out, "{}\t{}…\t{name}", l.user, l.prefix);
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed("cannot list the tokens", &e),
    }
}

/// `plankton token revoke USER`: removes every token of the user; non-zero
/// if there is none.
pub fn token_revoke(settings: &Settings, user: &str) -> ExitCode {
    let revoked = token_file(settings).and_then(|path| Ok((path, edit::revoke(path, user)?)));
    match revoked {
        Ok((path, n)) => {
            eprintln!(
                "removed {n} token(s) of {user} from {}; a running server drops them within a second",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("nothing revoked", &e),
    }
}
