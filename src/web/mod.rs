//! The browser surface (docs/api.md §15): server-rendered pages under
//! `<base>/ui/` over the same registry functions as the image API, so that
//! a user sees exactly what the API shows them. A session cookie stands for
//! the user's token, which stays in the server; every changing form carries
//! the session's CSRF value; every answer carries the headers of §15; errors
//! are HTML pages. Adding a page is a row of `ROUTES` in `routes.rs` and its
//! handler, which parses, calls one registry function and renders.

mod accept;
mod assets;
mod catalogue;
mod forms;
mod image;
mod login;
mod render;
mod routes;
mod session;
mod upload;

pub(crate) use accept::prefers_html;

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::config::UiSettings;
use crate::domain::ids::ImageId;
use crate::domain::percent::encode_segment;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::find;
use crate::http::{missed, read_body, AppState, CallerId};
use crate::registry::Registry;
use render::Chrome;
use session::{cookie, Live, Notice, Sessions, SESSION_COOKIE};

/// The web view's own state: its sessions.
pub(crate) struct WebState {
    sessions: Sessions,
}

impl WebState {
    /// No sessions yet; each lasts `ui.session_ttl`.
    pub(crate) fn new(settings: &UiSettings) -> WebState {
        WebState {
            sessions: Sessions::new(Duration::from_secs(settings.session_ttl)),
        }
    }
}

/// The policy of every answer: scripts, styles, images and connections from
/// this origin only (no inline script or style), forms posted only here,
/// and no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Whether a path after the base (without its leading `/`) is the web view's.
pub(crate) fn owns(rest: &str) -> bool {
    rest == "ui" || rest.starts_with("ui/")
}

/// `GET <base>/` from a browser: 303 to the web view.
pub(crate) fn front_door(base: &str) -> HttpResponse {
    let mut resp = see_other(&format!("{base}/ui/"));
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

/// A 303 to `location` (a path of this server).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// One request as the web view's handlers see it.
pub(crate) struct Req {
    http: HttpRequest,
    payload: Option<web::Payload>,
    state: web::Data<AppState>,
    web: web::Data<WebState>,
    /// The live session and its user (absent on the open routes).
    session: Option<(Live, Caller)>,
    /// The route's path parameters, still percent-encoded.
    params: Vec<String>,
}

/// A form's fields, decoded, in the order sent.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    fn parse(body: &[u8]) -> Result<Form, AppError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Form)
            .map_err(|e| AppError::invalid(format!("Invalid form: {e}")))
    }

    /// The value of field `name` (the last, if sent twice).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The refusal of a form whose `csrf` field is missing or not the session's.
pub(crate) fn csrf_refused() -> AppError {
    AppError::Forbidden(
        "This form did not come from your session (its csrf field is missing or wrong): \
         nothing was changed. Reload the page and try again."
            .into(),
    )
}

impl Req {
    /// `<base>/ui`, the prefix of every link.
    fn ui(&self) -> String {
        format!("{}/ui", self.state.base_path)
    }

    fn registry(&self) -> &Registry {
        &self.state.registry
    }

    fn live(&self) -> Result<&(Live, Caller), AppError> {
        self.session.as_ref().ok_or_else(|| {
            AppError::internal("an open route of the web view asked for the session")
        })
    }

    fn caller(&self) -> Result<&Caller, AppError> {
        Ok(&self.live()?.1)
    }

    /// Whether the browser reached us over TLS (directly or through a
    /// proxy that says so): cookies are then `Secure`.
    fn secure(&self) -> bool {
        self.http.connection_info().scheme() == "https"
    }

    /// The image id of path parameter `n`; one that is not an id is a page
    /// that does not exist.
    fn image_id(&self, n: usize) -> Result<ImageId, AppError> {
        let raw = self.params.get(n).map(String::as_str).unwrap_or_default();
        ImageId::parse(raw).map_err(|_| AppError::NotFound(format!("No image '{raw}'")))
    }

    /// The link of an image's page.
    fn image_url(&self, id: &ImageId) -> String {
        format!("{}/images/{id}", self.ui())
    }

    /// The layout's parts for a page of this session, taking its notice.
    fn chrome(&self, title: &str) -> Chrome {
        let mut chrome = Chrome::anonymous(&self.ui(), title);
        if let Some((live, caller)) = &self.session {
            chrome.user = Some(
                caller
                    .user
                    .name
                    .clone()
                    .unwrap_or_else(|| caller.id().to_string()),
            );
            chrome.user_id = caller.id().to_string();
            chrome.csrf = live.csrf.clone();
            chrome.notice = self.web.sessions.take_notice(&live.id);
        }
        chrome
    }

    /// Leaves a notice for the session's next page.
    fn notify(&self, failed: bool, text: impl Into<String>) {
        if let Some((live, _)) = &self.session {
            let text = text.into();
            self.web.sessions.notify(&live.id, Notice { failed, text });
        }
    }

    /// The body as a form whose `csrf` field is the session's.
    async fn form(&mut self) -> Result<Form, AppError> {
        let form = self.plain_form().await?;
        let csrf = &self.live()?.0.csrf;
        match form.get("csrf") {
            Some(sent) if session::same_secret(sent, csrf) => Ok(form),
            _ => Err(csrf_refused()),
        }
    }

    /// The body as a form, unchecked (the login form, which has no session yet).
    async fn plain_form(&mut self) -> Result<Form, AppError> {
        let body = match self.payload.take() {
            Some(p) => read_body(&self.http, p).await?,
            None => Vec::new(),
        };
        Form::parse(&body)
    }
}

/// What a handler returns.
pub(crate) type Handled = LocalBoxFuture<'static, Result<HttpResponse, AppError>>;

/// A handler of the route table.
pub(crate) type Handler = fn(Req) -> Handled;

/// Serves one request of the web view; `rest` is its path after the base,
/// without the leading `/` (`ui` or `ui/...`).
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    rest: &str,
) -> HttpResponse {
    let ui = format!("{}/ui", state.base_path);
    let mut resp = match http.app_data::<web::Data<WebState>>().cloned() {
        Some(web) => answer(http, payload, state, web, rest).await,
        None => render::error_page(
            &AppError::internal("the web view's state is missing"),
            Chrome::anonymous(&ui, "Error"),
        ),
    };
    guard(&mut resp);
    resp
}

/// The headers of every answer of the web view (docs/api.md §15).
fn guard(resp: &mut HttpResponse) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show private data: not kept, not shown again by Back after logout.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

async fn answer(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    web: web::Data<WebState>,
    rest: &str,
) -> HttpResponse {
    let ui = format!("{}/ui", state.base_path);
    let Some(path) = rest.strip_prefix("ui/") else {
        return see_other(&format!("{ui}/"));
    };
    let found = match find(
        routes::ROUTES,
        &routes::segments(path),
        http.method().as_str(),
    ) {
        Ok(found) => found,
        Err(miss) => return render::error_page(&missed(&http, miss), Chrome::anonymous(&ui, "")),
    };
    let mut req = Req {
        http,
        payload: Some(payload),
        state,
        web,
        session: None,
        params: found.params,
    };
    if !found.open {
        match session_of(&req).await {
            Ok(Some(s)) => req.session = Some(s),
            Ok(None) => return to_login(&req),
            Err(e) => return render::error_page(&e, Chrome::anonymous(&ui, "")),
        }
    }
    let caller_id = req.session.as_ref().map(|(_, c)| c.id().to_string());
    let mut fallback = Chrome::anonymous(&ui, "");
    if let Some((live, caller)) = &req.session {
        fallback.user = Some(
            caller
                .user
                .name
                .clone()
                .unwrap_or_else(|| caller.id().to_string()),
        );
        fallback.csrf = live.csrf.clone();
    }
    let mut resp = (found.handler)(req)
        .await
        .unwrap_or_else(|e| render::error_page(&e, fallback));
    if let Some(id) = caller_id {
        resp.extensions_mut().insert(CallerId(id));
    }
    resp
}

/// The live session of the request's cookie and its user, whose token the
/// identity backend must still take (else the session ends).
async fn session_of(req: &Req) -> Result<Option<(Live, Caller)>, AppError> {
    let Some(id) = cookie(req.http.headers(), SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(live) = req.web.sessions.get(id) else {
        return Ok(None);
    };
    match req.registry().authenticate(&live.token).await {
        Ok(caller) => Ok(Some((live, caller))),
        Err(AppError::Unauthenticated(_)) => {
            req.web.sessions.end(&live.id);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// 303 to the login page, which will lead back here (for a GET); a stale
/// session cookie is cleared.
fn to_login(req: &Req) -> HttpResponse {
    let mut location = format!("{}/login", req.ui());
    if req.http.method() == actix_web::http::Method::GET {
        let mut here = req.http.uri().path().to_string();
        if !req.http.query_string().is_empty() {
            here = format!("{here}?{}", req.http.query_string());
        }
        if here != format!("{}/", req.ui()) {
            location = format!("{location}?next={}", encode_segment(&here));
        }
    }
    let mut resp = see_other(&location);
    if cookie(req.http.headers(), SESSION_COOKIE).is_some() {
        let clear = session::set_cookie(
            SESSION_COOKIE,
            None,
            &req.ui(),
            Duration::ZERO,
            req.secure(),
        );
        if let Ok(v) = HeaderValue::from_str(&clear) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}
