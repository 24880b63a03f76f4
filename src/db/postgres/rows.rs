//! What PostgreSQL's statements read of an image, and the rules of who
//! sees what, in its dialect: the same columns in the same places as
//! SQLite's (`sqlite::catalogue`), so that the two engines read alike.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use tokio_postgres::Row;

use super::tx::get;
use crate::db::error::DbError;
use crate::db::tx::StoredImage;
use crate::domain::ids::ImageId;
use crate::domain::image::{Examined, Image, OsHash, Status};
use crate::domain::listing::ListedImage;
use crate::domain::model::Visibility;

/// The image columns every read of images reads, in this order.
pub(super) const COLUMNS: &str = "i.seq, i.id, i.name, i.location, i.status, i.disk_format, \
    i.container_format, i.size, i.checksum, i.md5, i.created_at, i.updated_at, \
    i.deleted_at, (i.visibility = 'public'), i.owner, i.min_ram, i.min_disk, i.protected";

/// The properties of row `i` as one JSON object (kept beside the property
/// rows by every write).
pub(super) const PROPERTIES: &str = "i.properties_json";

/// An image's tags as one JSON array, sorted by their bytes (the column
/// is `COLLATE "C"`), `[]` for none.
pub(super) const TAGS: &str = "coalesce((SELECT json_agg(t.tag ORDER BY t.tag) \
    FROM image_tags t WHERE t.image_seq = i.seq)::text, '[]')";

/// The columns of v2's fields that `image_from_row` reads after
/// `PROPERTIES` (19 on).
pub(super) const MODEL_COLUMNS: &str = "i.visibility, i.os_hidden, i.os_hash_algo, \
    i.os_hash_value, i.virtual_size, i.uploaded, coalesce((SELECT json_agg(t.tag ORDER BY t.tag) \
    FROM image_tags t WHERE t.image_seq = i.seq)::text, '[]'), i.data_format, i.data_finding";

/// How many columns `image_from_row` reads: what a query adds comes after.
pub(super) const IMAGE_ROW_WIDTH: usize = 28;

/// Whether the caller (`$1`) may read row `i` by id (docs/api.md §17.10):
/// owner; everyone for public and community; members of any status for
/// shared; the owner alone for private.
pub(super) const VISIBLE: &str = "(i.owner = $1 OR i.visibility IN ('public', 'community') \
    OR (i.visibility = 'shared' AND EXISTS \
    (SELECT 1 FROM image_members m WHERE m.image_seq = i.seq AND m.member = $1)))";

/// Whether v1's lists show row `i` to the caller (`$1`, §17.12): own,
/// public, and shared where a pending or accepted member.
pub(super) const LISTED: &str = "(i.owner = $1 OR i.visibility = 'public' \
    OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
    WHERE m.image_seq = i.seq AND m.member = $1 AND m.status <> 'rejected')))";

/// One image by id (`$2`) as a HEAD shows it, if the caller (`$1`) may
/// read it (`VISIBLE`, and not deleted): `COLUMNS`, the visibility's word
/// (18) and the properties (19), without the tags' subquery.
pub(super) static READABLE_IMAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, i.visibility, {PROPERTIES} FROM images i \
         WHERE i.id = $2 AND i.status <> 'deleted' AND {VISIBLE}"
    )
});

/// v1's word for a stored status (docs/api.md §17.12).
fn v1_status(stored: &str) -> &str {
    match stored {
        "active" => "available",
        "killed" => "error",
        other => other,
    }
}

/// A listing's row, borrowed; NULL reads as "" (a queued image's data
/// columns, docs/api.md §17.12).
pub(super) fn listed_row(row: &Row, detail: bool) -> Result<ListedImage<'_>, DbError> {
    let text = |i: usize| -> Result<&str, DbError> {
        Ok(get::<Option<&str>>(row, i)?.unwrap_or_default())
    };
    let size: Option<i64> = get(row, 7)?;
    Ok(ListedImage {
        id: text(1)?,
        name: text(2)?,
        location: text(3)?,
        status: v1_status(text(4)?),
        disk_format: text(5)?,
        container_format: text(6)?,
        size: size.unwrap_or(0),
        checksum: text(8)?,
        md5: get(row, 9)?,
        created_at: get(row, 10)?,
        updated_at: get(row, 11)?,
        deleted_at: get(row, 12)?,
        is_public: get(row, 13)?,
        visibility: text(18)?,
        owner: text(14)?,
        min_ram: get(row, 15)?,
        min_disk: get(row, 16)?,
        protected: get(row, 17)?,
        properties_json: if detail { Some(text(19)?) } else { None },
    })
}

/// A row of `READABLE_IMAGE`, borrowed: a detailed listing's row
/// (`listed_row`, a queued image's NULLs as "" and 0), whose stored
/// status and visibility must also parse and whose counts must not be
/// negative, as `image_from_row` requires (else a bad row, an error), so
/// that a HEAD answers as it did from an `Image`.
pub(super) fn readable_row(row: &Row) -> Result<ListedImage<'_>, DbError> {
    let image = listed_row(row, true)?;
    let stored: &str = get(row, 4)?;
    Status::from_db(stored).ok_or_else(|| corrupt("status", stored))?;
    Visibility::parse(image.visibility).ok_or_else(|| corrupt("visibility", image.visibility))?;
    let counts = [
        (image.size, "size"),
        (image.min_ram, "min_ram"),
        (image.min_disk, "min_disk"),
    ];
    for (n, what) in counts {
        unsigned(n, what)?;
    }
    Ok(image)
}

/// A stored value that does not parse: a bad row, never a guess.
pub(super) fn corrupt(what: &str, value: &str) -> DbError {
    DbError::Internal(format!("stored {what} '{value}' is invalid"))
}

/// A count or size as stored (never negative: the schema checks) as
/// unsigned; a negative one is a bad row.
pub(super) fn unsigned(n: i64, what: &str) -> Result<u64, DbError> {
    u64::try_from(n).map_err(|_| corrupt(what, &n.to_string()))
}

/// Reads the columns of `COLUMNS`, the properties (`PROPERTIES`) and
/// `MODEL_COLUMNS` after them.
pub(super) fn image_from_row(row: &Row) -> Result<StoredImage, DbError> {
    let id: &str = get(row, 1)?;
    let status: &str = get(row, 4)?;
    let json: &str = get(row, 18)?;
    let visibility: &str = get(row, 19)?;
    let tags: &str = get(row, 25)?;
    let opt_text = |i: usize| -> Result<String, DbError> {
        Ok(get::<Option<String>>(row, i)?.unwrap_or_default())
    };
    Ok(StoredImage {
        key: get(row, 0)?,
        image: Image {
            id: ImageId::parse(id).map_err(|_| corrupt("id", id))?,
            name: get(row, 2)?,
            // A queued image has no data: v1 shows its location, checksum
            // and formats as "" and its size as 0 (docs/api.md §17.12).
            location: opt_text(3)?,
            status: Status::from_db(status).ok_or_else(|| corrupt("status", status))?,
            disk_format: opt_text(5)?,
            container_format: opt_text(6)?,
            size: unsigned(get::<Option<i64>>(row, 7)?.unwrap_or(0), "size")?,
            checksum: opt_text(8)?,
            md5: get(row, 9)?,
            created_at: get(row, 10)?,
            updated_at: get(row, 11)?,
            deleted_at: get(row, 12)?,
            visibility: Visibility::parse(visibility)
                .ok_or_else(|| corrupt("visibility", visibility))?,
            owner: get(row, 14)?,
            min_ram: unsigned(get(row, 15)?, "min_ram")?,
            min_disk: unsigned(get(row, 16)?, "min_disk")?,
            protected: get(row, 17)?,
            properties: serde_json::from_str::<BTreeMap<String, String>>(json)
                .map_err(|_| corrupt("properties", json))?,
            os_hidden: get(row, 20)?,
            os_hash: match (get(row, 21)?, get(row, 22)?) {
                (Some(algo), Some(value)) => Some(OsHash { algo, value }),
                _ => None,
            },
            virtual_size: get::<Option<i64>>(row, 23)?
                .map(|v| unsigned(v, "virtual_size"))
                .transpose()?,
            uploaded: get(row, 24)?,
            examined: match get::<Option<String>>(row, 26)? {
                Some(format) => Some(Examined {
                    format,
                    finding: get(row, 27)?,
                }),
                None => None,
            },
            tags: serde_json::from_str::<BTreeSet<String>>(tags)
                .map_err(|_| corrupt("tags", tags))?,
        },
    })
}
