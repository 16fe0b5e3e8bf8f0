//! Resellers (business rules §11): invitation links and associated customers, sellers'
//! authorisations, exclusive offers, the reseller of each order, performance, and the
//! resellers' monthly statements with their ledger movements.
//!
//! The store decides nothing: who may do what and every figure come from the use case and
//! `souk_core::settlement::reseller`. Two rules are the database's: one open authorisation per
//! reseller and product (`reseller_authorisations_one_open`) and every sale or refund on one
//! reseller statement only (`reseller_statement_lines_settled_once`).

use crate::commerce::lost_race;
use crate::settlement::accounts;
use crate::sql::{audit, corrupt};
use crate::*;
use souk_core::catalog::BillingMode;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::money::{Currency, Money};
use souk_core::settlement::reseller::{
    AssociationExclusion, AuthorisationState, CommissionTerms, ResellerItem, ResellerTotals,
};
use souk_core::settlement::reseller_workflow::ResellerStatementState;
use souk_core::settlement::{Exact, LineKind, Rate};
use souk_core::transition::Transition;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub struct AuthorisationRecord {
    pub id: String,
    pub seller_id: PartyId,
    pub reseller_id: PartyId,
    pub product_id: String,
    pub state: AuthorisationState,
    pub terms: CommissionTerms,
    /// The most the reseller may take off the catalogue price in an offer.
    pub max_discount_bp: Rate,
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfferRecord {
    pub id: String,
    /// The private link's secret part.
    pub token: String,
    pub reseller_id: PartyId,
    pub authorisation_id: String,
    pub product_id: String,
    pub sku_id: String,
    pub billing_mode: BillingMode,
    pub unit_price: Money,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// The reseller an order goes through and the entitlement it is sold under.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderReseller {
    pub reseller_id: PartyId,
    pub offer_id: Option<String>,
    pub catalogue_unit_minor: i64,
    pub unit_price_minor: i64,
    pub terms: CommissionTerms,
}

/// One of a reseller's orders as performance shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformanceRow {
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub product_id: String,
    pub kind: String,
    pub state: String,
    pub amount: Money,
    pub paid_at: OffsetDateTime,
    /// Refunded to the buyer so far (≥ 0).
    pub refunded_minor: i64,
    pub offer_id: Option<String>,
    pub terms: CommissionTerms,
}

/// A customer associated with a reseller.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    pub buyer_id: PartyId,
    pub buyer_name: String,
    pub associated_at: OffsetDateTime,
}

/// Whether an invitation associated the customer.
#[derive(Debug, Clone, PartialEq)]
pub enum Association {
    Associated(PartyId),
    /// Already the customer of this reseller (idempotent).
    Already(PartyId),
    /// Another reseller's customer already: associations do not move.
    OtherReseller,
    UnknownInvitation,
    /// The operator flagged the buyer as not associable (§11): its flags.
    Excluded(Vec<AssociationExclusion>),
}

/// Something a reseller statement settles: a sale or a refund of a reseller's order.
#[derive(Debug, Clone, PartialEq)]
pub struct ResellerSource {
    pub reseller_id: PartyId,
    pub currency: Currency,
    pub occurred_at: OffsetDateTime,
    pub item: ResellerItem,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResellerStatementRecord {
    pub id: String,
    pub reseller_id: PartyId,
    pub period: String,
    pub currency: Currency,
    pub state: ResellerStatementState,
    pub totals: ResellerTotals,
    pub issued_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When the reseller's invoices are due (statements that pay something).
    pub invoice_due_at: Option<OffsetDateTime>,
    /// When the overdue pass flagged the missing invoices.
    pub overdue_at: Option<OffsetDateTime>,
    /// The last rejection's reason (invoices or payment data).
    pub reason: Option<String>,
}

/// Which reseller statements a list shows.
#[derive(Debug, Clone, Default)]
pub struct ResellerStatementFilter {
    pub period: Option<String>,
    pub state: Option<ResellerStatementState>,
    /// Flagged overdue and still without accepted invoices (awaiting or in error).
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResellerLine {
    pub kind: LineKind,
    pub source_id: String,
    pub order_id: String,
    pub occurred_at: OffsetDateTime,
    pub amount_minor: i64,
    pub commission: Exact,
}

#[derive(Debug, Clone)]
pub struct NewResellerStatement {
    pub record: ResellerStatementRecord,
    pub lines: Vec<ResellerLine>,
    pub notice: souk_core::notice::Notice,
}

#[async_trait]
pub trait ResellerStore: Send + Sync + 'static {
    async fn create_invitation(
        &self,
        reseller: &PartyId,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// A reseller's invitation tokens, newest first.
    async fn invitations(&self, reseller: &PartyId) -> StoreResult<Vec<(String, OffsetDateTime)>>;

    async fn accept_invitation(
        &self,
        token: &str,
        buyer: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Association>;

    async fn customers(&self, reseller: &PartyId) -> StoreResult<Vec<CustomerRecord>>;

    /// Replaces a buyer's §11 exclusion flags (operator); `false` when no such buyer.
    async fn set_exclusions(
        &self,
        buyer: &PartyId,
        flags: &[AssociationExclusion],
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// A buyer's §11 exclusion flags, in declaration order.
    async fn exclusions(&self, buyer: &PartyId) -> StoreResult<Vec<AssociationExclusion>>;

    /// The reseller a customer is associated with, and since when.
    async fn reseller_of(&self, buyer: &PartyId) -> StoreResult<Option<(PartyId, OffsetDateTime)>>;

    async fn create_authorisation(
        &self,
        a: &AuthorisationRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Authorisations visible in `scope` (a seller: of its products; a reseller: its own).
    async fn authorisations(
        &self,
        scope: &Scope,
        state: Option<AuthorisationState>,
        page: &Page,
    ) -> StoreResult<Vec<AuthorisationRecord>>;

    async fn authorisation(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<AuthorisationRecord>>;

    /// The reseller's active authorisation on a product.
    async fn active_authorisation(
        &self,
        reseller: &PartyId,
        product_id: &str,
    ) -> StoreResult<Option<AuthorisationRecord>>;

    /// Compare-and-set on `t.from`; `LostRace` when it moved meanwhile.
    #[allow(clippy::too_many_arguments)]
    async fn move_authorisation(
        &self,
        id: &str,
        t: Transition<AuthorisationState>,
        reason: Option<&str>,
        actor: &PartyId,
        notices: &[(PartyId, souk_core::notice::Notice)],
        now: OffsetDateTime,
    ) -> StoreResult<AuthorisationRecord>;

    async fn create_offer(&self, o: &OfferRecord) -> StoreResult<()>;

    async fn offers(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OfferRecord>>;

    async fn offer(&self, scope: &Scope, id: &str) -> StoreResult<Option<OfferRecord>>;

    async fn offer_by_token(&self, token: &str) -> StoreResult<Option<OfferRecord>>;

    /// The reseller's orders paid before `until` (performance is visible T+1).
    async fn performance(
        &self,
        reseller: &PartyId,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<PerformanceRow>>;

    /// Sales and refunds of reseller orders attributed before `before` and on no reseller
    /// statement yet.
    async fn reseller_unsettled(&self, before: OffsetDateTime) -> StoreResult<Vec<ResellerSource>>;

    /// Records that a reseller period's run started; `false` when it had already.
    async fn start_reseller_run(&self, period: &str, now: OffsetDateTime) -> StoreResult<bool>;

    async fn finish_reseller_run(
        &self,
        period: &str,
        statements: usize,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn reseller_run_done(&self, period: &str) -> StoreResult<bool>;

    async fn reseller_carried_in(&self, reseller: &PartyId, currency: Currency)
        -> StoreResult<i64>;

    async fn issue_reseller_statement(
        &self,
        s: &NewResellerStatement,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn reseller_statements(
        &self,
        scope: &Scope,
        filter: &ResellerStatementFilter,
        page: &Page,
    ) -> StoreResult<Vec<ResellerStatementRecord>>;

    async fn reseller_statement(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<ResellerStatementRecord>>;

    async fn reseller_statement_lines(&self, id: &str) -> StoreResult<Vec<ResellerLine>>;

    /// The sales and refunds of a stored reseller statement, read again from the order history
    /// and the refunds (not from its lines), in line order.
    async fn reseller_statement_sources(&self, id: &str) -> StoreResult<Vec<ResellerItem>>;

    /// Adds an uploaded invoice while the statement takes invoices (`LostRace` otherwise).
    async fn add_reseller_invoice(
        &self,
        r: &ResellerInvoiceRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Removes an uploaded (not yet submitted) invoice of the reseller's statement while it
    /// takes invoices; the removed row, `None` when there is no such invoice to remove.
    async fn remove_reseller_invoice(
        &self,
        reseller: &PartyId,
        statement_id: &str,
        invoice_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ResellerInvoiceRecord>>;

    /// A statement's invoices, oldest first (the caller has checked it may see the statement).
    async fn reseller_invoices(
        &self,
        statement_id: &str,
    ) -> StoreResult<Vec<ResellerInvoiceRecord>>;

    /// One workflow move: compare-and-set on `transition.from`, the invoices' states, the
    /// payout on `paid`, the reseller's notice and the audit record, in one transaction.
    async fn move_reseller_statement(
        &self,
        scope: &Scope,
        m: &ResellerStatementMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<ResellerStatementRecord>;

    /// Statements still awaiting invoices past their due time and not flagged yet.
    async fn due_reseller_invoices(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ResellerStatementRecord>>;

    /// Flags a statement's invoices overdue once, with the reseller's notice; `false` when it
    /// moved on or was flagged meanwhile.
    async fn flag_reseller_overdue(
        &self,
        id: &str,
        notice: &souk_core::notice::Notice,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}

fn terms_of(r: &AnyRow) -> StoreResult<CommissionTerms> {
    let t: String = r.try_get("terms")?;
    serde_json::from_str(&t).map_err(|e| corrupt("commission terms", e))
}

fn authorisation_from_row(r: &AnyRow) -> StoreResult<AuthorisationRecord> {
    let state: String = r.try_get("state")?;
    let bp: i64 = r.try_get("max_discount_bp")?;
    Ok(AuthorisationRecord {
        id: r.try_get("id")?,
        seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
        reseller_id: PartyId::from_trusted(r.try_get("reseller_id")?),
        product_id: r.try_get("product_id")?,
        state: AuthorisationState::from_str(&state).map_err(|e| corrupt("state", e))?,
        terms: terms_of(r)?,
        max_discount_bp: Rate::from_bp(bp as u32).map_err(|e| corrupt("max_discount_bp", e))?,
        reason: r.try_get("reason")?,
        created_at: from_unix_ms(r.try_get("created_at")?),
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(from_unix_ms),
    })
}

fn offer_from_row(r: &AnyRow) -> StoreResult<OfferRecord> {
    let mode: String = r.try_get("billing_mode")?;
    let currency: String = r.try_get("currency")?;
    Ok(OfferRecord {
        id: r.try_get("id")?,
        token: r.try_get("token")?,
        reseller_id: PartyId::from_trusted(r.try_get("reseller_id")?),
        authorisation_id: r.try_get("authorisation_id")?,
        product_id: r.try_get("product_id")?,
        sku_id: r.try_get("sku_id")?,
        billing_mode: BillingMode::from_str(&mode).map_err(|e| corrupt("billing_mode", e))?,
        unit_price: Money::new(
            r.try_get("unit_price_minor")?,
            Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
        ),
        valid_from: from_unix_ms(r.try_get("valid_from")?),
        valid_until: from_unix_ms(r.try_get("valid_until")?),
        created_at: from_unix_ms(r.try_get("created_at")?),
    })
}

fn statement_from_row(r: &AnyRow) -> StoreResult<ResellerStatementRecord> {
    let currency: String = r.try_get("currency")?;
    Ok(ResellerStatementRecord {
        id: r.try_get("id")?,
        reseller_id: PartyId::from_trusted(r.try_get("reseller_id")?),
        period: r.try_get("period")?,
        currency: Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
        state: ResellerStatementState::from_str(&r.try_get::<String, _>("state")?)
            .map_err(|e| corrupt("reseller statement state", e))?,
        totals: ResellerTotals {
            sales_minor: r.try_get("sales_minor")?,
            refunds_minor: r.try_get("refunds_minor")?,
            commission_minor: r.try_get("commission_minor")?,
            carried_in_minor: r.try_get("carried_in_minor")?,
            net_minor: r.try_get("net_minor")?,
            payable_minor: r.try_get("payable_minor")?,
            carried_forward_minor: r.try_get("carried_forward_minor")?,
        },
        issued_at: from_unix_ms(r.try_get("issued_at")?),
        updated_at: from_unix_ms(r.try_get("updated_at")?),
        invoice_due_at: r
            .try_get::<Option<i64>, _>("invoice_due_at")?
            .map(from_unix_ms),
        overdue_at: r.try_get::<Option<i64>, _>("overdue_at")?.map(from_unix_ms),
        reason: r.try_get("reason")?,
    })
}

/// Writes the reseller of an order being created (inside the order's transaction).
pub(crate) async fn insert_order_reseller(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    r: &OrderReseller,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let terms = serde_json::to_string(&r.terms).map_err(|e| corrupt("terms", e))?;
    sqlx::query(
        "INSERT INTO order_resellers (order_id, reseller_id, offer_id, catalogue_unit_minor, \
         unit_price_minor, terms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(order_id.as_str())
    .bind(r.reseller_id.as_str())
    .bind(r.offer_id.clone())
    .bind(r.catalogue_unit_minor)
    .bind(r.unit_price_minor)
    .bind(terms)
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The terms of a reseller order, for the seller statement's commission (`None`: no reseller).
pub(crate) fn order_commission(
    r: &AnyRow,
) -> StoreResult<Option<souk_core::settlement::OrderCommission>> {
    let terms: Option<String> = r.try_get("reseller_terms")?;
    let Some(terms) = terms else {
        return Ok(None);
    };
    Ok(Some(souk_core::settlement::OrderCommission {
        terms: serde_json::from_str(&terms).map_err(|e| corrupt("commission terms", e))?,
        order_minor: r.try_get("order_minor")?,
    }))
}

mod statements;
mod store;
mod workflow;

pub use workflow::{ResellerInvoiceRecord, ResellerInvoiceState, ResellerStatementMove};
