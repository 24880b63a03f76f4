//! `GET /ui/images/<id>`: one image, every field, its properties and
//! members, and for its owner the forms that change it; its download; and
//! the confirmation before unregistering it (docs/api.md §15).

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

use super::render::{human_size, page, status_words, visibility_words, when, Choice, Chrome, When};
use super::Req;
use crate::domain::image::{Image, Status, Visibility};
use crate::error::AppError;

/// An image as its page shows it.
struct Shown {
    id: String,
    name: String,
    status: &'static str,
    status_word: &'static str,
    status_hint: &'static str,
    owner: String,
    owner_id: String,
    size: String,
    bytes: u64,
    visibility: &'static str,
    visibility_hint: &'static str,
    visibilities: Vec<Choice>,
    protected: &'static str,
    hidden: bool,
    tags: Vec<String>,
    disk_format: String,
    container_format: String,
    created: When,
    updated: When,
    min_ram: u64,
    min_disk: u64,
    location: String,
    checksum: String,
    md5: Option<String>,
    /// The format the inspector found, or why there is none (§19).
    data_format: String,
    /// The virtual size the inspector read, in words.
    virtual_size: Option<String>,
    /// What makes the data unsafe, where it was let in (`record`).
    finding: Option<String>,
}

/// What the inspector found, as the page says it: the format (or that the
/// data was never inspected), the virtual size, the finding.
fn examined(image: &Image) -> (String, Option<String>, Option<String>) {
    let Some(e) = &image.examined else {
        return ("not inspected".into(), None, None);
    };
    let size = image
        .virtual_size
        .map(|v| format!("{} ({v} bytes)", human_size(v)));
    (e.format.clone(), size, e.finding.clone())
}

fn shown(image: Image, owner: String) -> Shown {
    let (status_word, status_hint) = status_words(image.status.as_str());
    let (data_format, virtual_size, finding) = examined(&image);
    Shown {
        data_format,
        virtual_size,
        finding,
        id: image.id.to_string(),
        status: image.status.as_str(),
        status_word,
        status_hint,
        owner,
        owner_id: image.owner,
        size: human_size(image.size),
        bytes: image.size,
        visibility: image.visibility.as_str(),
        visibility_hint: visibility_words(image.visibility),
        visibilities: visibility_choices(image.visibility),
        protected: if image.protected {
            "yes: nobody can unregister it until its owner unprotects it"
        } else {
            "no"
        },
        hidden: image.os_hidden,
        tags: image.tags.into_iter().collect(),
        created: when(image.created_at),
        updated: when(image.updated_at),
        min_ram: image.min_ram,
        min_disk: image.min_disk,
        disk_format: image.disk_format,
        container_format: image.container_format,
        location: image.location,
        checksum: image.checksum,
        md5: image.md5,
        name: image.name,
    }
}

/// The owner's visibility `<select>`: the four, the image's own chosen.
fn visibility_choices(current: Visibility) -> Vec<Choice> {
    [
        Visibility::Public,
        Visibility::Community,
        Visibility::Shared,
        Visibility::Private,
    ]
    .into_iter()
    .map(|v| Choice {
        value: v.as_str().to_string(),
        label: v.as_str().to_string(),
        selected: v == current,
    })
    .collect()
}

/// A member with the name the identity backend knows them by.
struct Member {
    id: String,
    label: String,
}

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage {
    chrome: Chrome,
    img: Shown,
    properties: Vec<(String, String)>,
    members: Vec<Member>,
    owner: bool,
    action: String,
    download: Option<String>,
}

/// `GET /ui/images/<id>`.
pub(super) async fn show(r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let view = r.registry().image_view(r.caller()?, id).await?;
    let action = r.image_url(&id);
    let label = |u: &str| view.names.get(u).cloned().unwrap_or_else(|| u.to_string());
    let members = view
        .members
        .iter()
        .map(|m| Member {
            id: m.clone(),
            label: label(m),
        })
        .collect();
    let owner_name = label(&view.image.owner);
    let owner = view.image.owner == r.caller()?.id();
    let download = (view.image.status == Status::Available).then(|| format!("{action}/download"));
    let properties = view.image.properties.clone().into_iter().collect();
    let title = view.image.name.clone();
    let tpl = ImagePage {
        chrome: r.chrome(&title),
        img: shown(view.image, owner_name),
        properties,
        members,
        owner,
        action,
        download,
    };
    page(StatusCode::OK, &tpl)
}

/// A file name for `Content-Disposition`: the image's name, with what a
/// file system or a header cannot take replaced.
fn file_name(name: &str) -> (String, String) {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\\"".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let ascii: String = clean
        .chars()
        .map(|c| {
            if c.is_ascii() && c != ';' && c != '%' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (ascii, crate::domain::percent::encode_segment(&clean))
}

/// `GET /ui/images/<id>/download`: the image's data, as a file to save.
pub(super) async fn download(r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let (image, read) = r.registry().data(r.caller()?, id, None).await?;
    let (ascii, encoded) = file_name(&image.name);
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if let Some(md5) = &image.md5 {
        resp.insert_header((header::ETAG, format!("\"{md5}\"")));
    }
    Ok(resp.body(SizedStream::new(read.len, read.body)))
}

#[derive(Template)]
#[template(path = "unregister.html")]
struct ConfirmPage {
    chrome: Chrome,
    name: String,
    location: String,
    action: String,
}

/// `GET /ui/images/<id>/unregister`: are you sure? (The owner's only.)
pub(super) async fn confirm_unregister(r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let image = r.registry().get(r.caller()?, id).await?;
    if image.owner != r.caller()?.id() {
        return Err(AppError::Forbidden(
            "Only the image's owner may unregister it".into(),
        ));
    }
    let tpl = ConfirmPage {
        chrome: r.chrome("Unregister"),
        action: r.image_url(&id),
        name: image.name,
        location: image.location,
    };
    page(StatusCode::OK, &tpl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_cannot_break_the_header() {
        assert_eq!(file_name("Debian 12").0, "Debian 12");
        let (ascii, encoded) = file_name("a\"b/c\r\nd é;%");
        assert_eq!(ascii, "a_b_c__d ___");
        assert_eq!(encoded, "a_b_c__d%20%C3%A9%3B%25");
    }
}
