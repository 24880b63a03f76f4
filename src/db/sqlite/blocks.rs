//! The index of known blocks (docs/behaviour.md, "Known blocks"): by
//! hash, where in which recorded object file each block is.

use rusqlite::params;

use super::SqliteTx;
use crate::db::error::DbError;
use crate::db::tx::{BlockIndexTx, BlockSource};

/// The block size the index counts offsets in (§14: 4 MiB).
const BLOCK_SIZE: u64 = crate::domain::objects::hashmap::BLOCK_SIZE;

impl BlockIndexTx for SqliteTx<'_> {
    fn index_blocks(
        &self,
        path: &str,
        size: u64,
        mtime_ns: i64,
        hashes: &[String],
    ) -> Result<(), DbError> {
        self.forget_blocks(path)?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO object_blocks (path, idx, hash, size, mtime_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, hash) in hashes.iter().enumerate() {
            insert.execute(params![path, i as i64, hash, size as i64, mtime_ns])?;
        }
        Ok(())
    }

    fn forget_blocks(&self, path: &str) -> Result<(), DbError> {
        self.conn
            .prepare_cached("DELETE FROM object_blocks WHERE path = ?1")?
            .execute(params![path])?;
        Ok(())
    }

    fn block_sources(&self, hashes: &[String]) -> Result<Vec<BlockSource>, DbError> {
        let mut unique: Vec<&String> = hashes.iter().collect();
        unique.sort();
        unique.dedup();
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, idx, size, mtime_ns FROM object_blocks WHERE hash = ?1 \
             ORDER BY path, idx",
        )?;
        let mut out = Vec::new();
        for hash in unique {
            let rows = stmt.query_map(params![hash], |r| {
                Ok(BlockSource {
                    hash: hash.clone(),
                    path: r.get(0)?,
                    offset: r.get::<_, i64>(1)? as u64 * BLOCK_SIZE,
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::domain::objects::ObjectMeta;

    #[test]
    fn entries_are_replaced_by_a_write_and_go_with_their_object() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations().to_latest(&mut conn).unwrap();
        let tx = SqliteTx { conn: &conn };
        let h = |c: char| c.to_string().repeat(64);
        tx.put_object("a/c/x", &ObjectMeta::unrecorded("a", 1))
            .unwrap();
        tx.index_blocks("a/c/x", 9 << 20, 7, &[h('1'), h('2'), h('1')])
            .unwrap();
        let found = tx.block_sources(&[h('1'), h('3')]).unwrap();
        let offsets: Vec<u64> = found.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [0, 8 << 20], "each place of the hash");
        assert!(found.iter().all(|s| s.size == 9 << 20 && s.mtime_ns == 7));
        tx.index_blocks("a/c/x", 1, 8, &[h('3')]).unwrap();
        assert!(tx.block_sources(&[h('1')]).unwrap().is_empty(), "replaced");
        assert_eq!(tx.block_sources(&[h('3')]).unwrap().len(), 1);
        conn.execute("DELETE FROM objects WHERE path = 'a/c/x'", [])
            .unwrap();
        assert!(
            tx.block_sources(&[h('3')]).unwrap().is_empty(),
            "gone with the row"
        );
    }
}
