//! An object writer beside the others (docs/api.md §14): its own user
//! `PUT`s a few objects of the object-store endpoint over and over, each
//! write with its data's MD5 as `ETag` and as `X-Object-Meta-Sum`. After a
//! kill and a restart, every object is its last answered write or the one
//! in flight, whole, and its metadata is its data's: the crash protocol of
//! docs/behaviour.md leaves neither new data with old metadata nor old
//! data with new. A third of its writes are hashmap `PUT`s, as kamaki
//! sends them: of new data (409, the block `POST`ed, then the `PUT`
//! again: the block goes straight into the waiting object), or of the very
//! bytes of another of its objects (the hashmap read from it: the new
//! object is a hard link of that file).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::http::{request, Response as Resp};
use crate::uploads::{data_of, md5_hex};
use crate::{Rng, ANSWER_TIMEOUT};

/// The object writer's user.
pub const OBJECT_WRITER: &str = "ob0";
/// Object names it writes, so that most writes replace an object.
const NAMES: usize = 4;

pub struct ObjectWriter {
    token: String,
    /// Each object's MD5 as its last answered write left it.
    answered: BTreeMap<String, String>,
    /// The write in flight at the kill: name and MD5.
    pending: Option<(String, String)>,
    rng: Rng,
    serial: u64,
}

fn path_of(name: &str) -> String {
    format!("/object-store/v1/{OBJECT_WRITER}/pithos/{name}")
}

impl ObjectWriter {
    pub fn new(seed: u64) -> ObjectWriter {
        ObjectWriter {
            token: format!("tok-{OBJECT_WRITER}"),
            answered: BTreeMap::new(),
            pending: None,
            rng: Rng::new(seed ^ 0x5851_f42d_4c95_7f2d),
            serial: 0,
        }
    }

    /// Writes until `stop`; answers (sent, answered) and the problems seen.
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
            let name = format!("o{}", self.rng.below(NAMES));
            let size = 1 + self.rng.below(3 << 20);
            let data = data_of(&format!("{name}-c{cycle}-{}", self.serial), size);
            sent += 1;
            let written = match self.rng.below(6) {
                0 => self.by_blocks(addr, &name, &data),
                1 => self.as_another(addr, &name),
                _ => self.put(addr, &name, &data),
            };
            match written {
                Ok(resp) => {
                    answered += 1;
                    let md5 = self.pending.take().map(|(_, m)| m).unwrap_or_default();
                    if resp.status == 201 {
                        self.answered.insert(name, md5);
                    } else {
                        problems.push(format!(
                            "{OBJECT_WRITER}: a write of {name} ({size} bytes?) answered {} {}",
                            resp.status,
                            resp.text()
                        ));
                    }
                    self.pending = None;
                }
                // No whole answer: the kill came. It is the one in flight.
                Err(_) => return (sent, answered, problems),
            }
        }
        (sent, answered, problems)
    }

    /// The headers of a write of data with this MD5.
    fn headers(&self, md5: &str, hashmap: bool) -> Vec<(&'static str, Vec<u8>)> {
        let mut h = vec![
            ("X-Auth-Token", self.token.clone().into_bytes()),
            ("ETag", md5.as_bytes().to_vec()),
            ("X-Object-Meta-Sum", md5.as_bytes().to_vec()),
        ];
        if !hashmap {
            h.push(("Content-Type", b"application/octet-stream".to_vec()));
        }
        h
    }

    /// A plain `PUT` of `data`.
    fn put(&mut self, addr: SocketAddr, name: &str, data: &[u8]) -> Result<Resp, String> {
        let md5 = md5_hex(data);
        self.pending = Some((name.to_string(), md5.clone()));
        let headers = self.headers(&md5, false);
        request(addr, "PUT", &path_of(name), &headers, data, ANSWER_TIMEOUT)
            .map_err(|e| format!("{e:?}"))
    }

    /// `data` (one block) by the hashmap protocol: the map, the block
    /// where it is asked for, the map again.
    fn by_blocks(&mut self, addr: SocketAddr, name: &str, data: &[u8]) -> Result<Resp, String> {
        use sha2::{Digest, Sha256};
        let md5 = md5_hex(data);
        let kept = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let hash = hex::encode(Sha256::digest(&data[..kept]));
        let map = format!(r#"{{"bytes": {}, "hashes": ["{hash}"]}}"#, data.len());
        self.pending = Some((name.to_string(), md5.clone()));
        let headers = self.headers(&md5, true);
        let rest = format!("{}?format=json&hashmap=True", path_of(name));
        let put = || request(addr, "PUT", &rest, &headers, map.as_bytes(), ANSWER_TIMEOUT);
        let first = put().map_err(|e| format!("{e:?}"))?;
        if first.status != 409 {
            return Ok(first);
        }
        let auth = [
            ("X-Auth-Token", self.token.clone().into_bytes()),
            ("Content-Type", b"application/octet-stream".to_vec()),
        ];
        let blocks = format!("/object-store/v1/{OBJECT_WRITER}/pithos?update&format=json");
        let posted = request(addr, "POST", &blocks, &auth, data, ANSWER_TIMEOUT)
            .map_err(|e| format!("{e:?}"))?;
        if posted.status != 202 {
            return Ok(posted);
        }
        put().map_err(|e| format!("{e:?}"))
    }

    /// The very bytes of another object of this writer, by its hashmap.
    fn as_another(&mut self, addr: SocketAddr, name: &str) -> Result<Resp, String> {
        let others: Vec<(String, String)> = self
            .answered
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .map(|(n, m)| (n.clone(), m.clone()))
            .collect();
        let Some((from, md5)) = others.first().cloned() else {
            let data = data_of(&format!("{name}-first-{}", self.serial), 1000);
            return self.put(addr, name, &data);
        };
        let auth = [("X-Auth-Token", self.token.clone().into_bytes())];
        let rest = format!("{}?format=json&hashmap=True", path_of(&from));
        let map = request(addr, "GET", &rest, &auth, b"", ANSWER_TIMEOUT)
            .map_err(|e| format!("{e:?}"))?;
        if map.status != 200 {
            return Ok(map);
        }
        self.pending = Some((name.to_string(), md5.clone()));
        let headers = self.headers(&md5, true);
        let rest = format!("{}?format=json&hashmap=True", path_of(name));
        request(addr, "PUT", &rest, &headers, &map.body, ANSWER_TIMEOUT)
            .map_err(|e| format!("{e:?}"))
    }

    /// After a restart: each object is as its last answered write or the
    /// one in flight left it, with that write's metadata. Answers how many
    /// objects there are.
    pub fn check(&mut self, addr: SocketAddr) -> Result<usize, String> {
        let auth = [("X-Auth-Token", self.token.clone().into_bytes())];
        let mut names: Vec<String> = self.answered.keys().cloned().collect();
        names.extend(self.pending.iter().map(|(n, _)| n.clone()));
        names.sort();
        names.dedup();
        let mut problems = Vec::new();
        for name in names {
            let resp = request(addr, "HEAD", &path_of(&name), &auth, b"", ANSWER_TIMEOUT)
                .map_err(|e| format!("HEAD {name}: {e}"))?;
            let before = self.answered.get(&name);
            let in_flight = self.pending.as_ref().filter(|(n, _)| *n == name);
            let md5 = match resp.status {
                200 => resp.header("etag").map(|e| e.trim_matches('"').to_string()),
                404 if before.is_none() => None,
                s => {
                    problems.push(format!("{name}: HEAD answered {s}"));
                    continue;
                }
            };
            let sum = resp.header("x-object-meta-sum").map(String::from);
            if md5.is_some() && sum != md5 {
                problems.push(format!(
                    "{name}: data with MD5 {md5:?} but the metadata of the write of {sum:?}"
                ));
            }
            let as_answered = md5.as_ref() == before;
            let as_in_flight = in_flight.is_some_and(|(_, m)| md5.as_ref() == Some(m));
            match md5 {
                _ if as_answered => {}
                Some(md5) if as_in_flight => {
                    self.answered.insert(name, md5);
                }
                md5 => problems.push(format!(
                    "{name}: MD5 {md5:?}, neither its answered write ({before:?}) nor the one in flight ({in_flight:?})"
                )),
            }
        }
        self.pending = None;
        if problems.is_empty() {
            Ok(self.answered.len())
        } else {
            Err(problems.join("; "))
        }
    }
}
