//! A fake Astakos: `POST /identity/v2.0/tokens` as identity-api-guide.rst
//! documents it (body `{"auth": {"token": {"id": ...}}}`, answer
//! `{"access": {"token": {...}, "serviceCatalog": [...], "user": {...}}}`,
//! 401 for a token it does not know), a switch for each way a real one can
//! fail, and a count of the requests it was sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{serve, FakeUser, Served};

/// Where the identity API is mounted, as on a Synnefo deployment.
pub const PREFIX: &str = "/identity/v2.0";

/// How the fake answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// As Astakos does.
    Normal,
    /// As Astakos does, but only after this long.
    Slow(Duration),
    /// This status, with an Astakos-style fault body, to every request.
    Status(u16),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with JSON of another shape (no `access.user.id`).
    WrongShape,
}

struct State {
    users: Vec<FakeUser>,
    behaviour: Mutex<Behaviour>,
    /// `access.token.expires` per token, where a test set one.
    expires: Mutex<HashMap<String, String>>,
    requests: AtomicU64,
    /// Requests whose `Content-Type` was not JSON, or whose body was not the
    /// documented shape (each one answered 400, as Astakos does).
    malformed_requests: AtomicU64,
}

/// A running fake Astakos.
pub struct FakeAstakos {
    state: Arc<State>,
    served: Served,
}

fn fault(status: StatusCode, name: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        name: {"code": status.as_u16(), "message": message, "details": ""}
    }))
}

/// An expiry in Astakos's format, `secs` from now (negative: in the past).
pub fn expires_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

async fn tokens(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let behaviour = state.behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let name = match code {
                401 => "unauthorized",
                404 => "itemNotFound",
                _ => "internalServerError",
            };
            return fault(status, name, "told to fail");
        }
        Behaviour::Malformed => {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"access\": {\"token\": <html>");
        }
        Behaviour::WrongShape => {
            return HttpResponse::Ok().json(json!({"access": {"token": {"id": "x"}}}));
        }
    }
    let json_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap().trim() == "application/json");
    let token = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["auth"]["token"]["id"].as_str().map(String::from));
    let (true, Some(token)) = (json_type, token) else {
        state.malformed_requests.fetch_add(1, Ordering::SeqCst);
        return fault(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Invalid request: expected JSON {\"auth\": {\"token\": {\"id\": ...}}}",
        );
    };
    let Some(user) = state.users.iter().find(|u| u.token == token) else {
        return fault(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid token");
    };
    let expires = state
        .expires
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| expires_in(30 * 24 * 3600));
    HttpResponse::Ok().json(json!({
        "access": {
            "token": {
                "expires": expires,
                "id": token,
                "tenant": {"id": user.id, "name": user.name},
            },
            "serviceCatalog": [{
                "endpoints_links": [],
                "endpoints": [{
                    "versionId": "v1",
                    "publicURL": "https://object-store.example.org/object-store/v1",
                }],
                "type": "object-store",
                "name": "pithos_object-store",
            }],
            "user": {
                "roles_links": [],
                "id": user.id,
                "roles": [{"id": 1, "name": "default"}],
                "name": user.name,
            },
        }
    }))
}

impl FakeAstakos {
    /// Starts a fake Astakos for `users`, over TLS if given a configuration.
    pub fn start(users: &[FakeUser], tls: Option<rustls::ServerConfig>) -> FakeAstakos {
        let state = Arc::new(State {
            users: users.to_vec(),
            behaviour: Mutex::new(Behaviour::Normal),
            expires: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            malformed_requests: AtomicU64::new(0),
        });
        let data = web::Data::new(Arc::clone(&state));
        let served = serve(tls, move |cfg| {
            cfg.app_data(data.clone())
                .route(&format!("{PREFIX}/tokens"), web::post().to(tokens));
        });
        FakeAstakos { state, served }
    }

    /// The `identity.auth_url` that reaches it.
    pub fn url(&self) -> String {
        format!("{}{PREFIX}", self.served.origin)
    }

    /// Changes how it answers from now on.
    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    /// Makes it answer `expires` as the expiry of `token`.
    pub fn set_expiry(&self, token: &str, expires: &str) {
        self.state
            .expires
            .lock()
            .unwrap()
            .insert(token.to_string(), expires.to_string());
    }

    /// How many token requests it was sent.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// How many of them were not the documented request.
    pub fn malformed_requests(&self) -> u64 {
        self.state.malformed_requests.load(Ordering::SeqCst)
    }
}
