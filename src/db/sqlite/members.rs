//! The SQLite catalogue's v2 members and tags (docs/api.md §17.7, §17.10):
//! memberships with their status and times, an image's tags, and the
//! two single-column writes (time and status) those changes make.

use rusqlite::{params, OptionalExtension, Row};

use super::catalogue::SqliteTx;
use crate::db::error::DbError;
use crate::db::tx::{MembershipTx, StoredImage};
use crate::domain::image::Status;
use crate::domain::model::{Member, MemberStatus};
use crate::domain::time::Micros;

/// The member columns every read of memberships reads, in this order.
const MEMBER_COLUMNS: &str = "member, status, created_at, updated_at";

/// A membership of `image` from a row of `MEMBER_COLUMNS`.
fn member_from_row(image: &StoredImage, row: &Row<'_>) -> rusqlite::Result<Member> {
    let word: String = row.get(1)?;
    // The table's CHECK admits only the three words; anything else is a
    // corrupt file, reported as such rather than guessed at.
    let status = MemberStatus::parse(&word).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("corrupt member status {word:?}").into(),
        )
    })?;
    Ok(Member {
        member_id: row.get(0)?,
        image_id: image.image.id,
        status,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
    })
}

impl SqliteTx<'_> {
    /// Runs a write of at most one row; whether it changed one (the caller
    /// answers 404 or 409 from that, without a second query).
    fn changed_one(&self, sql: &str, values: impl rusqlite::Params) -> Result<bool, DbError> {
        Ok(self.conn.prepare_cached(sql)?.execute(values)? == 1)
    }
}

impl MembershipTx for SqliteTx<'_> {
    /// An image's tags, sorted by their bytes.
    fn tags(&self, image: &StoredImage) -> Result<Vec<String>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tag FROM image_tags WHERE image_seq = ?1 ORDER BY tag")?;
        let rows = stmt.query_map(params![image.key], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a tag; whether it was not there before.
    fn add_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError> {
        self.changed_one(
            "INSERT OR IGNORE INTO image_tags (image_seq, tag) VALUES (?1, ?2)",
            params![image.key, tag],
        )
    }

    /// Removes a tag; whether it was there.
    fn remove_tag(&self, image: &StoredImage, tag: &str) -> Result<bool, DbError> {
        self.changed_one(
            "DELETE FROM image_tags WHERE image_seq = ?1 AND tag = ?2",
            params![image.key, tag],
        )
    }

    /// Adds a membership with `status`, created and updated `at`; whether
    /// it was not there before (an existing one is left as it is).
    fn insert_member(
        &self,
        image: &StoredImage,
        member: &str,
        status: MemberStatus,
        at: Micros,
    ) -> Result<bool, DbError> {
        self.changed_one(
                "INSERT OR IGNORE INTO image_members (image_seq, member, status, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            params![image.key, member, status.as_str(), at],
        )
    }

    /// One membership of an image, if there is one.
    fn member(&self, image: &StoredImage, member: &str) -> Result<Option<Member>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM image_members WHERE image_seq = ?1 AND member = ?2"
        );
        let found = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![image.key, member], |r| member_from_row(image, r))
            .optional()?;
        Ok(found)
    }

    /// Every membership of an image, by member id.
    fn member_list(&self, image: &StoredImage) -> Result<Vec<Member>, DbError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM image_members WHERE image_seq = ?1 ORDER BY member"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![image.key], |r| member_from_row(image, r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a membership's status, updated `at`; whether there was one.
    fn set_member_status(
        &self,
        image: &StoredImage,
        member: &str,
        status: MemberStatus,
        at: Micros,
    ) -> Result<bool, DbError> {
        self.changed_one(
            "UPDATE image_members SET status = ?3, updated_at = ?4 \
                 WHERE image_seq = ?1 AND member = ?2",
            params![image.key, member, status.as_str(), at],
        )
    }

    /// Removes a membership; whether there was one.
    fn delete_member(&self, image: &StoredImage, member: &str) -> Result<bool, DbError> {
        self.changed_one(
            "DELETE FROM image_members WHERE image_seq = ?1 AND member = ?2",
            params![image.key, member],
        )
    }

    /// Sets an image's `updated_at`, and its status if one is given.
    fn touch(
        &self,
        image: &StoredImage,
        status: Option<Status>,
        at: Micros,
    ) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "UPDATE images SET updated_at = ?2, status = coalesce(?3, status) WHERE seq = ?1",
            )?
            .execute(params![image.key, at, status.map(Status::as_db)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::{configure, SqliteCatalogue};
    use super::*;
    use crate::db::tx::ImagesTx;
    use crate::domain::ids::ImageId;

    const ID: &str = "5583ffe1-5273-4c84-9e32-2fbe476bd7b7";

    /// A fresh catalogue holding one shared image of alice's.
    fn catalogue(dir: &std::path::Path) -> Connection {
        let path = dir.join("c.db");
        drop(SqliteCatalogue::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        conn.execute(
            "INSERT INTO images (id, name, location, status, disk_format, container_format, \
             size, checksum, created_at, updated_at, visibility, owner, min_ram, min_disk) \
             VALUES (?1, 'n', 'pithos://alice/c/o', 'active', 'raw', 'bare', 1, 'c', 5, 5, \
             'shared', 'alice', 0, 0)",
            [ID],
        )
        .unwrap();
        conn
    }

    #[test]
    fn memberships_keep_their_status_and_times_and_tags_are_a_set() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalogue(dir.path());
        let tx = SqliteTx::new(&conn);
        let id = ImageId::parse(ID).unwrap();
        let (image, _) = tx.image_for_caller(&id, "alice").unwrap().unwrap();
        assert!(tx
            .insert_member(&image, "bob", MemberStatus::Pending, 10)
            .unwrap());
        assert!(!tx
            .insert_member(&image, "bob", MemberStatus::Accepted, 11)
            .unwrap());
        assert!(tx
            .insert_member(&image, "al", MemberStatus::Accepted, 12)
            .unwrap());
        assert!(tx
            .set_member_status(&image, "bob", MemberStatus::Rejected, 20)
            .unwrap());
        assert!(!tx
            .set_member_status(&image, "carol", MemberStatus::Rejected, 20)
            .unwrap());
        let bob = tx.member(&image, "bob").unwrap().unwrap();
        assert_eq!(
            (bob.status, bob.created_at, bob.updated_at, bob.image_id),
            (MemberStatus::Rejected, 10, 20, id)
        );
        let ids: Vec<String> = tx
            .member_list(&image)
            .unwrap()
            .into_iter()
            .map(|m| m.member_id)
            .collect();
        assert_eq!(ids, ["al", "bob"]);
        assert!(tx.delete_member(&image, "al").unwrap());
        assert!(!tx.delete_member(&image, "al").unwrap());
        assert_eq!(tx.member(&image, "al").unwrap(), None);
        assert!(tx.add_tag(&image, "b").unwrap());
        assert!(!tx.add_tag(&image, "b").unwrap());
        assert!(tx.add_tag(&image, "B").unwrap());
        assert_eq!(tx.tags(&image).unwrap(), ["B", "b"]);
        assert!(tx.remove_tag(&image, "b").unwrap());
        assert!(!tx.remove_tag(&image, "b").unwrap());
        tx.touch(&image, Some(Status::Deactivated), 30).unwrap();
        let (after, _) = tx.image_for_caller(&id, "alice").unwrap().unwrap();
        assert_eq!(
            (after.image.status, after.image.updated_at),
            (Status::Deactivated, 30)
        );
        tx.touch(&image, None, 31).unwrap();
        let (after, _) = tx.image_for_caller(&id, "alice").unwrap().unwrap();
        assert_eq!(
            (after.image.status, after.image.updated_at),
            (Status::Deactivated, 31)
        );
    }
}
