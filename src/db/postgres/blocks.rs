//! The index of known blocks on PostgreSQL (docs/behaviour.md, "Known
//! blocks"), as SQLite's (`sqlite::blocks`): an object's entries written
//! in one statement whatever their number, and looked up for many hashes
//! in one.

use super::images::signed;
use super::rows::unsigned;
use super::tx::{get, PgTx};
use crate::db::error::DbError;
use crate::db::tx::{AwaitBlockIndexTx, BlockSource};

/// The block size the index counts offsets in (§14: 4 MiB).
const BLOCK_SIZE: u64 = crate::domain::objects::hashmap::BLOCK_SIZE;

impl AwaitBlockIndexTx for PgTx<'_> {
    /// An upsert by (path, index) after the delete: two processes recording
    /// one object at once never meet a unique violation; the second waits
    /// for the first's rows and fails to serialize, and is run again.
    async fn index_blocks(
        &self,
        path: &str,
        size: u64,
        mtime_ns: i64,
        hashes: &[String],
    ) -> Result<(), DbError> {
        self.forget_blocks(path).await?;
        if hashes.is_empty() {
            return Ok(());
        }
        self.run(
            "INSERT INTO object_blocks (path, idx, hash, size, mtime_ns) \
             SELECT $1, n - 1, h, $3, $4 FROM unnest($2::text[]) WITH ORDINALITY AS b (h, n) \
             ON CONFLICT (path, idx) DO UPDATE SET hash = excluded.hash, \
             size = excluded.size, mtime_ns = excluded.mtime_ns",
            &[&path, &hashes, &signed(size)?, &mtime_ns],
        )
        .await?;
        Ok(())
    }

    async fn forget_blocks(&self, path: &str) -> Result<(), DbError> {
        self.run("DELETE FROM object_blocks WHERE path = $1", &[&path])
            .await?;
        Ok(())
    }

    async fn block_sources(&self, hashes: &[String]) -> Result<Vec<BlockSource>, DbError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .rows(
                "SELECT hash, path, idx, size, mtime_ns FROM object_blocks \
                 WHERE hash = ANY($1) ORDER BY hash, path, idx",
                &[&hashes],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BlockSource {
                    hash: get(r, 0)?,
                    path: get(r, 1)?,
                    offset: unsigned(get(r, 2)?, "block index")? * BLOCK_SIZE,
                    size: unsigned(get(r, 3)?, "size")?,
                    mtime_ns: get(r, 4)?,
                })
            })
            .collect()
    }
}
