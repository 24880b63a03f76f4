//! The web view's sessions in the catalogue (docs/api.md §15, §18): what
//! the browser surface keeps of a login, by the key its cookie's id hashes
//! to. Writes go through the catalogue's writer, so a login, a page and a
//! logout may each reach another process.

use crate::domain::session::{NewSession, Notice, SessionCaps, StoredSession};
use crate::domain::time::now_micros;
use crate::error::AppError;

use super::Registry;

impl Registry {
    /// The live session under `key`. Its notice, if it has one, is handed
    /// over and cleared: it is shown once.
    pub(crate) async fn session(&self, key: &str) -> Result<Option<StoredSession>, AppError> {
        let now = now_micros();
        let found = self
            .db
            .read(async |tx| Ok(tx.session(key, now).await?))
            .await?;
        if found.as_ref().is_some_and(|s| s.notice.is_some()) {
            self.set_notice(key, None).await?;
        }
        Ok(found)
    }

    /// Starts a session; false when `caps.total` sessions are live.
    pub(crate) async fn start_session(
        &self,
        new: NewSession,
        caps: SessionCaps,
    ) -> Result<bool, AppError> {
        self.db
            .write(async move |tx| Ok(tx.start_session(&new, caps).await?))
            .await
    }

    /// Ends the session under `key`, if any.
    pub(crate) async fn end_session(&self, key: &str) -> Result<(), AppError> {
        let key = key.to_string();
        self.db
            .write(async move |tx| Ok(tx.end_session(&key).await?))
            .await
    }

    /// Leaves (or clears) the notice of the session under `key`.
    pub(crate) async fn set_notice(
        &self,
        key: &str,
        notice: Option<Notice>,
    ) -> Result<(), AppError> {
        let key = key.to_string();
        self.db
            .write(async move |tx| Ok(tx.set_notice(&key, notice.as_ref()).await?))
            .await
    }
}
