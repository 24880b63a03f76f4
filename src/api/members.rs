//! `/images/{id}/members[/{member}]`: who an image is shared with
//! (docs/api.md §8).

use actix_web::HttpResponse;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::parse::path_member;
use super::Req;
use crate::domain::ids::{parse_member_id, ImageId};
use crate::error::AppError;

#[derive(Serialize)]
struct Member<'a> {
    member_id: &'a str,
    can_share: bool,
}

#[derive(Serialize)]
struct MemberList<'a> {
    members: Vec<Member<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Memberships {
    memberships: Vec<Membership>,
}

/// `can_share` is taken (and must be a boolean) but not kept: plankton's
/// members never re-share.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Membership {
    member_id: String,
    #[serde(default, rename = "can_share")]
    _can_share: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    #[serde(rename = "member")]
    _member: AddOptions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddOptions {
    #[serde(default, rename = "can_share")]
    _can_share: Option<bool>,
}

/// Parses a JSON body; the error names the field that is wrong
/// (`memberships[0].can_share: ...`) and the shape expected.
fn json_body<T: DeserializeOwned>(body: &[u8], what: &str, expected: &str) -> Result<T, AppError> {
    let invalid = |at: String, why: &dyn std::fmt::Display| {
        AppError::invalid(format!(
            "Invalid {what} body: {at}{why}; expected {expected}"
        ))
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        invalid(at, e.inner())
    })?;
    // A Deserializer stops after the first document: anything but blanks
    // after it is refused here, or `{..} trailing` would pass.
    de.end().map_err(|e| invalid(String::new(), &e))?;
    Ok(parsed)
}

/// `GET /images/{id}/members`: anyone who may read the image.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let members = r.registry().members(r.caller()?, id).await?;
    let body = MemberList {
        members: members
            .iter()
            .map(|m| Member {
                member_id: m,
                can_share: false,
            })
            .collect(),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// `PUT /images/{id}/members`: replace the whole list (owner only).
pub(super) async fn replace(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let body = r.body().await?;
    let parsed: Memberships = json_body(
        &body,
        "members",
        r#"{"memberships": [{"member_id": "<user>"}]}"#,
    )?;
    let wanted = parsed
        .memberships
        .into_iter()
        .map(|m| parse_member_id(&m.member_id, "member_id"))
        .collect::<Result<Vec<_>, _>>()?;
    r.registry().set_members(r.caller()?, id, wanted).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /images/{id}/members/{member}`: add one (owner only, idempotent).
pub(super) async fn add(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let member = path_member(r.param(1))?;
    let body = r.body().await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        json_body::<AddBody>(
            &body,
            "member",
            r#"{"member": {"can_share": false}} or none"#,
        )?;
    }
    r.registry().add_member(r.caller()?, id, member).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /images/{id}/members/{member}`: remove one (owner only, idempotent).
pub(super) async fn remove(r: Req) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(r.param(0))?;
    let member = path_member(r.param(1))?;
    r.registry().remove_member(r.caller()?, id, member).await?;
    Ok(HttpResponse::NoContent().finish())
}
