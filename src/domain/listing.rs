//! A listing request (docs/api.md §6): filters, sort, paging, parsed once from the query string.

use super::ids::{truncate, ImageId};
use super::image::{normalise_property_key, parse_bool, parse_count};
use super::model::Visibility;
use super::percent::decode_query;
use super::time::{parse_since, Micros};
use crate::error::AppError;

/// The keys a listing may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// The image id.
    Id,
    /// The name.
    Name,
    /// The status.
    Status,
    /// The size.
    Size,
    /// The disk format.
    DiskFormat,
    /// The container format.
    ContainerFormat,
    /// The first registration time (the default).
    CreatedAt,
    /// The last change time.
    UpdatedAt,
}

impl SortKey {
    fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "id" => SortKey::Id,
            "name" => SortKey::Name,
            "status" => SortKey::Status,
            "size" => SortKey::Size,
            "disk_format" => SortKey::DiskFormat,
            "container_format" => SortKey::ContainerFormat,
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            _ => return None,
        })
    }

    /// Whether this key's column may hold no value: a queued image's size
    /// and formats (docs/api.md §6: such images sort before every value).
    pub(crate) fn nullable(self) -> bool {
        matches!(
            self,
            SortKey::Size | SortKey::DiskFormat | SortKey::ContainerFormat
        )
    }

    /// The column this key sorts by.
    pub(crate) fn column(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::Size => "size",
            SortKey::DiskFormat => "disk_format",
            SortKey::ContainerFormat => "container_format",
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
        }
    }
}

/// Filters, sort and paging of one listing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    /// Exact name.
    pub(crate) name: Option<String>,
    /// Exact status.
    pub(crate) status: Option<String>,
    /// Exact disk format.
    pub(crate) disk_format: Option<String>,
    /// Exact container format.
    pub(crate) container_format: Option<String>,
    /// size >= this.
    pub(crate) size_min: Option<u64>,
    /// size <= this.
    pub(crate) size_max: Option<u64>,
    /// Publicity.
    pub(crate) is_public: Option<bool>,
    /// Only images of this visibility (docs/api.md §17.2): the web view's
    /// filter in the v2 API's words (§15); v1's query has no parameter for it.
    pub(crate) visibility: Option<Visibility>,
    /// Exact owner.
    pub(crate) owner: Option<String>,
    /// `property-<key>=<value>`, keys normalised.
    pub(crate) properties: Vec<(String, String)>,
    /// Images updated strictly after this, deleted ones included.
    pub(crate) changes_since: Option<Micros>,
    /// The sort key.
    pub(crate) sort_key: SortKey,
    /// Descending order.
    pub(crate) descending: bool,
    /// Page size.
    pub(crate) limit: Option<u32>,
    /// The last image of the previous page.
    pub(crate) marker: Option<ImageId>,
    /// Only images shared with the caller (they are a member, not the
    /// owner): the web view's "shared with me" (docs/api.md §15); the API
    /// has no parameter for it.
    pub(crate) shared_with_caller: bool,
}

/// The largest page.
pub(crate) const MAX_LIMIT: u32 = 10_000;

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            name: None,
            status: None,
            disk_format: None,
            container_format: None,
            size_min: None,
            size_max: None,
            is_public: None,
            visibility: None,
            owner: None,
            properties: Vec::new(),
            changes_since: None,
            sort_key: SortKey::CreatedAt,
            descending: false,
            limit: None,
            marker: None,
            shared_with_caller: false,
        }
    }
}

impl ListQuery {
    /// Parses a raw query string. Unknown parameters are ignored; a repeated
    /// parameter takes its last value.
    pub(crate) fn parse(query: &str) -> Result<ListQuery, AppError> {
        let mut q = ListQuery::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (rk, rv) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_query(rk).map_err(|e| {
                AppError::invalid(format!(
                    "Invalid query parameter name '{}': {e}",
                    truncate(rk, 80)
                ))
            })?;
            let value = decode_query(rv).map_err(|e| {
                AppError::invalid(format!(
                    "Invalid value of query parameter '{}': {e}",
                    truncate(&key, 80)
                ))
            })?;
            q.set(&key, value)?;
        }
        Ok(q)
    }

    /// Takes one parameter: a filter, or else one of sort and paging.
    fn set(&mut self, key: &str, value: String) -> Result<(), AppError> {
        match key {
            "name" => self.name = Some(value),
            "status" => self.status = Some(value),
            "disk_format" => self.disk_format = Some(value),
            "container_format" => self.container_format = Some(value),
            "owner" => self.owner = Some(value),
            "size_min" => self.size_min = Some(parse_count("size_min", &value)?),
            "size_max" => self.size_max = Some(parse_count("size_max", &value)?),
            // glanceclient sends `is_public=None` for "any"; Glance agreed.
            "is_public" if value.eq_ignore_ascii_case("none") => self.is_public = None,
            "is_public" => self.is_public = Some(parse_bool("is_public", &value)?),
            "changes-since" => {
                self.changes_since = Some(parse_since(&value).ok_or_else(|| {
                    AppError::invalid(format!(
                        "Invalid changes-since '{}': expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or ISO 8601",
                        truncate(&value, 80)
                    ))
                })?);
            }
            other => match other.strip_prefix("property-") {
                Some(raw_key) => {
                    let key = normalise_property_key(raw_key);
                    self.properties.retain(|(k, _)| *k != key);
                    self.properties.push((key, value));
                }
                None => self.set_order(other, &value)?,
            },
        }
        Ok(())
    }

    /// Takes one parameter of sort and paging; ignores any other.
    fn set_order(&mut self, key: &str, value: &str) -> Result<(), AppError> {
        match key {
            "sort_key" => {
                self.sort_key = SortKey::parse(value).ok_or_else(|| {
                    AppError::invalid(format!("Invalid sort_key '{}'", truncate(value, 80)))
                })?;
            }
            "sort_dir" => {
                self.descending = match value {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(AppError::invalid(format!(
                            "Invalid sort_dir '{}': expected asc or desc",
                            truncate(value, 80)
                        )))
                    }
                }
            }
            "limit" => {
                let n = parse_count("limit", value)?;
                if n == 0 || n > u64::from(MAX_LIMIT) {
                    return Err(AppError::invalid(format!(
                        "Invalid limit '{value}': expected 1-{MAX_LIMIT}"
                    )));
                }
                self.limit = Some(n as u32);
            }
            "marker" => {
                self.marker = Some(ImageId::parse(value).map_err(|_| {
                    AppError::invalid(format!(
                        "Invalid marker '{}': not an image id",
                        truncate(value, 80)
                    ))
                })?);
            }
            _ => {}
        }
        Ok(())
    }
}

/// One image of a listing, borrowed from where the catalogue keeps it (a
/// database row): rendering it costs no copies and no parsing (its
/// properties come as one JSON object).
pub(crate) struct ListedImage<'a> {
    /// The image id.
    pub(crate) id: &'a str,
    /// The name.
    pub(crate) name: &'a str,
    /// The canonical location.
    pub(crate) location: &'a str,
    /// The status.
    pub(crate) status: &'a str,
    /// Whether unregistering is refused.
    pub(crate) protected: bool,
    /// The disk format.
    pub(crate) disk_format: &'a str,
    /// The container format.
    pub(crate) container_format: &'a str,
    /// Bytes.
    pub(crate) size: i64,
    /// The Pithos hash.
    pub(crate) checksum: &'a str,
    /// The MD5, where known.
    pub(crate) md5: Option<&'a str>,
    /// Microseconds.
    pub(crate) created_at: i64,
    /// Microseconds.
    pub(crate) updated_at: i64,
    /// Microseconds, if deleted.
    pub(crate) deleted_at: Option<i64>,
    /// Publicity.
    pub(crate) is_public: bool,
    /// The visibility's word (docs/api.md §17.2).
    pub(crate) visibility: &'a str,
    /// The owner.
    pub(crate) owner: &'a str,
    /// MB.
    pub(crate) min_ram: i64,
    /// MB.
    pub(crate) min_disk: i64,
    /// The properties as a JSON object (only when asked for).
    pub(crate) properties_json: Option<&'a str>,
}

/// Where a listing goes, image by image, as the catalogue reads them.
pub(crate) trait ListSink: Send + 'static {
    /// What the listing comes to.
    type Output: Send + 'static;
    /// Takes the next image.
    fn push(&mut self, image: &ListedImage<'_>);
    /// Ends the listing.
    fn finish(self) -> Self::Output;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let q = ListQuery::parse(
            "name=Debian+12&status=available&size_min=1&size_max=10&is_public=TRUE&owner=alice\
             &property-OS=debian%20linux&changes-since=2013-03-29&sort_key=name&sort_dir=desc\
             &limit=25&marker=5583FFE1-5273-4C84-9E32-2FBE476BD7B7&unknown=x",
        )
        .unwrap();
        assert_eq!(q.name.as_deref(), Some("Debian 12"));
        assert_eq!(q.size_min, Some(1));
        assert_eq!(q.is_public, Some(true));
        assert_eq!(
            q.properties,
            vec![("os".to_string(), "debian linux".to_string())]
        );
        assert_eq!(q.sort_key, SortKey::Name);
        assert!(q.descending);
        assert_eq!(q.limit, Some(25));
        assert!(q.changes_since.is_some());
        assert!(q.marker.is_some());
    }

    #[test]
    fn rejects_bad_values_naming_them() {
        for (query, needle) in [
            ("sort_key=foo", "sort_key 'foo'"),
            ("sort_dir=up", "sort_dir 'up'"),
            ("size_min=-1", "size_min '-1'"),
            ("size_max=x", "size_max 'x'"),
            ("is_public=yes", "is_public 'yes'"),
            ("changes-since=never", "changes-since 'never'"),
            ("limit=0", "limit '0'"),
            ("limit=10001", "limit '10001'"),
            ("marker=abc", "marker 'abc'"),
            ("name=%zz", "query parameter 'name'"),
        ] {
            match ListQuery::parse(query) {
                Err(AppError::Invalid(m)) => assert!(m.contains(needle), "{query}: {m}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }
}
