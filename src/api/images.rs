//! `/images`, `/images/detail` and `/images/{id}`: list, register, HEAD, data,
//! update and unregister (§6, §7).

use std::collections::BTreeMap;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;

use super::headers::{parse_meta, put_image_headers, Field, MetaHeaders};
use super::sharing::{change_readers, sync_readers};
use super::{Call, Dialect};
use crate::backends::store::Readers;
use crate::db::queries::{self, StoredImage};
use crate::domain::access::{authorize, not_found, Intent, Viewed};
use crate::domain::ids::{truncate, ImageId};
use crate::domain::image::{check_name, parse_bool, parse_count, Image, Status};
use crate::domain::listing::ListQuery;
use crate::domain::location::Location;
use crate::domain::range::ByteRange;
use crate::domain::time::{format_micros, now_micros};
use crate::error::AppError;
use rusqlite::Connection;

/// The body of register and update (`{"image": ...}`); `write_listed` renders
/// the same shape for listings.
#[derive(Serialize)]
struct Detail<'a> {
    id: String,
    name: &'a str,
    location: &'a str,
    status: &'static str,
    disk_format: &'a str,
    container_format: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<&'a str>,
    created_at: String,
    updated_at: String,
    deleted_at: String,
    is_public: bool,
    owner: &'a str,
    min_ram: u64,
    min_disk: u64,
    properties: &'a BTreeMap<String, String>,
}

fn detail(image: &Image, dialect: Dialect) -> Detail<'_> {
    Detail {
        id: image.id.to_string(),
        name: &image.name,
        location: &image.location,
        status: image.status.as_str(),
        disk_format: &image.disk_format,
        container_format: &image.container_format,
        size: image.size,
        checksum: dialect.checksum(image),
        created_at: format_micros(image.created_at),
        updated_at: format_micros(image.updated_at),
        deleted_at: image.deleted_at.map(format_micros).unwrap_or_default(),
        is_public: image.is_public,
        owner: &image.owner,
        min_ram: image.min_ram,
        min_disk: image.min_disk,
        properties: &image.properties,
    }
}

fn json_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(body)
}

/// `GET /images` and `GET /images/detail`: rendered row by row as the rows
/// come, in the read's own blocking call (one hop off the async workers).
pub async fn list(
    call: &Call<'_>,
    query: &str,
    with_detail: bool,
) -> Result<HttpResponse, AppError> {
    let q = ListQuery::parse(query)?;
    let caller = call.user.id.clone();
    let dialect = call.dialect;
    let body = call
        .state
        .db
        .read(move |conn| {
            let mut out = Vec::with_capacity(if with_detail { 64 * 1024 } else { 8 * 1024 });
            out.extend_from_slice(match dialect {
                Dialect::Cyclades => b"[",
                Dialect::Glance => b"{\"images\":[",
            });
            let mut first = true;
            queries::list_images(conn, &caller, &q, with_detail, |row| {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_listed(&mut out, &row, with_detail, dialect);
            })?;
            out.extend_from_slice(match dialect {
                Dialect::Cyclades => b"]",
                Dialect::Glance => b"]}",
            });
            Ok(out)
        })
        .await?;
    Ok(json_response(body))
}

/// Appends a JSON string (quoted and escaped).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends one listed image: the fields of `/images` or of `/images/detail`,
/// in the same order and shape as `Summary` and `Detail`.
fn write_listed(out: &mut Vec<u8>, r: &queries::ListedRow<'_>, detail: bool, dialect: Dialect) {
    let field = |out: &mut Vec<u8>, key: &str, first: bool| {
        if !first {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    };
    let time = |out: &mut Vec<u8>, t: i64| {
        out.push(b'"');
        crate::domain::time::write_micros(out, t);
        out.push(b'"');
    };
    out.push(b'{');
    field(out, "id", true);
    write_json_str(out, r.id);
    field(out, "name", false);
    write_json_str(out, r.name);
    if detail {
        field(out, "location", false);
        write_json_str(out, r.location);
    }
    field(out, "status", false);
    write_json_str(out, r.status);
    field(out, "disk_format", false);
    write_json_str(out, r.disk_format);
    field(out, "container_format", false);
    write_json_str(out, r.container_format);
    field(out, "size", false);
    out.extend_from_slice(r.size.to_string().as_bytes());
    if detail {
        let checksum = match dialect {
            Dialect::Cyclades => Some(r.checksum),
            Dialect::Glance => r.md5,
        };
        if let Some(sum) = checksum {
            field(out, "checksum", false);
            write_json_str(out, sum);
        }
        field(out, "created_at", false);
        time(out, r.created_at);
        field(out, "updated_at", false);
        time(out, r.updated_at);
        field(out, "deleted_at", false);
        match r.deleted_at {
            Some(t) => time(out, t),
            None => out.extend_from_slice(b"\"\""),
        }
        field(out, "is_public", false);
        out.extend_from_slice(if r.is_public { b"true" } else { b"false" });
        field(out, "owner", false);
        write_json_str(out, r.owner);
        field(out, "min_ram", false);
        out.extend_from_slice(r.min_ram.to_string().as_bytes());
        field(out, "min_disk", false);
        out.extend_from_slice(r.min_disk.to_string().as_bytes());
        field(out, "properties", false);
        out.extend_from_slice(r.properties_json.unwrap_or("{}").as_bytes());
    }
    out.push(b'}');
}

/// The answer to register and update: the image in headers and in the body.
fn image_response(image: &Image, dialect: Dialect) -> Result<HttpResponse, AppError> {
    #[derive(Serialize)]
    struct Wrapped<'a> {
        image: Detail<'a>,
    }
    let body = serde_json::to_vec(&Wrapped {
        image: detail(image, dialect),
    })
    .map_err(AppError::internal)?;
    let mut resp = HttpResponse::Ok();
    put_image_headers(&mut resp, image, dialect);
    Ok(resp
        .content_type("application/json; charset=utf-8")
        .body(body))
}

fn refuse(fields: &MetaHeaders, names: &[Field], why: &str) -> Result<(), AppError> {
    for f in names {
        if fields.get(*f).is_some() {
            return Err(AppError::bad(format!("{} {why}", f.header())));
        }
    }
    Ok(())
}

fn check_format(value: &str, allowed: &[String], field: Field) -> Result<String, AppError> {
    if allowed.iter().any(|a| a == value) {
        Ok(value.to_string())
    } else {
        Err(AppError::bad(format!(
            "Invalid {} '{}': expected one of {}",
            field.header(),
            truncate(value, 80),
            allowed.join(", ")
        )))
    }
}

/// The fields an update or a registration may set, checked.
#[derive(Default)]
struct Settable {
    name: Option<String>,
    disk_format: Option<String>,
    container_format: Option<String>,
    is_public: Option<bool>,
    owner: Option<String>,
    min_ram: Option<u64>,
    min_disk: Option<u64>,
}

fn settable(call: &Call<'_>, meta: &MetaHeaders) -> Result<Settable, AppError> {
    let formats = &call.state.formats;
    let mut s = Settable::default();
    if let Some(name) = meta.get(Field::Name) {
        check_name(name)?;
        s.name = Some(name.to_string());
    }
    if let Some(v) = meta.get(Field::DiskFormat) {
        s.disk_format = Some(check_format(v, &formats.disk, Field::DiskFormat)?);
    }
    if let Some(v) = meta.get(Field::ContainerFormat) {
        s.container_format = Some(check_format(v, &formats.container, Field::ContainerFormat)?);
    }
    if let Some(v) = meta.get(Field::IsPublic) {
        // glanceclient sends the string `None` when no publicity was asked
        // for; Glance read it as not given, and so do we.
        if !v.eq_ignore_ascii_case("none") {
            s.is_public = Some(parse_bool(Field::IsPublic.header(), v)?);
        }
    }
    if let Some(v) = meta.get(Field::MinRam) {
        s.min_ram = Some(parse_count(Field::MinRam.header(), v)?);
    }
    if let Some(v) = meta.get(Field::MinDisk) {
        s.min_disk = Some(parse_count(Field::MinDisk.header(), v)?);
    }
    if let Some(v) = meta.get(Field::Owner) {
        s.owner = Some(v.to_string());
    }
    Ok(s)
}

fn over_limit(count: usize, max: usize) -> Result<(), AppError> {
    if count > max {
        return Err(AppError::OverLimit(format!(
            "Too many properties: {count} (at most {max} per image)"
        )));
    }
    Ok(())
}

/// `POST /images`: register, or re-register the live image at the same location.
pub async fn register(call: &Call<'_>, headers: &HeaderMap) -> Result<HttpResponse, AppError> {
    let mut meta = parse_meta(headers)?;
    meta.resolve_conflicts(None)?;
    refuse(
        &meta,
        &[Field::Id],
        "cannot be set: image ids are generated",
    )?;
    refuse(&meta, &[Field::Status], "cannot be set when registering")?;
    refuse(
        &meta,
        &[
            Field::CreatedAt,
            Field::UpdatedAt,
            Field::DeletedAt,
            Field::Uri,
        ],
        "is read-only",
    )?;
    match meta.get(Field::Name) {
        None => {
            return Err(AppError::bad(
                "Missing X-Image-Meta-Name header: an image needs a name",
            ))
        }
        Some(name) => check_name(name)?,
    }
    let raw_location =
        match meta.get(Field::Location) {
            Some(l) if !l.is_empty() => l,
            _ => return Err(AppError::NotImplemented(
                "Registering needs X-Image-Meta-Location: uploading image data is not supported"
                    .into(),
            )),
        };
    let location = Location::parse(raw_location)?;
    if let Some(store) = meta.get(Field::Store) {
        if store != "pithos" {
            return Err(AppError::bad(format!(
                "Invalid X-Image-Meta-Store '{}': expected pithos",
                truncate(store, 80)
            )));
        }
    }
    let set = settable(call, &meta)?;
    let size = meta
        .get(Field::Size)
        .map(|v| parse_count(Field::Size.header(), v))
        .transpose()?;
    let checksum = meta.get(Field::Checksum).map(parse_checksum).transpose()?;
    let properties: BTreeMap<String, String> = meta
        .properties
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let caller = call.user.id.clone();
    if let Some(owner) = &set.owner {
        if *owner != caller {
            return Err(AppError::Forbidden(format!(
                "Invalid X-Image-Meta-Owner '{}': an image is owned by the user who registers it",
                truncate(owner, 80)
            )));
        }
    }
    if location.account() != caller {
        return Err(AppError::Forbidden(format!(
            "Location '{}' is in account '{}': you may only register objects of your own account",
            location.canonical(),
            location.account()
        )));
    }

    let inspected = {
        let db = call.state.db.clone();
        call.state
            .store
            .inspect(&location, &call.token, move |path: &str| {
                let path = path.to_string();
                db.read_blocking(move |c| queries::cached_hash(c, &path))
            })
            .await?
    };
    let info = &inspected.info;
    if let Some(size) = size {
        if size != info.size {
            return Err(AppError::bad(format!(
                "Invalid X-Image-Meta-Size '{size}': the object at the location has {} bytes",
                info.size
            )));
        }
    }
    if let Some(sum) = &checksum {
        let known = if sum.len() == 32 {
            info.md5.as_deref()
        } else {
            Some(info.checksum.as_str())
        };
        match known {
            Some(k) if k == sum => {}
            Some(_) => {
                return Err(AppError::bad(format!(
                    "Invalid X-Image-Meta-Checksum '{sum}': it does not match the object at the location"
                )))
            }
            None => {
                return Err(AppError::bad(format!(
                    "Invalid X-Image-Meta-Checksum '{sum}': the store does not know this object's MD5; give its 64-digit hash"
                )))
            }
        }
    }

    // The limit comes after every 400, the object's among them.
    over_limit(properties.len(), call.state.limits.max_properties)?;

    let canonical = location.canonical();
    let info = inspected.info.clone();
    let computed = inspected.computed;
    let is_public = set.is_public.unwrap_or(false);
    let register = call.state.db.write(move |conn| {
        if let Some(h) = &computed {
            queries::remember_hash(conn, h)?;
        }
        let now = now_micros();
        let mut image = Image {
            id: ImageId::generate(),
            name: set.name.unwrap_or_default(),
            location: canonical.clone(),
            status: Status::Available,
            disk_format: set.disk_format.unwrap_or_else(|| "diskdump".into()),
            container_format: set.container_format.unwrap_or_else(|| "bare".into()),
            size: info.size,
            checksum: info.checksum,
            md5: info.md5,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            is_public,
            owner: caller,
            min_ram: set.min_ram.unwrap_or(0),
            min_disk: set.min_disk.unwrap_or(0),
            properties,
        };
        match queries::live_image_at(conn, &canonical)? {
            Some(existing) => {
                image.id = existing.image.id;
                image.created_at = existing.image.created_at;
                image.updated_at = now.max(existing.image.updated_at);
                queries::update_image(conn, existing.seq, &image)?;
            }
            None => {
                while queries::id_exists(conn, &image.id)? {
                    image.id = ImageId::generate();
                }
                queries::insert_image(conn, &image)?;
            }
        }
        Ok(image)
    });
    let image = if call.state.store.syncs_sharing() {
        // The readers before are those of the live image re-registered (if
        // any); its members are kept, its publicity is this request's.
        let _turn = call.state.sharing_locks.lock(&location.canonical()).await;
        let at = location.canonical();
        let before = call
            .state
            .db
            .read(move |conn| match queries::live_image_at(conn, &at)? {
                Some(s) => Ok((s.image.is_public, queries::members(conn, s.seq)?)),
                None => Ok((false, Vec::new())),
            })
            .await?;
        let after = Readers::of(is_public, &before.1);
        let before = Readers::of(before.0, &before.1);
        sync_readers(call, &location, before, after, register).await?
    } else {
        register.await?
    };
    image_response(&image, call.dialect)
}

fn parse_checksum(v: &str) -> Result<String, AppError> {
    let ok = (v.len() == 32 || v.len() == 64) && v.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(AppError::bad(format!(
            "Invalid X-Image-Meta-Checksum '{}': expected 32 (MD5) or 64 (Pithos hash) hex digits",
            truncate(v, 80)
        )))
    }
}

/// Loads a live image the caller may act on with `intent` (404 / 403 otherwise).
pub(crate) fn load(
    conn: &rusqlite::Connection,
    id: &ImageId,
    caller: &str,
    intent: Intent,
) -> Result<queries::StoredImage, AppError> {
    let (stored, member) =
        queries::image_for_caller(conn, id, caller)?.ok_or_else(|| not_found(&id.to_string()))?;
    authorize(
        &Viewed {
            image: &stored.image,
            caller_is_member: member,
        },
        caller,
        intent,
    )?;
    Ok(stored)
}

/// Loads a live image for `intent` in its own read transaction.
pub(crate) async fn load_for(
    call: &Call<'_>,
    id: ImageId,
    intent: Intent,
) -> Result<queries::StoredImage, AppError> {
    let caller = call.user.id.clone();
    call.state
        .db
        .read(move |conn| load(conn, &id, &caller, intent))
        .await
}

/// Runs `f` on a live image the caller may change, in one write transaction.
pub(crate) async fn change<T, F>(call: &Call<'_>, id: ImageId, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection, queries::StoredImage) -> Result<T, AppError> + Send + 'static,
{
    let caller = call.user.id.clone();
    call.state
        .db
        .write(move |conn| {
            let stored = load(conn, &id, &caller, Intent::Change)?;
            f(conn, stored)
        })
        .await
}

/// `HEAD /images/{id}`: the image in headers, no body.
pub async fn head(call: &Call<'_>, id: &str) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let stored = load_for(call, id, Intent::Read).await?;
    let mut resp = HttpResponse::Ok();
    put_image_headers(&mut resp, &stored.image, call.dialect);
    Ok(resp.finish())
}

/// `PUT /images/{id}`: change metadata, merge (or with purge, replace) properties.
pub async fn update(
    call: &Call<'_>,
    id: &str,
    headers: &HeaderMap,
) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let mut meta = parse_meta(headers)?;
    refuse(
        &meta,
        &[
            Field::Location,
            Field::Size,
            Field::Checksum,
            Field::Id,
            Field::Store,
        ],
        "cannot be changed by an update (re-register the location instead)",
    )?;
    refuse(
        &meta,
        &[
            Field::CreatedAt,
            Field::UpdatedAt,
            Field::DeletedAt,
            Field::Uri,
        ],
        "is read-only",
    )?;
    let set = settable(call, &meta)?;
    let status = meta
        .get(Field::Status)
        .map(Status::parse_settable)
        .transpose()?;
    let purge = meta.purge_props.unwrap_or(false);
    let max = call.state.limits.max_properties;
    let image = change_readers(call, id, move |stored, members| {
        meta.resolve_conflicts(Some(&stored.image.properties))?;
        let props = meta.properties;
        let mut image = stored.image.clone();
        if let Some(owner) = set.owner {
            if owner != image.owner {
                return Err(AppError::Forbidden(format!(
                    "Invalid X-Image-Meta-Owner '{}': the owner of an image cannot be changed",
                    truncate(&owner, 80)
                )));
            }
        }
        if let Some(v) = set.name {
            image.name = v;
        }
        if let Some(v) = set.disk_format {
            image.disk_format = v;
        }
        if let Some(v) = set.container_format {
            image.container_format = v;
        }
        if let Some(v) = set.is_public {
            image.is_public = v;
        }
        if let Some(v) = set.min_ram {
            image.min_ram = v;
        }
        if let Some(v) = set.min_disk {
            image.min_disk = v;
        }
        if let Some(v) = status {
            image.status = v;
        }
        if purge {
            image.properties.clear();
        }
        for (k, v) in props {
            if v.is_empty() {
                image.properties.remove(&k);
            } else {
                image.properties.insert(k, v);
            }
        }
        over_limit(image.properties.len(), max)?;
        let readers = Readers::of(image.is_public, members);
        Ok((readers, move |conn: &Connection, stored: &StoredImage| {
            image.updated_at = now_micros().max(stored.image.updated_at);
            queries::update_image(conn, stored.seq, &image)?;
            Ok(image)
        }))
    })
    .await?;
    image_response(&image, call.dialect)
}

/// `DELETE /images/{id}`: unregister; the image stays as a tombstone.
pub async fn delete(call: &Call<'_>, id: &str) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    change_readers(call, id, move |_, _| {
        Ok((Readers::Owner, |conn: &Connection, stored: &StoredImage| {
            let mut image = stored.image.clone();
            let now = now_micros().max(image.updated_at);
            image.status = Status::Deleted;
            image.deleted_at = Some(now);
            image.updated_at = now;
            queries::update_image(conn, stored.seq, &image)
        }))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The request's `Range`, if any (one `bytes=` range; see `ByteRange::parse`).
fn parse_range(headers: &HeaderMap) -> Result<Option<ByteRange>, AppError> {
    match headers.get(header::RANGE) {
        None => Ok(None),
        Some(v) => ByteRange::parse(v.to_str().map_err(|_| {
            AppError::bad("Invalid Range header: it is not ASCII; expected bytes=<start>-<end>")
        })?),
    }
}

/// `GET /images/{id}`: the image's data, whole or a range.
pub async fn data(
    call: &Call<'_>,
    id: &str,
    headers: &HeaderMap,
) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let range = parse_range(headers)?;
    let stored = load_for(call, id, Intent::Read).await?;
    let image = stored.image;
    if image.status != Status::Available {
        return Err(AppError::Conflict(format!(
            "Image {} is {}, not available: it has no data to serve",
            image.id,
            image.status.as_str()
        )));
    }
    let location = image.parsed_location()?;
    let read = call
        .state
        .store
        .read(&location, image.size, range, &call.token)
        .await?;
    let status = if read.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = HttpResponseBuilder::new(status);
    put_image_headers(&mut resp, &image, call.dialect);
    resp.insert_header((header::CONTENT_TYPE, "application/octet-stream"));
    resp.insert_header((header::ACCEPT_RANGES, "bytes"));
    if let Some(sum) = call.dialect.checksum(&image) {
        resp.insert_header((header::ETAG, format!("\"{sum}\"")));
    }
    if read.partial {
        resp.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                read.start,
                read.start + read.len - 1,
                read.total
            ),
        ));
    }
    Ok(resp.body(SizedStream::new(read.len, read.body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Image {
        Image {
            id: ImageId::parse("5583ffe1-5273-4c84-9e32-2fbe476bd7b7").unwrap(),
            name: "Debian \"12\" é".into(),
            location: "pithos://alice/images/a%20b".into(),
            status: Status::Available,
            disk_format: "diskdump".into(),
            container_format: "bare".into(),
            size: 42,
            checksum: "ab".repeat(32),
            md5: Some("cd".repeat(16)),
            created_at: 1_364_566_474_000_000,
            updated_at: 1_364_566_475_000_000,
            deleted_at: None,
            is_public: true,
            owner: "alice".into(),
            min_ram: 1,
            min_disk: 2,
            properties: [("os".to_string(), "debian\n".to_string())].into(),
        }
    }

    #[test]
    fn a_listed_image_is_the_detail_of_register() {
        let mut image = sample();
        let props = serde_json::to_string(&image.properties).unwrap();
        for deleted in [None, Some(1_364_566_476_000_000)] {
            image.deleted_at = deleted;
            for dialect in [Dialect::Cyclades, Dialect::Glance] {
                let expected = serde_json::to_string(&detail(&image, dialect)).unwrap();
                let id = image.id.to_string();
                let row = queries::ListedRow {
                    id: &id,
                    name: &image.name,
                    location: &image.location,
                    status: image.status.as_str(),
                    disk_format: &image.disk_format,
                    container_format: &image.container_format,
                    size: image.size as i64,
                    checksum: &image.checksum,
                    md5: image.md5.as_deref(),
                    created_at: image.created_at,
                    updated_at: image.updated_at,
                    deleted_at: image.deleted_at,
                    is_public: image.is_public,
                    owner: &image.owner,
                    min_ram: image.min_ram as i64,
                    min_disk: image.min_disk as i64,
                    properties_json: Some(&props),
                };
                let mut out = Vec::new();
                write_listed(&mut out, &row, true, dialect);
                // The same text: same fields, same order, same escaping.
                assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }
    }
}
