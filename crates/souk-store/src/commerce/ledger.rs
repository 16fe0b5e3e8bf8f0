//! Balances and the ledger: top-ups, credit limits, and the entries every debit and refund
//! writes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balance {
    pub buyer_id: PartyId,
    pub balance: Money,
    pub credit_limit: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub id: String,
    pub buyer_id: PartyId,
    pub amount: Money,
    pub kind: EntryKind,
    pub order_id: Option<String>,
    /// For `usage_charge` entries: the charge, which names the usage records it rated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_charge_id: Option<String>,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// ---------------------------------------------------------------------------------------------
// Helpers used inside transactions

pub(crate) async fn balance_in(
    conn: &mut impl Exec,
    buyer: &PartyId,
    currency: Currency,
) -> StoreResult<Balance> {
    // One round trip: the sum of the ledger and the credit limit (0 without an account row).
    let row = conn
        .one(
            sqlx::query(
                "SELECT CAST(COALESCE((SELECT SUM(amount_minor) FROM ledger_entries \
                 WHERE buyer_id = $1 AND currency = $2), 0) AS BIGINT) AS balance, \
                 CAST(COALESCE((SELECT credit_limit_minor FROM accounts \
                 WHERE buyer_id = $1 AND currency = $2), 0) AS BIGINT) AS credit",
            )
            .bind(buyer.as_str())
            .bind(currency.as_str()),
        )
        .await?;
    Ok(Balance {
        buyer_id: buyer.clone(),
        balance: Money::new(row.try_get("balance")?, currency),
        credit_limit: Money::new(row.try_get("credit")?, currency),
    })
}

/// Serialises balance changes of one buyer: on PostgreSQL a row lock on the account (created if
/// missing); on SQLite the single writer connection already serialises them.
pub(crate) async fn lock_account(
    conn: &mut impl Exec,
    _backend: Backend,
    buyer: &PartyId,
    currency: Currency,
    now: OffsetDateTime,
) -> StoreResult<()> {
    // One statement on both engines: a missing account is created, an existing one updated to
    // itself, which on PostgreSQL locks its row until the transaction ends (as `SELECT … FOR
    // UPDATE` did, one round trip fewer).
    conn.exec(
        sqlx::query(
            "INSERT INTO accounts (buyer_id, currency, credit_limit_minor, updated_at) \
             VALUES ($1, $2, 0, $3) ON CONFLICT (buyer_id, currency) \
             DO UPDATE SET updated_at = accounts.updated_at",
        )
        .bind(buyer.as_str())
        .bind(currency.as_str())
        .bind(to_unix_ms(now)),
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_entry(
    conn: &mut impl Exec,
    buyer: &PartyId,
    amount: Money,
    kind: EntryKind,
    order_id: Option<&str>,
    memo: Option<String>,
    actor: Option<&PartyId>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    conn.exec(entry_query(buyer, amount, kind, order_id, memo, actor, now))
        .await?;
    Ok(())
}

/// The statement [`insert_entry`] runs, for a [`Batch`].
pub(super) fn entry_query<'q>(
    buyer: &'q PartyId,
    amount: Money,
    kind: EntryKind,
    order_id: Option<&str>,
    memo: Option<String>,
    actor: Option<&PartyId>,
    now: OffsetDateTime,
) -> BatchQuery<'q> {
    sqlx::query(
        "INSERT INTO ledger_entries (id, buyer_id, currency, amount_minor, kind, order_id, memo, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(souk_core::id::generate("led", now))
    .bind(buyer.as_str())
    .bind(amount.currency.as_str().to_owned())
    .bind(amount.amount_minor)
    .bind(kind.as_str())
    .bind(order_id.map(str::to_owned))
    .bind(memo)
    .bind(actor.map(|a| a.as_str().to_owned()))
    .bind(to_unix_ms(now))
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn top_up(
    s: &SqlStore,
    buyer: &PartyId,
    amount: Money,
    memo: Option<String>,
    actor: &PartyId,
    now: OffsetDateTime,
) -> StoreResult<Option<Balance>> {
    let mut tx = s.write.begin().await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
            .bind(buyer.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    lock_account(&mut tx, s.backend, buyer, amount.currency, now).await?;
    insert_entry(
        &mut tx,
        buyer,
        amount,
        EntryKind::TopUp,
        None,
        memo.clone(),
        Some(actor),
        now,
    )
    .await?;
    audit(
        &mut tx,
        now,
        Some(actor),
        "balance.topped_up",
        buyer.as_str(),
        serde_json::json!({ "amount": amount, "memo": memo }),
    )
    .await?;
    let b = balance_in(&mut tx, buyer, amount.currency).await?;
    tx.commit().await?;
    Ok(Some(b))
}

pub(super) async fn set_credit_limit(
    s: &SqlStore,
    buyer: &PartyId,
    limit: Money,
    actor: &PartyId,
    now: OffsetDateTime,
) -> StoreResult<Option<Balance>> {
    let mut tx = s.write.begin().await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
            .bind(buyer.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    lock_account(&mut tx, s.backend, buyer, limit.currency, now).await?;
    sqlx::query(
        "UPDATE accounts SET credit_limit_minor = $1, updated_at = $2 \
         WHERE buyer_id = $3 AND currency = $4",
    )
    .bind(limit.amount_minor)
    .bind(to_unix_ms(now))
    .bind(buyer.as_str())
    .bind(limit.currency.as_str())
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        now,
        Some(actor),
        "balance.credit_limit_set",
        buyer.as_str(),
        serde_json::json!({ "limit": limit }),
    )
    .await?;
    let b = balance_in(&mut tx, buyer, limit.currency).await?;
    tx.commit().await?;
    Ok(Some(b))
}

pub(super) async fn balance(
    s: &SqlStore,
    scope: &Scope,
    buyer: &PartyId,
    currency: Currency,
) -> StoreResult<Option<Balance>> {
    if scope.tenant().is_some_and(|t| t != buyer.as_str()) {
        return Ok(None);
    }
    let mut conn = s.read.acquire().await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
            .bind(buyer.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    Ok(Some(balance_in(&mut conn, buyer, currency).await?))
}

pub(super) async fn ledger(
    s: &SqlStore,
    scope: &Scope,
    buyer: &PartyId,
    page: &Page,
) -> StoreResult<Option<Vec<LedgerEntry>>> {
    if scope.tenant().is_some_and(|t| t != buyer.as_str()) {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT * FROM ledger_entries WHERE buyer_id = $1 AND ($2 IS NULL OR id > $2) \
         ORDER BY id LIMIT $3",
    )
    .bind(buyer.as_str())
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerEntry {
                id: r.try_get("id")?,
                buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                amount: money(r, "amount_minor")?,
                kind: parse(r, "kind")?,
                order_id: r.try_get("order_id")?,
                usage_charge_id: r.try_get("usage_charge_id")?,
                memo: r.try_get("memo")?,
                created_at: from_unix_ms(r.try_get("created_at")?),
            })
        })
        .collect::<StoreResult<_>>()
        .map(Some)
}
