//! `/images/{id}/members[/{member}]`: who an image is shared with (§8).

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};

use rusqlite::Connection;

use super::images::load;
use super::sharing::change_readers;
use super::Call;
use crate::backends::store::Readers;
use crate::db::queries;
use crate::db::queries::StoredImage;
use crate::domain::access::Intent;
use crate::domain::ids::{parse_member_id, ImageId};
use crate::domain::percent::decode;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Membership {
    member_id: String,
    #[serde(default)]
    #[allow(dead_code)]
    can_share: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    #[allow(dead_code)]
    member: AddOptions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddOptions {
    #[serde(default)]
    #[allow(dead_code)]
    can_share: Option<bool>,
}

fn too_many(count: usize, max: usize) -> AppError {
    AppError::OverLimit(format!(
        "Too many members: {count} (at most {max} per image)"
    ))
}

/// Decodes and checks a member id taken from the path.
pub(crate) fn path_member(raw: &str) -> Result<String, AppError> {
    let decoded =
        decode(raw).map_err(|e| AppError::bad(format!("Invalid member id in path: {e}")))?;
    parse_member_id(&decoded, "member id")
}

/// `GET /images/{id}/members`: anyone who may read the image.
pub async fn list(call: &Call<'_>, id: &str) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let caller = call.user.id.clone();
    let members = call
        .state
        .db
        .read(move |conn| {
            let stored = load(conn, &id, &caller, Intent::Read)?;
            queries::members(conn, stored.seq)
        })
        .await?;
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
pub async fn replace(call: &Call<'_>, id: &str, body: &[u8]) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let parsed: Memberships = serde_json::from_slice(body).map_err(|e| {
        AppError::bad(format!(
            "Invalid members body: {e}; expected {{\"memberships\": [{{\"member_id\": \"<user>\"}}]}}"
        ))
    })?;
    let mut wanted = Vec::with_capacity(parsed.memberships.len());
    for m in parsed.memberships {
        wanted.push(parse_member_id(&m.member_id, "member_id")?);
    }
    wanted.sort();
    wanted.dedup();
    let max = call.state.limits.max_members;
    change_readers(call, id, move |stored, _| {
        wanted.retain(|m| *m != stored.image.owner);
        if wanted.len() > max {
            return Err(too_many(wanted.len(), max));
        }
        let after = Readers::of(stored.image.is_public, &wanted);
        Ok((after, move |conn: &Connection, stored: &StoredImage| {
            queries::replace_members(conn, stored.seq, &wanted)
        }))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /images/{id}/members/{member}`: add one (owner only, idempotent).
pub async fn add(
    call: &Call<'_>,
    id: &str,
    member: &str,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let member = path_member(member)?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice::<AddBody>(body).map_err(|e| {
            AppError::bad(format!(
                "Invalid member body: {e}; expected {{\"member\": {{\"can_share\": false}}}} or none"
            ))
        })?;
    }
    let max = call.state.limits.max_members;
    change_readers(call, id, move |stored, members| {
        let mut after = members.to_vec();
        let new = member != stored.image.owner && !members.contains(&member);
        if new {
            if members.len() + 1 > max {
                return Err(too_many(members.len() + 1, max));
            }
            after.push(member.clone());
        }
        let readers = Readers::of(stored.image.is_public, &after);
        Ok((readers, move |conn: &Connection, stored: &StoredImage| {
            if new {
                queries::add_member(conn, stored.seq, &member)?;
            }
            Ok(())
        }))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /images/{id}/members/{member}`: remove one (owner only, idempotent).
pub async fn remove(call: &Call<'_>, id: &str, member: &str) -> Result<HttpResponse, AppError> {
    let id = ImageId::parse(id)?;
    let member = path_member(member)?;
    change_readers(call, id, move |stored, members| {
        let after: Vec<String> = members.iter().filter(|m| **m != member).cloned().collect();
        let readers = Readers::of(stored.image.is_public, &after);
        Ok((readers, move |conn: &Connection, stored: &StoredImage| {
            queries::remove_member(conn, stored.seq, &member)
        }))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
