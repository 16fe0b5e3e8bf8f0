//! Who is asking: the session cookie, the language, and the CSRF check every form passes.
//!
//! [`Visitor`] is any request (logged in or not), [`Member`] one with an open session (else a
//! redirect to the login page), [`Submitted`] a form whose CSRF token matched: the session's
//! token when logged in, else the `souk_csrf` cookie set with the login form (the
//! double-submit pattern, since there is no session yet). A form without a matching token is
//! refused with a 403 page before its handler runs.

use super::{Lang, WebError};
use crate::error::AppError;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use souk_core::id::ApiKeyId;
use souk_core::party::Role;
use souk_store::{ConsoleSession, Principal};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "souk_session";
pub const CSRF_COOKIE: &str = "souk_csrf";
pub const LANG_COOKIE: &str = "souk_lang";

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for a console cookie (HttpOnly, SameSite=Lax, whole site).
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}")
}

/// Any request to a console page.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: Option<ConsoleSession>,
    /// The cookie's token while logged in (to log out).
    pub token: Option<String>,
    pub lang: Lang,
    /// The anonymous double-submit token (from the cookie, or fresh for this page).
    pub anon_csrf: String,
    /// Whether `anon_csrf` is new and must be set as a cookie with the response.
    pub anon_csrf_is_new: bool,
    /// Path and query of this request.
    pub here: String,
}

impl Visitor {
    /// For error pages rendered before the request could be read.
    pub fn anonymous() -> Visitor {
        Visitor {
            session: None,
            token: None,
            lang: Lang::En,
            anon_csrf: String::new(),
            anon_csrf_is_new: false,
            here: "/".to_owned(),
        }
    }

    /// The token this visitor's forms must carry.
    pub fn csrf(&self) -> &str {
        self.session
            .as_ref()
            .map_or(self.anon_csrf.as_str(), |s| s.csrf_token.as_str())
    }

    /// Whether `presented` is this visitor's form token (constant-time).
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        let expected = self.csrf();
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let lang = Lang::choose(
            parts.uri.query(),
            cookie(parts, LANG_COOKIE),
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let here = parts
            .uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let token = cookie(parts, SESSION_COOKIE)
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned);
        let session = match &token {
            Some(t) => crate::usecase::console::session(state, t).await?,
            None => None,
        };
        let (anon_csrf, anon_csrf_is_new) = match cookie(parts, CSRF_COOKIE) {
            Some(c) if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (c.to_owned(), false)
            }
            _ => (souk_core::console::new_token(), true),
        };
        Ok(Visitor {
            token: session.as_ref().and(token),
            session,
            lang,
            anon_csrf,
            anon_csrf_is_new,
            here,
        })
    }
}

/// A request with an open session.
#[derive(Debug, Clone)]
pub struct Member {
    pub visitor: Visitor,
}

impl Member {
    pub fn session(&self) -> &ConsoleSession {
        self.visitor
            .session
            .as_ref()
            .expect("a Member always has a session")
    }

    /// The party this person acts for, as the use cases take it. A console session acts with
    /// its party's authority; `key_id` names the console user (no use case reads it).
    pub fn principal(&self) -> Principal {
        let u = &self.session().user;
        Principal {
            party_id: u.party_id.clone(),
            role: u.role,
            key_id: ApiKeyId::from_trusted(u.id.as_str().to_owned()),
        }
    }

    /// Refuses the page unless the person acts for one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), WebError> {
        if roles.contains(&self.session().user.role) {
            return Ok(());
        }
        Err(WebError::with(&self.visitor)(AppError::forbidden(format!(
            "this page is for {} accounts; you are logged in for a {}",
            roles
                .iter()
                .map(Role::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
            self.session().user.role
        ))))
    }
}

/// Not logged in: go to the login page, then come back.
pub struct LoginFirst(String);

impl IntoResponse for LoginFirst {
    fn into_response(self) -> Response {
        let next = percent_encode(&self.0);
        Redirect::to(&format!("/login?next={next}")).into_response()
    }
}

fn percent_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

pub enum MemberRejection {
    Error(WebError),
    Login(LoginFirst),
}

impl IntoResponse for MemberRejection {
    fn into_response(self) -> Response {
        match self {
            MemberRejection::Error(e) => e.into_response(),
            MemberRejection::Login(l) => l.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = MemberRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(MemberRejection::Error)?;
        if visitor.session.is_none() {
            let here = if parts.method == axum::http::Method::GET {
                visitor.here.clone()
            } else {
                "/".to_owned()
            };
            return Err(MemberRejection::Login(LoginFirst(here)));
        }
        Ok(Member { visitor })
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A submitted form (`application/x-www-form-urlencoded`) whose CSRF token matched.
pub struct Submitted<T> {
    pub visitor: Visitor,
    pub form: T,
}

impl<T: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Submitted<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        let refuse = WebError::with(&visitor);
        let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| {
                refuse(AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the form is too large",
                ))
            })?;
        let refuse = WebError::with(&visitor);
        let presented: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            refuse(AppError::bad_request(
                "invalid_form",
                format!("the form could not be read: {e}"),
            ))
        })?;
        // Without a session, the cookie must have come with the request (a fresh one proves
        // nothing: the browser never had it).
        if (visitor.session.is_none() && visitor.anon_csrf_is_new)
            || !visitor.csrf_matches(&presented.csrf)
        {
            return Err(WebError::with(&visitor)(AppError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "this form has expired or did not come from this site; reload the page and \
                 submit it again",
            )));
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            WebError::with(&visitor)(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_form",
                format!("a field of the form is not valid: {e}"),
            ))
        })?;
        Ok(Submitted { visitor, form })
    }
}
