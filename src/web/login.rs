//! Logging in with a token and out again (docs/api.md §15). The login form
//! has no session yet, so its `csrf` field is checked against a cookie of
//! its own (the double-submit pattern; `SameSite=Strict` keeps other sites
//! from sending it). A good token starts a session and never leaves the
//! server; a bad one gets the form again, with no session cookie.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use super::render::{page, Chrome};
use super::session::{cookie, random_hex, same_secret, set_cookie, LOGIN_COOKIE, SESSION_COOKIE};
use super::{see_other, Req};
use crate::backends::identity::throttle::{client_key, retry_after_secs};
use crate::error::AppError;

/// How long a login form stays good.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    next: String,
    error: Option<String>,
}

/// Where a login may lead: a page of the web view given as a plain path
/// (never another site, never the login or logout itself).
fn safe_next(ui: &str, next: &str) -> Option<String> {
    let ok = next.starts_with(&format!("{ui}/"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.contains("/..")
        && !next.chars().any(char::is_control)
        && !next.starts_with(&format!("{ui}/login"))
        && !next.starts_with(&format!("{ui}/logout"));
    ok.then(|| next.to_string())
}

fn add_cookie(resp: &mut HttpResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The login form with `status` and `error`, and the cookie its `csrf` is checked against.
fn login_page(
    r: &Req,
    status: StatusCode,
    next: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let csrf = cookie(r.http.headers(), LOGIN_COOKIE).map_or_else(random_hex, str::to_string);
    let tpl = LoginPage {
        chrome: Chrome::anonymous(&r.ui(), "Log in"),
        next: safe_next(&r.ui(), next).unwrap_or_default(),
        csrf: csrf.clone(),
        error,
    };
    let mut resp = page(status, &tpl)?;
    let c = set_cookie(
        LOGIN_COOKIE,
        Some(&csrf),
        &r.ui(),
        LOGIN_FORM_TTL,
        r.secure(),
    );
    add_cookie(&mut resp, &c);
    Ok(resp)
}

/// `GET /ui/login`: the form (or, with a live session, the list).
pub(super) async fn form(r: Req) -> Result<HttpResponse, AppError> {
    let live = match cookie(r.http.headers(), SESSION_COOKIE) {
        Some(id) => r.web.sessions.get(&r.state.registry, id).await?,
        None => None,
    };
    if live.is_some() {
        return Ok(see_other(&format!("{}/", r.ui())));
    }
    let next = serde_urlencoded::from_str::<Vec<(String, String)>>(r.http.query_string())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v)
        .unwrap_or_default();
    login_page(&r, StatusCode::OK, &next, None)
}

/// `POST /ui/login` (`token`, `csrf`, `next`).
pub(super) async fn login(mut r: Req) -> Result<HttpResponse, AppError> {
    let form = r.plain_form().await?;
    let next = form.get("next").unwrap_or_default().to_string();
    let expected = cookie(r.http.headers(), LOGIN_COOKIE);
    let sent = form.get("csrf").unwrap_or_default();
    if !expected.is_some_and(|e| same_secret(e, sent)) {
        let why = "This login form has expired or did not come from this site: try again.";
        return login_page(&r, StatusCode::FORBIDDEN, &next, Some(why.into()));
    }
    let token = form.get("token").unwrap_or_default().trim().to_string();
    if token.is_empty() {
        let why = "Give your token.".to_string();
        return login_page(&r, StatusCode::UNAUTHORIZED, &next, Some(why));
    }
    // A wrong token counts against the address, as on every API.
    match crate::http::authenticate_token(&r.http, &r.state, &token).await {
        Ok(caller) => start_session(&r, token, caller.id(), &next).await,
        Err(AppError::Unauthenticated(_)) => {
            let why = "That token is not valid (or no longer is). Check it and try again.";
            login_page(&r, StatusCode::UNAUTHORIZED, &next, Some(why.into()))
        }
        Err(e @ AppError::Unavailable(_)) => {
            let why = format!("{e}: try again in a moment.");
            login_page(&r, StatusCode::SERVICE_UNAVAILABLE, &next, Some(why))
        }
        Err(AppError::TooMany {
            message,
            retry_after,
        }) => refused_for(&r, &next, message, retry_after),
        Err(e) => Err(e),
    }
}

/// The session of a good token, unless its user or this address has
/// logged in too often (429), or the server holds all the sessions it may
/// (503); the answer leads on to `next`.
async fn start_session(
    r: &Req,
    token: String,
    user: &str,
    next: &str,
) -> Result<HttpResponse, AppError> {
    let from = r.http.peer_addr().map(|a| client_key(a.ip()));
    if let Err(wait) = r.web.sessions.admit_login(from, user) {
        let secs = retry_after_secs(wait);
        let why = format!("Too many logins: try again in {secs} s.");
        return refused_for(r, next, why, secs);
    }
    let Some(id) = r.web.sessions.start(&r.state.registry, token, user).await? else {
        let why = "The server holds all the sessions it may: try again later.";
        return login_page(r, StatusCode::SERVICE_UNAVAILABLE, next, Some(why.into()));
    };
    let to = safe_next(&r.ui(), next).unwrap_or_else(|| format!("{}/", r.ui()));
    let mut resp = see_other(&to);
    let ttl = r.web.sessions.ttl();
    add_cookie(
        &mut resp,
        &set_cookie(SESSION_COOKIE, Some(&id), &r.ui(), ttl, r.secure()),
    );
    add_cookie(
        &mut resp,
        &set_cookie(LOGIN_COOKIE, None, &r.ui(), ttl, r.secure()),
    );
    resp.extensions_mut()
        .insert(crate::http::CallerId(user.to_string()));
    Ok(resp)
}

/// The login form again with 429 and `Retry-After`.
fn refused_for(r: &Req, next: &str, why: String, secs: u64) -> Result<HttpResponse, AppError> {
    let mut resp = login_page(r, StatusCode::TOO_MANY_REQUESTS, next, Some(why))?;
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    Ok(resp)
}

/// `POST /ui/logout` (`csrf`): ends the session; its cookie is cleared.
pub(super) async fn logout(mut r: Req) -> Result<HttpResponse, AppError> {
    r.form().await?;
    let (live, _) = r.live()?;
    r.web.sessions.end(&r.state.registry, &live.id).await?;
    let mut resp = see_other(&format!("{}/login", r.ui()));
    let clear = set_cookie(SESSION_COOKIE, None, &r.ui(), Duration::ZERO, r.secure());
    add_cookie(&mut resp, &clear);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_leads_only_to_a_page_of_the_view() {
        let ok = |n: &str| safe_next("/b/ui", n);
        assert_eq!(
            ok("/b/ui/images/x?y=1").as_deref(),
            Some("/b/ui/images/x?y=1")
        );
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/b/ui/",
            "/b/ui//evil",
            "/b/ui/../images",
            "/b/ui\\x",
            "/b/ui/login",
            "/b/ui/logout",
            "/b/uix",
            "/other/ui/",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }
}
