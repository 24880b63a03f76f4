//! The offline identity endpoints (token-file mode only), so that kamaki's
//! command line and snf-image-creator need nothing but plankton: Astakos's
//! `POST /identity/v2.0/tokens` and `POST /account/v1.0/user_catalogs`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, Call};
use crate::backends::identity::{TokenFile, User};
use crate::domain::ids::truncate;
use crate::error::AppError;

/// How long a token is said to last; token-file tokens do not expire, but
/// clients expect a time.
const EXPIRES_IN_DAYS: i64 = 30;

#[derive(Deserialize)]
struct TokensBody {
    auth: Auth,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Auth {
    token: Option<TokenId>,
    tenant_name: Option<String>,
}

#[derive(Deserialize)]
struct TokenId {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogsBody {
    #[serde(default)]
    uuids: Vec<String>,
    #[serde(default)]
    displaynames: Vec<String>,
}

fn token_file(state: &AppState) -> Result<&TokenFile, AppError> {
    state.identity.token_file().ok_or_else(|| {
        AppError::NotFound(
            "No such route: the identity endpoints serve only in token-file mode".into(),
        )
    })
}

/// The service URL: scheme, host and base path of this request.
fn service_url(req: &HttpRequest, base_path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), base_path)
}

fn endpoint(name: &str, kind: &str, version: &str, url: String, ui: &str) -> serde_json::Value {
    json!({
        "name": name,
        "type": kind,
        "endpoints_links": [],
        "endpoints": [{"versionId": version, "publicURL": url, "SNF:uiURL": ui}],
    })
}

/// `POST <base>/identity/v2.0/tokens`: the token in the body
/// (`{"auth": {"token": {"id": ...}}}`) or, with no body, in `X-Auth-Token`.
pub async fn tokens(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let tf = token_file(state)?;
    let (token, tenant) = if body.iter().all(u8::is_ascii_whitespace) {
        let header = req
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::bad("Missing token: give {\"auth\": {\"token\": {\"id\": \"<token>\"}}} or X-Auth-Token"))?;
        (header.to_string(), None)
    } else {
        let parsed: TokensBody = serde_json::from_slice(body).map_err(|e| {
            AppError::bad(format!(
                "Invalid tokens body: {e}; expected {{\"auth\": {{\"token\": {{\"id\": \"<token>\"}}}}}}"
            ))
        })?;
        let token = parsed
            .auth
            .token
            .ok_or_else(|| {
                AppError::bad(
                    "Invalid tokens body: only token authentication (auth.token.id) is supported",
                )
            })?
            .id;
        (token, parsed.auth.tenant_name)
    };
    let user: User = tf
        .lookup(&token)
        .ok_or_else(|| AppError::Unauthorized("Invalid or expired token".into()))?;
    if let Some(t) = tenant {
        if t != user.id {
            return Err(AppError::Unauthorized(format!(
                "tenantName '{}' does not match the token's user",
                truncate(&t, 80)
            )));
        }
    }
    let url = service_url(req, &state.base_path);
    let ui = format!("{url}/ui");
    let name = user.name.clone().unwrap_or_else(|| user.id.clone());
    let expires = (chrono::Utc::now() + chrono::Duration::days(EXPIRES_IN_DAYS))
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    let body = json!({
        "access": {
            "token": {
                "id": token,
                "expires": expires,
                "tenant": {"id": user.id, "name": name},
            },
            "serviceCatalog": [
                endpoint("astakos_account", "account", "v1.0", format!("{url}/account/v1.0"), &ui),
                endpoint("astakos_identity", "identity", "v2.0", format!("{url}/identity/v2.0"), &ui),
                endpoint("cyclades_plankton", "image", "v1.0", format!("{url}/v1.0"), &ui),
                // snf-image-creator looks this up (and never uses it offline);
                // the path answers 501.
                endpoint("pithos_object-store", "object-store", "v1", format!("{url}/object-store/v1"), &ui),
            ],
            "user": {
                "id": user.id,
                "name": name,
                "roles": [{"id": 1, "name": "default"}],
                "roles_links": [],
            },
        }
    });
    Ok(ascii_json(&body))
}

/// A JSON answer with every non-ASCII character escaped as `\uXXXX`, as
/// Astakos sends: astakosclient decodes answers with Python 2's ASCII codec.
fn ascii_json(value: &serde_json::Value) -> HttpResponse {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(out)
}

/// `POST <base>/account/v1.0/user_catalogs`: user ids to display names and back.
pub async fn user_catalogs(call: &Call<'_>, body: &[u8]) -> Result<HttpResponse, AppError> {
    let tf = token_file(call.state)?;
    let parsed: CatalogsBody = serde_json::from_slice(body).map_err(|e| {
        AppError::bad(format!(
            "Invalid user_catalogs body: {e}; expected {{\"uuids\": [...]}} or {{\"displaynames\": [...]}}"
        ))
    })?;
    let table = tf.table();
    let uuid_catalog: BTreeMap<&str, String> = parsed
        .uuids
        .iter()
        .filter_map(|u| table.display_name(u).map(|n| (u.as_str(), n)))
        .collect();
    let displayname_catalog: BTreeMap<&str, String> = parsed
        .displaynames
        .iter()
        .filter_map(|n| table.user_id_of(n).map(|u| (n.as_str(), u)))
        .collect();
    Ok(ascii_json(&json!({
        "uuid_catalog": uuid_catalog,
        "displayname_catalog": displayname_catalog,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn identity_answers_are_ascii_and_mean_the_same() {
        let value = json!({"name": "Καρολίνα 😀", "plain": "a\"b"});
        let body = ascii_json(&value).into_body().try_into_bytes().unwrap();
        assert!(body.is_ascii());
        let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, value);
    }
}
