//! v2's members (docs/api.md §17.10): list, add, show, answer and remove
//! the memberships of an image, and the path and JSON helpers the other
//! per-image v2 handlers of this change share.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::Req;
use crate::domain::access::not_found;
use crate::domain::ids::{is_valid_user_id, ImageId};
use crate::domain::model::Member;
use crate::domain::patch::{parse_member_status, parse_new_member};
use crate::domain::percent;
use crate::domain::time::{format_micros, Micros};
use crate::domain::user::Caller;
use crate::error::AppError;

/// The caller of a route that needs a token (every one here).
pub(super) fn caller(r: &Req) -> Result<&Caller, AppError> {
    r.caller
        .as_ref()
        .ok_or_else(|| AppError::internal("a v2 route without a token asked for the caller"))
}

/// The image id of the path: one that is not a UUID names no image, a
/// 404 in v2 (clients try a name as an id first, docs/api.md §17.1).
pub(super) fn image_id(r: &Req) -> Result<ImageId, AppError> {
    let raw = r.param(0);
    ImageId::parse(raw).map_err(|_| not_found(raw))
}

/// The member id of the path: one that cannot be a member id is 404.
fn member_id(r: &Req) -> Result<String, AppError> {
    let raw = r.param(1);
    match percent::decode(raw) {
        Ok(id) if is_valid_user_id(&id) => Ok(id),
        _ => Err(AppError::NotFound(format!("Member {raw} not found"))),
    }
}

/// A time as v2 shows it: `YYYY-MM-DDTHH:MM:SSZ`, UTC.
pub(super) fn v2_time(t: Micros) -> String {
    format!("{}Z", format_micros(t).replacen(' ', "T", 1))
}

/// One membership in v2's JSON.
fn member_json(m: &Member) -> Value {
    json!({
        "member_id": m.member_id,
        "image_id": m.image_id.to_string(),
        "status": m.status.as_str(),
        "created_at": v2_time(m.created_at),
        "updated_at": v2_time(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

/// `GET /v2/images/{id}/members`: all of them for the owner, else the
/// caller's own.
pub(super) async fn list(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let members = r.registry().v2_members(caller(&r)?, id).await?;
    let members: Vec<Value> = members.iter().map(member_json).collect();
    Ok(HttpResponse::Ok().json(json!({"members": members, "schema": "/v2/schemas/members"})))
}

/// `POST /v2/images/{id}/members`, `{"member": "<id>"}`: a pending member.
pub(super) async fn add(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = parse_new_member(&r.body().await?)?;
    let added = r.registry().v2_add_member(caller(&r)?, id, member).await?;
    Ok(HttpResponse::Ok().json(member_json(&added)))
}

/// `GET /v2/images/{id}/members/{m}`: for the owner or `{m}` itself.
pub(super) async fn show(r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = member_id(&r)?;
    let found = r.registry().v2_member(caller(&r)?, id, member).await?;
    Ok(HttpResponse::Ok().json(member_json(&found)))
}

/// `PUT /v2/images/{id}/members/{m}`, `{"status": ...}`: `{m}` answers.
pub(super) async fn answer(mut r: Req) -> Result<HttpResponse, AppError> {
    let id = image_id(&r)?;
    let member = member_id(&r)?;
    let status = parse_member_status(&r.body().await?)?;
    let caller = caller(&r)?;
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
        .v2_remove_member(caller(&r)?, id, member)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
