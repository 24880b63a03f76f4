//! The PostgreSQL engine's groundwork against a real PostgreSQL server
//! (one per run of this binary, `support::postgres`): the schema and its
//! migrations beside SQLite's, byte order, start-up (connect, migrate and
//! serve, or exit 1) and the password never shown.

mod faults;
mod port;
mod processes;
#[path = "../support/mod.rs"]
mod support;
mod tls;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use support::postgres::{available, migrate, name_of, server};

/// A SQLite catalogue made by plankton itself in `dir`, migrated to the
/// newest version this binary knows.
fn sqlite_catalogue(dir: &Path) -> rusqlite::Connection {
    let settings = support::app::settings(dir).validated().unwrap();
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let app = plankton::startup::Application::build(settings).expect("app builds");
        drop(app);
    });
    rusqlite::Connection::open(dir.join("plankton.db")).unwrap()
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> BTreeSet<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn pg_rows(db: &str, sql: &str) -> BTreeSet<String> {
    server().psql(db, sql).lines().map(str::to_owned).collect()
}

fn pg_version(db: &str) -> String {
    server()
        .psql(db, "SELECT version FROM schema_version")
        .trim()
        .to_owned()
}

#[test]
fn the_test_server_makes_databases() {
    if !available() {
        return;
    }
    let pg = server();
    let url = pg.empty_database();
    assert!(pg.has_database(name_of(&url)), "{url}");
    assert_eq!(pg.psql(name_of(&url), "SELECT 1 + 1").trim(), "2");
}

/// Tables, columns, which may be NULL, and indexes: the same logical
/// schema on both engines, at the same version.
#[test]
fn an_empty_database_migrates_to_the_schema_sqlite_has() {
    if !available() {
        return;
    }
    let url = server().empty_database();
    migrate(&url).unwrap();
    let db = name_of(&url);
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_catalogue(dir.path());
    let version: i64 = lite
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pg_version(db), version.to_string());

    let lite_columns = sqlite_rows(
        &lite,
        "SELECT m.name || '.' || p.name || ' ' || (p.\"notnull\" OR p.pk > 0)
         FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
    );
    let pg_columns = pg_rows(
        db,
        "SELECT table_name || '.' || column_name || ' ' || (is_nullable = 'NO')::int
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'schema_version'",
    );
    assert_eq!(pg_columns, lite_columns);

    let lite_indexes = sqlite_rows(
        &lite,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    );
    let pg_indexes = pg_rows(
        db,
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
    );
    assert_eq!(pg_indexes, lite_indexes);
}

/// Every text column compares bytes, whatever the database's default.
#[test]
fn every_text_column_is_collated_by_bytes() {
    if !available() {
        return;
    }
    let db = server().migrated_database();
    let loose = server().psql(
        name_of(&db),
        "SELECT table_name || '.' || column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type = 'text'
         AND collation_name IS DISTINCT FROM 'C'",
    );
    assert_eq!(loose.trim(), "", "text columns not COLLATE \"C\"");
}

/// docs/api.md §6: names sort by their UTF-8 bytes. The test server's
/// default collation (ICU en-US, as a production server's locale) would
/// not: the schema's `COLLATE "C"` is what makes the order.
#[test]
fn order_by_name_is_sqlites_byte_order() {
    if !available() {
        return;
    }
    let names = ["B", "a", "é", "Z", "aa", "É", "_x", "~"];
    let url = server().migrated_database();
    let db = name_of(&url);
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_catalogue(dir.path());
    for (i, name) in names.iter().enumerate() {
        let row = format!(
            "INSERT INTO images (id, name, location, status, disk_format, container_format,
             size, checksum, created_at, updated_at, visibility, owner)
             VALUES ('id{i}', '{name}', 'pithos://u/c/{i}', 'active', 'raw', 'bare',
             0, '', 1, 1, 'public', 'u')"
        );
        server().psql(db, &row);
        lite.execute(&row, []).unwrap();
    }
    let sql = "SELECT name FROM images ORDER BY name";
    let pg: Vec<String> = server().psql(db, sql).lines().map(str::to_owned).collect();
    let mut stmt = lite.prepare(sql).unwrap();
    let sqlite: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pg, sqlite);
    assert_eq!(pg, ["B", "Z", "_x", "a", "aa", "~", "É", "é"]);
    let locale = server().psql(
        db,
        "SELECT string_agg(x, ' ' ORDER BY x) FROM (VALUES ('B'), ('a'), ('é'), ('Z')) v(x)",
    );
    assert_eq!(
        locale.trim(),
        "a B é Z",
        "the test server's default is a locale's"
    );
}

/// Several processes starting at once on an empty database: one schema,
/// every one of them migrates or finds it done, none fails.
#[test]
fn migrations_at_once_make_one_schema() {
    if !available() {
        return;
    }
    let url = server().empty_database();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || migrate(&url))
        })
        .collect();
    for racer in racers {
        racer.join().unwrap().unwrap();
    }
    let db = name_of(&url);
    assert_eq!(pg_version(db), "9");
    assert_eq!(
        server()
            .psql(db, "SELECT count(*) FROM schema_version")
            .trim(),
        "1"
    );
}

/// Processes, as an operator starts them: each connects, migrates or
/// waits for the one migrating, then serves (each answers /healthz).
#[test]
fn processes_at_once_migrate_once_and_serve() {
    if !available() {
        return;
    }
    let url = server().empty_database();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let starting: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let mut cmd = command_in(dir.path());
            cmd.env("PLANKTON_DATABASE", &url);
            std::thread::spawn(move || support::process::Server::start(&mut cmd))
        })
        .collect();
    for started in starting {
        let mut running = started.join().unwrap();
        let err = stop_serving(&mut running);
        assert!(!err.contains("migration"), "{err}");
    }
    assert_eq!(pg_version(name_of(&url)), "9");
}

/// Checks that `running` answers /healthz with 200, stops it (SIGTERM,
/// exit 0) and gives its log.
fn stop_serving(running: &mut support::process::Server) -> String {
    let health = support::raw::request::<&str>(
        running.addr,
        "GET",
        "/healthz",
        &[],
        b"",
        Duration::from_secs(10),
    )
    .unwrap();
    running.signal("TERM");
    let code = running.wait(Duration::from_secs(20));
    let log = running.log_lines().join("\n");
    assert_eq!(health.status, 200, "{log}");
    assert_eq!(code, Some(0), "{log}");
    log
}

/// `plankton` (serve) on `url` with more settings in the environment,
/// until it has served: its log.
fn serving(url: &str, settings: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command_in(dir.path());
    cmd.env("PLANKTON_DATABASE", url)
        .envs(settings.iter().copied());
    stop_serving(&mut support::process::Server::start(&mut cmd))
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    if !available() {
        return;
    }
    let url = server().migrated_database();
    let db = name_of(&url);
    server().psql(db, "UPDATE schema_version SET version = 99");
    let e = migrate(&url).unwrap_err();
    assert!(e.contains("database postgresql://"), "{e}");
    assert!(
        e.contains("schema is version 99, newer than this plankton knows (9)"),
        "{e}"
    );
    let out = serve(&url);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("newer than this plankton knows"),
        "{}",
        stderr(&out)
    );
    assert_eq!(pg_version(db), "99");
}

/// `plankton` (serve) on `url` with an otherwise usable setup, to its exit.
fn serve(url: &str) -> Output {
    serve_with(url, &[])
}

/// `serve`, with more settings in the environment.
fn serve_with(url: &str, settings: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    command_in(dir.path())
        .env("PLANKTON_DATABASE", url)
        .envs(settings.iter().copied())
        .output()
        .unwrap()
}

/// The binary's command on `dir`, which gets the token file and the
/// store root it needs.
fn command_in(dir: &Path) -> std::process::Command {
    support::users::write_tokens(&dir.join("tokens"), &support::users::EVERYONE);
    std::fs::create_dir_all(dir.join("objects")).unwrap();
    support::process::command(dir)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The URL `url` with a password in it (the test server trusts every
/// connection, so any password is let in).
fn with_password(url: &str, password: &str) -> String {
    url.replacen("postgres@", &format!("postgres:{password}@"), 1)
}

#[test]
fn serve_connects_migrates_warns_and_serves_without_showing_the_password() {
    if !available() {
        return;
    }
    let url = with_password(&server().empty_database(), "Tr0ub4dor");
    let err = serving(&url, &[("PLANKTON_DATABASE_POOL", "3")]);
    assert!(err.contains("postgresql://postgres:***@/"), "{err}");
    assert!(
        err.contains("schema version 9 (migrated from 0), a pool of 3 connections"),
        "{err}"
    );
    assert!(err.contains("the server runs with fsync off"), "{err}");
    assert!(!err.contains("synchronous_commit off"), "{err}");
    assert!(err.contains("listening on http://"), "{err}");
    assert!(!err.contains("Tr0ub4dor"), "{err}");
}

/// §18: a warning at start when commits are not durable (here the
/// database's own setting).
#[test]
fn synchronous_commit_off_is_warned_of() {
    if !available() {
        return;
    }
    let url = server().empty_database();
    server().psql(
        "postgres",
        &format!(
            "ALTER DATABASE {} SET synchronous_commit = off",
            name_of(&url)
        ),
    );
    let err = serving(&url, &[]);
    assert!(
        err.contains("the server runs with synchronous_commit off"),
        "{err}"
    );
}

#[test]
fn a_refusing_server_is_a_prompt_error_without_the_password() {
    if !available() {
        return;
    }
    let url = with_password(&server().url("no_such_database"), "Tr0ub4dor");
    let started = Instant::now();
    let out = serve(&url);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no waiting for a refusal"
    );
    assert!(err.contains("database postgresql://postgres:***@"), "{err}");
    assert!(err.contains("refused the connection"), "{err}");
    assert!(err.contains("no_such_database"), "{err}");
    assert!(!err.contains("Tr0ub4dor"), "{err}");
}

/// docs/api.md §18: exit 1 with a clear error if the server cannot be
/// reached within 30 s (here: nothing listens on the socket).
#[test]
fn an_unreachable_server_is_an_error_after_30_seconds() {
    let nowhere = tempfile::tempdir().unwrap();
    let url = format!(
        "postgresql://me:Tr0ub4dor@/x?host={}",
        nowhere.path().display()
    );
    let started = Instant::now();
    let out = serve(&url);
    let waited = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        (Duration::from_secs(29)..Duration::from_secs(45)).contains(&waited),
        "{waited:?}"
    );
    assert!(
        err.contains("database postgresql://me:***@/x?host="),
        "{err}"
    );
    assert!(err.contains("could not be reached within 30 s"), "{err}");
    assert!(!err.contains("Tr0ub4dor"), "{err}");
}

#[test]
fn plankton_config_shows_the_url_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::process::command(dir.path())
        .arg("config")
        .env(
            "PLANKTON_DATABASE",
            "postgresql://plankton:Tr0ub4dor@db.example:6543/catalogue?sslmode=require",
        )
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        text.contains(
            "database = \"postgresql://plankton:***@db.example:6543/catalogue?sslmode=require\""
        ),
        "{text}"
    );
    assert!(text.contains("database_pool = 16"), "{text}");
    assert!(!text.contains("Tr0ub4dor"), "{text}");
}

#[test]
fn a_malformed_url_is_a_settings_error_naming_database() {
    for bad in [
        "postgresql://plankton:Tr0ub4dor@db.example:port/catalogue",
        "postgresql://plankton:Tr0ub4dor@db.example/catalogue?sslmode=sometimes",
        "mysql://plankton:Tr0ub4dor@db.example/catalogue",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = support::process::command(dir.path())
            .arg("config")
            .env("PLANKTON_DATABASE", bad)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("database"), "{bad}: {err}");
        assert!(!err.contains("Tr0ub4dor"), "{bad}: {err}");
    }
}
