//! Who the caller is: tokens to users, through the identity backend, and the
//! offline identity's lookups (display names and back).

use std::collections::BTreeMap;

use super::Registry;
use crate::domain::user::{Caller, User};
use crate::error::AppError;

impl Registry {
    /// The caller a token belongs to; unauthenticated if the backend rejects it.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        let user = self
            .identity
            .authenticate(token)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("Invalid or expired token".into()))?;
        Ok(Caller {
            user,
            token: token.to_string(),
        })
    }

    /// Re-reads the identity backend's files (SIGHUP).
    pub(crate) fn reload_identity(&self) {
        self.identity.reload();
    }

    /// Whether the offline token file is the identity backend (the offline
    /// identity endpoints serve only then).
    pub(crate) fn serves_offline_identity(&self) -> bool {
        self.identity.token_table().is_some()
    }

    /// The user of a token in the offline token file, if it lists it.
    pub(crate) fn offline_user(&self, token: &str) -> Option<User> {
        self.identity.token_table()?.user(token)
    }

    /// Display names of the user ids the offline token file knows, and the
    /// user ids of the display names it knows.
    pub(crate) fn offline_catalogs(
        &self,
        uuids: &[String],
        names: &[String],
    ) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let Some(table) = self.identity.token_table() else {
            return Default::default();
        };
        let by_uuid = uuids
            .iter()
            .filter_map(|u| table.display_name(u).map(|n| (u.clone(), n)))
            .collect();
        let by_name = names
            .iter()
            .filter_map(|n| table.user_id_of(n).map(|u| (n.clone(), u)))
            .collect();
        (by_uuid, by_name)
    }
}
