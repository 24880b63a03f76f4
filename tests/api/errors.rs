//! Every error line of the contract (docs/api.md §2-§9), table-driven: the status, the
//! fault name, and a message that names the offending field and value; and
//! that a failed request changes nothing.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;

use crate::helpers::{TestApp, ALICE, BOB, CAROL};
use crate::util::{fault, md5_hex, sha256_hex};

/// One request and the fault it must get.
struct Case {
    what: String,
    method: Method,
    path: String,
    token: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    status: u16,
    fault: &'static str,
    needles: Vec<String>,
}

fn case(what: &str, method: Method, path: &str) -> Case {
    Case {
        what: what.to_string(),
        method,
        path: path.to_string(),
        token: Some(ALICE.0.to_string()),
        headers: Vec::new(),
        body: None,
        status: 0,
        fault: "",
        needles: Vec::new(),
    }
}

impl Case {
    fn h(mut self, k: &str, v: impl AsRef<[u8]>) -> Self {
        self.headers.push((k.to_string(), v.as_ref().to_vec()));
        self
    }
    fn token(mut self, t: Option<&str>) -> Self {
        self.token = t.map(str::to_string);
        self
    }
    fn body(mut self, b: &[u8]) -> Self {
        self.body = Some(b.to_vec());
        self
    }
    fn expect(mut self, status: u16, fault: &'static str, needles: &[&str]) -> Self {
        self.status = status;
        self.fault = fault;
        self.needles = needles
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        self
    }
}

async fn run(app: &TestApp, cases: Vec<Case>) {
    for c in cases {
        assert!(c.status != 0, "{}: no expectation", c.what);
        let mut h = HeaderMap::new();
        if let Some(t) = &c.token {
            h.insert("x-auth-token", HeaderValue::from_str(t).unwrap());
        }
        for (k, v) in &c.headers {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        let mut req = app
            .client
            .request(c.method.clone(), app.url(&c.path))
            .headers(h);
        if let Some(b) = &c.body {
            req = req.body(b.clone());
        }
        let resp = req.send().await.unwrap();
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(
            got, c.status,
            "{}: {} {} answered {got} {text}",
            c.what, c.method, c.path
        );
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: fault body is not JSON: {text}", c.what));
        let obj = value.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{}: {text}", c.what);
        let inner = obj
            .get(c.fault)
            .unwrap_or_else(|| panic!("{}: expected {} in {text}", c.what, c.fault));
        assert_eq!(inner["code"], c.status, "{}", c.what);
        let msg = inner["message"].as_str().unwrap().to_lowercase();
        for n in &c.needles {
            assert!(
                msg.contains(&n.to_lowercase()),
                "{}: message {msg:?} should name {n:?}",
                c.what
            );
        }
    }
}

/// Alice's private image (shared with Bob) at `a.img`, her public one at
/// `pub.img`, Carol's private one; and a spare object `spare.img` of Alice's.
struct Fixture {
    app: TestApp,
    private: String,
    public: String,
    carols: String,
}

async fn fixture_with(app: TestApp) -> Fixture {
    let private = app
        .alice()
        .register("a.img")
        .data(b"hello world")
        .ok()
        .await;
    app.set_members(&private, ALICE.0, &["bob"]).await;
    let public = app
        .alice()
        .register("pub.img")
        .data(b"public")
        .public()
        .ok()
        .await;
    let carols = app.carol().register("c.img").data(b"carol's").ok().await;
    app.put_object(ALICE.1, "images", "spare.img", b"spare data");
    Fixture {
        app,
        private,
        public,
        carols,
    }
}

async fn fixture() -> Fixture {
    fixture_with(TestApp::spawn().await).await
}

const SPARE: &str = "pithos://alice/images/spare.img";

/// A registration of the spare object with `extra` headers added.
fn register(what: &str) -> Case {
    case(what, Method::POST, "/images")
        .h("X-Image-Meta-Name", "spare")
        .h("X-Image-Meta-Location", SPARE)
}

/// Everything the owner can see, for checking that nothing changed.
async fn snapshot(app: &TestApp, f: &Fixture) -> (serde_json::Value, Vec<String>) {
    let body = app.list("/images/detail", ALICE.0).await;
    let members = app.member_ids("", &f.private, ALICE.0).await;
    (body, members)
}

#[tokio::test]
async fn a_missing_or_rejected_token_is_401_unauthorized_on_every_route() {
    // Every route is tried with a wrong token: far more failures than one
    // address may make a minute (tests/abuse/guessing.rs checks that limit).
    let app = TestApp::spawn_with(|s| s.identity.failures_per_minute = 100_000).await;
    let f = fixture_with(app).await;
    let id = &f.private;
    let mut cases = Vec::new();
    for (method, path) in [
        (Method::GET, "/images".to_string()),
        (Method::GET, "/v1/images/detail".to_string()),
        (Method::POST, "/images".into()),
        (Method::GET, format!("/images/{id}")),
        (Method::PUT, format!("/v1.0/images/{id}")),
        (Method::DELETE, format!("/images/{id}")),
        (Method::GET, format!("/images/{id}/members")),
        (Method::PUT, format!("/images/{id}/members")),
        (Method::PUT, format!("/images/{id}/members/bob")),
        (Method::DELETE, format!("/images/{id}/members/bob")),
        (Method::GET, "/shared-images/bob".into()),
    ] {
        for token in [None, Some("no-such-token"), Some(""), Some(" ")] {
            cases.push(
                case(&format!("token {token:?}"), method.clone(), &path)
                    .token(token)
                    .expect(401, "unauthorized", &[]),
            );
        }
        // A token is case-sensitive: Alice's in upper case is no token.
        cases.push(
            case("upper-cased token", method.clone(), &path)
                .token(Some(&ALICE.0.to_uppercase()))
                .expect(401, "unauthorized", &[]),
        );
    }
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before);
}

#[tokio::test]
async fn malformed_metadata_headers_are_400_naming_the_header_and_value() {
    let f = fixture().await;
    let long_key = "k".repeat(256);
    let long_value = "v".repeat(4097);
    let cases = vec![
        register("unknown name")
            .h("X-Image-Meta-Colour", "red")
            .expect(400, "badRequest", &["x-image-meta-colour"]),
        register("unknown name with underscore")
            .h("x-image-meta-disk_formats", "raw")
            .expect(400, "badRequest", &["disk_formats"]),
        register("bad escape in a value")
            .h("X-Image-Meta-Min-Ram", "%zz")
            .expect(400, "badRequest", &["x-image-meta-min-ram", "%zz"]),
        register("lone percent")
            .h("X-Image-Meta-Disk-Format", "raw%")
            .expect(400, "badRequest", &["x-image-meta-disk-format"]),
        register("short escape")
            .h("X-Image-Meta-Container-Format", "bare%4")
            .expect(400, "badRequest", &["x-image-meta-container-format"]),
        register("decoded bytes not UTF-8")
            .h("X-Image-Meta-Name", "caf%E9")
            .expect(400, "badRequest", &["x-image-meta-name"]),
        register("raw bytes not UTF-8")
            .h("X-Image-Meta-Name", b"caf\xe9")
            .expect(400, "badRequest", &["name"]),
        register("raw bytes not UTF-8 in a property")
            .h("X-Image-Meta-Property-OS", b"\xff\xfe")
            .expect(400, "badRequest", &["os"]),
        register("bad escape in a property value")
            .h("X-Image-Meta-Property-OS", "deb%zzian")
            .expect(400, "badRequest", &["property", "os", "%zz"]),
        register("bad escape in a property key")
            .h("X-Image-Meta-Property-%zz", "x")
            .expect(400, "badRequest", &["property", "%zz"]),
        register("empty property key")
            .h("X-Image-Meta-Property-", "x")
            .expect(400, "badRequest", &["property key"]),
        register("property key of 256 bytes")
            .h(&format!("X-Image-Meta-Property-{long_key}"), "x")
            .expect(400, "badRequest", &["property key", &"k".repeat(60)]),
        register("property value of 4097 bytes")
            .h("X-Image-Meta-Property-Long", &long_value)
            .expect(400, "badRequest", &["long", "4096"]),
        register("is_public not a boolean")
            .h("X-Image-Meta-Is-Public", "yes")
            .expect(400, "badRequest", &["is-public", "'yes'"]),
        register("is_public one")
            .h("X-Image-Meta-Is-Public", "1")
            .expect(400, "badRequest", &["is-public", "'1'"]),
        register("negative size")
            .h("X-Image-Meta-Size", "-1")
            .expect(400, "badRequest", &["x-image-meta-size", "'-1'"]),
        register("fractional min_ram")
            .h("X-Image-Meta-Min-Ram", "1.5")
            .expect(400, "badRequest", &["min-ram", "'1.5'"]),
        register("word min_disk")
            .h("x-image-meta-min_disk", "ten")
            .expect(400, "badRequest", &["min-disk", "'ten'"]),
        register("empty min_disk")
            .h("X-Image-Meta-Min-Disk", "")
            .expect(400, "badRequest", &["min-disk"]),
        register("disk format not allowed")
            .h("X-Image-Meta-Disk-Format", "floppy")
            .expect(400, "badRequest", &["disk-format", "'floppy'"]),
        register("container format not allowed")
            .h("X-Image-Meta-Container-Format", "box")
            .expect(400, "badRequest", &["container-format", "'box'"]),
        case(
            "purge-props not a boolean",
            Method::PUT,
            &format!("/images/{}", f.private),
        )
        .h("X-Glance-Registry-Purge-Props", "maybe")
        .expect(400, "badRequest", &["purge-props", "'maybe'"]),
    ];
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before);
}

#[tokio::test]
async fn bad_listing_parameters_are_400_naming_the_parameter_and_value() {
    let f = fixture().await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    let mut cases = Vec::new();
    for prefix in ["", "/v1.0", "/v1"] {
        for list in ["/images", "/images/detail"] {
            let base = format!("{prefix}{list}");
            for (query, needles) in [
                ("sort_key=foo", vec!["sort_key", "'foo'"]),
                ("sort_key=checksum", vec!["sort_key", "'checksum'"]),
                ("sort_dir=up", vec!["sort_dir", "'up'"]),
                ("sort_dir=ASCENDING", vec!["sort_dir", "'ASCENDING'"]),
                ("size_min=-1", vec!["size_min", "'-1'"]),
                ("size_min=x", vec!["size_min", "'x'"]),
                ("size_max=1.5", vec!["size_max", "'1.5'"]),
                ("is_public=yes", vec!["is_public", "'yes'"]),
                ("changes-since=never", vec!["changes-since", "'never'"]),
                (
                    "changes-since=2013-13-01",
                    vec!["changes-since", "2013-13-01"],
                ),
                ("limit=0", vec!["limit", "'0'"]),
                ("limit=10001", vec!["limit", "'10001'"]),
                ("limit=-5", vec!["limit", "'-5'"]),
                ("limit=ten", vec!["limit", "'ten'"]),
                ("marker=abc", vec!["marker", "'abc'"]),
                (
                    &format!("marker={unknown}") as &str,
                    vec!["marker", unknown],
                ),
                (
                    &format!("marker={}", f.carols),
                    vec!["marker", f.carols.as_str()],
                ),
                ("name=%zz", vec!["name"]),
            ] {
                cases.push(case(query, Method::GET, &format!("{base}?{query}")).expect(
                    400,
                    "badRequest",
                    &needles,
                ));
            }
        }
    }
    run(&f.app, cases).await;
}

#[tokio::test]
async fn registering_without_name_or_location_or_with_forbidden_fields_is_refused() {
    let f = fixture().await;
    f.app
        .put_object(ALICE.1, "images", "sub/x.img", b"in a directory");
    let other = "pithos://bob/images/spare.img";
    f.app
        .put_object(BOB.1, "images", "spare.img", b"bob's spare");
    let cases = vec![
        case("no name", Method::POST, "/images")
            .h("X-Image-Meta-Location", SPARE)
            .expect(400, "badRequest", &["x-image-meta-name"]),
        case("neither name nor location", Method::POST, "/images").expect(
            400,
            "badRequest",
            &["x-image-meta-name"],
        ),
        case("empty name, no location", Method::POST, "/images")
            .h("X-Image-Meta-Name", "")
            .expect(400, "badRequest", &["name"]),
        case("empty name", Method::POST, "/images")
            .h("X-Image-Meta-Name", "")
            .h("X-Image-Meta-Location", SPARE)
            .expect(400, "badRequest", &["name"]),
        case("name of 256 characters", Method::POST, "/images")
            .h("X-Image-Meta-Name", "n".repeat(256))
            .h("X-Image-Meta-Location", SPARE)
            .expect(400, "badRequest", &["name", &"n".repeat(40)]),
        case("no location", Method::POST, "/images")
            .h("X-Image-Meta-Name", "x")
            .expect(501, "notImplemented", &["location"]),
        case("empty location", Method::POST, "/v1/images")
            .h("X-Image-Meta-Name", "x")
            .h("X-Image-Meta-Location", "")
            .expect(501, "notImplemented", &["location"]),
        register("an id")
            .h("X-Image-Meta-Id", "5583ffe1-5273-4c84-9e32-2fbe476bd7b7")
            .expect(400, "badRequest", &["x-image-meta-id"]),
        register("a store other than pithos")
            .h("X-Image-Meta-Store", "swift")
            .expect(400, "badRequest", &["x-image-meta-store", "'swift'"]),
        register("a status")
            .h("X-Image-Meta-Status", "available")
            .expect(400, "badRequest", &["x-image-meta-status"]),
        register("created_at")
            .h("X-Image-Meta-Created-At", "2020-01-01 00:00:00")
            .expect(400, "badRequest", &["created-at"]),
        register("updated_at")
            .h("x-image-meta-updated_at", "2020-01-01 00:00:00")
            .expect(400, "badRequest", &["updated-at"]),
        register("deleted_at")
            .h("X-Image-Meta-Deleted-At", "")
            .expect(400, "badRequest", &["deleted-at"]),
        register("uri")
            .h("X-Image-Meta-Uri", "http://x/")
            .expect(400, "badRequest", &["uri"]),
        case("a location of another account", Method::POST, "/images")
            .h("X-Image-Meta-Name", "x")
            .h("X-Image-Meta-Location", other)
            .expect(403, "forbidden", &["bob"]),
        register("an owner other than the caller")
            .h("X-Image-Meta-Owner", "bob")
            .expect(403, "forbidden", &["owner", "'bob'"]),
        case("a location with no object", Method::POST, "/images")
            .h("X-Image-Meta-Name", "x")
            .h("X-Image-Meta-Location", "pithos://alice/images/none.img")
            .expect(400, "badRequest", &["File not found on given location"]),
        case("a location that is a directory", Method::POST, "/images")
            .h("X-Image-Meta-Name", "x")
            .h("X-Image-Meta-Location", "pithos://alice/images/sub")
            .expect(400, "badRequest", &["File not found on given location"]),
        register("a size that is not the object's")
            .h("X-Image-Meta-Size", "12345")
            .expect(400, "badRequest", &["x-image-meta-size", "12345"]),
        register("an MD5 that is not the object's")
            .h("X-Image-Meta-Checksum", md5_hex(b"other"))
            .expect(
                400,
                "badRequest",
                &["x-image-meta-checksum", &md5_hex(b"other")],
            ),
        register("a Pithos hash that is not the object's")
            .h("X-Image-Meta-Checksum", sha256_hex(b"other"))
            .expect(
                400,
                "badRequest",
                &["x-image-meta-checksum", &sha256_hex(b"other")],
            ),
        register("a checksum of 40 hex digits")
            .h("X-Image-Meta-Checksum", "a".repeat(40))
            .expect(
                400,
                "badRequest",
                &["x-image-meta-checksum", &"a".repeat(40)],
            ),
        register("a checksum that is not hex")
            .h("X-Image-Meta-Checksum", "z".repeat(32))
            .expect(
                400,
                "badRequest",
                &["x-image-meta-checksum", &"z".repeat(32)],
            ),
    ];
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before, "nothing registered");
}

#[tokio::test]
async fn updating_forbidden_fields_or_the_owner_is_refused_and_changes_nothing() {
    let f = fixture().await;
    let path = format!("/images/{}", f.private);
    let upd = |what: &str| case(what, Method::PUT, &path).h("X-Image-Meta-Name", "changed");
    let cases = vec![
        upd("location").h("X-Image-Meta-Location", SPARE).expect(
            400,
            "badRequest",
            &["x-image-meta-location"],
        ),
        upd("size")
            .h("X-Image-Meta-Size", "11")
            .expect(400, "badRequest", &["x-image-meta-size"]),
        upd("checksum")
            .h("X-Image-Meta-Checksum", md5_hex(b"hello world"))
            .expect(400, "badRequest", &["x-image-meta-checksum"]),
        upd("id")
            .h("X-Image-Meta-Id", &f.private)
            .expect(400, "badRequest", &["x-image-meta-id"]),
        upd("store").h("X-Image-Meta-Store", "pithos").expect(
            400,
            "badRequest",
            &["x-image-meta-store"],
        ),
        upd("created_at")
            .h("X-Image-Meta-Created-At", "2020-01-01 00:00:00")
            .expect(400, "badRequest", &["created-at"]),
        upd("updated_at")
            .h("X-Image-Meta-Updated-At", "2020-01-01 00:00:00")
            .expect(400, "badRequest", &["updated-at"]),
        upd("deleted_at")
            .h("X-Image-Meta-Deleted-At", "2020-01-01 00:00:00")
            .expect(400, "badRequest", &["deleted-at"]),
        upd("uri")
            .h("X-Image-Meta-Uri", "x")
            .expect(400, "badRequest", &["uri"]),
        upd("status deleted")
            .h("X-Image-Meta-Status", "deleted")
            .expect(400, "badRequest", &["status", "'deleted'"]),
        upd("status bogus")
            .h("X-Image-Meta-Status", "active")
            .expect(400, "badRequest", &["status", "'active'"]),
        upd("another owner").h("X-Image-Meta-Owner", "bob").expect(
            403,
            "forbidden",
            &["owner", "'bob'"],
        ),
        upd("a member")
            .token(Some(BOB.0))
            .expect(403, "forbidden", &[&f.private]),
        upd("a stranger")
            .token(Some(CAROL.0))
            .expect(404, "itemNotFound", &[&f.private]),
        case(
            "a stranger on a public image",
            Method::PUT,
            &format!("/images/{}", f.public),
        )
        .token(Some(CAROL.0))
        .h("X-Image-Meta-Name", "x")
        .expect(403, "forbidden", &[&f.public]),
        upd("a bad is_public")
            .h("X-Image-Meta-Is-Public", "sometimes")
            .expect(400, "badRequest", &["is-public", "sometimes"]),
        upd("an empty name")
            .h("x-image-meta-name", "")
            .expect(400, "badRequest", &["name"]),
    ];
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before, "nothing updated");
}

#[tokio::test]
async fn more_properties_than_the_limit_are_413_over_limit() {
    let f = fixture().await;
    let keys: Vec<String> = (0..65)
        .map(|i| format!("X-Image-Meta-Property-P{i}"))
        .collect();
    let mut reg = register("65 properties");
    for k in &keys {
        reg = reg.h(k, "v");
    }
    let mut upd = case(
        "65 properties by update",
        Method::PUT,
        &format!("/images/{}", f.private),
    );
    for k in &keys {
        upd = upd.h(k, "v");
    }
    let before = snapshot(&f.app, &f).await;
    run(
        &f.app,
        vec![
            reg.expect(413, "overLimit", &["properties", "64"]),
            upd.expect(413, "overLimit", &["properties", "64"]),
        ],
    )
    .await;
    assert_eq!(snapshot(&f.app, &f).await, before);
}

fn with_65_properties(mut c: Case) -> Case {
    for i in 0..65 {
        c = c.h(&format!("X-Image-Meta-Property-P{i}"), "v");
    }
    c
}

#[tokio::test]
async fn too_many_properties_with_a_malformed_header_is_400_not_413() {
    let f = fixture().await;
    let cases = vec![
        with_65_properties(register("65 properties and a bad is_public"))
            .h("X-Image-Meta-Is-Public", "maybe")
            .expect(400, "badRequest", &["is-public"]),
        with_65_properties(register("65 properties and an unknown header"))
            .h("X-Image-Meta-Colour", "red")
            .expect(400, "badRequest", &["colour"]),
        with_65_properties(case(
            "65 properties and a bad status by update",
            Method::PUT,
            &format!("/images/{}", f.private),
        ))
        .h("X-Image-Meta-Status", "bogus")
        .expect(400, "badRequest", &["status"]),
    ];
    run(&f.app, cases).await;
}

#[tokio::test]
async fn too_many_properties_with_a_size_that_is_not_the_objects_is_400_not_413() {
    let f = fixture().await;
    let c = with_65_properties(register("65 properties and a wrong size"))
        .h("X-Image-Meta-Size", "999")
        .expect(400, "badRequest", &["x-image-meta-size", "999"]);
    run(&f.app, vec![c]).await;
}

#[tokio::test]
async fn too_many_properties_with_a_checksum_that_is_not_the_objects_is_400_not_413() {
    let f = fixture().await;
    let c = with_65_properties(register("65 properties and a wrong checksum"))
        .h("X-Image-Meta-Checksum", md5_hex(b"nope"))
        .expect(400, "badRequest", &["x-image-meta-checksum"]);
    run(&f.app, vec![c]).await;
}

#[tokio::test]
async fn too_many_properties_at_a_location_without_an_object_is_400_not_413() {
    let f = fixture().await;
    let c = with_65_properties(
        case("65 properties and no object", Method::POST, "/images")
            .h("X-Image-Meta-Name", "x")
            .h("X-Image-Meta-Location", "pithos://alice/images/none.img"),
    )
    .expect(400, "badRequest", &["File not found on given location"]);
    run(&f.app, vec![c]).await;
}

#[tokio::test]
async fn members_requests_with_bad_bodies_or_ids_are_400_and_too_many_members_413() {
    let f = fixture_with(TestApp::spawn_with(|s| s.limits.max_members = 2).await).await;
    let members = format!("/images/{}/members", f.private);
    let put = |what: &str, body: &[u8]| case(what, Method::PUT, &members).body(body);
    let long = "m".repeat(256);
    let long_body = format!(r#"{{"memberships": [{{"member_id": "{long}"}}]}}"#);
    let cases =
        vec![
        put("not JSON", b"bob").expect(400, "badRequest", &["memberships"]),
        put("empty body", b"").expect(400, "badRequest", &["memberships"]),
        put("a list", br#"[{"member_id": "bob"}]"#).expect(400, "badRequest", &["memberships"]),
        put("no memberships key", br#"{"members": []}"#)
            .expect(400, "badRequest", &["memberships"]),
        put("memberships not a list", br#"{"memberships": "bob"}"#)
            .expect(400, "badRequest", &["memberships"]),
        put("member_id missing", br#"{"memberships": [{"can_share": false}]}"#)
            .expect(400, "badRequest", &["member_id"]),
        put("member_id a number", br#"{"memberships": [{"member_id": 5}]}"#)
            .expect(400, "badRequest", &["memberships"]),
        put(
            "can_share not a boolean",
            br#"{"memberships": [{"member_id": "bob", "can_share": "no"}]}"#,
        )
        .expect(400, "badRequest", &["memberships"]),
        put("member_id with a space", br#"{"memberships": [{"member_id": "a b"}]}"#)
            .expect(400, "badRequest", &["member_id", "'a b'"]),
        put("member_id empty", br#"{"memberships": [{"member_id": ""}]}"#)
            .expect(400, "badRequest", &["member_id"]),
        put("member_id with a slash", br#"{"memberships": [{"member_id": "a/b"}]}"#)
            .expect(400, "badRequest", &["member_id", "'a/b'"]),
        put("member_id of 256 characters", long_body.as_bytes())
            .expect(400, "badRequest", &["member_id"]),
        put(
            "three members over a limit of two",
            br#"{"memberships": [{"member_id": "a"}, {"member_id": "b"}, {"member_id": "c"}]}"#,
        )
        .expect(413, "overLimit", &["members", "2"]),
        put(
            "too many members and a bad one",
            br#"{"memberships": [{"member_id": "a"}, {"member_id": "b"}, {"member_id": "c d"}]}"#,
        )
        .expect(400, "badRequest", &["member_id", "'c d'"]),
        case("a bad member in the path", Method::PUT, &format!("{members}/a%20b"))
            .expect(400, "badRequest", &["member id", "a b"]),
        case("a bad escape in the path", Method::PUT, &format!("{members}/%zz"))
            .expect(400, "badRequest", &["member id"]),
        case("a bad member to remove", Method::DELETE, &format!("{members}/a%2Fb"))
            .expect(400, "badRequest", &["member id", "a/b"]),
        case("an add body of another shape", Method::PUT, &format!("{members}/carol"))
            .body(br#"{"can_share": false}"#)
            .expect(400, "badRequest", &["member"]),
        case("an add body that is not JSON", Method::PUT, &format!("{members}/carol"))
            .body(b"carol")
            .expect(400, "badRequest", &["member"]),
        case("an add body with can_share a string", Method::PUT, &format!("{members}/carol"))
            .body(br#"{"member": {"can_share": "no"}}"#)
            .expect(400, "badRequest", &["member"]),
        case("a bad shared-images member", Method::GET, "/shared-images/a%20b")
            .expect(400, "badRequest", &["member id", "a b"]),
        case("a shared-images member of 256", Method::GET, &format!("/shared-images/{long}"))
            .expect(400, "badRequest", &["member id"]),
    ];
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before, "nothing changed");
    // The list holds Bob; two more over a limit of two is a 413 when adding too.
    f.app
        .request(Method::PUT, &format!("{members}/carol"), Some(ALICE.0), &[])
        .await;
    let resp = f
        .app
        .request(Method::PUT, &format!("{members}/dave"), Some(ALICE.0), &[])
        .await;
    fault(resp, 413, "overLimit", &["members", "2"]).await;
}

#[tokio::test]
async fn locations_that_do_not_parse_are_400_naming_the_location() {
    let f = fixture().await;
    let mut cases = Vec::new();
    for loc in [
        "http://alice/images/spare.img",
        "PITHOS://alice/images/spare.img",
        "pithos:/alice/images/spare.img",
        "pithos://alice/images",
        "pithos://alice/images/",
        "pithos://alice//spare.img",
        "pithos:///images/spare.img",
        "pithos://alice/images/a//b",
        "pithos://alice/images/../images/spare.img",
        "pithos://alice/images/./spare.img",
        "pithos://alice/images/%2e%2e/x",
        "pithos://alice/%2E%2E/alice/images/spare.img",
        "pithos://alice/images/a%00b",
        "pithos://alice/images/%zz",
        "pithos://alice%2Fbob/images/x",
        "pithos://alice/ima%2Fges/x",
        "pithos://al ice/images/x",
        "spare.img",
    ] {
        cases.push(
            case(loc, Method::POST, "/images")
                .h("X-Image-Meta-Name", "x")
                .h("X-Image-Meta-Location", loc)
                .expect(400, "badRequest", &["location"]),
        );
    }
    let before = snapshot(&f.app, &f).await;
    run(&f.app, cases).await;
    assert_eq!(snapshot(&f.app, &f).await, before, "nothing registered");
}

#[tokio::test]
async fn image_routes_answer_404_for_an_unknown_or_deleted_image() {
    let f = fixture().await;
    let unknown = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";
    let deleted = f.app.alice().register("gone.img").data(b"gone").ok().await;
    let resp = f
        .app
        .request(
            Method::DELETE,
            &format!("/images/{deleted}"),
            Some(ALICE.0),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 204);
    let mut cases = Vec::new();
    for id in [unknown, &deleted] {
        for (method, path) in [
            (Method::GET, format!("/images/{id}")),
            (Method::PUT, format!("/images/{id}")),
            (Method::DELETE, format!("/images/{id}")),
            (Method::GET, format!("/images/{id}/members")),
            (Method::PUT, format!("/images/{id}/members/bob")),
            (Method::DELETE, format!("/images/{id}/members/bob")),
        ] {
            cases.push(case(id, method, &path).expect(404, "itemNotFound", &[id]));
        }
        cases.push(
            case(id, Method::PUT, &format!("/images/{id}/members"))
                .body(br#"{"memberships": []}"#)
                .expect(404, "itemNotFound", &[id]),
        );
    }
    run(&f.app, cases).await;
    let head = f.app.head(&format!("/images/{deleted}"), ALICE.0).await;
    assert_eq!(head.status(), 404);
}

#[tokio::test]
async fn a_head_error_carries_a_status_but_no_body() {
    let f = fixture().await;
    let app = &f.app;
    const AUTH: &[u8] = b"X-Auth-Token";
    let token: &[u8] = ALICE.0.as_bytes();
    let private = format!("/images/{}", f.private);
    type HeadCase<'a> = (Vec<u8>, Vec<(&'a [u8], &'a [u8])>, u16);
    let cases: Vec<HeadCase> = vec![
        (b"/images/nope".to_vec(), vec![(AUTH, token)], 400),
        (private.clone().into_bytes(), vec![], 401),
        (private.clone().into_bytes(), vec![(AUTH, b"bad")], 401),
        (
            private.clone().into_bytes(),
            vec![(AUTH, CAROL.0.as_bytes())],
            404,
        ),
        (b"/nowhere".to_vec(), vec![], 404),
        (
            format!("{private}/members/bob").into_bytes(),
            vec![(AUTH, token)],
            405,
        ),
        (b"/images?limit=0".to_vec(), vec![(AUTH, token)], 400),
        (b"/shared-images/a%20b".to_vec(), vec![(AUTH, token)], 400),
    ];
    for (path, headers, status) in cases {
        let resp = app.raw_request("HEAD", &path, &headers).await;
        let shown = String::from_utf8_lossy(&path);
        assert_eq!(resp.status, status, "HEAD {shown}");
        assert!(resp.body.is_empty(), "HEAD {shown}: {:?}", resp.body);
        if status == 405 {
            assert!(resp.header("allow").is_some(), "HEAD {shown}: Allow");
        }
    }
}
