//! What went wrong in the catalogue, in terms every engine can say and the
//! registry can act on: retry a busy transaction, answer a unique violation
//! with 409, a full disk with 413 and an unreachable database with 503, and
//! log the rest.

/// A catalogue failure, engine-neutral: each engine's arm maps its own
/// errors (SQLite's extended result codes, PostgreSQL's SQLSTATE) to these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DbError {
    /// A row the statement needed is not there.
    #[error("no such row")]
    NotFound,
    /// A unique or primary key constraint refused the write; says which.
    #[error("unique violation: {0}")]
    Unique(String),
    /// The database was busy or locked, or the transaction could not be
    /// serialized: the same transaction may succeed if run again.
    #[error("the catalogue is busy")]
    Busy,
    /// The disk holding the catalogue is full: the write was not made, and
    /// the same write succeeds once there is space again.
    #[error("the disk holding the catalogue is full: {0}")]
    Full(String),
    /// The database cannot be reached or opened.
    #[error("the catalogue is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, a corrupt row, a failing disk.
    #[error("database: {0}")]
    Internal(String),
}

impl DbError {
    /// Shorthand for a failure whose cause is logged, not shown.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> DbError {
        DbError::Internal(cause.to_string())
    }
}
