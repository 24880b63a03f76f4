//! PostgreSQL's v2 members and tags (docs/api.md §17.7, §17.10), as
//! SQLite's (`sqlite::members`). An insert of a row another process may
//! insert at once (a tag, a membership) is `ON CONFLICT DO NOTHING`: it
//! never fails with a unique violation, and one whose conflicting row this
//! transaction cannot see fails to serialize and is run again.

use tokio_postgres::Row;

use super::rows::corrupt;
use super::tx::{get, PgTx};
use crate::db::error::DbError;
use crate::db::tx::{AwaitMembershipTx, StoredImage};
use crate::domain::image::Status;
use crate::domain::model::{Member, MemberStatus};
use crate::domain::time::Micros;

/// A membership of `image` from a row of `member, status, created_at,
/// updated_at`.
fn member_from_row(image: &StoredImage, row: &Row) -> Result<Member, DbError> {
    let word: &str = get(row, 1)?;
    Ok(Member {
        member_id: get(row, 0)?,
        image_id: image.image.id,
        status: MemberStatus::parse(word).ok_or_else(|| corrupt("member status", word))?,
        created_at: get(row, 2)?,
        updated_at: get(row, 3)?,
    })
}

impl AwaitMembershipTx for PgTx<'_> {
    async fn tags(&self, image: &StoredImage) -> Result<Vec<String>, DbError> {
        let rows = self
            .rows(
                "SELECT tag FROM image_tags WHERE image_seq = $1 ORDER BY tag",
                &[&image.key],
            )
            .await?;
        rows.iter().map(|r| get(r, 0)).collect()
    }

    async fn add_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError> {
        let n = self
            .run(
                "INSERT INTO image_tags (image_seq, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&image.key, &tag],
            )
            .await?;
        Ok(n == 1)
    }

    async fn remove_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError> {
        let n = self
            .run(
                "DELETE FROM image_tags WHERE image_seq = $1 AND tag = $2",
                &[&image.key, &tag],
            )
            .await?;
        Ok(n == 1)
    }

    async fn insert_member(
        &self,
        image: &StoredImage,
        member: &str,
        status: MemberStatus,
        at: Micros,
    ) -> Result<bool, DbError> {
        let n = self
            .run(
                "INSERT INTO image_members (image_seq, member, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
                &[&image.key, &member, &status.as_str(), &at],
            )
            .await?;
        Ok(n == 1)
    }

    async fn member(&self, image: &StoredImage, member: &str) -> Result<Option<Member>, DbError> {
        let row = self
            .row(
                "SELECT member, status, created_at, updated_at FROM image_members \
                 WHERE image_seq = $1 AND member = $2",
                &[&image.key, &member],
            )
            .await?;
        row.map(|r| member_from_row(image, &r)).transpose()
    }

    async fn member_list(&self, image: &StoredImage) -> Result<Vec<Member>, DbError> {
        let rows = self
            .rows(
                "SELECT member, status, created_at, updated_at FROM image_members \
                 WHERE image_seq = $1 ORDER BY member",
                &[&image.key],
            )
            .await?;
        rows.iter().map(|r| member_from_row(image, r)).collect()
    }

    async fn set_member_status(
        &self,
        image: &StoredImage,
        member: &str,
        status: MemberStatus,
        at: Micros,
    ) -> Result<bool, DbError> {
        let n = self
            .run(
                "UPDATE image_members SET status = $3, updated_at = $4 \
                 WHERE image_seq = $1 AND member = $2",
                &[&image.key, &member, &status.as_str(), &at],
            )
            .await?;
        Ok(n == 1)
    }

    async fn delete_member(&self, image: &StoredImage, member: &str) -> Result<bool, DbError> {
        let n = self
            .run(
                "DELETE FROM image_members WHERE image_seq = $1 AND member = $2",
                &[&image.key, &member],
            )
            .await?;
        Ok(n == 1)
    }

    async fn touch(
        &self,
        image: &StoredImage,
        status: Option<Status>,
        at: Micros,
    ) -> Result<(), DbError> {
        self.run(
            "UPDATE images SET updated_at = $2, status = coalesce($3, status) WHERE seq = $1",
            &[&image.key, &at, &status.map(Status::as_db)],
        )
        .await?;
        Ok(())
    }
}
