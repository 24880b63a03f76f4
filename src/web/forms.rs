//! The owner's forms on an image's page (docs/api.md §15): rename, choose
//! the visibility (or v1's public or private), set or remove a property, add or remove a member, and
//! unregister. Each checks the session's `csrf` field first (403, nothing
//! changed), parses its fields into domain types, calls one registry
//! function (the same the image API calls) and answers 303 to the page,
//! with a notice saying what happened or what was wrong with the input.

use std::collections::BTreeMap;

use actix_web::HttpResponse;

use super::{see_other, Req};
use crate::domain::changes::{ImagePatch, Settable};
use crate::domain::ids::{parse_member_id, truncate};
use crate::domain::image::{
    check_name, check_property_value, parse_bool, property_key_of, Visibility,
};
use crate::error::AppError;

/// Whether an error is the input's fault, said on the form's page as a
/// notice, rather than a page of its own (403, 404, 5xx).
pub(super) fn said_on_form(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Invalid(_)
            | AppError::OverLimit(_)
            | AppError::Conflict(_)
            | AppError::Unsupported(_)
            | AppError::Unprocessable(_)
            | AppError::UnsupportedMedia(_)
    )
}

/// 303 to `back`, with a notice of what `done` came to.
pub(super) async fn settle(
    r: &Req,
    back: &str,
    done: Result<String, AppError>,
) -> Result<HttpResponse, AppError> {
    match done {
        Ok(text) => r.notify(false, text).await?,
        Err(e) if said_on_form(&e) => r.notify(true, e.to_string()).await?,
        Err(e) => return Err(e),
    }
    Ok(see_other(back))
}

fn field<'a>(form: &'a super::Form, name: &str) -> &'a str {
    form.get(name).unwrap_or_default()
}

/// A typed field without the spaces around it, but with any control
/// character kept, at either end too, for the field's check to refuse as
/// the API does: a tab, a line break or NEL around a key or a member id is
/// an error to show, not a space to take away.
fn trim_spaces(typed: &str) -> &str {
    typed.trim_matches(|c: char| c.is_whitespace() && !c.is_control())
}

/// `POST /ui/images/<id>/name` (`name`).
pub(super) async fn rename(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let name = field(&form, "name").to_string();
    let done = async {
        check_name(&name)?;
        let patch = ImagePatch {
            set: Settable {
                name: Some(name),
                ..Settable::default()
            },
            ..ImagePatch::default()
        };
        let image = r.registry().update(r.caller()?, id, patch).await?;
        Ok(format!("Renamed to “{}”.", image.name))
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/public` (`is_public`: `true` or `false`).
pub(super) async fn publicity(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let done = async {
        let public = parse_bool("is_public", field(&form, "is_public"))?;
        let patch = ImagePatch {
            set: Settable {
                is_public: Some(public),
                ..Settable::default()
            },
            ..ImagePatch::default()
        };
        r.registry().update(r.caller()?, id, patch).await?;
        Ok(if public {
            "It is public now: everyone can see and download it.".to_string()
        } else {
            "It is private now: only you and its members can see it.".to_string()
        })
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/visibility` (`visibility`: `public`,
/// `community`, `shared` or `private`; docs/api.md §17.2).
pub(super) async fn visibility(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let done = async {
        let word = field(&form, "visibility");
        let Some(v) = Visibility::parse(word) else {
            return Err(AppError::invalid(format!(
                "Invalid visibility '{}': expected public, community, shared or private",
                truncate(word, 80)
            )));
        };
        let patch = ImagePatch {
            set: Settable {
                visibility: Some(v),
                ..Settable::default()
            },
            ..ImagePatch::default()
        };
        let image = r.registry().update(r.caller()?, id, patch).await?;
        Ok(format!(
            "It is {} now. {}",
            image.visibility.as_str(),
            super::render::visibility_words(image.visibility)
        ))
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/properties` (`key`, `value`; an empty value
/// removes the key, as in the API).
pub(super) async fn property(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let done = async {
        let key = property_key_of(trim_spaces(field(&form, "key")))?;
        let value = field(&form, "value").to_string();
        check_property_value(&key, &value)?;
        let said = if value.is_empty() {
            format!("Property {key} removed.")
        } else {
            format!("Property {key} set to “{}”.", truncate(&value, 80))
        };
        let patch = ImagePatch {
            properties: BTreeMap::from([(key, value)]),
            ..ImagePatch::default()
        };
        r.registry().update(r.caller()?, id, patch).await?;
        Ok(said)
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/members` (`member`): share it with one more user.
pub(super) async fn add_member(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let done = async {
        let member = parse_member_id(trim_spaces(field(&form, "member")), "member id")?;
        r.registry()
            .add_member(r.caller()?, id, member.clone())
            .await?;
        Ok(format!("Shared with {member}."))
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/members/remove` (`member`).
pub(super) async fn remove_member(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    let form = r.form().await?;
    let done = async {
        let member = parse_member_id(field(&form, "member"), "member id")?;
        r.registry()
            .remove_member(r.caller()?, id, member.clone())
            .await?;
        Ok(format!("No longer shared with {member}."))
    }
    .await;
    settle(&r, &r.image_url(&id), done).await
}

/// `POST /ui/images/<id>/unregister`: the confirmed unregister; 303 to the list.
pub(super) async fn unregister(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = r.image_id(0)?;
    r.form().await?;
    r.registry().unregister(r.caller()?, id).await?;
    r.notify(
        false,
        format!("Image {id} unregistered; its file stays in the store."),
    )
    .await?;
    Ok(see_other(&format!("{}/", r.ui())))
}
