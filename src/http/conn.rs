//! Connections: at most so many from one client address, and none held
//! between answers for longer than the keep-alive allows (actix times only
//! a connection's first request head; later ones are timed here).
//!
//! Each connection is admitted in actix's `on_connect` hook, which sees the
//! socket: its peer's slot is counted in a map shared by the workers, and a
//! `Connection` left in the connection's data (dropped with it) frees the
//! slot again. A connection over its address's cap is shut down at once. A
//! watchdog task per connection shuts one down once it has been between
//! requests for longer than the keep-alive and a head's deadline together:
//! a client trickling its next request head is cut off like an idle one.
//! The socket is shut down through a duplicate of its descriptor, which the
//! `Connection` owns, so it closes when actix closes its own.

use std::any::Any;
use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use bytes::Bytes;

/// How long a request head may take to arrive, whole (actix's own timer for
/// a connection's first request; for later ones it counts after the
/// keep-alive).
pub(crate) const HEAD_DEADLINE: Duration = Duration::from_secs(5);

/// How often a busy connection's watchdog looks again.
const RECHECK: Duration = Duration::from_secs(5);

/// Answers up to this size end the request when they are handed over;
/// larger or streamed ones when their last byte is.
const SMALL_ANSWER: u64 = 64 * 1024;

/// Where a client connects from, as the cap counts it: an IPv4 address, or
/// an IPv6 /64 (one host's usual share; an IPv4-mapped address is IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl Peer {
    /// The slot `ip` counts in.
    pub(crate) fn of(ip: IpAddr) -> Peer {
        match ip {
            IpAddr::V4(v4) => Peer::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer::V4(v4),
                None => Peer::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The open connections of each peer, shared by every worker.
type Counts = Arc<Mutex<HashMap<Peer, usize>>>;

/// Admits connections: the cap per address and the time between answers.
#[derive(Clone)]
pub(crate) struct Admission {
    counts: Counts,
    cap: usize,
    between: Duration,
    /// When this admission began, and the second (from then, plus 60)
    /// a refusal was last logged.
    started: Instant,
    last_told: Arc<AtomicU64>,
}

impl Admission {
    /// At most `cap` connections per address (0: no cap); `keep_alive` is
    /// how long a connection may stay idle between requests.
    pub(crate) fn new(cap: usize, keep_alive: Duration) -> Admission {
        Admission {
            counts: Counts::default(),
            cap,
            between: keep_alive + HEAD_DEADLINE,
            started: Instant::now(),
            last_told: Arc::new(AtomicU64::new(0)),
        }
    }

    /// actix's `on_connect`: admits the connection or shuts it down.
    pub(crate) fn on_connect(&self, io: &dyn Any, data: &mut Extensions) {
        let Some(tcp) = tcp_of(io) else {
            return;
        };
        let Ok(peer) = tcp.peer_addr() else {
            return;
        };
        // Without a duplicate (no descriptor left) the connection is
        // neither counted nor watched: actix's own limits still hold.
        let Ok(socket) = tcp.as_fd().try_clone_to_owned().map(TcpStream::from) else {
            return;
        };
        let Some(slot) = self.take_slot(Peer::of(peer.ip())) else {
            self.tell_refused(peer.ip());
            let _ = socket.shutdown(Shutdown::Both);
            return;
        };
        let conn = Rc::new(Connection {
            socket,
            busy: Cell::new(0),
            since: Cell::new(Instant::now()),
            between: self.between,
            _slot: slot,
        });
        actix_web::rt::spawn(watchdog(Rc::downgrade(&conn)));
        data.insert(conn);
    }

    /// Logs a refusal, at most one a minute (an address at its cap may
    /// try thousands of times a second).
    fn tell_refused(&self, ip: IpAddr) {
        let now = self.started.elapsed().as_secs() + 60;
        let last = self.last_told.load(Ordering::Relaxed);
        if now >= last + 60
            && self
                .last_told
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!(
                "{ip} holds {} connections (limits.max_connections_per_address): \
                 its next ones are closed at once (logged once a minute)",
                self.cap
            );
        }
    }

    /// A slot for `peer`, if it has one left.
    fn take_slot(&self, peer: Peer) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(peer).or_insert(0);
        if self.cap > 0 && *n >= self.cap {
            if *n == 0 {
                counts.remove(&peer);
            }
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: Arc::clone(&self.counts),
            peer,
        })
    }

    /// How many connections `peer` holds (for tests).
    #[cfg(test)]
    fn held(&self, peer: Peer) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&peer).copied().unwrap_or(0)
    }
}

/// The TCP socket under the connection's stream.
fn tcp_of(io: &dyn Any) -> Option<&actix_web::rt::net::TcpStream> {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    io.downcast_ref::<actix_web::rt::net::TcpStream>()
        .or_else(|| io.downcast_ref::<Tls>().map(|tls| tls.get_ref().0))
}

/// One connection's place in its peer's count, given back when dropped.
struct Slot {
    counts: Counts,
    peer: Peer,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.peer);
            }
        }
    }
}

/// An admitted connection, in its connection data.
pub(crate) struct Connection {
    socket: TcpStream,
    /// Requests being served (more than one only when pipelined).
    busy: Cell<usize>,
    /// When it last became idle.
    since: Cell<Instant>,
    between: Duration,
    _slot: Slot,
}

impl Connection {
    /// A request has reached the app.
    fn begin(&self) {
        self.busy.set(self.busy.get() + 1);
    }

    /// A request's answer has been handed over, whole.
    fn end(&self) {
        self.busy.set(self.busy.get().saturating_sub(1));
        self.since.set(Instant::now());
    }

    /// When the connection will have been between requests too long.
    fn deadline(&self) -> Option<Instant> {
        (self.busy.get() == 0).then(|| self.since.get() + self.between)
    }
}

/// Shuts the connection down once it has been idle (or trickling its next
/// head) past its deadline; ends when the connection does.
async fn watchdog(conn: Weak<Connection>) {
    loop {
        let Some(c) = conn.upgrade() else {
            return;
        };
        let now = Instant::now();
        let wake = match c.deadline() {
            Some(at) if at <= now => {
                let _ = c.socket.shutdown(Shutdown::Both);
                return;
            }
            Some(at) => at,
            None => now + RECHECK,
        };
        drop(c);
        actix_web::rt::time::sleep_until(wake.into()).await;
    }
}

/// The request's connection, marked busy until `answered` (none for a
/// request that came some other way, as in tests).
pub(crate) fn begin(req: &ServiceRequest) -> Option<Rc<Connection>> {
    let conn = req.conn_data::<Rc<Connection>>().map(Rc::clone)?;
    conn.begin();
    Some(conn)
}

/// The answer, ending its request now if it is small, else when its body
/// has been handed over. After a body that came too slowly (`hang_up`)
/// nothing more is read: actix waits for the rest of a chunked body even
/// after an answer that closes the connection.
pub(crate) fn answered(
    res: ServiceResponse<BoxBody>,
    conn: Option<Rc<Connection>>,
    hang_up: bool,
) -> ServiceResponse<BoxBody> {
    let Some(conn) = conn else {
        return res;
    };
    if hang_up {
        let _ = conn.socket.shutdown(Shutdown::Read);
    }
    match res.response().body().size() {
        BodySize::None => {}
        BodySize::Sized(n) if n <= SMALL_ANSWER => {}
        _ => {
            return res.map_body(|_, body| {
                BoxBody::new(Watched {
                    body,
                    conn: Some(conn),
                })
            })
        }
    }
    conn.end();
    res
}

/// A request's fault: it ends there.
pub(crate) fn failed(conn: Option<Rc<Connection>>) {
    if let Some(conn) = conn {
        conn.end();
    }
}

/// A response body that ends its request when it ends (or is dropped).
struct Watched {
    body: BoxBody,
    conn: Option<Rc<Connection>>,
}

impl Watched {
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.end();
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.finish();
    }
}

impl MessageBody for Watched {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = std::pin::Pin::new(&mut this.body).poll_next(cx);
        if matches!(polled, std::task::Poll::Ready(None | Some(Err(_)))) {
            this.finish();
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Peer::of(a), Peer::of(b));
        assert_ne!(Peer::of(a), Peer::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(Peer::of(mapped), Peer::V4(Ipv4Addr::new(192, 0, 2, 7)));
    }

    #[test]
    fn slots_are_capped_per_address_and_given_back() {
        let admission = Admission::new(2, Duration::from_secs(75));
        let one = Peer::V4(Ipv4Addr::new(10, 0, 0, 1));
        let other = Peer::V4(Ipv4Addr::new(10, 0, 0, 2));
        let a = admission.take_slot(one).unwrap();
        let _b = admission.take_slot(one).unwrap();
        assert!(admission.take_slot(one).is_none());
        assert!(admission.take_slot(other).is_some());
        drop(a);
        assert_eq!(admission.held(one), 1);
        assert!(admission.take_slot(one).is_some());
        let uncapped = Admission::new(0, Duration::from_secs(75));
        let all: Vec<Slot> = (0..1000).filter_map(|_| uncapped.take_slot(one)).collect();
        assert_eq!(all.len(), 1000);
        drop(all);
        assert_eq!(uncapped.held(one), 0);
    }
}
