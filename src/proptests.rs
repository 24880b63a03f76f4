//! Generated-input tests that go through the real server: members bodies
//! and member paths of the image API, each case against a server holding
//! one image of alice's. A refused request changes nothing. They run a
//! quarter of `PROPTEST_CASES` (proptest's default, 256, when unset).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::config::Settings;
use crate::domain::ids::is_valid_user_id;
use crate::domain::percent::decode;
use crate::domain::proptests::config;
use crate::startup::Application;

/// A JSON text for a members body: mostly the documented shape, with wrong
/// types, unknown keys, odd member ids and broken syntax mixed in.
fn members_body() -> impl Strategy<Value = Vec<u8>> {
    let member_id = prop_oneof![
        6 => "[a-z]{1,3}[0-9]?".prop_map(serde_json::Value::String),
        1 => Just(serde_json::Value::String("alice".into())),
        2 => any::<String>().prop_map(serde_json::Value::String),
        1 => "[A-Za-z0-9@._-]{250,260}".prop_map(serde_json::Value::String),
        1 => prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::Bool),
            Just(serde_json::json!(["a"])),
        ],
    ];
    let can_share = prop_oneof![
        Just(None),
        any::<bool>().prop_map(|b| Some(serde_json::Value::Bool(b))),
        Just(Some(serde_json::Value::Null)),
        Just(Some(serde_json::json!("false"))),
        Just(Some(serde_json::json!(0))),
    ];
    let entry = (
        member_id,
        can_share,
        prop::option::weighted(0.05, "[a-z_]{1,8}"),
    )
        .prop_map(|(id, share, extra)| {
            let mut m = serde_json::Map::new();
            m.insert("member_id".into(), id);
            if let Some(s) = share {
                m.insert("can_share".into(), s);
            }
            if let Some(k) = extra {
                m.insert(k, serde_json::Value::Null);
            }
            serde_json::Value::Object(m)
        });
    let list = prop::collection::vec(entry, 0..12);
    let shaped = (
        list,
        prop::option::weighted(0.05, "[a-z]{1,10}"),
        prop_oneof![
            8 => Just("memberships"),
            1 => Just("members"),
            1 => Just("Memberships"),
        ],
    )
        .prop_map(|(l, extra, key)| {
            let mut m = serde_json::Map::new();
            m.insert(key.into(), serde_json::Value::Array(l));
            if let Some(k) = extra {
                m.insert(k, serde_json::json!(1));
            }
            serde_json::to_vec(&serde_json::Value::Object(m)).unwrap()
        });
    prop_oneof![
        8 => shaped.clone(),
        1 => (shaped, any::<prop::sample::Index>()).prop_map(|(b, i)| b[..i.index(b.len() + 1)].to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop_oneof![
            Just(b"null".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"{\"memberships\": null}".to_vec()),
            Just(b"{\"memberships\": {}}".to_vec()),
            Just(b"{\"memberships\": [\"a\"]}".to_vec()),
            Just(b"{\"memberships\": [{\"member_id\": \"\\ud800\"}]}".to_vec()),
            Just(b"{\"memberships\": [{\"member_id\": \"a\\u0000\"}]}".to_vec()),
        ],
    ]
}

/// What a members body should do, from the contract: `Some(set)` for a
/// 204 that leaves exactly that set, `None` for a 400 that changes nothing.
fn expected_members(body: &[u8]) -> Option<BTreeSet<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let list = obj.get("memberships")?.as_array()?;
    let mut out = BTreeSet::new();
    for e in list {
        let e = e.as_object()?;
        if e.keys().any(|k| k != "member_id" && k != "can_share") {
            return None;
        }
        match e.get("can_share") {
            None | Some(serde_json::Value::Bool(_) | serde_json::Value::Null) => {}
            Some(_) => return None,
        }
        let id = e.get("member_id")?.as_str()?;
        if !is_valid_user_id(id) {
            return None;
        }
        if id != "alice" {
            out.insert(id.to_string());
        }
    }
    Some(out)
}

/// How many cases the properties that go through the server run.
fn server_cases() -> u32 {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    (cases / 4).max(16)
}

/// A server on a temporary directory with Alice's image registered: its id.
async fn server_with_an_image(
    dir: &std::path::Path,
) -> (String, String, actix_web::dev::ServerHandle) {
    let root = dir.join("objects");
    std::fs::create_dir_all(root.join("alice/images")).unwrap();
    std::fs::write(root.join("alice/images/a.img"), b"hello").unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "alice-token alice\n").unwrap();
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database: dir.join("p.db").into(),
        ..Settings::default()
    };
    settings.identity.token_file = tokens;
    settings.store.root = root;
    let settings = settings.validated().expect("valid settings");
    let app = Application::build(settings).expect("the app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::Client::new()
        .post(format!("{base}/images"))
        .header("X-Auth-Token", "alice-token")
        .header("X-Image-Meta-Name", "a")
        .header("X-Image-Meta-Location", "pithos://alice/images/a.img")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-image-meta-id"]
        .to_str()
        .unwrap()
        .to_string();
    (base, id, handle)
}

async fn members_now(client: &reqwest::Client, base: &str, id: &str) -> BTreeSet<String> {
    let v: serde_json::Value = client
        .get(format!("{base}/images/{id}/members"))
        .header("X-Auth-Token", "alice-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a property against a real server holding one image of alice's:
/// each case gets the client, the server's base URL and the image id.
fn against_a_server<S, F, Fut>(strategy: S, test: F)
where
    S: Strategy,
    F: Fn(reqwest::Client, String, String, S::Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), TestCaseError>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base, id, handle) = rt.block_on(server_with_an_image(dir.path()));
    let client = reqwest::Client::new();
    let mut runner = TestRunner::new(Config {
        cases: server_cases(),
        ..config()
    });
    let result = runner.run(&strategy, |value| {
        rt.block_on(test(client.clone(), base.clone(), id.clone(), value))
    });
    rt.block_on(handle.stop(false));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn members_bodies_replace_the_list_whole_or_are_a_400_changing_nothing() {
    against_a_server(members_body(), |client, base, id, body| async move {
        let before = members_now(&client, &base, &id).await;
        let resp = client
            .put(format!("{base}/images/{id}/members"))
            .header("X-Auth-Token", "alice-token")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let after = members_now(&client, &base, &id).await;
        let shown = String::from_utf8_lossy(&body).into_owned();
        match expected_members(&body) {
            Some(want) => {
                prop_assert_eq!(status, 204, "{}: {}", shown, text);
                prop_assert_eq!(after, want, "{}", shown);
            }
            None => {
                prop_assert_eq!(status, 400, "{}: {}", shown, text);
                prop_assert_eq!(after, before, "a refused body changed the list: {}", shown);
            }
        }
        Ok(())
    });
}

#[test]
fn member_paths_and_add_bodies_are_a_204_or_a_400() {
    // ("." and ".." are not sent, nor "%2E" and the like: the client's URL
    // parser removes dot segments.)
    let member = prop_oneof![
        "[A-Za-z0-9@._-]{1,12}",
        "([A-Za-z0-9@._~!$&'()*+,;=:-]|%[0-9a-fA-F]{2}|%)*",
    ]
    .prop_filter("not a dot segment", |m| {
        !matches!(decode(m).as_deref(), Ok("." | ".."))
    });
    let body = prop_oneof![
        Just(Vec::new()),
        Just(b"  \n".to_vec()),
        Just(b"{\"member\": {\"can_share\": false}}".to_vec()),
        Just(b"{\"member\": {}}".to_vec()),
        Just(b"{\"member\": {\"can_share\": 1}}".to_vec()),
        Just(b"{}".to_vec()),
        prop::collection::vec(any::<u8>(), 1..32),
    ];
    against_a_server(
        (member, body),
        |client, base, id, (member, body)| async move {
            let before = members_now(&client, &base, &id).await;
            let resp = client
                .put(format!("{base}/images/{id}/members/{member}"))
                .header("X-Auth-Token", "alice-token")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let after = members_now(&client, &base, &id).await;
            let decoded = decode(&member).ok().filter(|d| is_valid_user_id(d));
            let body_ok = body.iter().all(u8::is_ascii_whitespace)
                || body == b"{\"member\": {\"can_share\": false}}"
                || body == b"{\"member\": {}}";
            match decoded {
                // The list fills up over the cases: past 1024, an add is a 413.
                Some(m)
                    if body_ok && m != "alice" && !before.contains(&m) && before.len() >= 1024 =>
                {
                    prop_assert_eq!(status, 413, "{} {:?}", member, body);
                    prop_assert_eq!(after, before);
                }
                Some(m) if body_ok => {
                    prop_assert_eq!(status, 204, "{} {:?}", member, body);
                    let mut want = before.clone();
                    if m != "alice" {
                        want.insert(m);
                    }
                    prop_assert_eq!(after, want);
                }
                _ => {
                    prop_assert!(
                        status == 400 || status == 404,
                        "{} {:?}: {}",
                        member,
                        body,
                        status
                    );
                    prop_assert_eq!(after, before);
                }
            }
            Ok(())
        },
    );
}
