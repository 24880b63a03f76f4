//! Requests of the image API into domain types, before anything is looked up
//! or written: metadata headers into a registration or a patch, `Range`,
//! member ids in paths and member bodies (docs/api.md §5, §7, §8).

use actix_web::http::header::{self, HeaderMap};

use super::headers::{parse_meta, Field, MetaHeaders};
use crate::config::Formats;
use crate::domain::changes::{resolve_conflicts, ImagePatch, NewImage, Settable};
use crate::domain::ids::{parse_member_id, truncate};
use crate::domain::image::{check_name, parse_bool, parse_count, Status};
use crate::domain::location::Location;
use crate::domain::percent::decode;
use crate::domain::range::ByteRange;
use crate::error::AppError;

/// The fields no request may set.
const READ_ONLY: [Field; 4] = [
    Field::CreatedAt,
    Field::UpdatedAt,
    Field::DeletedAt,
    Field::Uri,
];

fn refuse(meta: &MetaHeaders, names: &[Field], why: &str) -> Result<(), AppError> {
    match names.iter().find(|f| meta.get(**f).is_some()) {
        Some(f) => Err(AppError::invalid(format!("{} {why}", f.header()))),
        None => Ok(()),
    }
}

fn check_format(value: &str, allowed: &[String], field: Field) -> Result<String, AppError> {
    if allowed.iter().any(|a| a == value) {
        Ok(value.to_string())
    } else {
        Err(AppError::invalid(format!(
            "Invalid {} '{}': expected one of {}",
            field.header(),
            truncate(value, 80),
            allowed.join(", ")
        )))
    }
}

fn settable(meta: &MetaHeaders, formats: &Formats) -> Result<Settable, AppError> {
    let count = |f: Field| meta.get(f).map(|v| parse_count(f.header(), v)).transpose();
    let format = |f: Field, allowed| meta.get(f).map(|v| check_format(v, allowed, f)).transpose();
    if let Some(name) = meta.get(Field::Name) {
        check_name(name)?;
    }
    Ok(Settable {
        name: meta.get(Field::Name).map(str::to_string),
        disk_format: format(Field::DiskFormat, &formats.disk)?,
        container_format: format(Field::ContainerFormat, &formats.container)?,
        // glanceclient sends the string `None` when no publicity was asked
        // for; Glance read it as not given, and so do we.
        is_public: match meta.get(Field::IsPublic) {
            Some(v) if !v.eq_ignore_ascii_case("none") => {
                Some(parse_bool(Field::IsPublic.header(), v)?)
            }
            _ => None,
        },
        protected: meta
            .get(Field::Protected)
            .map(|v| parse_bool(Field::Protected.header(), v))
            .transpose()?,
        min_ram: count(Field::MinRam)?,
        min_disk: count(Field::MinDisk)?,
        owner: meta.get(Field::Owner).map(str::to_string),
        visibility: None,
    })
}

/// `POST /images` headers: a registration of an object at a location, or,
/// with `upload` (the location the data will have), of the request's body.
pub(super) fn new_image(
    headers: &HeaderMap,
    formats: &Formats,
    upload: Option<Location>,
) -> Result<NewImage, AppError> {
    let mut meta = parse_meta(headers)?;
    resolve_conflicts(
        &mut meta.properties,
        std::mem::take(&mut meta.conflicts),
        None,
    )?;
    refuse(
        &meta,
        &[Field::Id],
        "cannot be set: image ids are generated",
    )?;
    refuse(&meta, &[Field::Status], "cannot be set when registering")?;
    refuse(&meta, &READ_ONLY, "is read-only")?;
    let name = meta.get(Field::Name).ok_or_else(|| {
        AppError::invalid("Missing X-Image-Meta-Name header: an image needs a name")
    })?;
    check_name(name)?;
    let location = match upload {
        None => location(&meta)?,
        Some(at) => upload_location(&meta, at)?,
    };
    let set = settable(&meta, formats)?;
    let size = meta
        .get(Field::Size)
        .map(|v| parse_count(Field::Size.header(), v))
        .transpose()?;
    let checksum = meta.get(Field::Checksum).map(parse_checksum).transpose()?;
    Ok(NewImage {
        name: name.to_string(),
        location,
        set,
        size,
        checksum,
        properties: meta
            .properties
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect(),
    })
}

/// The location of an upload: `at`, since the request may not name one.
fn upload_location(meta: &MetaHeaders, at: Location) -> Result<Location, AppError> {
    if meta.get(Field::Location).is_some_and(|l| !l.is_empty()) {
        return Err(AppError::invalid(
            "X-Image-Meta-Location cannot be given with image data in the body: the upload chooses its location",
        ));
    }
    match meta.get(Field::Store) {
        Some(store) if store != "pithos" => Err(AppError::invalid(format!(
            "Invalid X-Image-Meta-Store '{}': expected pithos",
            truncate(store, 80)
        ))),
        _ => Ok(at),
    }
}

/// The location to register, and the store it is in, which must be Pithos.
fn location(meta: &MetaHeaders) -> Result<Location, AppError> {
    let location =
        match meta.get(Field::Location) {
            Some(l) if !l.is_empty() => Location::parse_given(l)?,
            _ => return Err(AppError::Unsupported(
                "Registering needs X-Image-Meta-Location: uploading image data is not supported"
                    .into(),
            )),
        };
    match meta.get(Field::Store) {
        Some(store) if store != "pithos" => Err(AppError::invalid(format!(
            "Invalid X-Image-Meta-Store '{}': expected pithos",
            truncate(store, 80)
        ))),
        _ => Ok(location),
    }
}

/// `PUT /images/{id}` headers: a patch of an image's metadata.
pub(super) fn patch(headers: &HeaderMap, formats: &Formats) -> Result<ImagePatch, AppError> {
    let meta = parse_meta(headers)?;
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
    refuse(&meta, &READ_ONLY, "is read-only")?;
    let set = settable(&meta, formats)?;
    let status = meta
        .get(Field::Status)
        .map(Status::parse_settable)
        .transpose()?;
    Ok(ImagePatch {
        set,
        status,
        purge: meta.purge_props.unwrap_or(false),
        properties: meta.properties,
        conflicts: meta.conflicts,
    })
}

fn parse_checksum(v: &str) -> Result<String, AppError> {
    let ok = (v.len() == 32 || v.len() == 64) && v.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(AppError::invalid(format!(
            "Invalid X-Image-Meta-Checksum '{}': expected 32 (MD5) or 64 (Pithos hash) hex digits",
            truncate(v, 80)
        )))
    }
}

/// Whether a `POST /images` carries image data (docs/api.md §13), and how
/// many bytes it says: an `application/octet-stream` body, by a
/// `Content-Length` of at least 1 or chunked.
pub(super) fn upload_body(headers: &HeaderMap) -> Result<Option<Option<u64>>, AppError> {
    let octets = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if !octets {
        return Ok(None);
    }
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    match headers.get(header::CONTENT_LENGTH) {
        Some(v) => {
            let n = v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
            match n {
                Some(0) => Ok(None),
                Some(n) => Ok(Some(Some(n))),
                None => Err(AppError::invalid("Invalid Content-Length header")),
            }
        }
        None if chunked => Ok(Some(None)),
        None => Ok(None),
    }
}

/// Whether a request has a body: a `Content-Length` over 0, or chunked.
pub(super) fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0");
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    length || chunked
}

/// The request's `Range`, if any (one `bytes=` range; see `ByteRange::parse`).
pub(super) fn range(headers: &HeaderMap) -> Result<Option<ByteRange>, AppError> {
    match headers.get(header::RANGE) {
        None => Ok(None),
        Some(v) => ByteRange::parse(v.to_str().map_err(|_| {
            AppError::invalid("Invalid Range header: it is not ASCII; expected bytes=<start>-<end>")
        })?),
    }
}

/// Decodes and checks a member id taken from the path.
pub(super) fn path_member(raw: &str) -> Result<String, AppError> {
    let decoded =
        decode(raw).map_err(|e| AppError::invalid(format!("Invalid member id in path: {e}")))?;
    parse_member_id(&decoded, "member id")
}
