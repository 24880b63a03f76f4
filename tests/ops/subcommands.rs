//! `plankton config`, `backup FILE`, `check`, and an installed tree.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::process::{binary, register, set_mode, Deployment, Server, ALICE};
use crate::support::users::write_tokens;

#[test]
fn config_prints_the_effective_settings_with_environment_overrides() {
    let d = Deployment::new();
    let (code, out, err) = d.run(&["config"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("root = \"{}\"", d.path("objects").display())),
        "{out}"
    );
    assert!(out.contains("max_properties = 64"), "{out}");
    assert!(out.contains("[identity]"), "{out}");
}

#[test]
fn config_with_an_unknown_key_exits_non_zero_naming_it() {
    let d = Deployment::new();
    let file = d.path("bad.toml");
    std::fs::write(&file, "[store]\nrooot = \"/x\"\n").unwrap();
    let (code, _, err) = d.run(&["--config", file.to_str().unwrap(), "config"]);
    assert_eq!(code, 2);
    assert!(err.contains("rooot"), "{err}");
}

#[test]
fn config_names_a_missing_token_file_and_exits_non_zero() {
    let d = Deployment::new();
    std::fs::remove_file(d.path("tokens")).unwrap();
    let (code, _, err) = d.run(&["config"]);
    assert_eq!(code, 1);
    assert!(err.contains("tokens"), "{err}");
}

#[test]
fn serving_without_a_token_file_fails_at_start_with_a_clear_message() {
    let d = Deployment::new();
    std::fs::remove_file(d.path("tokens")).unwrap();
    let out = Command::new(binary()).envs(d.env()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("token file") && err.contains("No such file"),
        "{err}"
    );
}

fn count_ids(db: &std::path::Path, ids: &[String]) -> (usize, String) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let mut found = 0;
    for id in ids {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM images WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        found += n as usize;
    }
    (found, integrity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_write_load_holds_every_write_answered_before_it_began() {
    let d = Deployment::new();
    let server = d.serve();
    let base = server.base.clone();
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (answered, stop, base) = (Arc::clone(&answered), Arc::clone(&stop), base.clone());
        let objects = d.path("objects/alice/images");
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 400 {
                let name = format!("w{w}-{n}.img");
                std::fs::create_dir_all(&objects).unwrap();
                std::fs::write(objects.join(&name), name.as_bytes()).unwrap();
                let id = register(&client, &base, &name).await;
                answered.lock().unwrap().push(id);
                n += 1;
            }
        }));
    }
    // Let some writes land, then back up while the writers keep going.
    while answered.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = answered.lock().unwrap().clone();
    let target = d.path("backup.db");
    let d_env = d.env();
    let target_arg = target.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(binary())
            .arg("backup")
            .arg(&target_arg)
            .envs(d_env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (found, integrity) = count_ids(&target, &before);
    assert_eq!(integrity, "ok");
    assert_eq!(
        found,
        before.len(),
        "every write answered before the backup began is in it"
    );
    assert!(
        answered.lock().unwrap().len() > before.len(),
        "writes went on during the backup"
    );
    // A second backup to the same name is refused rather than overwriting.
    let (code, _, err) = d.run(&["backup", target.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    drop(server);
}

#[tokio::test]
async fn check_finds_a_removed_and_a_changed_object() {
    let d = Deployment::new();
    let server = d.serve();
    let client = reqwest::Client::new();
    d.put_object("kept.img", b"kept data");
    d.put_object("gone.img", b"gone data");
    d.put_object("changed.img", b"same size A");
    let _kept = register(&client, &server.base, "kept.img").await;
    let gone = register(&client, &server.base, "gone.img").await;
    let changed = register(&client, &server.base, "changed.img").await;

    let (code, out, err) = d.run(&["check"]);
    assert_eq!(code, 0, "all fine at first: {out} {err}");
    assert!(out.contains("ok"), "{out}");

    std::fs::remove_file(d.path("objects/alice/images/gone.img")).unwrap();
    let changed_path = d.path("objects/alice/images/changed.img");
    let mtime = std::fs::metadata(&changed_path)
        .unwrap()
        .modified()
        .unwrap();
    std::fs::write(&changed_path, b"same size B").unwrap();
    // Even with its modification time put back, the change is found.
    std::fs::File::options()
        .write(true)
        .open(&changed_path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let (code, out, err) = d.run(&["check"]);
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains(&gone) && out.contains("missing"), "{out}");
    assert!(out.contains(&changed) && out.contains("changed"), "{out}");
    assert!(out.contains("2 problem"), "{out}");
    assert!(
        err.contains("checked 3/3 images"),
        "progress on stderr: {err}"
    );
    drop(server);
}

#[tokio::test]
async fn an_installed_tree_starts_with_the_installed_config() {
    let d = Deployment::new();
    let dest = d.path("dest");
    let manifest = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("make")
        .current_dir(manifest)
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("INSTALL_BIN={}", binary().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "usr/local/bin/plankton",
        "usr/local/lib/systemd/system/plankton.service",
        "usr/local/lib/sysusers.d/plankton.conf",
        "etc/plankton/plankton.toml",
        "etc/plankton/tokens.example",
        "usr/local/share/doc/plankton/README.md",
        "usr/local/share/doc/plankton/api.md",
        "usr/local/share/doc/plankton/behaviour.md",
    ] {
        assert!(dest.join(file).is_file(), "{file} installed");
    }
    // The installed binary's debug info is split off beside it, not lost
    // (the release binary installs at ~13 MiB: BENCHMARKS.md).
    let built = std::fs::metadata(binary()).unwrap().len();
    let installed = std::fs::metadata(dest.join("usr/local/bin/plankton"))
        .unwrap()
        .len();
    let debug = std::fs::metadata(dest.join("usr/local/bin/.debug/plankton.debug")).unwrap();
    assert!(
        installed < built / 2,
        "{installed} of {built} bytes installed"
    );
    assert!(debug.len() > installed, "the debug info is kept");
    let unit = std::fs::read_to_string(dest.join("usr/local/lib/systemd/system/plankton.service"))
        .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/plankton --config /etc/plankton/plankton.toml"),
        "{unit}"
    );
    let config = std::fs::read_to_string(dest.join("etc/plankton/plankton.toml")).unwrap();
    for line in [
        "database = \"/var/lib/plankton/plankton.db\"",
        "token_file = \"/etc/plankton/tokens\"",
        "root = \"/var/lib/plankton/objects\"",
    ] {
        assert!(config.contains(line), "installed config has {line}");
    }
    // Point the installed config's absolute paths at the temp tree and run it.
    let state = dest.join("var/lib/plankton");
    std::fs::create_dir_all(state.join("objects")).unwrap();
    let tokens = dest.join("etc/plankton/tokens");
    write_tokens(&tokens, &[(ALICE, None)]);
    set_mode(&tokens, 0o640);
    let rewritten = config
        .replace("\"/var/lib/plankton/", &format!("\"{}/", state.display()))
        .replace(
            "\"/etc/plankton/",
            &format!("\"{}/etc/plankton/", dest.display()),
        )
        .replace("listen = \"127.0.0.1:9292\"", "listen = \"127.0.0.1:0\"");
    let config_path = dest.join("etc/plankton/plankton.toml");
    std::fs::write(&config_path, rewritten).unwrap();
    let server = Server::start(
        Command::new(dest.join("usr/local/bin/plankton"))
            .arg("--config")
            .arg(&config_path)
            .arg("serve"),
    );
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    std::fs::create_dir_all(state.join("objects/alice/images")).unwrap();
    std::fs::write(state.join("objects/alice/images/x.img"), b"x").unwrap();
    register(&client, &server.base, "x.img").await;
    assert!(
        state.join("plankton.db").is_file(),
        "the database is where the installed config says"
    );
    // Installing again keeps the operator's edited config.
    let again = Command::new("make")
        .current_dir(manifest)
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("INSTALL_BIN={}", binary().display()))
        .output()
        .unwrap();
    assert!(again.status.success());
    let kept = std::fs::read_to_string(&config_path).unwrap();
    assert!(kept.contains(&state.display().to_string()), "config kept");
}

#[tokio::test]
async fn check_refuses_a_catalogue_of_another_schema_version_and_backup_copies_it() {
    let d = Deployment::new();
    drop(d.serve());
    let db = d.path("plankton.db");
    let current: i64 = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    for (version, who) in [(current - 1, "an older"), (current + 1, "a newer")] {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        drop(conn);
        let (code, out, err) = d.run(&["check"]);
        assert_eq!(code, 2, "{out} {err}");
        assert!(
            err.contains(&format!("schema version {version} is {who} plankton's")),
            "{err}"
        );
        // A backup before an upgrade is what an operator makes first.
        let copy = d.path(&format!("backup-{version}.db"));
        let (code, out, err) = d.run(&["backup", copy.to_str().unwrap()]);
        assert_eq!(code, 0, "{out} {err}");
        assert!(copy.is_file());
    }
}
