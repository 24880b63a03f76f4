//! The web view's sessions on SQLite (`SessionTx`).

use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use crate::db::error::DbError;
use crate::db::tx::SessionTx;
use crate::domain::session::{NewSession, Notice, SessionCaps, StoredSession};
use crate::domain::time::Micros;

/// Migration 9: the sessions table, by key, by user and age, by end.
pub(super) const SESSIONS: &str = "
CREATE TABLE web_sessions (
    key           TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    token         TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    notice_failed INTEGER,
    notice_text   TEXT
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id, started_at, key);
CREATE INDEX web_sessions_by_end ON web_sessions (ends_at);
";

impl SessionTx for SqliteTx<'_> {
    fn session(&self, key: &str, now: Micros) -> Result<Option<StoredSession>, DbError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_id, token, csrf, ends_at, notice_failed, notice_text \
             FROM web_sessions WHERE key = ?1 AND ends_at > ?2",
        )?;
        let row = stmt
            .query_row(params![key, now], |r| {
                let notice = match (r.get::<_, Option<bool>>(4)?, r.get::<_, Option<String>>(5)?) {
                    (Some(failed), Some(text)) => Some(Notice { failed, text }),
                    _ => None,
                };
                Ok(StoredSession {
                    user: r.get(0)?,
                    token: r.get(1)?,
                    csrf: r.get(2)?,
                    ends_at: r.get(3)?,
                    notice,
                })
            })
            .optional()?;
        Ok(row)
    }

    fn start_session(&self, new: &NewSession, caps: SessionCaps) -> Result<bool, DbError> {
        let c = self.conn;
        c.prepare_cached("DELETE FROM web_sessions WHERE ends_at <= ?1")?
            .execute([new.started_at])?;
        let user = &new.session.user;
        let keep = i64::try_from(caps.per_user.max(1) - 1).unwrap_or(i64::MAX);
        c.prepare_cached(
            "DELETE FROM web_sessions WHERE key IN (SELECT key FROM web_sessions \
             WHERE user_id = ?1 ORDER BY started_at DESC, key DESC LIMIT -1 OFFSET ?2)",
        )?
        .execute(params![user, keep])?;
        let live: i64 = c
            .prepare_cached("SELECT count(*) FROM web_sessions")?
            .query_row([], |r| r.get(0))?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= caps.total {
            return Ok(false);
        }
        let s = &new.session;
        c.prepare_cached(
            "INSERT INTO web_sessions (key, user_id, token, csrf, started_at, ends_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            new.key,
            s.user,
            s.token,
            s.csrf,
            new.started_at,
            s.ends_at
        ])?;
        Ok(true)
    }

    fn end_session(&self, key: &str) -> Result<(), DbError> {
        self.conn
            .prepare_cached("DELETE FROM web_sessions WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    fn set_notice(&self, key: &str, notice: Option<&Notice>) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "UPDATE web_sessions SET notice_failed = ?2, notice_text = ?3 WHERE key = ?1",
            )?
            .execute(params![
                key,
                notice.map(|n| n.failed),
                notice.map(|n| n.text.as_str())
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::{configure, SqliteCatalogue};
    use super::*;

    fn catalogue(dir: &std::path::Path) -> Connection {
        let path = dir.join("c.db");
        SqliteCatalogue::open(&path).unwrap().close();
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        conn
    }

    fn new(key: &str, user: &str, at: Micros, ttl: Micros) -> NewSession {
        NewSession {
            key: key.into(),
            started_at: at,
            session: StoredSession {
                user: user.into(),
                token: format!("token-of-{user}"),
                csrf: format!("csrf-{key}"),
                ends_at: at + ttl,
                notice: None,
            },
        }
    }

    const CAPS: SessionCaps = SessionCaps {
        per_user: 3,
        total: 6,
    };

    #[test]
    fn a_session_lives_until_its_end_and_keeps_one_notice() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalogue(dir.path());
        let tx = SqliteTx::new(&conn);
        assert!(tx.start_session(&new("k", "alice", 100, 50), CAPS).unwrap());
        let s = tx.session("k", 149).unwrap().unwrap();
        assert_eq!(
            (s.user.as_str(), s.token.as_str()),
            ("alice", "token-of-alice")
        );
        assert!(tx.session("k", 150).unwrap().is_none(), "ended at its end");
        assert!(tx.session("other", 100).unwrap().is_none());
        let notice = Notice {
            failed: true,
            text: "no".into(),
        };
        tx.set_notice("k", Some(&notice)).unwrap();
        assert_eq!(tx.session("k", 120).unwrap().unwrap().notice, Some(notice));
        tx.set_notice("k", None).unwrap();
        assert_eq!(tx.session("k", 120).unwrap().unwrap().notice, None);
        tx.end_session("k").unwrap();
        assert!(tx.session("k", 120).unwrap().is_none());
    }

    #[test]
    fn logins_past_a_users_cap_end_their_own_oldest_and_a_full_table_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalogue(dir.path());
        let tx = SqliteTx::new(&conn);
        assert!(tx.start_session(&new("bob", "bob", 1, 1000), CAPS).unwrap());
        for n in 0..5 {
            let key = format!("a{n}");
            assert!(tx
                .start_session(&new(&key, "alice", 10 + n, 1000), CAPS)
                .unwrap());
        }
        let live = |k: &str| tx.session(k, 20).unwrap().is_some();
        assert!(!live("a0") && !live("a1"), "alice's oldest ended");
        assert!(live("a2") && live("a3") && live("a4") && live("bob"));
        for n in 0..2 {
            let key = format!("c{n}");
            assert!(tx
                .start_session(&new(&key, "carol", 30, 1000), CAPS)
                .unwrap());
        }
        assert!(
            !tx.start_session(&new("d", "dave", 40, 1000), CAPS).unwrap(),
            "six live: the newcomer is refused"
        );
        assert!(live("bob") && live("c0"), "nobody's session ended for it");
        // Sessions that have ended make room.
        assert!(tx
            .start_session(&new("e", "eve", 5000, 1000), CAPS)
            .unwrap());
        assert!(tx.session("bob", 5000).unwrap().is_none());
    }
}
