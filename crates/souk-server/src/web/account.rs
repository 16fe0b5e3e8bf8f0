//! Logging in and out.

use super::session::{set_cookie, Submitted, Visitor, SESSION_COOKIE};
use super::{page, render, PageResult, WebError};
use crate::usecase::console;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password-reset", get(reset_page).post(reset_request))
        .route(
            "/password-reset/{token}",
            get(reset_choose_page).post(reset_complete),
        )
}

#[derive(serde::Deserialize)]
struct Next {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    reset: Option<String>,
}

/// Only a path on this site (`/…`, not `//host`): no open redirect through `next`.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

async fn login_page(v: Visitor, Query(q): Query<Next>) -> PageResult {
    page(
        &v,
        "login.html",
        minijinja::context! {
            next => safe_next(q.next.as_deref()),
            email => "",
            reset_done => q.reset.as_deref() == Some("done"),
        },
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Where a role lands after logging in.
fn home(role: Role) -> &'static str {
    match role {
        Role::Operator => "/operator/reviews",
        Role::Seller => "/seller/products",
        Role::Buyer | Role::Reseller => "/shop",
    }
}

async fn login(State(state): State<AppState>, s: Submitted<LoginForm>) -> PageResult {
    let f = s.form;
    match console::login(&state, &f.email, &f.password).await {
        Ok(done) => {
            console::remember_lang(&state, &done.user, s.visitor.lang.code()).await?;
            let to = safe_next(f.next.as_deref())
                .unwrap_or(home(done.user.role))
                .to_owned();
            let mut res = Redirect::to(&to).into_response();
            let age = souk_core::console::SESSION_IDLE.whole_seconds();
            let cookie = set_cookie(SESSION_COOKIE, &done.token, age);
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|e| {
                    WebError::from(crate::error::AppError::internal(anyhow::anyhow!(e)))
                })?,
            );
            Ok(res)
        }
        // A wrong password or a throttled address: the form again, with the reason.
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                || e.status == StatusCode::TOO_MANY_REQUESTS =>
        {
            render(
                &s.visitor,
                "login.html",
                e.status,
                minijinja::context! {
                    next => safe_next(f.next.as_deref()),
                    email => f.email,
                    problem => e.message,
                    code => e.code,
                },
            )
        }
        Err(e) => Err(WebError::with(&s.visitor)(e)),
    }
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn logout(State(state): State<AppState>, s: Submitted<Empty>) -> PageResult {
    if let Some(t) = &s.visitor.token {
        console::logout(&state, t).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("souk_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(res)
}

async fn reset_page(v: Visitor) -> PageResult {
    page(
        &v,
        "password_reset.html",
        minijinja::context! { step => "ask" },
    )
}

#[derive(serde::Deserialize)]
struct ResetRequest {
    email: String,
}

/// The same page whether the address is a login or not.
async fn reset_request(State(state): State<AppState>, s: Submitted<ResetRequest>) -> PageResult {
    console::request_password_reset(&state, &s.form.email, s.visitor.lang.code())
        .await
        .map_err(WebError::with(&s.visitor))?;
    page(
        &s.visitor,
        "password_reset.html",
        minijinja::context! { step => "sent" },
    )
}

async fn reset_choose_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> PageResult {
    console::check_reset_token(&state, &token)
        .await
        .map_err(WebError::with(&v))?;
    page(
        &v,
        "password_reset.html",
        minijinja::context! { step => "choose", token },
    )
}

#[derive(serde::Deserialize)]
struct NewPassword {
    password: String,
}

async fn reset_complete(
    State(state): State<AppState>,
    Path(token): Path<String>,
    s: Submitted<NewPassword>,
) -> PageResult {
    match console::complete_password_reset(&state, &token, &s.form.password).await {
        Ok(()) => Ok(Redirect::to("/login?reset=done").into_response()),
        // A password the rules refuse: the form again, saying why.
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY
                || e.status == StatusCode::BAD_REQUEST =>
        {
            render(
                &s.visitor,
                "password_reset.html",
                e.status,
                minijinja::context! { step => "choose", token, problem => e.message, code => e.code },
            )
        }
        Err(e) => Err(WebError::with(&s.visitor)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_ever_a_path_on_this_site() {
        assert_eq!(safe_next(Some("/shop?q=a")), Some("/shop?q=a"));
        assert_eq!(safe_next(Some("//evil.example/")), None);
        assert_eq!(safe_next(Some("https://evil.example/")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
    }
}
