//! Reader connections owned by the threads that read through them: each
//! async worker opens one on its first read and keeps it, with its
//! statement cache, for as long as it lives. A query then runs where its
//! request is, instead of being handed to a blocking thread and back (two
//! thread wake-ups, which profiles of small reads showed costing more than
//! the query itself).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use rusqlite::{Connection, OpenFlags};

/// Statements each owned connection keeps prepared: every shape of query a
/// request makes, listings with their filters included.
const STATEMENTS: usize = 96;

/// One database's owned connections, one per thread that has read from it.
pub(super) struct Owners {
    path: PathBuf,
    /// What the threads' entries point to: which database a connection is
    /// for, and whether it is still open.
    alive: Arc<()>,
}

/// The connection one thread owns for one database.
struct Owned {
    /// Its database's `Owners::alive`.
    db: Weak<()>,
    conn: Connection,
}

impl Owned {
    fn is_for(&self, owners: &Owners) -> bool {
        std::ptr::eq(self.db.as_ptr(), Arc::as_ptr(&owners.alive))
    }
}

thread_local! {
    static OWNED: RefCell<Vec<Owned>> = const { RefCell::new(Vec::new()) };
}

/// What became of a read asked of the thread's own connection.
pub(super) enum Outcome<R, F> {
    /// It ran.
    Done(R),
    /// The thread's connection is in use (a read inside a read) or the
    /// thread is ending: the read, not run, for another connection.
    Busy(F),
    /// The connection could not be opened.
    Failed(rusqlite::Error),
}

impl Owners {
    pub(super) fn new(path: &Path) -> Owners {
        Owners {
            path: path.to_path_buf(),
            alive: Arc::new(()),
        }
    }

    /// Runs `f` on this thread's connection to the database, opening it first
    /// if this thread has none.
    pub(super) fn with<R, F: FnOnce(&Connection) -> R>(&self, f: F) -> Outcome<R, F> {
        let mut f = Some(f);
        let ran = OWNED.try_with(|cell| {
            let Ok(mut owned) = cell.try_borrow_mut() else {
                return None;
            };
            let at = match owned.iter().position(|o| o.is_for(self)) {
                Some(at) => at,
                None => {
                    // Connections of databases closed since are let go here.
                    owned.retain(|o| o.db.strong_count() > 0);
                    match self.open() {
                        Ok(conn) => owned.push(Owned {
                            db: Arc::downgrade(&self.alive),
                            conn,
                        }),
                        Err(e) => return Some(Err(e)),
                    }
                    owned.len() - 1
                }
            };
            let f = f.take()?;
            Some(Ok(f(&owned[at].conn)))
        });
        match ran {
            Ok(Some(Ok(out))) => Outcome::Done(out),
            Ok(Some(Err(e))) => Outcome::Failed(e),
            // `f` is still there whenever it did not run.
            _ => Outcome::Busy(f.take().expect("a read that did not run")),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        super::configure(&conn)?;
        // A reader: nothing written through it by mistake.
        conn.execute_batch("PRAGMA query_only = ON;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS);
        Ok(conn)
    }
}

impl Drop for Owners {
    fn drop(&mut self) {
        // This thread's connection goes now; other threads' at their next
        // opening of a connection, or when they end.
        let _ = OWNED.try_with(|cell| {
            if let Ok(mut owned) = cell.try_borrow_mut() {
                owned.retain(|o| !o.is_for(self));
            }
        });
    }
}
