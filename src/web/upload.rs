//! `GET /ui/upload`: add an image, by sending a file (streamed from the
//! multipart form straight into `Registry::upload`, as `POST /images` with
//! a body does: docs/api.md §13) or by registering an object already in the
//! store (`Registry::register`). The page's script only adds a progress
//! bar: it posts the same form, and is told where to go next in
//! `X-Plankton-Next` instead of a 303 it could not show (docs/api.md §15).

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use futures_util::StreamExt;

use super::forms::said_on_form;
use super::render::{choices, human_size, page, Choice, Chrome};
use super::{assets, csrf_refused, see_other, session, Form, Req};
use crate::config::Formats;
use crate::domain::changes::{NewImage, Settable};
use crate::domain::ids::{truncate, ImageId};
use crate::domain::image::check_name;
use crate::domain::location::Location;
use crate::error::AppError;

/// The header the page's script sends with an upload.
const SCRIPTED: &str = "x-plankton-upload";

/// The largest text field of the upload form, and how many it may have.
const MAX_FIELD: usize = 8 * 1024;
const MAX_FIELDS: usize = 16;

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    chrome: Chrome,
    script: String,
    account: String,
    container: String,
    max_size: String,
    disk_formats: Vec<Choice>,
    container_formats: Vec<Choice>,
}

/// `GET /ui/upload`.
pub(super) async fn show(r: Req) -> Result<HttpResponse, AppError> {
    let caller = r.caller()?;
    let limits = r.registry().upload_limits();
    let formats = &r.state.formats;
    let tpl = UploadPage {
        chrome: r.chrome("Add an image"),
        script: format!("{}/static/{}", r.ui(), assets::SCRIPT.name),
        account: caller.id().to_string(),
        container: limits.0,
        max_size: human_size(limits.1),
        disk_formats: choices(None, &formats.disk, "diskdump"),
        container_formats: choices(None, &formats.container, "bare"),
    };
    page(StatusCode::OK, &tpl)
}

fn format_of(value: &str, allowed: &[String], field: &str) -> Result<Option<String>, AppError> {
    match value {
        "" => Ok(None),
        v if allowed.iter().any(|a| a == v) => Ok(Some(v.to_string())),
        v => Err(AppError::invalid(format!(
            "Invalid {field} '{}': expected one of {}",
            truncate(v, 80),
            allowed.join(", ")
        ))),
    }
}

/// A registration from the form's fields: `name`, `disk_format`,
/// `container_format`, `is_public` (a checkbox), at `location`.
fn new_image(
    fields: &BTreeMap<String, String>,
    formats: &Formats,
    location: Location,
) -> Result<NewImage, AppError> {
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    let name = get("name").to_string();
    check_name(&name)?;
    Ok(NewImage {
        name,
        location,
        set: Settable {
            disk_format: format_of(get("disk_format"), &formats.disk, "disk_format")?,
            container_format: format_of(
                get("container_format"),
                &formats.container,
                "container_format",
            )?,
            is_public: Some(get("is_public") == "true"),
            ..Settable::default()
        },
        size: None,
        checksum: None,
        properties: BTreeMap::new(),
    })
}

/// Where to go after an upload or registration: 303 for a plain form; for
/// the page's script, 200 and `X-Plankton-Next`.
fn go(r: &Req, to: &str) -> HttpResponse {
    if r.http.headers().contains_key(SCRIPTED) {
        HttpResponse::Ok()
            .insert_header(("x-plankton-next", to))
            .content_type("text/plain; charset=utf-8")
            .body(to.to_string())
    } else {
        see_other(to)
    }
}

/// The answer to an upload or registration that came to `done`: the new
/// image's page, or back to this page with a notice of what was wrong.
async fn finish(
    r: &Req,
    done: Result<ImageId, AppError>,
    verb: &str,
) -> Result<HttpResponse, AppError> {
    match done {
        Ok(id) => {
            r.notify(
                false,
                format!("{verb}. It is yours, and private until you make it public."),
            )
            .await?;
            Ok(go(r, &r.image_url(&id)))
        }
        Err(e) if said_on_form(&e) => {
            r.notify(true, e.to_string()).await?;
            Ok(go(r, &format!("{}/upload", r.ui())))
        }
        Err(e) => Err(e),
    }
}

/// `POST /ui/register` (`csrf`, `name`, `location`, formats, `is_public`).
pub(super) async fn register(mut r: Req) -> Result<HttpResponse, AppError> {
    let form = r.form().await?;
    let done = async {
        let fields: BTreeMap<String, String> = form.0.into_iter().collect();
        let location = Location::parse_given(
            fields
                .get("location")
                .map(String::as_str)
                .unwrap_or_default()
                .trim(),
        )?;
        let new = new_image(&fields, &r.state.formats, location)?;
        Ok(r.registry().register(r.caller()?, new).await?.id)
    }
    .await;
    finish(&r, done, "Registered").await
}

/// Reads a small text field of the multipart form.
async fn text_field(field: &mut actix_multipart::Field) -> Result<String, AppError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| AppError::invalid(format!("Invalid upload form: {e}")))?;
        if out.len() + chunk.len() > MAX_FIELD {
            return Err(AppError::invalid(
                "Invalid upload form: a field is too long",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out)
        .map_err(|_| AppError::invalid("Invalid upload form: a field is not UTF-8"))
}

/// `POST /ui/upload` (multipart: `csrf`, `name`, formats, `is_public`,
/// then `file`, whose bytes go on to the store as they arrive).
pub(super) async fn upload(mut r: Req) -> Result<HttpResponse, AppError> {
    let payload = r
        .payload
        .take()
        .ok_or_else(|| AppError::internal("the body was read before the upload"))?;
    let mut parts = Multipart::new(r.http.headers(), payload);
    let mut fields = BTreeMap::new();
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|e| AppError::invalid(format!("Invalid upload form: {e}")))?;
        let name = part.name().unwrap_or_default().to_string();
        if name != "file" {
            if fields.len() >= MAX_FIELDS {
                return Err(AppError::invalid("Invalid upload form: too many fields"));
            }
            let value = text_field(&mut part).await?;
            fields.insert(name, value);
            continue;
        }
        // The csrf field comes before the file (the form puts it first):
        // nothing is stored for a request that does not carry it.
        let csrf = fields.get("csrf").map(String::as_str).unwrap_or_default();
        if !session::same_secret(csrf, &r.live()?.0.csrf) {
            return Err(csrf_refused());
        }
        if fields.get("name").is_none_or(std::string::String::is_empty) {
            let file = part
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default();
            fields.insert("name".into(), file.chars().take(255).collect());
        }
        let done = async {
            let describe = |at| new_image(&fields, &r.state.formats, at);
            let image = r
                .registry()
                .upload(r.caller()?, describe, None, part)
                .await?;
            Ok(image.id)
        }
        .await;
        return finish(&r, done, "Uploaded").await;
    }
    let form = Form(fields.into_iter().collect());
    let csrf = &r.live()?.0.csrf;
    if !form
        .get("csrf")
        .is_some_and(|c| session::same_secret(c, csrf))
    {
        return Err(csrf_refused());
    }
    finish(
        &r,
        Err(AppError::invalid("Choose a file to upload")),
        "Uploaded",
    )
    .await
}
