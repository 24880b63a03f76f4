//! Identity backends: turn an `X-Auth-Token` into a user (docs/api.md §3).
//! The enum is the seam; `tokenfile` and `astakos` are its variants.

mod astakos;
pub(crate) mod edit;
pub(crate) mod throttle;
mod tokenfile;

pub(crate) use astakos::Astakos;
pub(crate) use tokenfile::{TokenFile, TokenTable};

use std::sync::Arc;

use crate::domain::user::User;

/// What went wrong asking who a token belongs to (a token the backend does
/// not know is not an error: it is `Ok(None)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdentityError {
    /// The identity service did not answer, or answered nonsense (the
    /// details are logged where they are seen).
    #[error("the identity service could not be reached")]
    Unreachable,
}

/// The identity backend chosen at start.
pub(crate) enum Identity {
    /// A static token file, reloaded when it changes on disk.
    TokenFile(TokenFile),
    /// Synnefo's Astakos over HTTP(S), answers cached.
    Astakos(Box<Astakos>),
}

impl Identity {
    /// The user a token belongs to, or `None` if the backend rejects it.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<User>, IdentityError> {
        match self {
            Identity::TokenFile(tf) => Ok(tf.lookup(token)),
            Identity::Astakos(a) => a.authenticate(token).await,
        }
    }

    /// Re-reads whatever the backend reads from disk (SIGHUP).
    pub(crate) fn reload(&self) {
        match self {
            Identity::TokenFile(tf) => tf.reload(),
            Identity::Astakos(_) => {}
        }
    }

    /// The offline token table now in force, if this is the `tokenfile` backend.
    pub(crate) fn token_table(&self) -> Option<Arc<TokenTable>> {
        match self {
            Identity::TokenFile(tf) => Some(tf.table()),
            Identity::Astakos(_) => None,
        }
    }

    /// A short description for the start-up log line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Identity::TokenFile(tf) => format!("tokenfile {}", tf.path().display()),
            Identity::Astakos(a) => format!("astakos {}", a.tokens_url()),
        }
    }
}
