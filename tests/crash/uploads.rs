//! Uploaders beside the writers (docs/api.md §13): each is its own user and
//! sends `POST /images` uploads one after another, of up to three Pithos
//! blocks, with their MD5 for the server to check. After a kill and a
//! restart, an uploader's images must be exactly its answered uploads, plus
//! perhaps the one in flight, each with all of its data; and the files under
//! its `images` container must be exactly those images' data: nothing half
//! written, nothing left over, and nothing left in staging.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use md5::{Digest, Md5};

use crate::http::request;
use crate::{Rng, ANSWER_TIMEOUT};

/// Concurrent uploaders, one user each.
pub const UPLOADERS: usize = 2;

/// The user of uploader `u`.
pub fn uploader_user(u: usize) -> String {
    format!("up{u}")
}

/// One upload as its uploader knows it.
#[derive(Clone, Debug)]
struct Up {
    name: String,
    size: usize,
    md5: String,
    /// The image id the answer gave (`None` for the one in flight).
    id: Option<String>,
}

pub struct Uploader {
    user: String,
    token: String,
    answered: Vec<Up>,
    pending: Option<Up>,
    rng: Rng,
    serial: u64,
}

/// The data of upload `name`: made from its name, so it can be made again
/// to compare. Its blocks hold runs of zeros, as disk images do.
pub fn data_of(name: &str, size: usize) -> Vec<u8> {
    let mut seed = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = Rng::new(seed);
    let mut data = vec![0u8; size];
    for (i, chunk) in data.chunks_mut(64 << 10).enumerate() {
        if i % 5 == 3 {
            continue; // a run of zeros
        }
        for b in chunk.iter_mut() {
            seed = rng.next();
            *b = seed as u8;
        }
    }
    data
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

impl Uploader {
    pub fn new(u: usize, seed: u64) -> Uploader {
        let user = uploader_user(u);
        Uploader {
            token: format!("tok-{user}"),
            user,
            answered: Vec::new(),
            pending: None,
            rng: Rng::new(seed ^ (u as u64 + 101).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            serial: 0,
        }
    }

    /// Uploads until `stop`; answers (sent, answered) and the problems seen.
    pub fn run(
        &mut self,
        addr: SocketAddr,
        cycle: usize,
        stop: &AtomicBool,
    ) -> (u64, u64, Vec<String>) {
        let (mut sent, mut answered) = (0, 0);
        let mut problems = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            self.serial += 1;
            let name = format!("{}-c{cycle}-{}", self.user, self.serial);
            // Up to three blocks of 4 MiB, the last one short.
            let size = 1 + self.rng.below(10 << 20);
            let data = data_of(&name, size);
            let up = Up {
                name: name.clone(),
                size,
                md5: md5_hex(&data),
                id: None,
            };
            let headers: Vec<(&str, Vec<u8>)> = vec![
                ("X-Auth-Token", self.token.clone().into_bytes()),
                ("Content-Type", b"application/octet-stream".to_vec()),
                ("X-Image-Meta-Name", name.clone().into_bytes()),
                ("X-Image-Meta-Checksum", up.md5.clone().into_bytes()),
            ];
            sent += 1;
            self.pending = Some(up.clone());
            match request(addr, "POST", "/v1/images", &headers, &data, ANSWER_TIMEOUT) {
                Ok(resp) if resp.status == 200 => {
                    answered += 1;
                    let id = resp.header("x-image-meta-id").map(String::from);
                    if id.is_none() || resp.header("x-image-meta-checksum") != Some(&up.md5) {
                        problems.push(format!(
                            "{}: upload {name} answered without its id or MD5",
                            self.user
                        ));
                    }
                    self.answered.push(Up { id, ..up });
                    self.pending = None;
                }
                Ok(resp) => {
                    answered += 1;
                    problems.push(format!(
                        "{}: upload {name} of {size} bytes answered {} {}",
                        self.user,
                        resp.status,
                        resp.text()
                    ));
                    self.pending = None;
                }
                // No whole answer: the kill came. It is the one in flight.
                Err(_) => return (sent, answered, problems),
            }
        }
        (sent, answered, problems)
    }

    /// After a restart: the images and files are the answered uploads (and
    /// perhaps the one in flight), whole. Answers how many images there are.
    /// `settled`: a process alone on the store root has started, so the
    /// files are exactly the images' and staging is empty (with several
    /// processes, one started beside the others settles nothing).
    pub fn check(&mut self, addr: SocketAddr, root: &Path, settled: bool) -> Result<usize, String> {
        let auth = [("X-Auth-Token", self.token.clone().into_bytes())];
        let resp = request(addr, "GET", "/v1/images/detail", &auth, b"", ANSWER_TIMEOUT)
            .map_err(|e| format!("listing: {e}"))?;
        let listed: serde_json::Value =
            serde_json::from_slice(&resp.body).map_err(|e| format!("listing: {e}"))?;
        let mut by_name: BTreeMap<String, (String, u64)> = BTreeMap::new();
        let all = listed["images"]
            .as_array()
            .ok_or("listing: no images array")?;
        // The writers' public images are listed too.
        for img in all.iter().filter(|i| i["owner"] == self.user.as_str()) {
            let name = img["name"].as_str().unwrap_or_default().to_string();
            let id = img["id"].as_str().unwrap_or_default().to_string();
            let size = img["size"].as_u64().unwrap_or_default();
            by_name.insert(name, (id, size));
        }
        if let Some(p) = self.pending.take() {
            if let Some((id, _)) = by_name.get(&p.name) {
                // The upload in flight was committed whole; it is answered now.
                self.answered.push(Up {
                    id: Some(id.clone()),
                    ..p
                });
            }
        }
        let mut problems = Vec::new();
        if by_name.len() != self.answered.len() {
            problems.push(format!(
                "{} images listed ({:?}), {} uploads answered (or committed in flight)",
                by_name.len(),
                by_name.keys().take(8).collect::<Vec<_>>(),
                self.answered.len()
            ));
        }
        for up in &self.answered {
            let Some((id, size)) = by_name.get(&up.name) else {
                problems.push(format!("answered upload {} is gone", up.name));
                continue;
            };
            if Some(id) != up.id.as_ref() || *size != up.size as u64 {
                problems.push(format!(
                    "upload {}: id {id} size {size}, not as answered",
                    up.name
                ));
                continue;
            }
            match request(
                addr,
                "GET",
                &format!("/v1/images/{id}"),
                &auth,
                b"",
                ANSWER_TIMEOUT,
            ) {
                Ok(r) if r.status == 200 && md5_hex(&r.body) == up.md5 => {}
                Ok(r) => problems.push(format!(
                    "upload {}: download {} of {} bytes, MD5 {}, not its data",
                    up.name,
                    r.status,
                    r.body.len(),
                    md5_hex(&r.body)
                )),
                Err(e) => problems.push(format!("upload {}: download: {e}", up.name)),
            }
        }
        if !settled {
            return if problems.is_empty() {
                Ok(by_name.len())
            } else {
                Err(problems.join("; "))
            };
        }
        // Files: exactly the images' data, and staging empty.
        let mut files: Vec<String> = std::fs::read_dir(root.join(&self.user).join("images"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut ids: Vec<String> = by_name.values().map(|(id, _)| id.clone()).collect();
        ids.sort();
        if files != ids {
            problems.push(format!(
                "files in its images container {files:?}, images {ids:?}"
            ));
        }
        let staged: Vec<String> = std::fs::read_dir(root.join("+staging"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "lock")
                    .collect()
            })
            .unwrap_or_default();
        if !staged.is_empty() {
            problems.push(format!("left in staging after the restart: {staged:?}"));
        }
        if problems.is_empty() {
            Ok(by_name.len())
        } else {
            Err(problems.join("; "))
        }
    }
}
