//! A web-view session as the catalogue keeps it (docs/api.md §15, §18):
//! in the catalogue, so that every process of a deployment knows it and a
//! restart keeps people logged in.

use super::time::Micros;

/// A notice shown once, on the next page the session sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// Whether it reports a failure.
    pub(crate) failed: bool,
    /// What it says.
    pub(crate) text: String,
}

/// A live session: whose it is, the token it acts with (which never leaves
/// the server), the value its forms must carry, and its notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSession {
    /// The user.
    pub(crate) user: String,
    /// The user's token.
    pub(crate) token: String,
    /// The CSRF value.
    pub(crate) csrf: String,
    /// When it ends.
    pub(crate) ends_at: Micros,
    /// The notice for its next page, if any.
    pub(crate) notice: Option<Notice>,
}

/// A session about to start, under `key` (the SHA-256 of the id that only
/// the cookie carries).
#[derive(Debug, Clone)]
pub(crate) struct NewSession {
    /// The key.
    pub(crate) key: String,
    /// When it starts: its user's oldest sessions end first at the cap.
    pub(crate) started_at: Micros,
    /// The session.
    pub(crate) session: StoredSession,
}

/// How many sessions a login may leave: `per_user` of its user's, and
/// `total` in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionCaps {
    /// Each user's.
    pub(crate) per_user: usize,
    /// Everyone's.
    pub(crate) total: usize,
}
