//! What both engines' SQL shares: the column lists and expressions of the
//! one logical schema, written once (each engine adds its own placeholders
//! and dialect around them).

use crate::domain::listing::SortKey;
use crate::domain::model::V2SortKey;

/// The columns every write sets, in the order `Written::values` binds them:
/// an insert binds the id and creation time before them, an update the row.
pub(crate) const WRITTEN: [&str; 22] = [
    "name",
    "location",
    "status",
    "disk_format",
    "container_format",
    "size",
    "checksum",
    "md5",
    "updated_at",
    "deleted_at",
    "visibility",
    "owner",
    "min_ram",
    "min_disk",
    "protected",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "virtual_size",
    "uploaded",
    "data_format",
    "data_finding",
];

/// The sort expression of a key: NULL (no data, no format yet) as a value
/// below every other, so that it sorts first ascending and comparisons
/// with the marker's row hold.
pub(crate) fn sort_expr(key: V2SortKey, t: &str) -> String {
    match key {
        V2SortKey::Name => format!("{t}.name"),
        V2SortKey::Status => format!("{t}.status"),
        V2SortKey::ContainerFormat => format!("coalesce({t}.container_format, '')"),
        V2SortKey::DiskFormat => format!("coalesce({t}.disk_format, '')"),
        V2SortKey::Size => format!("coalesce({t}.size, -1)"),
        V2SortKey::Id => format!("{t}.id"),
        V2SortKey::CreatedAt => format!("{t}.created_at"),
        V2SortKey::UpdatedAt => format!("{t}.updated_at"),
    }
}

/// Where in `COLUMNS` the column `key` sorts by is.
pub(crate) fn sort_column_index(key: SortKey) -> usize {
    match key {
        SortKey::Id => 1,
        SortKey::Name => 2,
        SortKey::Status => 4,
        SortKey::DiskFormat => 5,
        SortKey::ContainerFormat => 6,
        SortKey::Size => 7,
        SortKey::CreatedAt => 10,
        SortKey::UpdatedAt => 11,
    }
}
