//! Inspection of image data (docs/api.md §19) with real images made by
//! `qemu-img` and `xorriso` (`images`), through every way data comes in:
//! v1 create-with-data, v2 `PUT …/file`, the web view's upload,
//! registration of an object put in the store by hand, and of one written
//! through the object-store endpoint. Each safe image is accepted with the
//! format found and the virtual size `qemu-img info` reads; each unsafe one
//! is refused, naming what was found, with nothing stored or registered.

#[path = "../support/mod.rs"]
mod support;
#[path = "../web/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod web;

mod images;

use plankton::config::InspectionPolicy;
use reqwest::Response;
use serde_json::{json, Value};

use images::{Case, Verdict};
use support::images::encode;
use web::{WebApp, ALICE};

/// A server under `policy` and the images, or `None` (skipped) without
/// qemu-img.
struct Lab {
    app: WebApp,
    cases: Vec<Case>,
    _dir: tempfile::TempDir,
}

async fn lab(policy: InspectionPolicy) -> Option<Lab> {
    let dir = tempfile::tempdir().unwrap();
    let cases = images::make(dir.path())?;
    let app = WebApp::spawn_with(|s| s.images.inspection = policy).await;
    Some(Lab {
        app,
        cases,
        _dir: dir,
    })
}

impl Lab {
    fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// `POST /images` with the case's bytes as Alice, declaring `disk_format`.
    async fn v1_upload(&self, case: &Case, disk_format: Option<&str>) -> Response {
        let mut req = self
            .app
            .client
            .post(self.url("/images"))
            .header("x-auth-token", ALICE.0)
            .header("content-type", "application/octet-stream")
            .header("x-image-meta-name", encode(case.name))
            .body(case.bytes());
        if let Some(f) = disk_format {
            req = req.header("x-image-meta-disk-format", f);
        }
        req.send().await.unwrap()
    }

    /// `POST /images` registering `location` as Alice.
    async fn register(&self, case: &Case, location: &str) -> Response {
        self.app
            .client
            .post(self.url("/images"))
            .header("x-auth-token", ALICE.0)
            .header("x-image-meta-name", encode(case.name))
            .header("x-image-meta-location", location)
            .header("x-image-meta-disk-format", case.disk_format)
            .send()
            .await
            .unwrap()
    }

    /// A v2 image of the case's format, queued: its id.
    async fn v2_create(&self, case: &Case, disk_format: &str) -> String {
        let resp = self
            .app
            .client
            .post(self.url("/v2/images"))
            .header("x-auth-token", ALICE.0)
            .json(&json!({"name": case.name, "disk_format": disk_format,
                          "container_format": "bare"}))
            .send()
            .await
            .unwrap();
        let image = support::check::json_with_status(resp, 201).await;
        image["id"].as_str().unwrap().to_string()
    }

    async fn v2_upload(&self, id: &str, case: &Case) -> Response {
        self.app
            .client
            .put(self.url(&format!("/v2/images/{id}/file")))
            .header("x-auth-token", ALICE.0)
            .header("content-type", "application/octet-stream")
            .body(case.bytes())
            .send()
            .await
            .unwrap()
    }

    async fn v2_image(&self, id: &str) -> Value {
        let resp = self
            .app
            .client
            .get(self.url(&format!("/v2/images/{id}")))
            .header("x-auth-token", ALICE.0)
            .send()
            .await
            .unwrap();
        support::check::json_with_status(resp, 200).await
    }

    /// How many images Alice has.
    async fn count(&self) -> usize {
        self.app.api_count(ALICE).await
    }

    /// The files under Alice's upload container.
    fn uploads(&self) -> Vec<String> {
        let dir = self.app.settings.store.root.join("alice/images");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// After every case went through one entrance: the safe ones' data is
    /// stored, the refused ones' neither stored nor left in staging.
    fn only_safe_data_kept(&self) {
        let safe = self
            .cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Safe { .. }));
        assert_eq!(
            self.uploads().len(),
            safe.count(),
            "refused data is not stored"
        );
        assert_eq!(self.staged(), Vec::<String>::new(), "nor left in staging");
    }

    /// The files left in staging (its lock aside): none once every write
    /// has settled, a refused one included.
    fn staged(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![self.app.settings.store.root.join("+staging")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    dirs.push(e.path());
                } else if e.file_name() != "lock" {
                    out.push(e.path().display().to_string());
                }
            }
        }
        out
    }

    /// Puts the case's file in the store by hand, in Alice's `pithos`
    /// container: its location.
    fn put_by_hand(&self, case: &Case) -> String {
        let dir = self.app.settings.store.root.join("alice/pithos");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&case.path, dir.join(case.name)).unwrap();
        format!("pithos://alice/pithos/{}", case.name)
    }
}

/// The fault of a refusal names what was found.
async fn refused(resp: Response, status: u16, needle: &str, what: &str) {
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    assert!(text.contains(needle), "{what}: {needle:?} not in {text}");
}

/// The v2 view of an accepted image carries the virtual size qemu-img reads.
async fn check_virtual_size(lab: &Lab, id: &str, case: &Case) {
    let Verdict::Safe { virtual_size, .. } = case.verdict else {
        unreachable!()
    };
    let image = lab.v2_image(id).await;
    assert_eq!(image["virtual_size"], virtual_size, "{}", case.name);
}

#[actix_web::test]
async fn every_image_uploaded_through_v1_is_judged_and_its_virtual_size_kept() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    for case in &lab.cases {
        let before = lab.count().await;
        let resp = lab.v1_upload(case, Some(case.disk_format)).await;
        match &case.verdict {
            Verdict::Safe { .. } => {
                let body = support::check::json_with_status(resp, 200).await;
                let id = body["image"]["id"].as_str().unwrap();
                check_virtual_size(&lab, id, case).await;
            }
            Verdict::Unsafe(needle) => {
                refused(resp, 400, needle, case.name).await;
                assert_eq!(
                    lab.count().await,
                    before,
                    "{}: nothing registered",
                    case.name
                );
            }
        }
    }
    lab.only_safe_data_kept();
}

#[actix_web::test]
async fn every_image_uploaded_through_v2_is_judged_and_a_refused_one_goes_back_to_queued() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    for case in &lab.cases {
        let id = lab.v2_create(case, case.disk_format).await;
        let resp = lab.v2_upload(&id, case).await;
        match &case.verdict {
            Verdict::Safe { .. } => {
                assert_eq!(resp.status(), 204, "{}", case.name);
                check_virtual_size(&lab, &id, case).await;
            }
            Verdict::Unsafe(needle) => {
                refused(resp, 400, needle, case.name).await;
                let image = lab.v2_image(&id).await;
                assert_eq!(
                    (&image["status"], &image["size"], &image["virtual_size"]),
                    (&json!("queued"), &Value::Null, &Value::Null),
                    "{}",
                    case.name
                );
            }
        }
    }
    lab.only_safe_data_kept();
}

#[actix_web::test]
async fn every_image_uploaded_through_the_web_view_is_judged_and_its_page_says_what_was_found() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    let alice = lab.app.login(ALICE.0).await;
    for case in &lab.cases {
        let before = lab.count().await;
        let fields = [
            ("csrf", alice.csrf.as_str()),
            ("name", case.name),
            ("disk_format", case.disk_format),
            ("container_format", "bare"),
        ];
        let file = Some((case.name, &case.bytes()[..]));
        let page = lab
            .app
            .post_multipart(&alice, "/ui/upload", &fields, file, &[])
            .await;
        assert_eq!(page.status, 303, "{}: {}", case.name, page.body);
        let at = page.header("location").to_string();
        match &case.verdict {
            Verdict::Safe { format, .. } => {
                let id = at.strip_prefix("/ui/images/").expect("the image's page");
                let shown = lab.app.page(&alice, &at).await;
                let found = format!("id=\"data-format\">{format}<");
                assert!(shown.body.contains(&found), "{}: {}", case.name, shown.body);
                assert!(shown.body.contains("id=\"virtual-size\""), "{}", case.name);
                check_virtual_size(&lab, id, case).await;
            }
            Verdict::Unsafe(needle) => {
                assert_eq!(at, "/ui/upload", "{}", case.name);
                let form = lab.app.page(&alice, "/ui/upload").await;
                assert!(form.body.contains(needle), "{}: {}", case.name, form.body);
                assert_eq!(
                    lab.count().await,
                    before,
                    "{}: nothing registered",
                    case.name
                );
            }
        }
    }
}

#[actix_web::test]
async fn every_image_put_in_the_store_by_hand_is_judged_when_registered() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    for case in &lab.cases {
        let before = lab.count().await;
        let location = lab.put_by_hand(case);
        let resp = lab.register(case, &location).await;
        match &case.verdict {
            Verdict::Safe { .. } => {
                let body = support::check::json_with_status(resp, 200).await;
                check_virtual_size(&lab, body["image"]["id"].as_str().unwrap(), case).await;
            }
            Verdict::Unsafe(needle) => {
                refused(resp, 400, needle, case.name).await;
                assert_eq!(
                    lab.count().await,
                    before,
                    "{}: nothing registered",
                    case.name
                );
            }
        }
    }
}

#[actix_web::test]
async fn every_image_written_through_the_object_store_is_judged_when_registered() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    for case in &lab.cases {
        let put = lab
            .app
            .client
            .put(lab.url(&format!("/object-store/v1/alice/pithos/{}", case.name)))
            .header("x-auth-token", ALICE.0)
            .header("content-type", "application/octet-stream")
            .body(case.bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "{}", case.name);
        let before = lab.count().await;
        let resp = lab
            .register(case, &format!("pithos://alice/pithos/{}", case.name))
            .await;
        match &case.verdict {
            Verdict::Safe { .. } => {
                let body = support::check::json_with_status(resp, 200).await;
                check_virtual_size(&lab, body["image"]["id"].as_str().unwrap(), case).await;
            }
            Verdict::Unsafe(needle) => {
                refused(resp, 400, needle, case.name).await;
                assert_eq!(
                    lab.count().await,
                    before,
                    "{}: nothing registered",
                    case.name
                );
            }
        }
    }
}

#[actix_web::test]
async fn the_web_views_registration_by_location_is_judged_too() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    let alice = lab.app.login(ALICE.0).await;
    for name in ["backed.qcow2", "plain.qcow2"] {
        let case = named(&lab, name);
        let location = lab.put_by_hand(case);
        let before = lab.count().await;
        let fields = [
            ("name", case.name),
            ("location", location.as_str()),
            ("disk_format", case.disk_format),
            ("container_format", "bare"),
        ];
        let page = lab.app.post(&alice, "/ui/register", &fields).await;
        assert_eq!(page.status, 303, "{}: {}", case.name, page.body);
        let at = page.header("location").to_string();
        if let Verdict::Unsafe(needle) = case.verdict {
            assert_eq!(at, "/ui/upload", "{}", case.name);
            let form = lab.app.page(&alice, "/ui/upload").await;
            assert!(form.body.contains(needle), "{}: {}", case.name, form.body);
            assert_eq!(
                lab.count().await,
                before,
                "{}: nothing registered",
                case.name
            );
        } else {
            let id = at.strip_prefix("/ui/images/").expect("the image's page");
            check_virtual_size(&lab, id, case).await;
        }
    }
}

#[actix_web::test]
async fn a_re_registration_is_judged_against_its_own_disk_format() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    let case = named(&lab, "plain.qcow2");
    let location = lab.put_by_hand(case);
    let first = support::check::json_with_status(lab.register(case, &location).await, 200).await;
    // The same bytes again: what was found is kept, and judged anew.
    let again = support::check::json_with_status(lab.register(case, &location).await, 200).await;
    assert_eq!(first["image"]["id"], again["image"]["id"]);
    let id = first["image"]["id"].as_str().unwrap();
    check_virtual_size(&lab, id, case).await;
    let resp = lab
        .app
        .client
        .post(lab.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("x-image-meta-name", "now raw")
        .header("x-image-meta-location", &location)
        .header("x-image-meta-disk-format", "raw")
        .send()
        .await
        .unwrap();
    refused(
        resp,
        400,
        "disk_format is 'raw' but the data is qcow2",
        "again",
    )
    .await;
    let image = lab.v2_image(id).await;
    assert_eq!(
        (&image["name"], &image["disk_format"]),
        (&json!("plain.qcow2"), &json!("qcow2"))
    );
}

/// The first case of this name.
fn named<'a>(lab: &'a Lab, name: &str) -> &'a Case {
    lab.cases.iter().find(|c| c.name == name).unwrap()
}

#[actix_web::test]
async fn data_that_is_not_its_disk_format_is_refused_400_in_v1_and_415_in_v2() {
    let Some(lab) = lab(InspectionPolicy::Enforce).await else {
        return;
    };
    let (qcow2, raw) = (named(&lab, "plain.qcow2"), named(&lab, "disk.raw"));
    let mismatches = [
        (
            qcow2,
            Some("raw"),
            "disk_format is 'raw' but the data is qcow2",
        ),
        (qcow2, Some("diskdump"), "disk_format is 'diskdump'"),
        // Without a disk_format, v1 gives diskdump, which needs raw data.
        (qcow2, None, "disk_format is 'diskdump'"),
        (
            raw,
            Some("qcow2"),
            "disk_format is 'qcow2' but the data is raw",
        ),
        (named(&lab, "sparse.vmdk"), Some("vhd"), "the data is vmdk"),
    ];
    for (case, declared, needle) in mismatches {
        refused(lab.v1_upload(case, declared).await, 400, needle, case.name).await;
    }
    // The same by location: the declared format is the request's.
    let location = lab.put_by_hand(qcow2);
    let resp = lab
        .app
        .client
        .post(lab.url("/images"))
        .header("x-auth-token", ALICE.0)
        .header("x-image-meta-name", "declared raw")
        .header("x-image-meta-location", &location)
        .header("x-image-meta-disk-format", "raw")
        .send()
        .await
        .unwrap();
    refused(
        resp,
        400,
        "disk_format is 'raw' but the data is qcow2",
        "by location",
    )
    .await;
    assert_eq!(lab.count().await, 0, "nothing registered");
    for (case, declared, needle) in mismatches.iter().filter(|m| m.1.is_some()) {
        let id = lab.v2_create(case, declared.unwrap()).await;
        let resp = lab.v2_upload(&id, case).await;
        refused(resp, 415, needle, case.name).await;
        assert_eq!(lab.v2_image(&id).await["status"], "queued");
    }
    assert_eq!(lab.uploads().len(), 0, "nothing stored");
    assert_eq!(lab.staged(), Vec::<String>::new(), "nor left in staging");
    // Unsafe and mismatched at once: unsafe wins, 400 in v2 too.
    let backed = named(&lab, "backed.qcow2");
    let id = lab.v2_create(backed, "raw").await;
    refused(
        lab.v2_upload(&id, backed).await,
        400,
        "backing file",
        "backed",
    )
    .await;
    // An empty v2 upload (openstack image create with nothing on stdin) is
    // of any format.
    let id = lab.v2_create(qcow2, "qcow2").await;
    let resp = lab
        .app
        .client
        .put(lab.url(&format!("/v2/images/{id}/file")))
        .header("x-auth-token", ALICE.0)
        .header("content-type", "application/octet-stream")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let image = lab.v2_image(&id).await;
    assert_eq!(
        (&image["status"], &image["virtual_size"]),
        (&json!("active"), &json!(0))
    );
    // Formats the rule does not check take any data.
    let resp = lab.v1_upload(qcow2, Some("ami")).await;
    assert_eq!(resp.status(), 200);
}

/// `plankton check` on the lab's directory: exit code and standard output.
fn plankton_check(lab: &Lab) -> (i32, String) {
    let dir = lab.app.settings.database.file().unwrap().parent().unwrap();
    let out = support::process::command(dir)
        .arg("check")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[actix_web::test]
async fn under_record_unsafe_data_is_kept_with_its_finding_and_plankton_check_names_it() {
    let Some(lab) = lab(InspectionPolicy::Record).await else {
        return;
    };
    let (code, out) = plankton_check(&lab);
    assert_eq!((code, out.trim()), (0, "ok"));
    let raw = named(&lab, "disk.raw");
    let resp = lab.v1_upload(raw, Some("qcow2")).await;
    let body = support::check::json_with_status(resp, 200).await;
    let mismatched = body["image"]["id"].as_str().unwrap().to_string();
    let backed = named(&lab, "backed.qcow2");
    let body =
        support::check::json_with_status(lab.v1_upload(backed, Some("qcow2")).await, 200).await;
    let id = body["image"]["id"].as_str().unwrap().to_string();
    let alice = lab.app.login(ALICE.0).await;
    let page = lab.app.page(&alice, &format!("/ui/images/{id}")).await;
    assert!(page.body.contains("id=\"finding\""), "{}", page.body);
    assert!(page.body.contains("backing file"), "{}", page.body);
    let (code, out) = plankton_check(&lab);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&id) && out.contains("backing file"), "{out}");
    // A mismatch kept under record is no safety problem.
    assert!(!out.contains(&mismatched), "{out}");
    assert_eq!(lab.v2_image(&mismatched).await["virtual_size"], 3 << 20);
}

#[actix_web::test]
async fn with_inspection_off_nothing_is_read_and_plankton_check_says_so() {
    let Some(lab) = lab(InspectionPolicy::Off).await else {
        return;
    };
    let backed = named(&lab, "backed.qcow2");
    let body =
        support::check::json_with_status(lab.v1_upload(backed, Some("raw")).await, 200).await;
    let id = body["image"]["id"].as_str().unwrap().to_string();
    assert_eq!(lab.v2_image(&id).await["virtual_size"], Value::Null);
    let alice = lab.app.login(ALICE.0).await;
    let page = lab.app.page(&alice, &format!("/ui/images/{id}")).await;
    assert!(
        page.body.contains("id=\"data-format\">not inspected<"),
        "{}",
        page.body
    );
    let (code, out) = plankton_check(&lab);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("image {id} (backed.qcow2): data never inspected")),
        "{out}"
    );
}
