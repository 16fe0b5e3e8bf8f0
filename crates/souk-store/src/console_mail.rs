//! E-mail for the consoles' people: the outbox (`email_outbox`) and password resets.
//!
//! A mail is a row written in the transaction of the event it tells about — every
//! message-centre notice ([`enqueue_notice`], called by `insert_notice`) and every
//! password-reset request — so a committed event always has its mail, and a rolled-back one
//! never does. `UNIQUE (event_key, recipient)` makes a second mail for one event and address
//! impossible. The mail worker claims due rows with a lease (compare-and-set), sends them, and
//! marks them sent or schedules the next attempt.

use crate::exec::Exec;
use crate::sql::audit;
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::ConsoleUserId;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The console path notice mails link to: the message centre.
pub const MESSAGES_PATH: &str = "/messages";

/// A mail to send, as claimed by the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: String,
    pub event_key: String,
    pub recipient: String,
    /// `en` or `zh`.
    pub lang: String,
    /// The notice kind (`call_failed`, …) or `password_reset`.
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
    /// A secret the mail carries (a reset token), sealed with the master key.
    pub secret_sealed: Option<String>,
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

/// A mail to enqueue outside a notice (a password reset).
#[derive(Debug, Clone)]
pub struct NewMail {
    pub event_key: String,
    pub recipient: String,
    pub lang: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
    pub secret_sealed: Option<String>,
}

/// How many mails are in each state (`pending`, `sent`, `failed`, `skipped`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MailBacklog {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
}

fn mail_from_row(row: &AnyRow) -> StoreResult<OutboxMail> {
    Ok(OutboxMail {
        id: row.try_get("id")?,
        event_key: row.try_get("event_key")?,
        recipient: row.try_get("recipient")?,
        lang: row.try_get("lang")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        secret_sealed: row.try_get("secret_sealed")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        created_at: from_unix_ms(row.try_get("created_at")?),
    })
}

pub(crate) async fn insert_mail(
    conn: &mut impl Exec,
    m: &NewMail,
    now: OffsetDateTime,
) -> StoreResult<()> {
    // A second mail for the same event and address is the one the unique key refuses: keep
    // the first, silently.
    let query = sqlx::query(
        "INSERT INTO email_outbox (id, event_key, recipient, lang, kind, subject, body, link, \
         secret_sealed, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10) \
         ON CONFLICT (event_key, recipient) DO NOTHING",
    )
    .bind(souk_core::id::generate("mail", now))
    .bind(&m.event_key)
    .bind(&m.recipient)
    .bind(&m.lang)
    .bind(&m.kind)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(m.link.clone())
    .bind(m.secret_sealed.clone())
    .bind(to_unix_ms(now));
    conn.exec(query).await?;
    Ok(())
}

/// Mails a notice just recorded as message `message_id` to everybody who reads for `party`:
/// each of its console logins (in the language they last logged in with) and the party's
/// contact address (in English), each address once.
pub(crate) async fn enqueue_notice(
    conn: &mut impl Exec,
    party: &PartyId,
    message_id: &str,
    notice: &souk_core::notice::Notice,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let mut recipients: Vec<(String, String)> = Vec::new();
    let rows = conn
        .all(
            sqlx::query("SELECT email, lang FROM console_users WHERE party_id = $1 ORDER BY id")
                .bind(party.as_str()),
        )
        .await?;
    for r in &rows {
        recipients.push((r.try_get("email")?, r.try_get("lang")?));
    }
    let contact: Option<String> = match conn
        .optional(sqlx::query("SELECT email FROM parties WHERE id = $1").bind(party.as_str()))
        .await?
    {
        Some(row) => row.try_get("email")?,
        None => None,
    };
    if let Some(c) = contact.map(|c| c.trim().to_lowercase()) {
        if !c.is_empty() && !recipients.iter().any(|(e, _)| *e == c) {
            recipients.push((c, "en".into()));
        }
    }
    for (recipient, lang) in recipients {
        let mail = NewMail {
            event_key: message_id.to_owned(),
            recipient,
            lang,
            kind: notice.kind.to_owned(),
            subject: notice.subject.clone(),
            body: notice.body.clone(),
            link: Some(MESSAGES_PATH.to_owned()),
            secret_sealed: None,
        };
        insert_mail(conn, &mail, now).await?;
    }
    Ok(())
}

pub(crate) async fn claim_due_mails(
    s: &SqlStore,
    now: OffsetDateTime,
    lease: time::Duration,
    limit: u32,
) -> StoreResult<Vec<OutboxMail>> {
    let now_ms = to_unix_ms(now);
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM email_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(&s.read)
    .await?;
    let mut out = Vec::new();
    for id in ids {
        // Compare-and-set: another process may have claimed it meanwhile.
        let row = sqlx::query(
            "UPDATE email_outbox SET lease_until = $1 WHERE id = $2 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING *",
        )
        .bind(to_unix_ms(now + lease))
        .bind(&id)
        .bind(now_ms)
        .fetch_optional(&s.write)
        .await?;
        if let Some(row) = row {
            out.push(mail_from_row(&row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn mail_sent(s: &SqlStore, id: &str, now: OffsetDateTime) -> StoreResult<()> {
    sqlx::query(
        "UPDATE email_outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, \
         lease_until = NULL, secret_sealed = NULL, last_error = NULL \
         WHERE id = $2 AND state = 'pending'",
    )
    .bind(to_unix_ms(now))
    .bind(id)
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(crate) async fn mail_failed(
    s: &SqlStore,
    id: &str,
    error: &str,
    retry_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    // No retry left: `failed` for good, and a secret it carried is no longer needed.
    sqlx::query(
        "UPDATE email_outbox SET attempts = attempts + 1, last_error = $1, lease_until = NULL, \
         next_attempt_at = COALESCE($2, next_attempt_at), \
         state = CASE WHEN $2 IS NULL THEN 'failed' ELSE 'pending' END, \
         secret_sealed = CASE WHEN $2 IS NULL THEN NULL ELSE secret_sealed END \
         WHERE id = $3 AND state = 'pending'",
    )
    .bind(error)
    .bind(retry_at.map(to_unix_ms))
    .bind(id)
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(crate) async fn skip_pending_mails(s: &SqlStore) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE email_outbox SET state = 'skipped', secret_sealed = NULL WHERE state = 'pending'",
    )
    .execute(&s.write)
    .await?
    .rows_affected())
}

pub(crate) async fn mail_backlog(s: &SqlStore) -> StoreResult<MailBacklog> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM email_outbox GROUP BY state")
        .fetch_all(&s.read)
        .await?;
    let mut b = MailBacklog::default();
    for r in rows {
        let n = r.try_get::<i64, _>("n")? as u64;
        match r.try_get::<String, _>("state")?.as_str() {
            "pending" => b.pending = n,
            "sent" => b.sent = n,
            "failed" => b.failed = n,
            _ => b.skipped += n,
        }
    }
    Ok(b)
}

/// Password resets a login may request per hour; more are ignored (silently, like an
/// unknown address), so the form cannot flood a mailbox.
pub const RESETS_PER_HOUR: i64 = 3;

pub(crate) async fn request_password_reset(
    s: &SqlStore,
    user: &ConsoleUserId,
    token_hash: &str,
    expires_at: OffsetDateTime,
    mail: NewMail,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM console_password_resets WHERE user_id = $1 AND created_at > $2",
    )
    .bind(user.as_str())
    .bind(to_unix_ms(now - time::Duration::hours(1)))
    .fetch_one(&mut *tx)
    .await?;
    if recent >= RESETS_PER_HOUR {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO console_password_resets (token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user.as_str())
    .bind(to_unix_ms(now))
    .bind(to_unix_ms(expires_at))
    .execute(&mut *tx)
    .await?;
    insert_mail(&mut *tx, &mail, now).await?;
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn password_reset_user(
    s: &SqlStore,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<ConsoleUserId>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT r.user_id FROM console_password_resets r JOIN console_users u ON u.id = r.user_id \
         JOIN parties p ON p.id = u.party_id WHERE r.token_hash = $1 AND r.used_at IS NULL \
         AND r.expires_at > $2 AND p.status = 'active'",
    )
    .bind(token_hash)
    .bind(to_unix_ms(now))
    .fetch_optional(&s.read)
    .await?;
    Ok(id.map(ConsoleUserId::from_trusted))
}

pub(crate) async fn complete_password_reset(
    s: &SqlStore,
    token_hash: &str,
    password_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<ConsoleUserId>> {
    let mut tx = s.write.begin().await?;
    let now_ms = to_unix_ms(now);
    // Single use: the token is spent by the one transaction that flips `used_at`.
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE console_password_resets SET used_at = $1 WHERE token_hash = $2 \
         AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now_ms)
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user else {
        return Ok(None);
    };
    let party: Option<String> = sqlx::query_scalar(
        "SELECT u.party_id FROM console_users u JOIN parties p ON p.id = u.party_id \
         WHERE u.id = $1 AND p.status = 'active'",
    )
    .bind(&user)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(party) = party else {
        return Ok(None);
    };
    sqlx::query("UPDATE console_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_ms)
        .bind(&user)
        .execute(&mut *tx)
        .await?;
    // Every other link mailed for this login dies with it, and so does every open session:
    // whoever knew the old password is logged out.
    sqlx::query(
        "UPDATE console_password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
    )
    .bind(now_ms)
    .bind(&user)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM console_login_failures WHERE email = \
         (SELECT email FROM console_users WHERE id = $1)",
    )
    .bind(&user)
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        now,
        Some(&PartyId::from_trusted(party.clone())),
        "console_user.password_reset",
        &party,
        serde_json::json!({ "user_id": user }),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(ConsoleUserId::from_trusted(user)))
}

pub(crate) async fn set_console_user_lang(
    s: &SqlStore,
    user: &ConsoleUserId,
    lang: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE console_users SET lang = $1 WHERE id = $2 AND lang <> $1")
        .bind(lang)
        .bind(user.as_str())
        .execute(&s.write)
        .await?;
    Ok(())
}
