//! The web consoles' accounts: console users, database sessions (shared by every `souk`
//! process on the database), failed-login records for throttling, and the storefront search.

use crate::console_mail::{self as mail, MailBacklog, NewMail, OutboxMail};
use crate::console_sales::{self as sales, DaySalesRow};
use crate::search::{ProductSearch, SearchHit};
use crate::sql::corrupt;
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::ConsoleUserId;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

/// A person who logs in for a party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: ConsoleUserId,
    pub party_id: PartyId,
    pub role: Role,
    pub party_name: String,
    pub email: String,
    /// The argon2 PHC string.
    pub password_hash: String,
    /// The language the person reads mail in (`en`, `zh`): the one they last logged in with.
    pub lang: String,
}

/// A console user to create.
#[derive(Debug, Clone)]
pub struct NewConsoleUser {
    pub id: ConsoleUserId,
    pub party_id: PartyId,
    /// Lower-cased.
    pub email: String,
    pub password_hash: String,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

/// A live session, with who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user: ConsoleUser,
    pub csrf_token: String,
    pub last_seen_at: OffsetDateTime,
}

#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// Creates a login for a party (audited). `Conflict` on `console_users_email_unique`.
    /// `None` when the party does not exist.
    async fn create_console_user(&self, u: NewConsoleUser) -> StoreResult<Option<ConsoleUser>>;

    /// The user with this (lower-cased) address whose party is active.
    async fn console_user_by_email(&self, email: &str) -> StoreResult<Option<ConsoleUser>>;

    /// The logins of a party.
    async fn console_users_of(&self, party: &PartyId) -> StoreResult<Vec<ConsoleUser>>;

    /// Opens a session, and forgets the address's failed logins.
    async fn open_session(
        &self,
        token_hash: &str,
        user: &ConsoleUserId,
        csrf_token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// The session behind a token hash, if it exists and its party is active; records use
    /// (at most once a minute, so that most page views stay reads).
    async fn touch_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleSession>>;

    async fn close_session(&self, token_hash: &str) -> StoreResult<()>;

    /// Records a failed login and returns the address's failures since `since` (oldest are
    /// pruned on the way).
    async fn record_login_failure(
        &self,
        email: &str,
        now: OffsetDateTime,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>>;

    /// The address's failed logins since `since`.
    async fn login_failures(
        &self,
        email: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>>;

    /// Listed products matching a storefront search, and whether more follow.
    async fn search_listed(&self, s: &ProductSearch) -> StoreResult<(Vec<SearchHit>, bool)>;

    /// Remembers the language a login reads its mail in.
    async fn set_console_user_lang(&self, user: &ConsoleUserId, lang: &str) -> StoreResult<()>;

    /// Claims up to `limit` mails due at `now` for `lease` (compare-and-set per row).
    async fn claim_due_mails(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>>;

    /// The SMTP server accepted the mail: it is never sent again; its secret is erased.
    async fn mail_sent(&self, id: &str, now: OffsetDateTime) -> StoreResult<()>;

    /// Sending failed: try again at `retry_at`, or give up (`None`: state `failed`).
    async fn mail_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> StoreResult<()>;

    /// No SMTP server is configured: every pending mail becomes `skipped` (the message
    /// centre keeps the notices). Returns how many.
    async fn skip_pending_mails(&self) -> StoreResult<u64>;

    /// Mails per state, for the operator's health page.
    async fn mail_backlog(&self) -> StoreResult<MailBacklog>;

    /// Stores a reset token's hash and queues its mail, in one transaction. `false` (nothing
    /// stored) when the login already asked [`RESETS_PER_HOUR`] times in the last hour.
    async fn request_password_reset(
        &self,
        user: &ConsoleUserId,
        token_hash: &str,
        expires_at: OffsetDateTime,
        mail: NewMail,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// The login a reset token opens, if it is unused, unexpired and its party active.
    async fn password_reset_user(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleUserId>>;

    /// A seller's newest orders, newest first.
    async fn recent_orders(&self, seller: &PartyId, limit: u32) -> StoreResult<Vec<OrderRecord>>;

    /// A seller's newest instances, newest first.
    async fn recent_instances(
        &self,
        seller: &PartyId,
        limit: u32,
    ) -> StoreResult<Vec<InstanceRecord>>;

    /// A seller's paid (not refunded) orders since `since`, per business day and currency.
    async fn sales_per_day(
        &self,
        seller: &PartyId,
        since: OffsetDateTime,
        zone_offset_ms: i64,
    ) -> StoreResult<Vec<DaySalesRow>>;

    /// Spends the token (single use) and sets the new password hash; closes the login's
    /// sessions and its other reset links (audited). `None` if the token is not valid.
    async fn complete_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleUserId>>;
}

const USER_COLUMNS: &str = "u.id, u.party_id, p.role, p.name AS party_name, u.email, \
                            u.password_hash, u.lang";

fn user_from_row(row: &AnyRow) -> StoreResult<ConsoleUser> {
    Ok(ConsoleUser {
        id: ConsoleUserId::from_trusted(row.try_get("id")?),
        party_id: PartyId::from_trusted(row.try_get("party_id")?),
        role: Role::from_str(&row.try_get::<String, _>("role")?).map_err(|e| corrupt("role", e))?,
        party_name: row.try_get("party_name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        lang: row.try_get("lang")?,
    })
}

#[async_trait::async_trait]
impl ConsoleStore for SqlStore {
    async fn create_console_user(&self, u: NewConsoleUser) -> StoreResult<Option<ConsoleUser>> {
        let mut tx = self.write.begin().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM parties WHERE id = $1")
            .bind(u.party_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO console_users (id, party_id, email, password_hash, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(u.id.as_str())
        .bind(u.party_id.as_str())
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(to_unix_ms(u.now))
        .execute(&mut *tx)
        .await?;
        crate::sql::audit(
            &mut tx,
            u.now,
            Some(&u.actor),
            "console_user.created",
            u.party_id.as_str(),
            serde_json::json!({ "user_id": u.id, "email": u.email }),
        )
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM console_users u JOIN parties p ON p.id = u.party_id \
             WHERE u.id = $1"
        ))
        .bind(u.id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let user = user_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn console_user_by_email(&self, email: &str) -> StoreResult<Option<ConsoleUser>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM console_users u JOIN parties p ON p.id = u.party_id \
             WHERE u.email = $1 AND p.status = 'active'"
        ))
        .bind(email)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn console_users_of(&self, party: &PartyId) -> StoreResult<Vec<ConsoleUser>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM console_users u JOIN parties p ON p.id = u.party_id \
             WHERE u.party_id = $1 ORDER BY u.id"
        ))
        .bind(party.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn open_session(
        &self,
        token_hash: &str,
        user: &ConsoleUserId,
        csrf_token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(csrf_token)
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM console_login_failures WHERE email = \
             (SELECT email FROM console_users WHERE id = $1)",
        )
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleSession>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.last_seen_at FROM console_sessions s \
             JOIN console_users u ON u.id = s.user_id JOIN parties p ON p.id = u.party_id \
             WHERE s.token_hash = $1 AND p.status = 'active'"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let last: i64 = row.try_get("last_seen_at")?;
        let session = ConsoleSession {
            user: user_from_row(&row)?,
            csrf_token: row.try_get("csrf_token")?,
            last_seen_at: from_unix_ms(last),
        };
        if !souk_core::console::session_alive(session.last_seen_at, now) {
            self.close_session(token_hash).await?;
            return Ok(None);
        }
        if to_unix_ms(now) - last > 60_000 {
            sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(to_unix_ms(now))
                .bind(token_hash)
                .execute(&self.write)
                .await?;
        }
        Ok(Some(session))
    }

    async fn close_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn record_login_failure(
        &self,
        email: &str,
        now: OffsetDateTime,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM console_login_failures WHERE email = $1 AND at <= $2")
            .bind(email)
            .bind(to_unix_ms(since))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO console_login_failures (email, at) VALUES ($1, $2)")
            .bind(email)
            .bind(to_unix_ms(now))
            .execute(&mut *tx)
            .await?;
        let out = failures(&mut tx, email, since).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn login_failures(
        &self,
        email: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>> {
        let mut conn = self.read.acquire().await?;
        failures(&mut conn, email, since).await
    }

    async fn search_listed(&self, s: &ProductSearch) -> StoreResult<(Vec<SearchHit>, bool)> {
        self.search_listed_impl(s).await
    }

    async fn set_console_user_lang(&self, user: &ConsoleUserId, lang: &str) -> StoreResult<()> {
        mail::set_console_user_lang(self, user, lang).await
    }

    async fn claim_due_mails(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        mail::claim_due_mails(self, now, lease, limit).await
    }

    async fn mail_sent(&self, id: &str, now: OffsetDateTime) -> StoreResult<()> {
        mail::mail_sent(self, id, now).await
    }

    async fn mail_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        mail::mail_failed(self, id, error, retry_at).await
    }

    async fn skip_pending_mails(&self) -> StoreResult<u64> {
        mail::skip_pending_mails(self).await
    }

    async fn mail_backlog(&self) -> StoreResult<MailBacklog> {
        mail::mail_backlog(self).await
    }

    async fn request_password_reset(
        &self,
        user: &ConsoleUserId,
        token_hash: &str,
        expires_at: OffsetDateTime,
        m: NewMail,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        mail::request_password_reset(self, user, token_hash, expires_at, m, now).await
    }

    async fn password_reset_user(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleUserId>> {
        mail::password_reset_user(self, token_hash, now).await
    }

    async fn recent_orders(&self, seller: &PartyId, limit: u32) -> StoreResult<Vec<OrderRecord>> {
        sales::recent_orders(self, seller, limit).await
    }

    async fn recent_instances(
        &self,
        seller: &PartyId,
        limit: u32,
    ) -> StoreResult<Vec<InstanceRecord>> {
        sales::recent_instances(self, seller, limit).await
    }

    async fn sales_per_day(
        &self,
        seller: &PartyId,
        since: OffsetDateTime,
        zone_offset_ms: i64,
    ) -> StoreResult<Vec<DaySalesRow>> {
        sales::sales_per_day(self, seller, since, zone_offset_ms).await
    }

    async fn complete_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ConsoleUserId>> {
        mail::complete_password_reset(self, token_hash, password_hash, now).await
    }
}

async fn failures(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    since: OffsetDateTime,
) -> StoreResult<Vec<OffsetDateTime>> {
    let ats: Vec<i64> = sqlx::query_scalar(
        "SELECT at FROM console_login_failures WHERE email = $1 AND at > $2 ORDER BY at",
    )
    .bind(email)
    .bind(to_unix_ms(since))
    .fetch_all(&mut *conn)
    .await?;
    Ok(ats.into_iter().map(from_unix_ms).collect())
}
