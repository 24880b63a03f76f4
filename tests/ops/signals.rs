//! Signals, logs and health of a running server.

use std::time::Duration;

use crate::process::{register, Deployment, ALICE};
use crate::support::users::{write_tokens, CAROL};

#[tokio::test]
async fn sigterm_mid_download_still_answers_it_whole() {
    let d = Deployment::new();
    let data: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
    d.put_object("big.img", &data);
    let mut server = d.serve();
    let client = reqwest::Client::new();
    let id = register(&client, &server.base, "big.img").await;
    let mut resp = client
        .get(format!("{}/images/{id}", server.base))
        .header("X-Auth-Token", ALICE.0)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = resp.chunk().await.unwrap().unwrap().to_vec();
    server.signal("TERM");
    while let Some(chunk) = resp.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got.len(), data.len(), "the whole body arrived");
    assert!(got == data, "the bytes are the object's");
    let code = tokio::task::spawn_blocking(move || {
        let code = server.wait(Duration::from_secs(40));
        (code, server.log_lines())
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(0), "clean exit; log: {:?}", code.1);
    assert!(
        code.1.iter().any(|l| l.contains("database closed")),
        "{:?}",
        code.1
    );
}

#[tokio::test]
async fn sighup_rereads_the_token_file_without_dropping_requests() {
    let d = Deployment::new();
    let server = d.serve();
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let background = {
        let client = client.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..200 {
                let r = client
                    .get(format!("{base}/images"))
                    .header("X-Auth-Token", ALICE.0)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                statuses.push(r.unwrap_or(0));
            }
            statuses
        })
    };
    write_tokens(&d.path("tokens"), &[(ALICE, None), (CAROL, None)]);
    for _ in 0..3 {
        server.signal("HUP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let statuses = background.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let carol = client
        .get(format!("{base}/images"))
        .header("X-Auth-Token", "carol-token")
        .send()
        .await
        .unwrap();
    assert_eq!(carol.status(), 200, "the new token works");
    let bob = client
        .get(format!("{base}/images"))
        .header("X-Auth-Token", "bob-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), 401, "the removed token does not");
    assert!(server.log_lines().iter().any(|l| l.contains("SIGHUP")));
}

#[tokio::test]
async fn logs_have_a_startup_line_and_one_access_line_per_request_without_tokens() {
    let d = Deployment::new();
    d.put_object("a.img", b"abc");
    let server = d.serve();
    let client = reqwest::Client::new();
    let id = register(&client, &server.base, "a.img").await;
    let head = client
        .head(format!("{}/images/{id}", server.base))
        .header("X-Auth-Token", ALICE.0)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let anonymous = client
        .get(format!("{}/images", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // The access line is written after the response; wait for it to show.
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = server.log_lines();
        if lines.iter().filter(|l| l.contains("user=")).count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = lines.iter().find(|l| l.contains("listening on")).unwrap();
    for part in [
        "plankton 0.",
        "identity: tokenfile",
        "store: fs",
        "database:",
        "SQLite 3.",
    ] {
        assert!(start.contains(part), "start-up line has {part}: {start}");
    }
    let access: Vec<&String> = lines.iter().filter(|l| l.contains("user=")).collect();
    assert!(
        access
            .iter()
            .any(|l| l.contains("\"POST /images HTTP/1.1\" 200") && l.contains("user=alice")),
        "{access:?}"
    );
    assert!(
        access.iter().any(
            |l| l.contains(&format!("\"HEAD /images/{id} HTTP/1.1\" 200"))
                && l.contains("ms user=alice")
        ),
        "{access:?}"
    );
    assert!(
        access
            .iter()
            .any(|l| l.contains("\"GET /images HTTP/1.1\" 401") && l.contains("user=-")),
        "{access:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains(ALICE.0)),
        "no token in the log"
    );
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let d = Deployment::new();
    let server = d.serve();
    let resp = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}
