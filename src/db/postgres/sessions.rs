//! The web view's sessions on PostgreSQL (`AwaitSessionTx`).

use super::tx::PgTx;
use crate::db::error::DbError;
use crate::db::tx::AwaitSessionTx;
use crate::domain::session::{NewSession, Notice, SessionCaps, StoredSession};
use crate::domain::time::Micros;

impl AwaitSessionTx for PgTx<'_> {
    async fn session(&self, key: &str, now: Micros) -> Result<Option<StoredSession>, DbError> {
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT user_id, token, csrf, ends_at, notice_failed, notice_text \
                 FROM web_sessions WHERE key = $1 AND ends_at > $2",
            )
            .await
            .map_err(|e| self.fail(e))?;
        let Some(row) = self
            .tx
            .query_opt(&stmt, &[&key, &now])
            .await
            .map_err(|e| self.fail(e))?
        else {
            return Ok(None);
        };
        let get = |e| self.fail(e);
        let notice = match (
            row.try_get::<_, Option<bool>>(4).map_err(get)?,
            row.try_get::<_, Option<String>>(5).map_err(get)?,
        ) {
            (Some(failed), Some(text)) => Some(Notice { failed, text }),
            _ => None,
        };
        Ok(Some(StoredSession {
            user: row.try_get(0).map_err(get)?,
            token: row.try_get(1).map_err(get)?,
            csrf: row.try_get(2).map_err(get)?,
            ends_at: row.try_get(3).map_err(get)?,
            notice,
        }))
    }

    async fn start_session(&self, new: &NewSession, caps: SessionCaps) -> Result<bool, DbError> {
        let run = async |sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]| {
            let stmt = self
                .tx
                .prepare_cached(sql)
                .await
                .map_err(|e| self.fail(e))?;
            self.tx
                .execute(&stmt, params)
                .await
                .map_err(|e| self.fail(e))
        };
        run(
            "DELETE FROM web_sessions WHERE ends_at <= $1",
            &[&new.started_at],
        )
        .await?;
        let s = &new.session;
        let keep = i64::try_from(caps.per_user.max(1) - 1).unwrap_or(i64::MAX);
        run(
            "DELETE FROM web_sessions WHERE key IN (SELECT key FROM web_sessions \
             WHERE user_id = $1 ORDER BY started_at DESC, key DESC OFFSET $2)",
            &[&s.user, &keep],
        )
        .await?;
        let count = self
            .tx
            .prepare_cached("SELECT count(*) FROM web_sessions")
            .await
            .map_err(|e| self.fail(e))?;
        let live: i64 = self
            .tx
            .query_one(&count, &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.fail(e))?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= caps.total {
            return Ok(false);
        }
        run(
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
        let stmt = self
            .tx
            .prepare_cached("DELETE FROM web_sessions WHERE key = $1")
            .await
            .map_err(|e| self.fail(e))?;
        self.tx
            .execute(&stmt, &[&key])
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn set_notice(&self, key: &str, notice: Option<&Notice>) -> Result<(), DbError> {
        let stmt = self
            .tx
            .prepare_cached(
                "UPDATE web_sessions SET notice_failed = $2, notice_text = $3 WHERE key = $1",
            )
            .await
            .map_err(|e| self.fail(e))?;
        let (failed, text) = (notice.map(|n| n.failed), notice.map(|n| n.text.as_str()));
        self.tx
            .execute(&stmt, &[&key, &failed, &text])
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
