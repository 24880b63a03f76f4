//! The offline identity surface (token-file mode only), so that kamaki's
//! command line and snf-image-creator need nothing but plankton: Astakos's
//! `POST /identity/v2.0/tokens` and `POST /account/v1.0/user_catalogs`
//! (docs/api.md §3). Its faults are the image API's JSON.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::ids::truncate;
use crate::domain::user::User;
use crate::error::AppError;
use crate::http::routing::{find, Lookup, Route, Seg};
use crate::http::surface::{self, h, Halt, Surface};
use crate::http::{caller_for, AppState};

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

/// The identity endpoints answer only in token-file mode; otherwise they
/// are not there at all.
fn offline_only(state: &AppState) -> Result<(), AppError> {
    if state.registry.serves_offline_identity() {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "No such route: the identity endpoints serve only in token-file mode".into(),
        ))
    }
}

/// The service URL: `public_url`, or the scheme, host and base path of this request.
fn service_url(req: &HttpRequest) -> String {
    crate::http::links::public_root(req)
}

fn endpoint(name: &str, kind: &str, version: &str, url: String, ui: &str) -> serde_json::Value {
    json!({
        "name": name,
        "type": kind,
        "endpoints_links": [],
        "endpoints": [{"versionId": version, "publicURL": url, "SNF:uiURL": ui}],
    })
}

/// The token of a tokens request, and the tenant it names: in the body
/// (`{"auth": {"token": {"id": ...}}}`) or, with no body, in `X-Auth-Token`.
fn token_asked(req: &HttpRequest, body: &[u8]) -> Result<(String, Option<String>), AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        let header = crate::http::auth_token(req).map_err(|_| {
            AppError::invalid(
                "Missing token: give {\"auth\": {\"token\": {\"id\": \"<token>\"}}} or X-Auth-Token",
            )
        })?;
        return Ok((header.to_string(), None));
    }
    let parsed: TokensBody = serde_json::from_slice(body).map_err(|e| {
        AppError::invalid(format!(
            "Invalid tokens body: {e}; expected {{\"auth\": {{\"token\": {{\"id\": \"<token>\"}}}}}}"
        ))
    })?;
    let token = parsed.auth.token.ok_or_else(|| {
        AppError::invalid(
            "Invalid tokens body: only token authentication (auth.token.id) is supported",
        )
    })?;
    Ok((token.id, parsed.auth.tenant_name))
}

/// `POST <base>/identity/v2.0/tokens`.
async fn tokens(mut r: Req) -> Result<HttpResponse, AppError> {
    let body = r.body().await?;
    offline_only(&r.state)?;
    let (token, tenant) = token_asked(&r.http, &body)?;
    // A wrong token here counts against the address, as on every API.
    let from = r.http.peer_addr().map(|a| a.ip());
    let lookup = async {
        r.state
            .registry
            .offline_user(&token)
            .ok_or_else(|| AppError::Unauthenticated("Invalid or expired token".into()))
    };
    let user: User = r.state.guesses.guarded(from, &token, lookup).await?;
    if let Some(t) = tenant.filter(|t| *t != user.id) {
        return Err(AppError::Unauthenticated(format!(
            "tenantName '{}' does not match the token's user",
            truncate(&t, 80)
        )));
    }
    let url = service_url(&r.http);
    Ok(ascii_json(&access(&token, &user, &url)))
}

/// Astakos's answer to a tokens request: the token, the service catalog
/// (every URL under this service's own), and the user.
fn access(token: &str, user: &User, url: &str) -> serde_json::Value {
    let ui = format!("{url}/ui");
    let name = user.name.clone().unwrap_or_else(|| user.id.clone());
    let expires = (chrono::Utc::now() + chrono::Duration::days(EXPIRES_IN_DAYS))
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    json!({
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
                // kamaki and snf-image-creator upload here (docs/api.md §14);
                // with the pithos store the path answers 404.
                endpoint("pithos_object-store", "object-store", "v1", format!("{url}/object-store/v1"), &ui),
            ],
            "user": {
                "id": user.id,
                "name": name,
                "roles": [{"id": 1, "name": "default"}],
                "roles_links": [],
            },
        }
    })
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
async fn user_catalogs(mut r: Req) -> Result<HttpResponse, AppError> {
    let body = r.body().await?;
    offline_only(&r.state)?;
    let parsed: CatalogsBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::invalid(format!(
            "Invalid user_catalogs body: {e}; expected {{\"uuids\": [...]}} or {{\"displaynames\": [...]}}"
        ))
    })?;
    let (by_uuid, by_name) = r
        .state
        .registry
        .offline_catalogs(&parsed.uuids, &parsed.displaynames);
    Ok(ascii_json(&json!({
        "uuid_catalog": by_uuid,
        "displayname_catalog": by_name,
    })))
}

/// The identity surface's part of a request: nothing its handlers read
/// (the caller of `user_catalogs` is only checked, and logged).
pub(crate) struct Identity;

/// One request as the identity surface's handlers see it.
type Req = surface::Req<Identity>;

/// A handler of the route table.
pub(crate) type Handler = surface::Handler<Identity>;

/// The label of every identity route in the metrics.
pub(crate) const LABEL: &str = "/identity";

/// The identity surface's routes; `user_catalogs` needs a token.
static ROUTES: &[Route<Handler>] = &[
    Route {
        path: &[Seg::Lit("identity"), Seg::Lit("v2.0"), Seg::Lit("tokens")],
        label: LABEL,
        open: true,
        methods: &[("POST", h!(tokens))],
    },
    Route {
        path: &[
            Seg::Lit("account"),
            Seg::Lit("v1.0"),
            Seg::Lit("user_catalogs"),
        ],
        label: LABEL,
        open: false,
        methods: &[("POST", h!(user_catalogs))],
    },
];

/// Whether a path after the base belongs to this surface.
pub(crate) fn owns(rest: &str) -> bool {
    rest.starts_with("identity/") || rest.starts_with("account/")
}

/// The route of a path after the base, without the leading `/`.
pub(crate) fn route(rest: &str, method: &str) -> Lookup<'static, Handler> {
    let segs: Vec<&str> = rest.split('/').collect();
    find(ROUTES, &segs, method)
}

impl Surface for Identity {
    type Seed = ();
    type Scene = ();

    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        _: (),
        who: &mut Option<String>,
    ) -> Result<Identity, Halt> {
        caller_for(open, http, state, who).await?;
        Ok(Identity)
    }
}

/// Serves one request of the identity surface, whose route the router found.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    lookup: Lookup<'static, Handler>,
) -> HttpResponse {
    surface::serve::<Identity>(http, payload, state, lookup.found, ()).await
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
