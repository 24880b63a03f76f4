//! v2's members (docs/api.md §17.10): list, add, show, answer and remove
//! the memberships of an image.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::{images, render, Req};
use crate::domain::ids::{is_valid_user_id, ImageId};
use crate::domain::model::Member;
use crate::domain::patch::{parse_member_status, parse_new_member};
use crate::domain::percent;
use crate::error::AppError;

/// The image id of the path (404 unless a UUID).
fn image_id(r: &Req) -> Result<ImageId, AppError> {
    images::image_id(r.param(0))
}

/// The member id of the path: one that cannot be a member id is 404.
fn member_id(r: &Req) -> Result<String, AppError> {
    let raw = r.param(1);
    match percent::decode(raw) {
        Ok(id) if is_valid_user_id(&id) => Ok(id),
        _ => Err(AppError::NotFound(format!("Member {raw} not found"))),
    }
}

/// One membership in v2's JSON.
fn member_json(m: &Member) -> Value {
    json!({
        "member_id": m.member_id,
        "image_id": m.image_id.to_string(),
        "status": m.status.as_str(),
        "created_at": render::time(m.created_at),
        "updated_at": render::time(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

/// `GET /v2/images/{id}/members`: all of them for the owner, else the
/// caller's own.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let members = r.registry().v2_members(r.caller()?, id).await?;
    let members: Vec<Value> = members.iter().map(member_json).collect();
    Ok(HttpResponse::Ok().json(json!({"members": members, "schema": "/v2/schemas/members"})))
}

/// `POST /v2/images/{id}/members`, `{"member": "<id>"}`: a pending member.
pub(super) async fn add(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = parse_new_member(&r.body().await?)?;
    let added = r.registry().v2_add_member(r.caller()?, id, member).await?;
    Ok(HttpResponse::Ok().json(member_json(&added)))
}

/// `GET /v2/images/{id}/members/{m}`: for the owner or `{m}` itself.
pub(super) async fn show(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = member_id(&r)?;
    let found = r.registry().v2_member(r.caller()?, id, member).await?;
    Ok(HttpResponse::Ok().json(member_json(&found)))
}

/// `PUT /v2/images/{id}/members/{m}`, `{"status": ...}`: `{m}` answers.
pub(super) async fn answer(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = member_id(&r)?;
    let status = parse_member_status(&r.body().await?)?;
    let caller = r.caller()?;
    let changed = r
        .registry()
        .v2_set_member_status(caller, id, member, status)
        .await?;
    Ok(HttpResponse::Ok().json(member_json(&changed)))
}

/// `DELETE /v2/images/{id}/members/{m}`: the owner removes a member.
pub(super) async fn remove(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = member_id(&r)?;
    r.registry()
        .v2_remove_member(r.caller()?, id, member)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
