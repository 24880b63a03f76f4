//! The crash test on several processes (`CRASH_ENGINE=postgres`, issue 26):
//! three plankton processes on one throwaway PostgreSQL database (the test
//! binary's own server, `support::postgres`) and one store root; the
//! writers spread over the three; each cycle SIGKILLs one of them at a
//! random moment while the other two go on serving, then starts it again.
//! The same checks as on SQLite, the rows counted through psql, the
//! writers' images read back through another process than the one that
//! wrote them.

use std::path::Path;

use super::support::postgres::{available, server, sql_rows};

/// How many processes serve the database in this mode.
pub const PROCESSES: usize = 3;

/// The engine `CRASH_ENGINE` asks for: `None` for SQLite (the default),
/// else a fresh migrated database's URL on the test binary's PostgreSQL.
pub fn engine() -> Option<String> {
    match std::env::var("CRASH_ENGINE").as_deref() {
        Err(_) | Ok("" | "sqlite") => None,
        Ok("postgres" | "postgresql") => {
            assert!(available(), "CRASH_ENGINE=postgres needs PostgreSQL");
            Some(server().migrated_database())
        }
        Ok(other) => panic!("CRASH_ENGINE={other}: sqlite or postgres"),
    }
}

/// Which of the `n` processes this cycle kills: any of them, the object
/// writer's too. An object write in flight in the killed process can
/// leave its new file placed (crash protocol step 3) without its row
/// (step 4); the killed process's restart, or any other process within
/// 30 s, settles what it left (its mark under `+owners` is no longer
/// locked), before the checks read it back (before that was done, 2
/// cycles in 20 failed: `CRASH_SEED=7`, cycles 4 and 10).
pub fn victim(rng: &mut super::Rng, n: usize) -> usize {
    rng.below(n)
}

/// One number out of psql.
fn count(url: &str, sql: &str) -> Result<i64, String> {
    let rows = sql_rows(url, sql, &[]);
    rows.first()
        .and_then(|r| r.trim().parse().ok())
        .ok_or_else(|| format!("{sql}: {rows:?}"))
}

/// The rows of images, properties and members, and what PostgreSQL can
/// say of the catalogue's integrity: no property, member or tag row
/// without its image (the foreign keys hold them, this says so).
pub fn sql_check(url: &str) -> Result<(i64, i64, i64), String> {
    for (table, key) in [
        ("image_properties", "image_seq"),
        ("image_members", "image_seq"),
    ] {
        let orphans = count(
            url,
            &format!(
                "SELECT count(*) FROM {table} t \
                 WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.seq = t.{key})"
            ),
        )?;
        if orphans != 0 {
            return Err(format!("{table}: {orphans} rows without their image"));
        }
    }
    Ok((
        count(url, "SELECT count(*) FROM images")?,
        count(url, "SELECT count(*) FROM image_properties")?,
        count(url, "SELECT count(*) FROM image_members")?,
    ))
}

/// Deletes one property row behind the servers' backs (`CRASH_SABOTAGE`).
pub fn sabotage_one_property(url: &str) {
    let out = sql_rows(
        url,
        "WITH one AS (SELECT image_seq, key FROM image_properties \
         ORDER BY image_seq DESC LIMIT 1) \
         DELETE FROM image_properties p USING one \
         WHERE p.image_seq = one.image_seq AND p.key = one.key RETURNING 1",
        &[],
    );
    println!("sabotage: deleted {} property row", out.len());
}

/// Whether `dir`'s catalogue is on PostgreSQL (for messages).
pub fn describe(url: Option<&str>, dir: &Path) -> String {
    match url {
        Some(url) => format!("{PROCESSES} processes on PostgreSQL {url}"),
        None => format!(
            "one process on SQLite {}",
            dir.join("plankton.db").display()
        ),
    }
}
