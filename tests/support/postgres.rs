//! A throwaway PostgreSQL server for the tests that need one: one cluster
//! per test binary, made on first use in a short directory under /tmp
//! (the Unix socket's path must stay under ~100 bytes), listening on that
//! socket only, and one database per test copied from a migrated template.
//!
//! Its default collation is ICU's `en-US`, as a production server's locale
//! would be, not bytes: a schema that forgot `COLLATE "C"` sorts wrongly
//! here as it would there (docs/api.md §6).
//!
//! Nothing outlives the test binary: a watchdog started with the server,
//! in a process group of its own (a Ctrl-C to the tests does not reach it),
//! waits for the test process to be gone, then stops the server
//! (`-m immediate`) and removes the directory. A `Drop` of a static never
//! runs, and a panic or a kill would skip it anyway.
//!
//! `initdb` refuses to run as root, so as root every server command runs
//! as the `postgres` user (`runuser`), which then owns the directory.
//! `fsync=off` is set: these tests never kill the machine, only processes,
//! and a killed process loses nothing with fsync off. `synchronous_commit`
//! stays on, or a test that kills the server could lose what it answered.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The running server of this test binary.
pub struct PgServer {
    /// The directory holding the cluster (`data/`), its log and its socket.
    pub dir: PathBuf,
    /// Where `initdb`, `pg_ctl` and `postgres` are.
    bin: PathBuf,
    /// Whether server commands run as `postgres` (the tests run as root).
    as_postgres: bool,
    /// Its port, which also names its socket.
    port: u16,
    /// The server options it was started with beyond the usual ones (for
    /// `start_again`).
    options: String,
}

/// The name of the migrated template every test database is copied from.
pub const TEMPLATE: &str = "migrated";

/// The server, started on the first call.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

/// Whether a PostgreSQL server can be made here (its programs are
/// installed); a test skips without one on a developer's machine, and
/// fails in CI, where `.ci/run` installs them.
pub fn available() -> bool {
    let ok = find_bin().is_some();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL is missing in CI: .ci/run installs postgresql-15"
        );
        eprintln!("skipped: PostgreSQL is not installed (apt-get install postgresql-15)");
    }
    ok
}

/// The directory of `initdb` and `pg_ctl`: `PG_BINDIR`, else Debian's
/// newest `/usr/lib/postgresql/<major>/bin`, else whatever `pg_config`
/// says.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    dir.join("initdb").is_file().then_some(dir)
}

/// Runs `cmd`, panicking with its output if it fails: a test server that
/// cannot be made is a broken test machine, said plainly.
fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("test PostgreSQL: cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "test PostgreSQL: {what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PgServer {
    fn start() -> PgServer {
        PgServer::start_in(&format!("/tmp/plkpg-{}", std::process::id()), 5432, &[], "")
    }

    /// A second server of this test binary that also listens on
    /// 127.0.0.1 (a free port) with TLS, serving the PEM certificate chain
    /// and key given; its port with it.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> (PgServer, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let options = " -c listen_addresses=127.0.0.1 -c ssl=on \
             -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c log_connections=on";
        let dir = format!("/tmp/plkpg-{}-tls", std::process::id());
        let files = [("server.crt", cert_pem), ("server.key", key_pem)];
        (PgServer::start_in(&dir, port, &files, options), port)
    }

    /// A server of its own for one test (the `n`th such of this test
    /// binary), on its socket only, that the test may stop and start again
    /// (`stop_immediate`, `start_again`) without touching the shared one.
    pub fn start_own() -> PgServer {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = format!("/tmp/plkpg-{}-own{n}", std::process::id());
        PgServer::start_in(&dir, 5432, &[], "")
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: every
    /// backend killed, no checkpoint); its data stays for `start_again`.
    pub fn stop_immediate(&self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null());
        run(stop, "pg_ctl stop");
    }

    /// Starts a stopped server again on the same data, socket and options.
    pub fn start_again(&self) {
        self.start_server(&self.options);
    }

    /// The server's processes: the postmaster (`postmaster.pid`'s first
    /// line) and its children.
    fn processes(&self) -> Vec<String> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("test PostgreSQL: no postmaster.pid");
        let master = pid_file.lines().next().unwrap_or("").trim().to_owned();
        let mut pids = vec![master.clone()];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            if after.split_whitespace().nth(1) == Some(master.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        pids
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server's processes: a server
    /// that hangs without closing a connection, and one that goes on.
    pub fn signal_all(&self, signal: &str) {
        let mut kill = Command::new("kill");
        kill.arg(format!("-{signal}")).args(self.processes());
        run(kill, "kill");
    }

    /// A cluster in `dir`, with `files` written into its data directory
    /// before it starts with the server `options` added to the usual ones.
    fn start_in(dir: &str, port: u16, files: &[(&str, &str)], options: &str) -> PgServer {
        let bin = find_bin()
            .expect("test PostgreSQL: no initdb (install postgresql-15, or set PG_BINDIR)");
        // Root is the owner of /proc/self (read so, not by a libc call:
        // the crate forbids unsafe code).
        let as_postgres = std::fs::metadata("/proc/self")
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
        let dir = PathBuf::from(dir);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("test PostgreSQL: cannot make its directory");
        let server = PgServer {
            dir,
            bin,
            as_postgres,
            port,
            options: options.to_owned(),
        };
        server.chown(&server.dir);
        server.init();
        for (name, text) in files {
            let path = server.data().join(name);
            std::fs::write(&path, text).expect("test PostgreSQL: cannot write its files");
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("test PostgreSQL: cannot set a file's mode");
            server.chown(&path);
        }
        server.start_server(options);
        server.watch();
        server
    }

    /// Gives `path` to `postgres` when the tests run as root.
    fn chown(&self, path: &Path) {
        if self.as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(path);
            run(chown, "chown");
        }
    }

    /// A server command, as `postgres` when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn init(&self) {
        let mut init = self.command("initdb");
        init.arg("-D").arg(self.data()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
            "--locale=C.UTF-8",
            "--locale-provider=icu",
            "--icu-locale=en-US",
        ]);
        run(init, "initdb");
    }

    fn start_server(&self, more: &str) {
        let options = format!(
            "-k {} -p {} -c listen_addresses= -c fsync=off -c max_connections=300{more}",
            self.dir.display(),
            self.port
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .stdout(Stdio::null());
        run(start, "pg_ctl start");
    }

    /// Starts the watchdog that stops the server and removes its
    /// directory once this process is gone.
    fn watch(&self) {
        let script = r#"while [ -d "/proc/$0" ]; do sleep 1; done
"$1/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1
rm -rf "$2""#;
        let mut watchdog = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--", "sh", "-c", script]);
            cmd
        } else {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]);
            cmd
        };
        let mut child = watchdog
            .arg(std::process::id().to_string())
            .arg(&self.bin)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("test PostgreSQL: cannot start its watchdog");
        // Reaped if it ends early (it should not: it outlives this process).
        std::thread::spawn(move || child.wait());
    }

    /// Runs one SQL statement as the superuser in database `db`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        // The cluster's own psql, not Debian's wrapper (which looks for
        // clusters of its own).
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "postgres",
            "-h",
        ])
        .arg(&self.dir)
        .args(["-p", &self.port.to_string(), "-d", db, "-c", sql]);
        String::from_utf8(run(cmd, "psql").stdout).expect("psql prints UTF-8")
    }

    /// The URL of database `db` on this server, through its socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    /// A new empty database (copied from `template0`), for the tests of
    /// migrations themselves; its URL.
    pub fn empty_database(&self) -> String {
        let name = next_name();
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE template0"),
        );
        self.url(&name)
    }

    /// A new database copied from `template` (which no session may be
    /// connected to while it is copied: copies are made one at a time);
    /// its URL.
    pub fn database_from(&self, template: &str) -> String {
        static COPYING: Mutex<()> = Mutex::new(());
        let name = next_name();
        let _one = COPYING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        );
        self.url(&name)
    }

    /// Whether database `db` exists.
    pub fn has_database(&self, db: &str) -> bool {
        self.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"),
        )
        .trim()
            == "1"
    }

    /// The server's log so far, for a test that wants to show it.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

/// Runs plankton's start-up migration (`startup::prepare_catalogue`) on
/// the database at `url`, on a thread and a runtime of its own (callers
/// may be inside a runtime already); its error as text.
pub fn migrate(url: &str) -> Result<(), String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let settings = plankton::config::Settings {
            database: plankton::config::Database::parse(&url)?,
            database_pool: 2,
            ..plankton::config::Settings::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(plankton::startup::prepare_catalogue(&settings))
            .map_err(|e| plankton::error::chain(&e))
    })
    .join()
    .expect("the migration's thread panicked")
}

impl PgServer {
    /// A new database with plankton's schema, copied from the template
    /// (made and migrated on first use); its URL.
    pub fn migrated_database(&self) -> String {
        static READY: OnceLock<()> = OnceLock::new();
        READY.get_or_init(|| {
            self.psql(
                "postgres",
                &format!("CREATE DATABASE {TEMPLATE} TEMPLATE template0"),
            );
            migrate(&self.url(TEMPLATE)).expect("test PostgreSQL: the template does not migrate");
        });
        self.database_from(TEMPLATE)
    }
}

/// The name of the database in a URL of `PgServer::url`.
pub fn name_of(url: &str) -> &str {
    let tail = url.split_once("@/").map_or(url, |(_, tail)| tail);
    tail.split('?').next().unwrap_or(tail)
}

/// `t_<pid>_<n>`: unique on this server (one server per test binary).
fn next_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The path of the socket directory, for settings that want it apart.
pub fn socket_dir() -> &'static Path {
    &server().dir
}

/// Runs `sql` on the database at `url` (a URL of this binary's server),
/// with `args` put in for `?1`, `?2`... as quoted literals (test values,
/// never a user's); each row's columns joined by `|`, NULL as "".
pub fn sql_rows(url: &str, sql: &str, args: &[&str]) -> Vec<String> {
    let mut text = sql.to_string();
    // From the last, so that `?1` does not eat the start of `?10`.
    for (n, arg) in args.iter().enumerate().rev() {
        let literal = format!("'{}'", arg.replace('\'', "''"));
        text = text.replace(&format!("?{}", n + 1), &literal);
    }
    server()
        .psql(name_of(url), &text)
        .lines()
        .map(str::to_string)
        .collect()
}
