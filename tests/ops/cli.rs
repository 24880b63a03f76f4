//! The command line itself: help, errors, and `plankton token` against a
//! running server.

use std::process::Command;
use std::time::Duration;

use crate::process::{binary, register, Deployment, Server, ALICE};

/// Runs the binary with `args`, no settings from the environment.
fn plankton(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env_remove("PLANKTON_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help_and_help_names_them() {
    let (code, out, _) = plankton(&["help"]);
    assert_eq!(code, 0);
    for command in ["serve", "config", "backup", "check", "token"] {
        assert!(out.contains(command), "{out}");
        let (code, out, err) = plankton(&[command, "--help"]);
        assert_eq!(code, 0, "{command}: {err}");
        assert!(out.contains("Usage: plankton"), "{command}: {out}");
        let (code, again, _) = plankton(&["help", command]);
        assert_eq!((code, &again), (0, &out), "help {command}");
    }
    let (code, out, _) = plankton(&["token", "add", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("USER-ID"), "{out}");
    let (code, out, _) = plankton(&["--version"]);
    assert_eq!((code, out.trim()), (0, "plankton 0.1.0"));
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let (code, _, err) = plankton(&["chekc"]);
    assert_eq!(code, 2);
    assert!(err.contains("chekc") && err.contains("check"), "{err}");
    let (code, _, err) = plankton(&["backup"]);
    assert_eq!(code, 2);
    assert!(err.contains("FILE"), "{err}");
    let (code, _, err) = plankton(&["--config"]);
    assert_eq!(code, 2);
    assert!(err.contains("--config"), "{err}");
}

#[test]
fn output_into_a_closed_pipe_does_not_panic() {
    for args in ["--help", "help", "config", "token list"] {
        // `true` exits without reading: plankton writes into a closed pipe.
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; \"$0\" {args} | true"))
            .arg(binary())
            .env("PLANKTON_IDENTITY__TOKEN_FILE", "/dev/null")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args}: {err}");
    }
}

/// GETs `/images` with `token` until it answers `want` (the server looks at
/// the token file once a second); the last status.
async fn status_becomes(base: &str, token: &str, want: u16) -> u16 {
    let client = reqwest::Client::new();
    let mut status = 0;
    for _ in 0..50 {
        let resp = client
            .get(format!("{base}/images"))
            .header("X-Auth-Token", token)
            .send()
            .await
            .unwrap();
        status = resp.status().as_u16();
        if status == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test]
async fn a_running_server_takes_added_and_revoked_tokens() {
    let d = Deployment::new();
    std::fs::write(
        d.path("tokens"),
        "# the lab's users\nalice-token alice Alice\nbob-token bob\n",
    )
    .unwrap();
    // Polling a token until the server has read it fails a few times a
    // second: not what this test is about, so the guessing limit is high.
    let server = Server::start(
        Command::new(binary())
            .envs(d.env())
            .env("PLANKTON_IDENTITY__FAILURES_PER_MINUTE", "10000"),
    );
    let (code, token, err) = d.run(&["token", "add", "carol", "Carol", "Ann"]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    assert!(
        token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    assert_eq!(status_becomes(&server.base, &token, 200).await, 200);
    let (code, listed, _) = d.run(&["token", "list"]);
    assert_eq!(code, 0);
    assert!(
        listed.contains("carol") && listed.contains("Carol Ann"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token) && !listed.contains("alice-token"),
        "{listed}"
    );
    let (code, _, err) = d.run(&["token", "revoke", "carol"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(status_becomes(&server.base, &token, 401).await, 401);
    assert_eq!(status_becomes(&server.base, "alice-token", 200).await, 200);
    let (code, _, err) = d.run(&["token", "revoke", "carol"]);
    assert_eq!(code, 1);
    assert!(err.contains("carol has no token"), "{err}");
    let text = std::fs::read_to_string(d.path("tokens")).unwrap();
    assert!(text.starts_with("# the lab's users\nalice-token alice Alice\nbob-token bob\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path("tokens"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_stray_variable_is_named_with_the_environment() {
    let d = Deployment::new();
    let out = Command::new(binary())
        .args(["config"])
        .envs(d.env())
        .env("PLANKTON_BIN", "/usr/bin/x")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("environment variable PLANKTON_BIN: unknown setting `bin`; known: "),
        "{err}"
    );
}

#[test]
fn config_refuses_what_serve_would_refuse() {
    let d = Deployment::new();
    let run = |var: &str, value: &str| {
        Command::new(binary())
            .arg("config")
            .envs(d.env())
            .env(var, value)
            .output()
            .unwrap()
    };
    for (var, value, says) in [
        (
            "PLANKTON_LISTEN",
            "nonsense",
            "listen `nonsense` must be host:port",
        ),
        (
            "PLANKTON_STORE__BACKEND",
            "s3",
            "store.backend: unknown value `s3`; expected one of `fs`, `pithos`",
        ),
        (
            "PLANKTON_LISTEN",
            "no-such-host.invalid:80",
            "listen no-such-host.invalid:80",
        ),
    ] {
        let out = run(var, value);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{var}={value}: {err}");
        assert!(err.contains(says), "{var}={value}: {err}");
        let serve = Command::new(binary())
            .envs(d.env())
            .env(var, value)
            .output()
            .unwrap();
        assert_ne!(serve.status.code(), Some(0), "serve with {var}={value}");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_catalogue_is_refused_naming_the_first() {
    let d = Deployment::new();
    let first = d.serve();
    let out = Command::new(binary()).envs(d.env()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("is in use by process {}", first.pid()))
            && err.contains("plankton.db.lock"),
        "{err}"
    );
    // The readers run beside it.
    let (code, out, err) = d.run(&["check"]);
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");
    let copy = d.path("copy.db");
    let (code, _, err) = d.run(&["backup", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    drop(first);
    let again = d.serve();
    let health = reqwest::get(format!("{}/healthz", again.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the lock goes with its process");
}

#[tokio::test]
async fn sigint_drains_like_sigterm_and_a_second_one_forces() {
    let d = Deployment::new();
    let data: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
    d.put_object("big.img", &data);
    let mut server = d.serve();
    let client = reqwest::Client::new();
    let id = register(&client, &server.base, "big.img").await;
    let url = format!("{}/images/{id}", server.base);
    let get = || {
        client
            .get(url.clone())
            .header("X-Auth-Token", ALICE.0)
            .send()
    };
    let mut resp = get().await.unwrap();
    let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
    server.signal("INT");
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert!(got == data, "the whole body arrived after SIGINT");
    let (code, log) = tokio::task::spawn_blocking(move || {
        (server.wait(Duration::from_secs(40)), server.log_lines())
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{log:?}");
    assert!(log
        .iter()
        .any(|l| l.contains("SIGINT: answering the requests in flight")));

    let mut server = d.serve();
    let url = format!("{}/images/{id}", server.base);
    let mut stalled = client
        .get(url)
        .header("X-Auth-Token", ALICE.0)
        .send()
        .await
        .unwrap();
    let _ = stalled.chunk().await;
    server.signal("INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.child.try_wait().unwrap().is_none(), "still draining");
    server.signal("TERM");
    let (code, log) = tokio::task::spawn_blocking(move || {
        (server.wait(Duration::from_secs(10)), server.log_lines())
    })
    .await
    .unwrap();
    assert!(code.is_some(), "a second signal stops at once: {log:?}");
    assert!(
        log.iter().any(|l| l.contains("SIGTERM: stopping now")),
        "{log:?}"
    );
}

#[tokio::test]
async fn sigquit_stops_at_once_mid_download() {
    let d = Deployment::new();
    d.put_object("big.img", &vec![7u8; 32 << 20]);
    let mut server = d.serve();
    let client = reqwest::Client::new();
    let id = register(&client, &server.base, "big.img").await;
    let url = format!("{}/images/{id}", server.base);
    let mut stalled = client
        .get(url)
        .header("X-Auth-Token", ALICE.0)
        .send()
        .await
        .unwrap();
    let _ = stalled.chunk().await;
    server.signal("QUIT");
    let (code, log) = tokio::task::spawn_blocking(move || {
        (server.wait(Duration::from_secs(10)), server.log_lines())
    })
    .await
    .unwrap();
    assert!(
        code.is_some(),
        "SIGQUIT does not wait for the download: {log:?}"
    );
    assert!(
        log.iter().any(|l| l.contains("SIGQUIT: stopping now")),
        "{log:?}"
    );
}

#[test]
fn token_commands_say_so_when_users_are_astakos_s() {
    let d = Deployment::new();
    let out = Command::new(binary())
        .args(["token", "add", "carol"])
        .envs(d.env())
        .env("PLANKTON_IDENTITY__BACKEND", "astakos")
        .env(
            "PLANKTON_IDENTITY__AUTH_URL",
            "http://127.0.0.1:1/identity/v2.0",
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("identity.backend is astakos"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn make_help_lists_clients_and_names_no_issue() {
    let out = Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--no-print-directory", "help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(help.contains("make clients"), "{help}");
    assert!(!help.to_lowercase().contains("issue"), "{help}");
}
