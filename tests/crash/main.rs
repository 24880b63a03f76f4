//! Crash test: "nothing lost, nothing half there".
//!
//! Runs the real binary, drives 16 concurrent writers (register, re-register,
//! update, members, delete) and records every answered request, kills the
//! process with SIGKILL at a random moment, restarts it on the same files and
//! checks that
//!
//! - every answered write is there;
//! - a write that was in flight at the kill is either wholly there or not at
//!   all (a register is its image row with all its properties; an update's
//!   changes are all made or none; a member list is replaced whole);
//! - the catalogue holds no row the answered writes do not account for
//!   (images, properties and members counted in SQL);
//! - `PRAGMA integrity_check` is ok and `PRAGMA foreign_key_check` is empty;
//! - and, at the end, `plankton check` passes.
//!
//! Beside them, uploaders (`uploads.rs`) stream image data in through
//! `POST /images`: after each restart their images are their answered
//! uploads (and perhaps the one in flight) with all their data, the files
//! are exactly those images', and staging is empty. An object writer
//! (`objects.rs`) replaces objects of the object-store endpoint: after each
//! restart each is its last answered write or the one in flight, with that
//! write's metadata.
//!
//! Each writer is its own user and owns its images alone, so its requests
//! are sequential and at most one of them is in flight at the kill: the state
//! of its images after the restart must be exactly the state after its last
//! answered write, or the state after the in-flight one.
//!
//! `CRASH_ENGINE=postgres` (`pg.rs`) runs three processes on one
//! PostgreSQL database and one store root instead, the writers spread over
//! them, and kills one of the three each cycle while the others serve.
//!
//! Environment: `CRASH_CYCLES` (default 2), `CRASH_SEED` (default: the
//! clock), `TEST_PLANKTON_BIN` (default: the binary cargo built with this test;
//! `make crashtest` points it at the release binary), `CRASH_SABOTAGE=1`
//! (self-test: delete a property row behind the server's back after each
//! kill; every cycle must then fail).

mod objects;
mod pg;
#[path = "../support/mod.rs"]
mod support;
mod uploads;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use objects::{ObjectWriter, OBJECT_WRITER};
use support::process::Server;
use support::raw::{self as http, request, Failure, Response};
use support::users::write_tokens;
use uploads::{uploader_user, Uploader, UPLOADERS};

/// Concurrent writers, one user each.
const WRITERS: usize = 16;
/// Objects (locations) in each writer's account.
const OBJECTS: usize = 6;
/// Property keys a writer uses: at most this many properties per image, so
/// the limit (64) is never reached.
const KEYS: usize = 48;
/// Member ids a writer shares with.
const MEMBER_POOL: usize = 300;
/// How long an answer may take while the server is alive.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A small deterministic generator (xorshift64*), so that a seed replays a run.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One image as the writer believes it is.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Img {
    /// `None` only for a register whose answer never came.
    id: Option<String>,
    location: String,
    name: String,
    disk_format: String,
    is_public: bool,
    min_ram: u64,
    props: BTreeMap<String, String>,
    members: BTreeSet<String>,
    deleted: bool,
}

impl Img {
    /// Equal in everything the server shows (members only while live).
    fn same_content(&self, other: &Img) -> bool {
        self.location == other.location
            && self.name == other.name
            && self.disk_format == other.disk_format
            && self.is_public == other.is_public
            && self.min_ram == other.min_ram
            && self.props == other.props
            && self.deleted == other.deleted
            && (self.deleted || self.members == other.members)
    }
}

/// Everything a writer ever registered, deleted ones included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    images: Vec<Img>,
}

impl Model {
    fn live_at(&self, location: &str) -> Option<usize> {
        self.images
            .iter()
            .position(|i| !i.deleted && i.location == location)
    }
    fn live(&self) -> Vec<usize> {
        (0..self.images.len())
            .filter(|&i| !self.images[i].deleted)
            .collect()
    }
}

/// A request and the model it leaves behind if it is applied.
struct Planned {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    expect: u16,
    after: Model,
    /// Index of the image a register creates or replaces.
    registers: Option<usize>,
}

/// Figures of one writer in one cycle.
#[derive(Default, Clone, Copy)]
struct Counts {
    sent: u64,
    answered: u64,
}

struct Writer {
    index: usize,
    user: String,
    token: String,
    model: Model,
    /// The model after the request in flight at the kill, if one was.
    pending: Option<Model>,
    rng: Rng,
    serial: u64,
}

fn user_of(w: usize) -> String {
    format!("w{w:02}")
}

fn object_name(j: usize) -> String {
    format!("obj{j}.img")
}

fn location_of(user: &str, j: usize) -> String {
    format!("pithos://{user}/images/{}", object_name(j))
}

/// A second spelling of a location (decoded, it is the same object).
fn respelled(user: &str, j: usize) -> String {
    format!("pithos://{user}/images/obj%{:02X}.img", b'0' + j as u8)
}

fn member_id(k: usize) -> String {
    format!("m{k:03}")
}

/// Percent-encodes every byte but `A-Z a-z 0-9 - . _ ~`.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Writer {
    fn tag(&mut self, cycle: usize) -> String {
        self.serial += 1;
        format!("c{cycle}w{}n{}", self.index, self.serial)
    }

    fn auth(&self) -> Vec<(String, Vec<u8>)> {
        vec![("X-Auth-Token".into(), self.token.clone().into_bytes())]
    }

    /// Chooses the next write and what it will make of the model.
    fn plan(&mut self, cycle: usize) -> Planned {
        let live = self.model.live();
        let free: Vec<usize> = (0..OBJECTS)
            .filter(|&j| self.model.live_at(&location_of(&self.user, j)).is_none())
            .collect();
        let roll = self.rng.below(100);
        if live.is_empty() || (roll < 15 && !free.is_empty()) {
            let j = free[self.rng.below(free.len())];
            return self.plan_register(cycle, j);
        }
        let target = live[self.rng.below(live.len())];
        match roll {
            0..=29 => {
                let loc = self.model.images[target].location.clone();
                let j = (0..OBJECTS)
                    .find(|&j| location_of(&self.user, j) == loc)
                    .expect("a writer's own location");
                self.plan_register(cycle, j)
            }
            30..=59 => self.plan_update(cycle, target),
            60..=71 => self.plan_replace_members(target),
            72..=81 => self.plan_add_member(target),
            82..=89 => self.plan_remove_member(target),
            _ => self.plan_delete(target),
        }
    }

    fn plan_register(&mut self, cycle: usize, j: usize) -> Planned {
        let tag = self.tag(cycle);
        let location = location_of(&self.user, j);
        let mut after = self.model.clone();
        let existing = after.live_at(&location);
        let name = if self.rng.chance(30) {
            format!("Ωmega {tag}")
        } else {
            format!("image {tag}")
        };
        let disk_format = ["diskdump", "raw", "qcow2"][self.rng.below(3)].to_string();
        let is_public = self.rng.chance(30);
        let min_ram = self.rng.below(4096) as u64;
        let mut props = BTreeMap::new();
        let n = self.rng.below(KEYS + 1);
        for _ in 0..n {
            let k = self.rng.below(KEYS);
            props.insert(format!("k{k:02}"), format!("{tag}-{k}"));
        }
        let mut headers = self.auth();
        headers.push(("X-Image-Meta-Name".into(), pct(&name).into_bytes()));
        let spelled = if self.rng.chance(20) {
            respelled(&self.user, j)
        } else {
            location.clone()
        };
        headers.push(("X-Image-Meta-Location".into(), spelled.into_bytes()));
        headers.push((
            "X-Image-Meta-Disk-Format".into(),
            disk_format.clone().into_bytes(),
        ));
        headers.push((
            "X-Image-Meta-Is-Public".into(),
            if is_public { "True" } else { "false" }.into(),
        ));
        headers.push((
            "X-Image-Meta-Min-Ram".into(),
            min_ram.to_string().into_bytes(),
        ));
        for (k, v) in &props {
            headers.push((format!("X-Image-Meta-Property-{k}"), v.clone().into_bytes()));
        }
        let img = Img {
            id: existing.and_then(|i| after.images[i].id.clone()),
            location,
            name,
            disk_format,
            is_public,
            min_ram,
            props,
            members: existing
                .map(|i| after.images[i].members.clone())
                .unwrap_or_default(),
            deleted: false,
        };
        let index = match existing {
            Some(i) => {
                after.images[i] = img;
                i
            }
            None => {
                after.images.push(img);
                after.images.len() - 1
            }
        };
        Planned {
            what: if existing.is_some() {
                "re-register"
            } else {
                "register"
            },
            method: "POST",
            path: "/images".into(),
            headers,
            body: Vec::new(),
            expect: 200,
            after,
            registers: Some(index),
        }
    }

    fn id_of(&self, target: usize) -> String {
        self.model.images[target].id.clone().expect("a known id")
    }

    fn plan_update(&mut self, cycle: usize, target: usize) -> Planned {
        let tag = self.tag(cycle);
        let mut after = self.model.clone();
        let img = &mut after.images[target];
        let mut headers = self.auth();
        if self.rng.chance(60) {
            img.name = format!("renamed {tag}");
            headers.push(("X-Image-Meta-Name".into(), pct(&img.name).into_bytes()));
        }
        if self.rng.chance(30) {
            img.is_public = !img.is_public;
            headers.push((
                "x-image-meta-is_public".into(),
                img.is_public.to_string().into_bytes(),
            ));
        }
        if self.rng.chance(30) {
            img.disk_format = ["diskdump", "raw", "vmdk"][self.rng.below(3)].to_string();
            headers.push((
                "x-image-meta-disk_format".into(),
                img.disk_format.clone().into(),
            ));
        }
        if self.rng.chance(20) {
            img.min_ram = self.rng.below(1 << 20) as u64;
            headers.push((
                "X-Image-Meta-Min-Ram".into(),
                img.min_ram.to_string().into(),
            ));
        }
        if self.rng.chance(10) {
            img.props.clear();
            headers.push(("X-Glance-Registry-Purge-Props".into(), b"true".to_vec()));
        }
        let mut touched = BTreeSet::new();
        for _ in 0..self.rng.below(KEYS) {
            touched.insert(self.rng.below(KEYS));
        }
        for k in touched {
            let key = format!("k{k:02}");
            let name = format!("X-Image-Meta-Property-{key}");
            if self.rng.chance(25) {
                img.props.remove(&key);
                headers.push((name, Vec::new()));
            } else {
                let value = format!("{tag}-{k}");
                img.props.insert(key, value.clone());
                headers.push((name, value.into_bytes()));
            }
        }
        Planned {
            what: "update",
            method: "PUT",
            path: format!("/images/{}", self.id_of(target)),
            headers,
            body: Vec::new(),
            expect: 200,
            after,
            registers: None,
        }
    }

    fn plan_replace_members(&mut self, target: usize) -> Planned {
        let mut after = self.model.clone();
        let size = if self.rng.chance(10) {
            self.rng.below(MEMBER_POOL)
        } else {
            self.rng.below(20)
        };
        let mut set = BTreeSet::new();
        let mut listed = Vec::new();
        for _ in 0..size {
            let m = member_id(self.rng.below(MEMBER_POOL));
            set.insert(m.clone());
            listed.push(m);
        }
        if self.rng.chance(10) {
            // The owner in the list is left out silently.
            listed.push(self.user.clone());
        }
        after.images[target].members = set;
        let body = format!(
            "{{\"memberships\": [{}]}}",
            listed
                .iter()
                .map(|m| format!("{{\"member_id\": \"{m}\", \"can_share\": false}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut headers = self.auth();
        headers.push(("Content-Type".into(), b"application/json".to_vec()));
        Planned {
            what: "members",
            method: "PUT",
            path: format!("/images/{}/members", self.id_of(target)),
            headers,
            body: body.into_bytes(),
            expect: 204,
            after,
            registers: None,
        }
    }

    fn plan_add_member(&mut self, target: usize) -> Planned {
        let mut after = self.model.clone();
        let m = member_id(self.rng.below(MEMBER_POOL));
        after.images[target].members.insert(m.clone());
        Planned {
            what: "add member",
            method: "PUT",
            path: format!("/images/{}/members/{m}", self.id_of(target)),
            headers: self.auth(),
            body: Vec::new(),
            expect: 204,
            after,
            registers: None,
        }
    }

    fn plan_remove_member(&mut self, target: usize) -> Planned {
        let mut after = self.model.clone();
        let img = &mut after.images[target];
        let m = if !img.members.is_empty() && self.rng.chance(80) {
            let v: Vec<&String> = img.members.iter().collect();
            v[self.rng.below(v.len())].clone()
        } else {
            member_id(self.rng.below(MEMBER_POOL))
        };
        img.members.remove(&m);
        Planned {
            what: "remove member",
            method: "DELETE",
            path: format!("/images/{}/members/{m}", self.id_of(target)),
            headers: self.auth(),
            body: Vec::new(),
            expect: 204,
            after,
            registers: None,
        }
    }

    fn plan_delete(&mut self, target: usize) -> Planned {
        let mut after = self.model.clone();
        after.images[target].deleted = true;
        Planned {
            what: "delete",
            method: "DELETE",
            path: format!("/images/{}", self.id_of(target)),
            headers: self.auth(),
            body: Vec::new(),
            expect: 204,
            after,
            registers: None,
        }
    }

    /// Writes until the server dies or `stop` is set. Returns the figures and
    /// the problems seen (wrong answers).
    fn run(&mut self, addr: SocketAddr, cycle: usize, stop: &AtomicBool) -> (Counts, Vec<String>) {
        let mut counts = Counts::default();
        let mut problems = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let planned = self.plan(cycle);
            counts.sent += 1;
            let answer = request(
                addr,
                planned.method,
                &planned.path,
                &planned.headers,
                &planned.body,
                ANSWER_TIMEOUT,
            );
            match answer {
                Ok(resp) if resp.status == planned.expect => {
                    counts.answered += 1;
                    let mut after = planned.after;
                    if let Some(i) = planned.registers {
                        match check_register_answer(&resp, &after.images[i]) {
                            Ok(id) => after.images[i].id = Some(id),
                            Err(e) => {
                                problems.push(format!("{} {}: {e}", self.user, planned.what));
                                return (counts, problems);
                            }
                        }
                    }
                    self.model = after;
                }
                Ok(resp) => {
                    // A wrong answer: a bug. The request must have changed
                    // nothing, which the check after the restart verifies.
                    counts.answered += 1;
                    problems.push(format!(
                        "{} {} {} {}: expected {}, got {} {}",
                        self.user,
                        planned.what,
                        planned.method,
                        planned.path,
                        planned.expect,
                        resp.status,
                        resp.text().chars().take(300).collect::<String>()
                    ));
                }
                Err(Failure::Connect(_)) => {
                    // Never reached the server: not applied.
                    counts.sent -= 1;
                    return (counts, problems);
                }
                Err(Failure::Cut(e)) => {
                    if !stop.load(Ordering::Relaxed) {
                        // Maybe the kill is just now happening; the check
                        // after the restart decides whether this was a bug.
                        std::thread::sleep(Duration::from_millis(50));
                        if !stop.load(Ordering::Relaxed) {
                            problems.push(format!(
                                "{} {}: no answer while the server was alive: {e}",
                                self.user, planned.what
                            ));
                        }
                    }
                    self.pending = Some(planned.after);
                    return (counts, problems);
                }
            }
        }
        (counts, problems)
    }
}

/// A register's answer carries the id: the same one on a re-register.
fn check_register_answer(resp: &Response, expected: &Img) -> Result<String, String> {
    let id = resp
        .header("x-image-meta-id")
        .ok_or("no x-image-meta-id in the answer")?
        .to_string();
    if let Some(known) = &expected.id {
        if *known != id {
            return Err(format!("re-register gave id {id}, not {known}"));
        }
    }
    let body: serde_json::Value =
        serde_json::from_slice(&resp.body).map_err(|e| format!("body not JSON: {e}"))?;
    let loc = body["image"]["location"].as_str().unwrap_or("");
    if loc != expected.location {
        return Err(format!("location {loc}, expected {}", expected.location));
    }
    Ok(id)
}

/// The writer's images as the server shows them after the restart.
fn observe(addr: SocketAddr, w: &Writer) -> Result<BTreeMap<String, Img>, String> {
    let path = format!("/images/detail?owner={}&changes-since=1970-01-01", w.user);
    let resp = request(addr, "GET", &path, &w.auth(), b"", ANSWER_TIMEOUT)
        .map_err(|e| format!("list: {e}"))?;
    if resp.status != 200 {
        return Err(format!("list: {} {}", resp.status, resp.text()));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&resp.body).map_err(|e| format!("list body: {e}"))?;
    let items = body.as_array().ok_or("list body is not an array")?;
    let mut out = BTreeMap::new();
    for it in items {
        let s = |k: &str| it[k].as_str().unwrap_or("").to_string();
        let id = s("id");
        let props: BTreeMap<String, String> = it["properties"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let deleted = s("status") == "deleted";
        let members = if deleted {
            BTreeSet::new()
        } else {
            let resp = request(
                addr,
                "GET",
                &format!("/images/{id}/members"),
                &w.auth(),
                b"",
                ANSWER_TIMEOUT,
            )
            .map_err(|e| format!("members of {id}: {e}"))?;
            if resp.status != 200 {
                return Err(format!("members of {id}: {} {}", resp.status, resp.text()));
            }
            let v: serde_json::Value =
                serde_json::from_slice(&resp.body).map_err(|e| format!("members body: {e}"))?;
            v["members"]
                .as_array()
                .ok_or("members is not an array")?
                .iter()
                .map(|m| m["member_id"].as_str().unwrap_or("").to_string())
                .collect()
        };
        if !deleted && s("status") != "available" {
            return Err(format!("image {id} has status {}", s("status")));
        }
        out.insert(
            id.clone(),
            Img {
                id: Some(id),
                location: s("location"),
                name: s("name"),
                disk_format: s("disk_format"),
                is_public: it["is_public"].as_bool().unwrap_or(false),
                min_ram: it["min_ram"].as_u64().unwrap_or(u64::MAX),
                props,
                members,
                deleted,
            },
        );
    }
    Ok(out)
}

/// Whether the observed images are exactly `model`; a model image without
/// an id (an unanswered register) matches the one observed id the model does
/// not know. Returns the model with that id filled in.
fn matches(model: &Model, observed: &BTreeMap<String, Img>) -> Option<Model> {
    let mut resolved = model.clone();
    let mut seen = BTreeSet::new();
    let mut unknown = None;
    for (i, img) in model.images.iter().enumerate() {
        match &img.id {
            Some(id) => {
                let o = observed.get(id)?;
                if !img.same_content(o) {
                    return None;
                }
                seen.insert(id.clone());
            }
            None => unknown = Some(i),
        }
    }
    let extra: Vec<&String> = observed.keys().filter(|k| !seen.contains(*k)).collect();
    match (unknown, extra.as_slice()) {
        (None, []) => Some(resolved),
        (Some(i), [id]) if model.images[i].same_content(&observed[*id]) => {
            resolved.images[i].id = Some((*id).clone());
            Some(resolved)
        }
        _ => None,
    }
}

/// A short account of how `observed` differs from `model`.
fn diff(model: &Model, observed: &BTreeMap<String, Img>) -> String {
    let mut out = Vec::new();
    for img in &model.images {
        let key = img
            .id
            .clone()
            .unwrap_or_else(|| "(unanswered register)".into());
        match img.id.as_ref().and_then(|id| observed.get(id)) {
            None => out.push(format!("  {key}: expected, missing ({})", img.location)),
            Some(o) if !img.same_content(o) => {
                out.push(format!("  {key}: expected {img:?}\n    got {o:?}"));
            }
            Some(_) => {}
        }
    }
    let known: BTreeSet<&String> = model.images.iter().filter_map(|i| i.id.as_ref()).collect();
    for (id, o) in observed {
        if !known.contains(id) {
            out.push(format!("  {id}: not expected, present: {o:?}"));
        }
    }
    out.join("\n")
}

struct Deployment {
    dir: PathBuf,
    /// The PostgreSQL database's URL, when the catalogue is there.
    pg: Option<String>,
}

impl Deployment {
    fn new(dir: &Path) -> Deployment {
        let root = dir.join("objects");
        let mut users = Vec::new();
        for w in 0..WRITERS {
            let user = user_of(w);
            for j in 0..OBJECTS {
                let file = root.join(&user).join("images").join(object_name(j));
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, format!("object {j} of {user}\n").repeat(j + 1)).unwrap();
            }
            users.push(user);
        }
        users.extend((0..UPLOADERS).map(uploader_user));
        users.push(OBJECT_WRITER.to_string());
        let tokens: Vec<String> = users.iter().map(|u| format!("tok-{u}")).collect();
        let entries: Vec<_> = tokens
            .iter()
            .zip(&users)
            .map(|(t, u)| ((t.as_str(), u.as_str()), None))
            .collect();
        write_tokens(&dir.join("tokens"), &entries);
        Deployment {
            dir: dir.to_path_buf(),
            pg: pg::engine(),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.join("plankton.db")
    }

    /// How many processes serve the catalogue at once.
    fn processes(&self) -> usize {
        if self.pg.is_some() {
            pg::PROCESSES
        } else {
            1
        }
    }

    fn command(&self) -> Command {
        let mut cmd = support::process::command(&self.dir);
        if let Some(url) = &self.pg {
            cmd.env("PLANKTON_DATABASE", url);
        }
        cmd
    }

    fn start(&self) -> Result<Server, String> {
        Server::try_start(&mut self.command())
    }

    /// Every process, one after the other (the first holds the staging
    /// lock alone at its start and settles what the last kill left).
    fn start_all(&self) -> Result<Vec<Server>, String> {
        (0..self.processes()).map(|_| self.start()).collect()
    }

    /// The rows counted, and the engine's own integrity checks.
    fn sql_check(&self) -> Result<(i64, i64, i64), String> {
        match &self.pg {
            Some(url) => pg::sql_check(url),
            None => sql_check(&self.db()),
        }
    }

    fn sabotage(&self) {
        match &self.pg {
            Some(url) => pg::sabotage_one_property(url),
            None => sabotage_one_property(&self.db()),
        }
    }
}

impl Server {
    /// SIGKILL, and wait for the process to be gone: the panics and errors
    /// it logged, and its last 50 lines.
    fn kill9(mut self) -> (Vec<String>, Vec<String>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = self.log_lines();
        let alarms = log
            .iter()
            .filter(|l| l.contains("panicked") || l.contains(" ERROR "))
            .cloned()
            .collect();
        let tail = log[log.len().saturating_sub(50)..].to_vec();
        (alarms, tail)
    }
}

/// Runs SQLite's own checks and counts the rows, on a connection of our own
/// beside the running server.
fn sql_check(db: &Path) -> Result<(i64, i64, i64), String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("open {}: {e}", db.display()))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("integrity_check: {e}"))?;
    if integrity != ["ok"] {
        return Err(format!("integrity_check: {integrity:?}"));
    }
    let fk: i64 = conn
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut s| Ok(s.query_map([], |_| Ok(()))?.count() as i64))
        .map_err(|e| format!("foreign_key_check: {e}"))?;
    if fk != 0 {
        return Err(format!("foreign_key_check: {fk} rows"));
    }
    let count = |sql: &str| -> Result<i64, String> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| format!("{sql}: {e}"))
    };
    Ok((
        count("SELECT count(*) FROM images")?,
        count("SELECT count(*) FROM image_properties")?,
        count("SELECT count(*) FROM image_members")?,
    ))
}

/// Deletes one property row (the self-test of `CRASH_SABOTAGE=1`).
fn sabotage_one_property(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open for sabotage");
    let n = conn
        .execute(
            "DELETE FROM image_properties WHERE (image_seq, key) = \
             (SELECT image_seq, key FROM image_properties ORDER BY image_seq DESC LIMIT 1)",
            [],
        )
        .expect("sabotage");
    println!("sabotage: deleted {n} property row");
}

#[derive(Default)]
struct Totals {
    sent: u64,
    answered: u64,
    in_flight: u64,
    in_flight_applied: u64,
    writes_checked: u64,
    images_checked: u64,
    props_checked: u64,
    members_checked: u64,
    integrity_ok: u64,
    uploads_sent: u64,
    uploads_answered: u64,
    object_writes_sent: u64,
    object_writes_answered: u64,
}

/// With several processes, what the kills left in staging is settled by a
/// process that starts alone: one is started so, and the uploads checked
/// in full (their files, staging empty); its alarms and the problems.
fn settled_alone(dep: &Deployment, uploaders: &mut [Uploader]) -> Vec<String> {
    let alone = match dep.start() {
        Ok(s) => s,
        Err(e) => return vec![format!("a process alone did not start: {e}")],
    };
    let mut problems = Vec::new();
    for u in uploaders {
        if let Err(e) = u.check(alone.addr, &dep.dir.join("objects"), true) {
            problems.push(format!("uploads, a process alone: {e}"));
        }
    }
    problems.extend(alone.kill9().0);
    problems
}

fn main() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let sabotage = std::env::var_os("CRASH_SABOTAGE").is_some();
    let binary = support::process::binary();
    println!(
        "crash test: {cycles} cycles, {WRITERS} writers, seed {seed} (CRASH_SEED={seed} replays the choices), binary {}",
        binary.display()
    );
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dep = Deployment::new(tmp.path());
    let mut rng = Rng::new(seed);
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|w| Writer {
            index: w,
            user: user_of(w),
            token: format!("tok-{}", user_of(w)),
            model: Model::default(),
            pending: None,
            rng: Rng::new(seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            serial: 0,
        })
        .collect();
    let mut uploaders: Vec<Uploader> = (0..UPLOADERS).map(|u| Uploader::new(u, seed)).collect();
    let mut object_writer = Some(ObjectWriter::new(seed));
    let mut totals = Totals::default();
    let (mut passed, mut failed) = (0u64, 0u64);
    println!("{}", pg::describe(dep.pg.as_deref(), &dep.dir));
    let mut servers = match dep.start_all() {
        Ok(s) => s,
        Err(e) => {
            println!("FAILED: {e}\n0 passed, 1 failed");
            std::process::exit(1);
        }
    };
    let n = servers.len();
    for cycle in 1..=cycles {
        let mut problems: Vec<String> = Vec::new();
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        // One stop per process: the writers of the one killed stop first.
        let stops: Vec<Arc<AtomicBool>> =
            (0..n).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let handles: Vec<_> = writers
            .drain(..)
            .map(|mut w| {
                let (addr, stop) = (addrs[w.index % n], Arc::clone(&stops[w.index % n]));
                std::thread::spawn(move || {
                    let (c, p) = w.run(addr, cycle, &stop);
                    (w, c, p)
                })
            })
            .collect();
        let upload_handles: Vec<_> = uploaders
            .drain(..)
            .enumerate()
            .map(|(i, mut u)| {
                let (addr, stop) = (addrs[(i + 1) % n], Arc::clone(&stops[(i + 1) % n]));
                std::thread::spawn(move || {
                    let (sent, answered, p) = u.run(addr, cycle, &stop);
                    (u, sent, answered, p)
                })
            })
            .collect();
        let object_handle = object_writer.take().map(|mut o| {
            let (addr, stop) = (addrs[2 % n], Arc::clone(&stops[2 % n]));
            std::thread::spawn(move || {
                let (sent, answered, p) = o.run(addr, cycle, &stop);
                (o, sent, answered, p)
            })
        });
        let delay = if rng.chance(10) {
            Duration::from_millis(rng.below(50) as u64)
        } else {
            Duration::from_millis(150 + rng.below(2350) as u64)
        };
        std::thread::sleep(delay);
        let victim = pg::victim(&mut rng, n);
        stops[victim].store(true, Ordering::Relaxed);
        let (alarms, tail) = servers.remove(victim).kill9();
        if n > 1 {
            // The others go on serving their writers a while.
            std::thread::sleep(Duration::from_millis(400));
        }
        for stop in &stops {
            stop.store(true, Ordering::Relaxed);
        }
        let mut cycle_counts = Counts::default();
        for h in handles {
            let (w, c, p) = h.join().expect("a writer thread");
            cycle_counts.sent += c.sent;
            cycle_counts.answered += c.answered;
            problems.extend(p);
            writers.push(w);
        }
        writers.sort_by_key(|w| w.index);
        let mut uploads_answered = 0;
        for h in upload_handles {
            let (u, sent, answered, p) = h.join().expect("an uploader thread");
            totals.uploads_sent += sent;
            uploads_answered += answered;
            problems.extend(p);
            uploaders.push(u);
        }
        if let Some(h) = object_handle {
            let (o, sent, answered, p) = h.join().expect("the object writer's thread");
            totals.object_writes_sent += sent;
            totals.object_writes_answered += answered;
            problems.extend(p);
            object_writer = Some(o);
        }
        for a in alarms {
            problems.push(format!("server log: {a}"));
        }

        if sabotage {
            // Self-test of the checks: lose one answered property behind
            // the server's back; the cycle must then fail.
            dep.sabotage();
        }

        // Restart on the same files and check every writer's images.
        match dep.start() {
            Ok(s) => servers.insert(victim, s),
            Err(e) => {
                println!("cycle {cycle}: FAILED to restart: {e}");
                println!("{passed} passed, {} failed", failed + 1);
                std::process::exit(1);
            }
        };
        let in_flight = writers.iter().filter(|w| w.pending.is_some()).count() as u64;
        let mut applied = 0u64;
        let (mut images, mut props, mut members) = (0i64, 0i64, 0i64);
        for w in &mut writers {
            // Read through another process than the one that wrote.
            let observed = match observe(servers[(w.index + 1) % n].addr, w) {
                Ok(o) => o,
                Err(e) => {
                    problems.push(format!("{}: {e}", w.user));
                    continue;
                }
            };
            let before = matches(&w.model, &observed);
            let after = w.pending.as_ref().and_then(|p| matches(p, &observed));
            match (before, after) {
                (Some(m), _) => w.model = m,
                (None, Some(m)) => {
                    applied += 1;
                    w.model = m;
                }
                (None, None) => {
                    let mut msg = format!(
                        "{}: after the restart its images are neither as answered nor as the in-flight write would leave them:\n{}",
                        w.user,
                        diff(&w.model, &observed)
                    );
                    if let Some(p) = &w.pending {
                        msg.push_str(&format!(
                            "\n  against the in-flight write:\n{}",
                            diff(p, &observed)
                        ));
                    }
                    problems.push(msg);
                    // Go on from what the server holds, to find more.
                    w.model = Model {
                        images: observed.into_values().collect(),
                    };
                }
            }
            w.pending = None;
            images += w.model.images.len() as i64;
            for img in &w.model.images {
                props += img.props.len() as i64;
                members += img.members.len() as i64;
            }
        }
        let mut uploaded = 0;
        for (i, u) in uploaders.iter_mut().enumerate() {
            // Staging is settled only by a process alone on the store root.
            match u.check(servers[(i + 2) % n].addr, &dep.dir.join("objects"), n == 1) {
                Ok(n) => uploaded += n,
                Err(e) => problems.push(format!("uploads: {e}")),
            }
        }
        images += uploaded as i64;
        let objects = match object_writer.as_mut().map(|o| o.check(servers[0].addr)) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                problems.push(format!("objects: {e}"));
                0
            }
            None => 0,
        };
        totals.uploads_answered += uploads_answered;
        match dep.sql_check() {
            Ok(counted) => {
                totals.integrity_ok += 1;
                if counted != (images, props, members) {
                    problems.push(format!(
                        "rows in the catalogue (images, properties, members) = {counted:?}, the answered writes account for {:?}",
                        (images, props, members)
                    ));
                }
            }
            Err(e) => problems.push(e),
        }
        if delay >= Duration::from_millis(1000) && cycle_counts.answered < WRITERS as u64 {
            problems.push(format!(
                "only {} writes answered in {} ms: the server hangs",
                cycle_counts.answered,
                delay.as_millis()
            ));
        }
        totals.sent += cycle_counts.sent;
        totals.answered += cycle_counts.answered;
        totals.in_flight += in_flight;
        totals.in_flight_applied += applied;
        let ok = problems.is_empty();
        println!(
            "cycle {cycle}/{cycles}: killed after {} ms; {} writes answered, {in_flight} in flight ({applied} applied, {} not); {uploads_answered} uploads answered, {uploaded} uploaded images whole; {objects} objects as written; {images} images, {props} properties, {members} members; {}",
            delay.as_millis(),
            cycle_counts.answered,
            in_flight - applied,
            if ok { "ok" } else { "FAILED" }
        );
        if ok {
            passed += 1;
            totals.writes_checked += cycle_counts.answered + in_flight;
            totals.images_checked += images as u64;
            totals.props_checked += props as u64;
            totals.members_checked += members as u64;
        } else {
            failed += 1;
            for p in &problems {
                println!("  {p}");
            }
            println!("  last server lines before the kill:");
            for l in tail.iter().rev().take(10).rev() {
                println!("    {l}");
            }
        }
    }
    let mut alarms: Vec<String> = servers.into_iter().flat_map(|s| s.kill9().0).collect();
    if n > 1 {
        alarms.extend(settled_alone(&dep, &mut uploaders));
    }
    let mut final_ok = alarms.is_empty();
    for a in alarms {
        println!("server log: {a}");
    }
    // The operator's check on the files as the last kill left them (and
    // the restart recovered them).
    let out = dep
        .command()
        .arg("check")
        .env("RUST_LOG", "warn")
        .output()
        .expect("plankton check");
    if !out.status.success() {
        final_ok = false;
        println!(
            "plankton check failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !final_ok {
        failed += 1;
    }
    println!(
        "crash test figures: {} cycles in {:.1} s; {} uploads sent, {} answered; {} object writes sent, {} answered; {} writes sent, {} answered, {} in flight at a kill ({} of them applied whole, {} not at all); {} writes checked; image states checked: {} images, {} property values, {} memberships; integrity_check ok {}/{}; plankton check {}",
        passed + failed - u64::from(!final_ok),
        started.elapsed().as_secs_f64(),
        totals.uploads_sent,
        totals.uploads_answered,
        totals.object_writes_sent,
        totals.object_writes_answered,
        totals.sent,
        totals.answered,
        totals.in_flight,
        totals.in_flight_applied,
        totals.in_flight - totals.in_flight_applied,
        totals.writes_checked,
        totals.images_checked,
        totals.props_checked,
        totals.members_checked,
        totals.integrity_ok,
        cycles,
        if out.status.success() { "ok" } else { "FAILED" },
    );
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
