//! The web console's accounts: creating a login for a party, logging in (throttled), the
//! session behind a cookie, logging out. Passwords are hashed with argon2id (the `argon2`
//! crate's defaults, OWASP's recommended parameters) on a blocking thread, since a hash takes
//! tens of milliseconds of CPU by design.

use crate::error::{AppError, AppResult};
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::StatusCode;
use souk_core::console::{
    new_token, password_problem, throttled_until, token_hash, THROTTLE_WINDOW,
};
use souk_core::id::ConsoleUserId;
use souk_core::party::{Email, PartyId};
use souk_store::{ConsoleSession, ConsoleUser, NewConsoleUser, StoreError};

/// A login that just succeeded: the cookie's token (shown to the browser once, stored only
/// as a hash) and who logged in.
pub struct LoggedIn {
    pub token: String,
    pub user: ConsoleUser,
}

fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (a malformed stored hash never matches).
async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .map_err(AppError::internal)
}

/// A hash of a random password nobody knows, verified when the address is unknown so that a
/// wrong address takes as long as a wrong password (no account enumeration by timing).
async fn dummy_hash() -> AppResult<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password(new_token()))
        .await
        .cloned()
}

/// Gives `party` a console login (operator only, or `souk serve --demo`).
pub async fn create_user(
    state: &AppState,
    actor: &PartyId,
    party: &PartyId,
    email: &str,
    password: &str,
) -> AppResult<ConsoleUser> {
    let email = Email::parse(email).map_err(|e| AppError::invalid_field("email", e))?;
    if let Some(p) = password_problem(password) {
        return Err(AppError::invalid_field("password", p));
    }
    let password_hash = hash_password(password.to_owned()).await?;
    let now = state.clock.now();
    let created = state
        .store
        .create_console_user(NewConsoleUser {
            id: ConsoleUserId::generate(now),
            party_id: party.clone(),
            email: normalise_email(email.as_str()),
            password_hash,
            actor: actor.clone(),
            now,
        })
        .await;
    match created {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(AppError::not_found("party")),
        Err(StoreError::Conflict { constraint, .. })
            if constraint == "console_users_email_unique" =>
        {
            Err(AppError::conflict(
                "email_taken",
                "this e-mail address already has a console login",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn throttled(until: time::OffsetDateTime) -> AppError {
    let (h, m) = (until.hour(), until.minute());
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login_throttled",
        format!(
            "too many failed logins for this address; try again after {h:02}:{m:02} UTC, or \
             ask the operator to reset your password"
        ),
    )
}

/// Session time is security time, like protocol time: the real clock, never the injectable
/// business clock. Otherwise `souk clock advance 30d` in a sandbox would log everybody out,
/// and a clock set back would keep an abandoned session open.
fn session_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Checks an e-mail address and password; on success opens a session.
pub async fn login(state: &AppState, email: &str, password: &str) -> AppResult<LoggedIn> {
    let email = normalise_email(email);
    let now = state.clock.now();
    let since = now - THROTTLE_WINDOW;
    let failures = state.store.login_failures(&email, since).await?;
    if let Some(until) = throttled_until(&failures, now) {
        return Err(throttled(until));
    }
    let user = state.store.console_user_by_email(&email).await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash().await?,
    };
    let ok = verify_password(password.to_owned(), hash).await?;
    match user {
        Some(user) if ok => {
            let token = new_token();
            state
                .store
                .open_session(&token_hash(&token), &user.id, &new_token(), session_now())
                .await?;
            Ok(LoggedIn { token, user })
        }
        _ => {
            let failures = state.store.record_login_failure(&email, now, since).await?;
            if let Some(until) = throttled_until(&failures, now) {
                return Err(throttled(until));
            }
            Err(AppError::unauthenticated(
                "invalid_login",
                "the e-mail address or the password is wrong",
            ))
        }
    }
}

/// The session behind a cookie's token, if it is open.
pub async fn session(state: &AppState, token: &str) -> AppResult<Option<ConsoleSession>> {
    Ok(state
        .store
        .touch_session(&token_hash(token), session_now())
        .await?)
}

pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    Ok(state.store.close_session(&token_hash(token)).await?)
}

/// Remembers the language a person uses, for the mails they get.
pub async fn remember_lang(state: &AppState, user: &ConsoleUser, lang: &str) -> AppResult<()> {
    if user.lang != lang {
        state.store.set_console_user_lang(&user.id, lang).await?;
    }
    Ok(())
}

/// "Forgot my password": mails a single-use link to the address if it is a login of an active
/// party. The answer is the same whether it is or not (no account enumeration); a login asks
/// at most `RESETS_PER_HOUR` times an hour, further requests are ignored the same way.
pub async fn request_password_reset(state: &AppState, email: &str, lang: &str) -> AppResult<()> {
    let email = normalise_email(email);
    let Some(user) = state.store.console_user_by_email(&email).await? else {
        return Ok(());
    };
    let now = state.clock.now();
    let token = new_token();
    let hash = token_hash(&token);
    let mail = souk_store::NewMail {
        event_key: format!("password_reset:{hash}"),
        recipient: user.email.clone(),
        lang: lang.to_owned(),
        kind: "password_reset".into(),
        subject: String::new(),
        body: String::new(),
        link: None,
        secret_sealed: Some(
            state
                .master_key
                .seal(crate::usecase::mail::RESET_SECRET_CONTEXT, &token),
        ),
    };
    let expires = now + souk_core::console::RESET_VALIDITY;
    state
        .store
        .request_password_reset(&user.id, &hash, expires, mail, now)
        .await?;
    state.wake.notify_one();
    Ok(())
}

fn reset_link_invalid() -> AppError {
    AppError::new(
        StatusCode::GONE,
        "reset_link_invalid",
        "this password-reset link was already used or has expired; ask for a new one",
    )
}

/// Checks a reset link before showing its form.
pub async fn check_reset_token(state: &AppState, token: &str) -> AppResult<()> {
    match state
        .store
        .password_reset_user(&token_hash(token), state.clock.now())
        .await?
    {
        Some(_) => Ok(()),
        None => Err(reset_link_invalid()),
    }
}

/// Sets a new password through a reset link (once); every session of the login is closed.
pub async fn complete_password_reset(
    state: &AppState,
    token: &str,
    password: &str,
) -> AppResult<()> {
    if let Some(p) = password_problem(password) {
        return Err(AppError::invalid_field("password", p));
    }
    // Refuse a dead link before spending a hash on it.
    check_reset_token(state, token).await?;
    let hash = hash_password(password.to_owned()).await?;
    match state
        .store
        .complete_password_reset(&token_hash(token), &hash, state.clock.now())
        .await?
    {
        Some(_) => Ok(()),
        None => Err(reset_link_invalid()),
    }
}
