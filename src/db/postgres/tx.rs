//! A PostgreSQL transaction of the catalogue, and the three ways its
//! methods run a statement: every statement prepared once per connection
//! (deadpool's statement cache), its parameters bound, never formatted
//! in; every driver error seen by `fail`. The methods of the interface
//! (`db::tx`) are in `images`, `members` and `blocks`.

use std::cell::Cell;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::error::DbError;

/// One PostgreSQL transaction of the catalogue.
pub(crate) struct PgTx<'t> {
    /// The transaction, on a pooled connection (its statement cache).
    pub(super) tx: &'t deadpool_postgres::Transaction<'t>,
    /// Whether a statement failed because the transaction could not be
    /// serialized (or deadlocked): then the whole transaction is run
    /// again, whatever the registry's closure made of the error.
    conflicted: Cell<bool>,
}

impl<'t> PgTx<'t> {
    /// The catalogue as seen through `tx`, a transaction the engine began.
    pub(super) fn new(tx: &'t deadpool_postgres::Transaction<'t>) -> PgTx<'t> {
        PgTx {
            tx,
            conflicted: Cell::new(false),
        }
    }

    /// A driver error as the registry sees it; a serialization failure is
    /// remembered, so that the engine runs the transaction again.
    pub(super) fn fail(&self, e: tokio_postgres::Error) -> DbError {
        let e = DbError::from(e);
        if e == DbError::Busy {
            self.conflicted.set(true);
        }
        e
    }

    /// Whether a statement of this transaction met a serialization failure.
    pub(super) fn conflicted(&self) -> bool {
        self.conflicted.get()
    }
}

/// A statement's parameters.
pub(super) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    /// The rows of `sql` (a statement that reads a bounded number).
    pub(super) async fn rows(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        let stmt = self.prepared(sql).await?;
        self.tx.query(&stmt, params).await.map_err(|e| self.fail(e))
    }

    /// `sql` prepared on this connection, once (deadpool's statement cache).
    async fn prepared(&self, sql: &str) -> Result<tokio_postgres::Statement, DbError> {
        self.tx.prepare_cached(sql).await.map_err(|e| self.fail(e))
    }

    /// The one row of `sql`, if any (more than one is an error).
    pub(super) async fn row(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, DbError> {
        let stmt = self.prepared(sql).await?;
        self.tx
            .query_opt(&stmt, params)
            .await
            .map_err(|e| self.fail(e))
    }

    /// Runs `sql`; how many rows it changed.
    pub(super) async fn run(&self, sql: &str, params: &Params<'_>) -> Result<u64, DbError> {
        let stmt = self.prepared(sql).await?;
        self.tx
            .execute(&stmt, params)
            .await
            .map_err(|e| self.fail(e))
    }

    /// A write that met a concurrent one in a way the database reports
    /// without failing the statement (an `ON CONFLICT DO NOTHING` that
    /// found a row this transaction's snapshot does not show): the
    /// transaction is run again, as after a serialization failure.
    pub(super) fn run_again(&self) -> DbError {
        self.conflicted.set(true);
        DbError::Busy
    }
}

/// Column `i` of `row` as `T`; a value that does not convert is a bad
/// row, said as such (never a panic).
pub(super) fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    i: usize,
) -> Result<T, DbError> {
    row.try_get(i)
        .map_err(|e| DbError::Internal(format!("a catalogue row's column {i}: {e}")))
}

/// A statement built from a listing's query: its SQL, with `$n` for each
/// value bound (`$1` is the caller), and the values. Only the values vary
/// with what was asked; the text varies with which filters were, so the
/// statement cache holds one statement per shape.
pub(super) struct Built {
    /// The SQL so far.
    pub(super) sql: String,
    /// The values bound, in order.
    pub(super) args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Built {
    /// A statement beginning with `sql`, the caller bound as `$1`.
    pub(super) fn new(sql: &str, caller: &str) -> Built {
        Built {
            sql: sql.to_string(),
            args: vec![Box::new(caller.to_string())],
        }
    }

    /// Appends `sql` with `value` bound where it says `?`.
    pub(super) fn bind(&mut self, sql: &str, value: impl ToSql + Sync + Send + 'static) {
        self.args.push(Box::new(value));
        let mark = format!("${}", self.args.len());
        self.sql.push_str(&sql.replace('?', &mark));
    }

    /// Appends `sql` with the text `value` bound, or, for text holding a
    /// NUL character (which PostgreSQL's text cannot hold, so no row
    /// does), a condition no row meets: a filter that matches nothing,
    /// as on SQLite, rather than an error.
    pub(super) fn bind_text(&mut self, sql: &str, value: &str) {
        if value.contains('\0') {
            self.sql.push_str(" AND false");
        } else {
            self.bind(sql, value.to_string());
        }
    }

    /// The values, as a statement takes them.
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
