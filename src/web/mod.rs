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

use crate::config::UiSettings;
use crate::domain::ids::ImageId;
use crate::domain::percent::encode_segment;
use crate::domain::user::Caller;
use crate::error::AppError;
use crate::http::routing::{find, Lookup};
use crate::http::surface::{self, Halt, Surface};
use crate::http::AppState;
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
            sessions: Sessions::new(settings),
        }
    }
}

/// The policy of every answer: scripts, styles, images and connections from
/// this origin only (no inline script or style), forms posted only here,
/// and no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The label of every page of the web view in the metrics.
pub(crate) const LABEL: &str = "/ui";

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

/// The web view's part of a request.
pub(crate) struct Web {
    /// The sessions.
    web: web::Data<WebState>,
    /// The live session and its user (absent on the open routes).
    session: Option<(Live, Caller)>,
}

/// One request as the web view's handlers see it.
pub(crate) type Req = surface::Req<Web>;

/// A handler of the route table.
pub(crate) type Handler = surface::Handler<Web>;

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
        secure(&self.http)
    }

    /// The image id of path parameter `n`; one that is not an id is a page
    /// that does not exist.
    fn image_id(&self, n: usize) -> Result<ImageId, AppError> {
        let raw = self.param(n);
        ImageId::parse(raw).map_err(|_| AppError::NotFound(format!("No image '{raw}'")))
    }

    /// The link of an image's page.
    fn image_url(&self, id: &ImageId) -> String {
        format!("{}/images/{id}", self.ui())
    }

    /// The layout's parts for a page of this session, taking its notice.
    fn chrome(&self, title: &str) -> Chrome {
        let mut chrome = session_chrome(&self.state, title, self.session.as_ref());
        if let Some((live, caller)) = &self.session {
            chrome.user_id = caller.id().to_string();
            chrome.notice = live.notice.clone();
        }
        chrome
    }

    /// Leaves a notice for the session's next page.
    async fn notify(&self, failed: bool, text: impl Into<String>) -> Result<(), AppError> {
        let Some((live, _)) = &self.session else {
            return Ok(());
        };
        let notice = Notice {
            failed,
            text: text.into(),
        };
        let registry = &self.state.registry;
        self.web.sessions.notify(registry, &live.id, notice).await
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
        let body = self.body().await?;
        Form::parse(&body)
    }
}

/// Whether the browser reached us over TLS (directly or through a proxy
/// that says so).
fn secure(http: &HttpRequest) -> bool {
    crate::http::links::is_https(http)
}

/// The route of a path after the base, without the leading `/`; `None`
/// for `ui` itself, which leads to `ui/`.
pub(crate) fn route(rest: &str, method: &str) -> Option<Lookup<'static, Handler>> {
    let path = rest.strip_prefix("ui/")?;
    Some(find(routes::ROUTES, &routes::segments(path), method))
}

/// Serves one request of the web view, whose route the router found.
pub(crate) async fn serve(
    http: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    lookup: Option<Lookup<'static, Handler>>,
) -> HttpResponse {
    let ui = || format!("{}/ui", state.base_path);
    let mut resp = match (http.app_data::<web::Data<WebState>>().cloned(), lookup) {
        (None, _) => render::error_page(
            &AppError::internal("the web view's state is missing"),
            Chrome::anonymous(&ui(), "Error"),
        ),
        (Some(_), None) => see_other(&format!("{}/", ui())),
        (Some(web), Some(lookup)) => {
            surface::serve::<Web>(http, payload, state, lookup.found, web).await
        }
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

impl Surface for Web {
    type Seed = web::Data<WebState>;
    /// Always there: `scene` and `missed_scene` make it for every request.
    type Scene = Option<Chrome>;

    async fn admit(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        open: bool,
        web: web::Data<WebState>,
        who: &mut Option<String>,
    ) -> Result<Web, Halt> {
        if open {
            return Ok(Web { web, session: None });
        }
        match session_of(http, state, &web).await? {
            Some(session) => {
                *who = Some(session.1.id().to_string());
                Ok(Web {
                    web,
                    session: Some(session),
                })
            }
            None => Err(Halt::Answer(to_login(http, &state.base_path))),
        }
    }

    fn scene(state: &AppState, ext: Option<&Web>) -> Option<Chrome> {
        Some(session_chrome(
            state,
            "",
            ext.and_then(|w| w.session.as_ref()),
        ))
    }

    async fn missed_scene(
        http: &HttpRequest,
        state: &web::Data<AppState>,
        web: web::Data<WebState>,
    ) -> Option<Chrome> {
        // A page that does not exist still belongs to the session, if live:
        // its error page keeps the user's navigation.
        let session = session_of(http, state, &web).await.ok().flatten();
        Some(session_chrome(state, "", session.as_ref()))
    }

    fn fault(e: &AppError, chrome: Option<Chrome>) -> HttpResponse {
        let chrome = chrome.unwrap_or_else(|| Chrome::anonymous("", "Error"));
        render::error_page(e, chrome)
    }
}

/// The layout's parts for a page titled `title`: the session's user and
/// CSRF value, if any (an error page's whole chrome; its notice stays for
/// the next page).
fn session_chrome(state: &AppState, title: &str, session: Option<&(Live, Caller)>) -> Chrome {
    let mut chrome = Chrome::anonymous(&format!("{}/ui", state.base_path), title);
    if let Some((live, caller)) = session {
        chrome.user = Some(
            caller
                .user
                .name
                .clone()
                .unwrap_or_else(|| caller.id().to_string()),
        );
        chrome.csrf = live.csrf.clone();
    }
    chrome
}

/// The live session of the request's cookie and its user, whose token the
/// identity backend must still take (else the session ends).
async fn session_of(
    http: &HttpRequest,
    state: &AppState,
    web: &WebState,
) -> Result<Option<(Live, Caller)>, AppError> {
    let Some(id) = cookie(http.headers(), SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(live) = web.sessions.get(&state.registry, id).await? else {
        return Ok(None);
    };
    match state.registry.authenticate(&live.token).await {
        Ok(caller) => Ok(Some((live, caller))),
        Err(AppError::Unauthenticated(_)) => {
            web.sessions.end(&state.registry, &live.id).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// 303 to the login page, which will lead back here (for a GET); a stale
/// session cookie is cleared.
fn to_login(http: &HttpRequest, base: &str) -> HttpResponse {
    let ui = format!("{base}/ui");
    let mut location = format!("{ui}/login");
    if http.method() == actix_web::http::Method::GET {
        let mut here = http.uri().path().to_string();
        if !http.query_string().is_empty() {
            here = format!("{here}?{}", http.query_string());
        }
        if here != format!("{ui}/") {
            location = format!("{location}?next={}", encode_segment(&here));
        }
    }
    let mut resp = see_other(&location);
    if cookie(http.headers(), SESSION_COOKIE).is_some() {
        let clear = session::set_cookie(SESSION_COOKIE, None, &ui, Duration::ZERO, secure(http));
        if let Ok(v) = HeaderValue::from_str(&clear) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}
