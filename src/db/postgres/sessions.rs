//! The web view's sessions on PostgreSQL (`AwaitSessionTx`).

use super::tx::{get, PgTx};
use crate::db::error::DbError;
use crate::db::tx::AwaitSessionTx;
use crate::domain::session::{NewSession, Notice, SessionCaps, StoredSession};
use crate::domain::time::Micros;

impl AwaitSessionTx for PgTx<'_> {
    async fn session(&self, key: &str, now: Micros) -> Result<Option<StoredSession>, DbError> {
        let found = self
            .row(
                "SELECT user_id, token, csrf, ends_at, notice_failed, notice_text \
                 FROM web_sessions WHERE key = $1 AND ends_at > $2",
                &[&key, &now],
            )
            .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let notice = match (
            get::<Option<bool>>(&row, 4)?,
            get::<Option<String>>(&row, 5)?,
        ) {
            (Some(failed), Some(text)) => Some(Notice { failed, text }),
            _ => None,
        };
        Ok(Some(StoredSession {
            user: get(&row, 0)?,
            token: get(&row, 1)?,
            csrf: get(&row, 2)?,
            ends_at: get(&row, 3)?,
            notice,
        }))
    }

    async fn start_session(&self, new: &NewSession, caps: SessionCaps) -> Result<bool, DbError> {
        self.run(
            "DELETE FROM web_sessions WHERE ends_at <= $1",
            &[&new.started_at],
        )
        .await?;
        let s = &new.session;
        let keep = i64::try_from(caps.per_user.max(1) - 1).unwrap_or(i64::MAX);
        self.run(
            "DELETE FROM web_sessions WHERE key IN (SELECT key FROM web_sessions \
             WHERE user_id = $1 ORDER BY started_at DESC, key DESC OFFSET $2)",
            &[&s.user, &keep],
        )
        .await?;
        let count = self
            .row("SELECT count(*) FROM web_sessions", &[])
            .await?
            .ok_or(DbError::NotFound)?;
        let live: i64 = get(&count, 0)?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= caps.total {
            return Ok(false);
        }
        self.run(
            "INSERT INTO web_sessions (key, user_id, token, csrf, started_at, ends_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &new.key,
                &s.user,
                &s.token,
                &s.csrf,
                &new.started_at,
                &s.ends_at,
            ],
        )
        .await?;
        Ok(true)
    }

    async fn end_session(&self, key: &str) -> Result<(), DbError> {
        self.run("DELETE FROM web_sessions WHERE key = $1", &[&key])
            .await?;
        Ok(())
    }

    async fn set_notice(&self, key: &str, notice: Option<&Notice>) -> Result<(), DbError> {
        let (failed, text) = (notice.map(|n| n.failed), notice.map(|n| n.text.as_str()));
        self.run(
            "UPDATE web_sessions SET notice_failed = $2, notice_text = $3 WHERE key = $1",
            &[&key, &failed, &text],
        )
        .await?;
        Ok(())
    }
}
