//! PostgreSQL's errors by what they mean to the registry (`DbError`), read
//! from their SQLSTATE: a unique violation, a transaction to run again, a
//! full disk, a server gone or going; and without an answer from the
//! server, unavailable.

use deadpool_postgres::PoolError;

use super::super::error::DbError;
use super::describe;

/// What a SQLSTATE means to the registry; `message` is the server's.
pub(crate) fn by_sqlstate(code: &str, message: String) -> DbError {
    match code {
        "23505" => DbError::Unique(message),
        // serialization_failure, deadlock_detected, lock_not_available:
        // the same transaction may pass if run again.
        "40001" | "40P01" | "55P03" => DbError::Busy,
        // disk_full (53100); out_of_memory and the like stay internal.
        "53100" => DbError::Full(message),
        // too_many_connections, the connection exceptions (08), the
        // server shutting down or starting (57P01-57P03, 57P05), a
        // read-only standby (25006: a failover in progress).
        "53300" | "25006" => DbError::Unavailable(message),
        c if c.starts_with("08") || (c.starts_with("57P") && c != "57P04") => {
            DbError::Unavailable(message)
        }
        _ => DbError::Internal(message),
    }
}

/// The texts with which tokio-postgres begins an error that the server
/// did not answer: no connection, a broken one, a timeout.
const NO_ANSWER: [&str; 4] = [
    "error connecting to server",
    "error communicating with the server",
    "connection closed",
    "timeout waiting for server",
];

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> DbError {
        if let Some(db) = e.as_db_error() {
            return by_sqlstate(db.code().code(), describe(&e));
        }
        let text = describe(&e);
        if e.is_closed() || NO_ANSWER.iter().any(|start| text.starts_with(start)) {
            DbError::Unavailable(text)
        } else {
            // A value that would not convert, a statement that is wrong:
            // a bug here, not the server's state.
            DbError::Internal(text)
        }
    }
}

/// No connection came free in the pool's wait (10 s), or none could be
/// made: unavailable (§18: a 503 within 10 s); the driver's own errors as
/// above.
impl From<PoolError> for DbError {
    fn from(e: PoolError) -> DbError {
        match e {
            PoolError::Backend(e) => DbError::from(e),
            PoolError::Timeout(kind) => {
                DbError::Unavailable(format!("no connection to PostgreSQL in time ({kind:?})"))
            }
            PoolError::Closed => DbError::Unavailable("the connection pool is closed".into()),
            e => DbError::internal(format!("connection pool: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_say_what_happened() {
        let m = || "m".to_string();
        assert_eq!(by_sqlstate("23505", m()), DbError::Unique(m()));
        for busy in ["40001", "40P01", "55P03"] {
            assert_eq!(by_sqlstate(busy, m()), DbError::Busy, "{busy}");
        }
        assert_eq!(by_sqlstate("53100", m()), DbError::Full(m()));
        for gone in ["08006", "08001", "57P01", "57P03", "53300", "25006"] {
            assert_eq!(by_sqlstate(gone, m()), DbError::Unavailable(m()), "{gone}");
        }
        for other in ["23503", "42P01", "57014", "57P04", "XX000"] {
            assert_eq!(by_sqlstate(other, m()), DbError::Internal(m()), "{other}");
        }
    }

    /// No server behind the socket: unavailable, not internal.
    #[tokio::test]
    async fn no_server_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = tokio_postgres::Config::new();
        config.host_path(dir.path()).user("u").dbname("d");
        let Err(e) = config.connect(tokio_postgres::NoTls).await else {
            panic!("connected to nothing");
        };
        assert!(matches!(DbError::from(e), DbError::Unavailable(_)));
    }
}
