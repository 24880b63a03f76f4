//! Turns across processes: what the registry's per-location locks are for
//! one process (one change of an object or of its sharing at a time, in
//! the order they commit), made to hold for every process on the database
//! with PostgreSQL's advisory locks (docs/behaviour.md, "Several
//! processes").

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::PgCatalogue;
use crate::db::error::DbError;

/// How long a request waits for another process's turn on the same key
/// before it is told to try again (a sharing change may wait on Pithos).
const TURN_WAIT: Duration = Duration::from_secs(30);

/// A turn held: a pooled connection holding a session-level advisory
/// lock on the key, given back unlocked when dropped.
pub(crate) struct PgTurn {
    client: Option<deadpool_postgres::Object>,
    id: i64,
}

/// The advisory lock's number for `key`: the first 8 bytes of its SHA-256
/// (two keys sharing a number only wait for each other, never wrongly pass).
fn lock_id(key: &str) -> i64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl PgCatalogue {
    /// Waits for the turn of `key` across every process. The waiting holds
    /// no connection: it tries, gives the connection back and tries again,
    /// so that waiters never starve the pool the holder commits through.
    pub(crate) async fn turn(&self, key: &str) -> Result<PgTurn, DbError> {
        let id = lock_id(key);
        let deadline = Instant::now() + TURN_WAIT;
        let mut pause = Duration::from_millis(2);
        loop {
            let client = self.connection().await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
            let asked = client.query_one("SELECT pg_try_advisory_lock($1)", &params);
            let got: bool = match tokio::time::timeout(super::ANSWER_LIMIT, asked).await {
                Ok(answer) => answer.and_then(|row| row.try_get(0))?,
                Err(_) => {
                    // The lock may be taken when the server answers at
                    // last: the connection is closed, never pooled so.
                    drop(deadpool_postgres::Object::take(client));
                    return Err(DbError::Unavailable(format!(
                        "PostgreSQL did not answer within {} s",
                        super::ANSWER_LIMIT.as_secs()
                    )));
                }
            };
            if got {
                return Ok(PgTurn {
                    client: Some(client),
                    id,
                });
            }
            drop(client);
            if Instant::now() + pause > deadline {
                return Err(DbError::Unavailable(format!(
                    "another process held the turn of '{key}' for {} s",
                    TURN_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl PgCatalogue {
    /// Waits (without a limit) for the advisory lock `id` exclusively on
    /// the session of a pooled connection: the write lock of a write run
    /// alone, which waits only for the writes under way to commit.
    pub(super) async fn hold_alone(&self, id: i64) -> Result<PgTurn, DbError> {
        let client = self.connection().await?;
        client
            .batch_execute(&format!("SELECT pg_advisory_lock({id})"))
            .await?;
        Ok(PgTurn {
            client: Some(client),
            id,
        })
    }
}

impl PgTurn {
    /// The connection that holds the lock, to work on under it.
    pub(super) fn client(&mut self) -> Option<&mut deadpool_postgres::Object> {
        self.client.as_mut()
    }
}

impl Drop for PgTurn {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if client
                        .execute("SELECT pg_advisory_unlock($1)", &[&id])
                        .await
                        .is_err()
                    {
                        // Not given back: closing the connection ends its
                        // session, and the server lets the lock go with it.
                        drop(deadpool_postgres::Object::take(client));
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
}
