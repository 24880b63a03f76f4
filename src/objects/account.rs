//! `/<account>`: its containers (docs/api.md §14).

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;

use super::{parse, render, Req};
use crate::domain::objects::listing::NameQuery;
use crate::error::AppError;
use crate::registry::objects::ContainerView;

/// The account's headers: its containers, bytes, and quota (0: none).
fn account_headers(resp: &mut HttpResponse, containers: &[ContainerView], quota: u64) {
    let bytes: u64 = containers.iter().map(|c| c.bytes).sum();
    for (k, v) in [
        ("x-account-container-count", containers.len().to_string()),
        ("x-account-bytes-used", bytes.to_string()),
        ("x-account-policy-quota", quota.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
}

async fn containers(r: &Req) -> Result<Vec<ContainerView>, AppError> {
    let account = parse::account(r.part(0))?;
    r.registry().account_containers(r.caller()?, &account).await
}

/// `HEAD /<account>`: 204 and its counts.
pub(super) async fn head(r: Req) -> Result<HttpResponse, AppError> {
    let all = containers(&r).await?;
    let mut resp = HttpResponse::NoContent().finish();
    account_headers(&mut resp, &all, r.registry().object_quota());
    Ok(resp)
}

/// `GET /<account>`: its containers, as JSON or one name a line; with no
/// account (`GET <base>/object-store/v1/`), the accounts sharing with the
/// caller (`kamaki sharer list`).
pub(super) async fn get(r: Req) -> Result<HttpResponse, AppError> {
    if r.part(0).is_empty() {
        return sharers(r).await;
    }
    let q = NameQuery::parse(&r.query)?;
    let all = containers(&r).await?;
    let entries = q.apply(all.iter().map(|c| (c.name.clone(), c.clone())));
    let mut resp = if r.query.json() {
        render::container_list(&entries)
    } else {
        render::text_lines(&render::names(&entries, |c| c.name.as_str()))
    };
    account_headers(&mut resp, &all, r.registry().object_quota());
    Ok(resp)
}

/// `GET <base>/object-store/v1[/]`: the accounts sharing with the caller
/// (`kamaki sharer list`), as JSON or one name a line.
pub(super) async fn sharers(r: Req) -> Result<HttpResponse, AppError> {
    let accounts = r.registry().sharers(r.caller()?).await?;
    Ok(if r.query.json() {
        render::sharers(&accounts)
    } else {
        render::text_lines(&accounts.into_iter().map(|(a, _)| a).collect::<Vec<_>>())
    })
}
