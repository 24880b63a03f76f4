//! `plankton port-db`, and `backup` and `check` on PostgreSQL: a catalogue
//! filled through the API on SQLite goes to PostgreSQL and back to a new
//! SQLite file row for row; every refusal writes nothing.

use std::path::Path;

use rusqlite::types::Value;
use tempfile::TempDir;

use crate::support;
use support::postgres::{available, name_of, server};
use support::process::{command, Server};
use support::users::{write_tokens, ALICE, ALICE_NAME, BOB};

/// A deployment directory: alice and bob, an empty store root.
fn deployment() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("objects/alice/images")).unwrap();
    write_tokens(
        &dir.path().join("tokens"),
        &[(ALICE, Some(ALICE_NAME)), (BOB, None)],
    );
    dir
}

/// Runs plankton in `dir` with `database`: (exit code, stdout, stderr).
fn run(dir: &Path, database: &str, args: &[&str]) -> (i32, String, String) {
    let out = command(dir)
        .env("PLANKTON_DATABASE", database)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every table of a SQLite catalogue, each row's values in key order.
fn sqlite_tables(path: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let names: Vec<String> = conn
        // The web view's sessions stay behind (§18): whoever was logged in
        // logs in again after a move.
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name <> 'web_sessions' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|t| {
            let stmt = conn.prepare(&format!("SELECT * FROM {t}")).unwrap();
            let n = stmt.column_count();
            let cols: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
            let sql = format!("SELECT * FROM {t} ORDER BY {}", cols.join(", "));
            let mut stmt = conn.prepare(&sql).unwrap();
            let rows = stmt
                .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (t, rows)
        })
        .collect()
}

/// Fills the catalogue through the API: images registered (public, with
/// properties), uploaded, shared, tagged, deleted, a queued one, objects.
async fn fill(base: &str) {
    let c = reqwest::Client::new();
    let token = ("X-Auth-Token", ALICE.0);
    let mut ids = Vec::new();
    for (i, name) in ["débian.img", "ubuntu.img", "gone.img"].iter().enumerate() {
        let r = c
            .post(format!("{base}/images"))
            .header(token.0, token.1)
            .header("X-Image-Meta-Name", *name)
            .header(
                "X-Image-Meta-Location",
                format!("pithos://alice/images/{name}"),
            )
            .header(
                "X-Image-Meta-Is-Public",
                if i == 0 { "true" } else { "false" },
            )
            .header("X-Image-Meta-Property-Os", "linux")
            .header("X-Image-Meta-Property-Note", format!("ünïcode {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}: {:?}", r.text().await);
        ids.push(r.headers()["x-image-meta-id"].to_str().unwrap().to_owned());
    }
    let r = c
        .post(format!("{base}/images"))
        .header(token.0, token.1)
        .header("X-Image-Meta-Name", "uploaded")
        .header("Content-Type", "application/octet-stream")
        .body(vec![7u8; 70_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{} {}", r.url(), r.status());
    };
    ok(c.put(format!("{base}/images/{}/members/bob", ids[1]))
        .header(token.0, token.1)
        .send()
        .await
        .unwrap());
    for tag in ["stable", "x86_64"] {
        ok(c.put(format!("{base}/v2/images/{}/tags/{tag}", ids[0]))
            .header(token.0, token.1)
            .send()
            .await
            .unwrap());
    }
    ok(c.delete(format!("{base}/images/{}", ids[2]))
        .header(token.0, token.1)
        .send()
        .await
        .unwrap());
    ok(c.post(format!("{base}/v2/images"))
        .header(token.0, token.1)
        .json(&serde_json::json!({"name": "queued", "tags": ["later"]}))
        .send()
        .await
        .unwrap());
    ok(
        c.put(format!("{base}/object-store/v1/alice/pithos/notes/a.txt"))
            .header(token.0, token.1)
            .header("Content-Type", "text/plain")
            .header("X-Object-Meta-Colour", "blue")
            .body("some notes")
            .send()
            .await
            .unwrap(),
    );
}

/// A SQLite catalogue in a new deployment, filled through the API by the
/// built binary.
fn filled_deployment() -> TempDir {
    let dir = deployment();
    for name in ["débian.img", "ubuntu.img", "gone.img"] {
        let path = dir.path().join("objects/alice/images").join(name);
        std::fs::write(path, format!("the data of {name}")).unwrap();
    }
    let server = Server::start(&mut command(dir.path()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(fill(&server.base));
    drop(server);
    dir
}

fn pg_count(url: &str, table: &str) -> u64 {
    let n = server().psql(name_of(url), &format!("SELECT count(*) FROM {table}"));
    n.trim().parse().unwrap()
}

#[test]
fn a_catalogue_goes_to_postgresql_and_back_row_for_row_and_is_checked_and_backed_up_there() {
    if !available() {
        return;
    }
    let dir = filled_deployment();
    let d = dir.path();
    let db = d.join("plankton.db").display().to_string();
    let original = sqlite_tables(Path::new(&db));
    let counts: Vec<(String, usize)> = original.iter().map(|(t, r)| (t.clone(), r.len())).collect();
    for t in [
        "images",
        "image_properties",
        "image_members",
        "image_tags",
        "objects",
        "object_hashes",
    ] {
        let n = counts.iter().find(|(n, _)| n == t).map_or(0, |c| c.1);
        assert!(n > 0, "the API filled {t}: {counts:?}");
    }
    let pg = server().empty_database();
    let (code, out, err) = run(d, &db, &["port-db", "--to", &pg]);
    assert_eq!(code, 0, "{out}{err}");
    for (t, n) in &counts {
        assert_eq!(pg_count(&pg, t), *n as u64, "{t} on PostgreSQL");
        assert!(out.contains(&format!(" {t} ")), "{out}");
    }
    // The images' sequence goes on past the copied keys.
    let next = server().psql(
        name_of(&pg),
        "SELECT nextval(pg_get_serial_sequence('images', 'seq')) > (SELECT max(seq) FROM images)",
    );
    assert_eq!(next.trim(), "t");

    let back = d.join("back.db");
    let (code, out, err) = run(d, &pg, &["port-db", "--to", back.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sqlite_tables(&back), original, "every table row for row");
    let version = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&back), version(Path::new(&db)));

    // PostgreSQL to another database on the same server.
    let pg2 = server().empty_database();
    let (code, out, err) = run(d, &pg, &["port-db", "--to", &pg2]);
    assert_eq!(code, 0, "{out}{err}");
    for (t, n) in &counts {
        assert_eq!(pg_count(&pg2, t), *n as u64, "{t} on the second database");
    }

    // check on PostgreSQL: says what it checked, finds nothing wrong ...
    let (code, out, err) = run(d, &pg, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("schema version") && out.contains("integrity_check"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
    // ... then a changed object and properties out of step.
    std::fs::write(d.join("objects/alice/images/ubuntu.img"), "changed").unwrap();
    server().psql(
        name_of(&pg),
        "UPDATE images SET properties_json = '{}' WHERE name = 'ubuntu.img'",
    );
    let (code, out, _) = run(d, &pg, &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ubuntu.img") && out.contains("properties_json disagrees"),
        "{out}"
    );

    // backup on PostgreSQL: a SQLite file with every row; not over a file.
    let copy = d.join("backup.db");
    let (code, out, err) = run(d, &pg, &["backup", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let backed: Vec<(String, usize)> = sqlite_tables(&copy)
        .iter()
        .map(|(t, r)| (t.clone(), r.len()))
        .collect();
    assert_eq!(backed, counts);
    let (code, _, err) = run(d, &pg, &["backup", copy.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
}

/// A catalogue of this release with one image row, made in-process.
fn small_catalogue(dir: &Path) -> String {
    let conn = crate::sqlite_catalogue(dir);
    conn.execute_batch(
        "INSERT INTO images (id, name, status, created_at, updated_at, visibility, owner) \
         VALUES ('i1', 'n', 'queued', 1, 1, 'private', 'alice')",
    )
    .unwrap();
    dir.join("plankton.db").display().to_string()
}

#[test]
fn a_target_that_is_not_empty_is_refused_on_either_engine_and_left_unchanged() {
    if !available() {
        return;
    }
    let dir = deployment();
    let d = dir.path();
    let db = small_catalogue(d);
    // PostgreSQL, migrated, one object row.
    let pg = server().migrated_database();
    server().psql(name_of(&pg), "INSERT INTO objects (path, content_type, version, modified_by, modified_at) VALUES ('a/b/c', 'x', 1, 'a', 1)");
    let (code, _, err) = run(d, &db, &["port-db", "--to", &pg]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not empty") && err.contains("objects"),
        "{err}"
    );
    assert_eq!(pg_count(&pg, "objects"), 1);
    assert_eq!(pg_count(&pg, "images"), 0);
    // SQLite: the catalogue with its image, as the target of a PostgreSQL source.
    let empty = server().migrated_database();
    // Compared by content: the file's bytes change when SQLite checkpoints.
    let before = sqlite_tables(Path::new(&db));
    let (code, _, err) = run(d, &empty, &["port-db", "--to", &db]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty") && err.contains("images"), "{err}");
    assert_eq!(sqlite_tables(Path::new(&db)), before);
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !leftovers
            .iter()
            .any(|n| n.to_string_lossy().contains(".port-")),
        "{leftovers:?}"
    );
    // A migrated database with no rows, and an empty SQLite catalogue, are empty.
    let (code, out, err) = run(d, &db, &["port-db", "--to", &empty]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(pg_count(&empty, "images"), 1);
    let new = d.join("new.db");
    std::fs::copy(Path::new(&db), &new).unwrap();
    rusqlite::Connection::open(&new)
        .unwrap()
        .execute_batch("DELETE FROM images")
        .unwrap();
    let (code, out, err) = run(d, &empty, &["port-db", "--to", new.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sqlite_tables(&new), sqlite_tables(Path::new(&db)));
}

#[test]
fn the_source_itself_a_bad_url_and_an_unreachable_server_are_refused_naming_them() {
    if !available() {
        return;
    }
    let dir = deployment();
    let d = dir.path();
    let db = small_catalogue(d);
    // Compared by content: the file's bytes change when SQLite checkpoints.
    let before = sqlite_tables(Path::new(&db));
    let same = d.join(".").join("plankton.db");
    let (code, _, err) = run(d, &db, &["port-db", "--to", same.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("is the source itself"), "{err}");
    assert_eq!(sqlite_tables(Path::new(&db)), before);
    // Another file is fine: SQLite to SQLite.
    let copy = d.join("copy.db");
    let (code, out, err) = run(d, &db, &["port-db", "--to", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sqlite_tables(&copy), sqlite_tables(Path::new(&db)));

    let pg = server().migrated_database();
    let respelled = pg.replacen("postgresql://", "postgres://", 1);
    let (code, _, err) = run(d, &pg, &["port-db", "--to", &respelled]);
    assert_eq!(code, 1);
    assert!(err.contains("is the source itself"), "{err}");

    for (target, says) in [
        ("postgresql://u:s3cret@127.0.0.1:notaport/db", "--to"),
        ("mysql://u:s3cret@h/db", "--to"),
        (
            "postgresql://u:s3cret@127.0.0.1:1/db?connect_timeout=3",
            "postgresql://u:***@127.0.0.1:1/db",
        ),
    ] {
        let (code, out, err) = run(d, &db, &["port-db", "--to", target]);
        assert_eq!(code, 1, "{target}: {out}{err}");
        assert!(err.contains(says), "{target}: {err}");
        assert!(!err.contains("s3cret") && !out.contains("s3cret"), "{err}");
    }
    assert_eq!(sqlite_tables(Path::new(&db)), before);
}
