//! Resellers (business rules §11): invitation links, authorisations with operator approval,
//! exclusive offers as private links, the entitlement an order is sold under, performance
//! (T+1) and the resellers' monthly statements.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::catalog::BillingMode;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::notice::authorised;
use souk_core::settlement::reseller::{
    check_offer_price, floor_price, reseller_statement, AssociationExclusion, AuthorisationAction,
    AuthorisationState, CommissionFormula, CommissionTerms,
};
use souk_core::settlement::reseller_workflow::{
    invoice_due, issued_notice, ResellerStatementState,
};
use souk_core::settlement::{Period, Rate};
use souk_store::{
    Association, AuthorisationRecord, NewResellerStatement, OfferRecord, OrderReseller, Page,
    PurchasableSku, ResellerLine, ResellerSource, ResellerStatementFilter, ResellerStatementRecord,
    Scope, StoreError,
};
use std::collections::BTreeMap;
use time::OffsetDateTime;

fn rate(field: &str, bp: u32) -> AppResult<Rate> {
    Rate::from_bp(bp).map_err(|e| AppError::invalid_field(field, e.to_string()))
}

fn zone(state: &AppState) -> AppResult<time::UtcOffset> {
    state.config.settlement.zone().map_err(AppError::internal)
}

/// The start of the business day after `t`.
fn next_day(t: OffsetDateTime, zone: time::UtcOffset) -> OffsetDateTime {
    let local = t.to_offset(zone);
    (local.date() + time::Duration::days(1))
        .midnight()
        .assume_offset(zone)
        .to_offset(time::UtcOffset::UTC)
}

/// A new invitation link's token (reseller).
pub async fn create_invitation(state: &AppState, reseller: &PartyId) -> AppResult<String> {
    let now = state.clock.now();
    let token = souk_core::id::generate("inv", now);
    state.store.create_invitation(reseller, &token, now).await?;
    Ok(token)
}

/// A buyer follows an invitation link: associated with its reseller (once; associations do not
/// move between resellers).
pub async fn accept_invitation(
    state: &AppState,
    buyer: &PartyId,
    token: &str,
) -> AppResult<PartyId> {
    match state
        .store
        .accept_invitation(token, buyer, state.clock.now())
        .await?
    {
        Association::Associated(r) | Association::Already(r) => Ok(r),
        Association::OtherReseller => Err(AppError::conflict(
            "customer_associated",
            "your account is already associated with another reseller",
        )),
        Association::UnknownInvitation => Err(AppError::not_found("invitation")),
        Association::Excluded(flags) => {
            let why: Vec<&str> = flags.iter().map(|f| f.describe()).collect();
            Err(AppError::conflict(
                "customer_excluded",
                format!(
                    "your account cannot be associated with a reseller: the marketplace lists it \
                     as {} (business rules §11); ask the marketplace's operator if this is wrong",
                    why.join(" and ")
                ),
            ))
        }
    }
}

/// The operator sets a buyer's §11 exclusion flags (replacing them); returns them.
pub async fn set_exclusions(
    state: &AppState,
    operator: &PartyId,
    buyer_id: &str,
    flags: &[AssociationExclusion],
) -> AppResult<Vec<AssociationExclusion>> {
    let buyer = buyer_party(buyer_id)?;
    if !state
        .store
        .set_exclusions(&buyer, flags, operator, state.clock.now())
        .await?
    {
        return Err(AppError::not_found("buyer"));
    }
    Ok(state.store.exclusions(&buyer).await?)
}

/// A buyer's §11 exclusion flags (operator).
pub async fn exclusions(state: &AppState, buyer_id: &str) -> AppResult<Vec<AssociationExclusion>> {
    let buyer = buyer_party(buyer_id)?;
    if state
        .store
        .find_party(&Scope::Everything, &buyer)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("buyer"));
    }
    Ok(state.store.exclusions(&buyer).await?)
}

fn buyer_party(id: &str) -> AppResult<PartyId> {
    PartyId::parse_as(id, Role::Buyer).ok_or_else(|| AppError::not_found("buyer"))
}

/// What a seller authorises.
pub struct AuthoriseRequest {
    pub reseller_id: String,
    pub product_id: String,
    pub formula: CommissionFormula,
    pub share_bp: u32,
    pub max_discount_bp: u32,
    pub vat_product_bp: Option<u32>,
    pub vat_service_bp: Option<u32>,
}

/// A seller authorises a reseller on one of its products: in effect at once up to the standard
/// share, else waiting for the operator (§8.2).
pub async fn authorise(
    state: &AppState,
    seller: &PartyId,
    req: AuthoriseRequest,
) -> AppResult<AuthorisationRecord> {
    let cfg = &state.config.settlement;
    let share = rate("share_bp", req.share_bp)?;
    let max_discount = rate("max_discount_bp", req.max_discount_bp)?;
    let terms = CommissionTerms {
        formula: req.formula,
        rate_bp: share,
        vat_product_bp: rate(
            "vat_product_bp",
            req.vat_product_bp.unwrap_or(cfg.reseller_vat_product_bp),
        )?,
        vat_service_bp: rate(
            "vat_service_bp",
            req.vat_service_bp.unwrap_or(cfg.reseller_vat_service_bp),
        )?,
        floor_minor: 0,
    };
    let reseller = PartyId::parse_as(&req.reseller_id, Role::Reseller)
        .ok_or_else(|| AppError::not_found("reseller"))?;
    state
        .store
        .find_party(&Scope::Everything, &reseller)
        .await?
        .ok_or_else(|| AppError::not_found("reseller"))?;
    let product_id = souk_core::id::ProductId::parse(&req.product_id)
        .ok_or_else(|| AppError::not_found("product"))?;
    let product = state
        .store
        .find_product(
            &souk_store::CatalogScope::Seller(seller.clone()),
            &product_id,
        )
        .await?
        .ok_or_else(|| AppError::not_found("product"))?;
    let standard = rate("share_bp", cfg.reseller_standard_share_bp)?;
    let now = state.clock.now();
    let record = AuthorisationRecord {
        id: souk_core::id::generate("rau", now),
        seller_id: seller.clone(),
        reseller_id: reseller,
        product_id: product.id.to_string(),
        state: AuthorisationState::initial(share, standard),
        terms,
        max_discount_bp: max_discount,
        reason: None,
        created_at: now,
        decided_at: None,
    };
    match state.store.create_authorisation(&record, now).await {
        Err(StoreError::Conflict { .. }) => Err(AppError::conflict(
            "authorisation_exists",
            "this reseller already has an open authorisation on the product: revoke it first",
        )),
        other => {
            other?;
            Ok(record)
        }
    }
}

/// Approve, reject (operator) or revoke (the seller, or the operator).
pub async fn decide_authorisation(
    state: &AppState,
    caller: &PartyId,
    role: Role,
    id: &str,
    action: AuthorisationAction,
    reason: Option<String>,
) -> AppResult<AuthorisationRecord> {
    let scope = match role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(caller.clone()),
    };
    let a = state
        .store
        .authorisation(&scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("authorisation"))?;
    // Only the seller that granted it (not the reseller) may withdraw it.
    if role != Role::Operator && &a.seller_id != caller {
        return Err(AppError::forbidden(
            "only the seller that granted the authorisation, or the operator, decides on it",
        ));
    }
    let t = a.state.take(action, role, reason.as_deref()).map_err(|e| {
        use souk_core::settlement::reseller::AuthorisationError as E;
        match e {
            E::OperatorOnly(_) => AppError::forbidden(e.to_string()),
            E::NoReason => AppError::invalid_field("reason", e.to_string()),
            E::WrongState(_) => AppError::conflict("authorisation_state", e.to_string()),
        }
    })?;
    let notices = vec![(a.reseller_id.clone(), authorised(&a.product_id, t.to))];
    state
        .store
        .move_authorisation(
            id,
            t,
            reason.as_deref(),
            caller,
            &notices,
            state.clock.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::LostRace { .. } => AppError::conflict(
                "authorisation_state",
                "the authorisation changed meanwhile; read it again",
            ),
            e => e.into(),
        })
}

/// What a reseller offers.
pub struct OfferRequest {
    pub sku_id: String,
    pub billing_mode: BillingMode,
    pub unit_price: Money,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: OffsetDateTime,
}

/// The catalogue price of a SKU in a billing mode.
fn catalogue_price(sku: &PurchasableSku, mode: BillingMode) -> AppResult<Money> {
    sku.prices
        .iter()
        .find(|p| p.billing_mode == mode)
        .map(|p| p.unit_price)
        .ok_or_else(|| {
            AppError::invalid_field("billing_mode", format!("this SKU is not sold as {mode}"))
        })
}

/// A reseller creates an exclusive offer (专属优惠) under its active authorisation.
pub async fn create_offer(
    state: &AppState,
    reseller: &PartyId,
    req: OfferRequest,
) -> AppResult<OfferRecord> {
    let now = state.clock.now();
    let sku = state
        .store
        .purchasable_sku(&req.sku_id)
        .await?
        .ok_or_else(|| AppError::not_found("SKU on sale"))?;
    if !matches!(
        req.billing_mode,
        BillingMode::Monthly | BillingMode::Yearly | BillingMode::OneTime
    ) {
        return Err(AppError::invalid_field(
            "billing_mode",
            "offers are for monthly, yearly or one-time purchases",
        ));
    }
    let auth = state
        .store
        .active_authorisation(reseller, &sku.product_id)
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                "not_authorised",
                "the seller has not authorised you on this product (or it waits for approval)",
            )
        })?;
    let catalogue = catalogue_price(&sku, req.billing_mode)?;
    if req.unit_price.currency != catalogue.currency {
        return Err(AppError::invalid_field(
            "unit_price",
            format!("the product is sold in {}", catalogue.currency),
        ));
    }
    let floor = floor_price(catalogue.amount_minor, auth.max_discount_bp);
    check_offer_price(req.unit_price.amount_minor, floor, catalogue.amount_minor)
        .map_err(|e| AppError::invalid_field("unit_price", e.to_string()))?;
    let valid_from = req.valid_from.unwrap_or(now);
    if req.valid_until <= valid_from || req.valid_until <= now {
        return Err(AppError::invalid_field(
            "valid_until",
            "the offer must end after it starts and in the future",
        ));
    }
    let offer = OfferRecord {
        id: souk_core::id::generate("ofr", now),
        token: souk_core::id::generate("lnk", now),
        reseller_id: reseller.clone(),
        authorisation_id: auth.id,
        product_id: sku.product_id.clone(),
        sku_id: sku.sku_id.clone(),
        billing_mode: req.billing_mode,
        unit_price: req.unit_price,
        valid_from,
        valid_until: req.valid_until,
        created_at: now,
    };
    state.store.create_offer(&offer).await?;
    Ok(offer)
}

/// An order's entitlement: through an offer link, or as an associated customer of a reseller
/// authorised on the product (from the day after the association, §11). The floor of the
/// floor-discount formula is filled in by the caller once the term is known.
pub async fn entitlement(
    state: &AppState,
    buyer: &PartyId,
    sku: &PurchasableSku,
    mode: BillingMode,
    offer_token: Option<&str>,
) -> AppResult<Option<(OrderReseller, i64)>> {
    let now = state.clock.now();
    let catalogue = match catalogue_price(sku, mode) {
        Ok(p) => p,
        Err(e) if offer_token.is_some() => return Err(e),
        Err(_) => return Ok(None),
    };
    if let Some(token) = offer_token {
        let not_valid = || AppError::invalid_field("offer", "no such offer, or it has expired");
        let offer = state
            .store
            .offer_by_token(token)
            .await?
            .filter(|o| o.valid_from <= now && now < o.valid_until)
            .ok_or_else(not_valid)?;
        if offer.sku_id != sku.sku_id || offer.billing_mode != mode {
            return Err(AppError::invalid_field(
                "offer",
                format!(
                    "the offer is for SKU {} bought {}",
                    offer.sku_id, offer.billing_mode
                ),
            ));
        }
        let auth = state
            .store
            .active_authorisation(&offer.reseller_id, &offer.product_id)
            .await?
            .filter(|a| a.id == offer.authorisation_id)
            .ok_or_else(not_valid)?;
        let floor = floor_price(catalogue.amount_minor, auth.max_discount_bp);
        return Ok(Some((
            OrderReseller {
                reseller_id: offer.reseller_id,
                offer_id: Some(offer.id),
                catalogue_unit_minor: catalogue.amount_minor,
                unit_price_minor: offer.unit_price.amount_minor,
                terms: auth.terms,
            },
            floor,
        )));
    }
    let Some((reseller, since)) = state.store.reseller_of(buyer).await? else {
        return Ok(None);
    };
    if now < next_day(since, zone(state)?) {
        return Ok(None);
    }
    let Some(auth) = state
        .store
        .active_authorisation(&reseller, &sku.product_id)
        .await?
    else {
        return Ok(None);
    };
    let floor = floor_price(catalogue.amount_minor, auth.max_discount_bp);
    Ok(Some((
        OrderReseller {
            reseller_id: reseller,
            offer_id: None,
            catalogue_unit_minor: catalogue.amount_minor,
            unit_price_minor: catalogue.amount_minor,
            terms: auth.terms,
        },
        floor,
    )))
}

/// A reseller's orders as performance shows them: visible the next working day
/// (`reseller.perf_lag = 1 working day`, §11), so paid before the start of the latest working
/// day up to today in the business zone — on a Monday, Friday's and the weekend's orders; on
/// a Saturday or Sunday, orders up to Thursday.
pub async fn performance(
    state: &AppState,
    reseller: &PartyId,
) -> AppResult<Vec<souk_store::PerformanceRow>> {
    let calendar = state
        .config
        .after_sale_calendar()
        .map_err(AppError::internal)?;
    let today = state.clock.now().to_offset(calendar.offset).date();
    let cutoff = calendar
        .working_day_on_or_before(today)
        .midnight()
        .assume_offset(calendar.offset);
    Ok(state.store.performance(reseller, cutoff).await?)
}

/// What a reseller run did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ResellerRunReport {
    pub period: String,
    pub statements_issued: usize,
    pub resellers_skipped: usize,
    pub items_settled: usize,
}

/// Settles resellers' `period`: one statement per reseller and currency with something to
/// settle; sales and refunds of their orders attributed before the period's end.
pub async fn run_period(
    state: &AppState,
    period: Period,
    now: OffsetDateTime,
) -> AppResult<ResellerRunReport> {
    let zone = zone(state)?;
    if !period.is_closed(now, zone) {
        return Err(AppError::conflict(
            "period_open",
            format!("{period} is not over yet; a month is settled after it ends"),
        ));
    }
    state.store.start_reseller_run(&period.id(), now).await?;
    let mut groups: BTreeMap<(String, String), Vec<ResellerSource>> = BTreeMap::new();
    for s in state.store.reseller_unsettled(period.end(zone)).await? {
        let key = (s.reseller_id.to_string(), s.currency.as_str().to_owned());
        groups.entry(key).or_default().push(s);
    }
    let mut report = ResellerRunReport {
        period: period.id(),
        statements_issued: 0,
        resellers_skipped: 0,
        items_settled: 0,
    };
    for mut sources in groups.into_values() {
        sources.sort_by(|a, b| {
            (a.occurred_at, &a.item.source_id).cmp(&(b.occurred_at, &b.item.source_id))
        });
        let (reseller, currency) = (sources[0].reseller_id.clone(), sources[0].currency);
        let carried_in = state.store.reseller_carried_in(&reseller, currency).await?;
        let items: Vec<_> = sources.iter().map(|s| s.item.clone()).collect();
        let (commissions, totals) = reseller_statement(&items, carried_in);
        let id = souk_core::id::generate("rst", now);
        let lines = sources
            .iter()
            .zip(commissions)
            .map(|(s, c)| ResellerLine {
                kind: s.item.kind,
                source_id: s.item.source_id.clone(),
                order_id: s.item.order_id.clone(),
                occurred_at: s.occurred_at,
                amount_minor: s.item.amount_minor,
                commission: c,
            })
            .collect();
        // A statement that pays something asks for the reseller's invoices at once (the
        // invoice notice is the issue's notice); one that pays nothing stays issued.
        let initial = ResellerStatementState::on_issue(totals.payable_minor);
        let due = (initial == ResellerStatementState::AwaitingInvoice)
            .then(|| invoice_due(now, state.config.invoice.reseller_months));
        let n = NewResellerStatement {
            record: ResellerStatementRecord {
                id: id.clone(),
                reseller_id: reseller,
                period: period.id(),
                currency,
                state: initial,
                totals,
                issued_at: now,
                updated_at: now,
                invoice_due_at: due,
                overdue_at: None,
                reason: None,
            },
            lines,
            notice: issued_notice(
                &period.id(),
                &id,
                Money::new(totals.net_minor, currency),
                due,
            ),
        };
        match state.store.issue_reseller_statement(&n, now).await {
            Ok(()) => {
                report.statements_issued += 1;
                report.items_settled += items.len();
            }
            Err(StoreError::Conflict { .. }) => report.resellers_skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    state
        .store
        .finish_reseller_run(&period.id(), report.statements_issued, now)
        .await?;
    Ok(report)
}

/// The timer pass: on the resellers' run day, settle the period that became due, once.
pub async fn due_run(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let cfg = &state.config.settlement;
    if !cfg.run {
        return Ok(0);
    }
    let period = Period::due(now, cfg.reseller_run_day, cfg.zone()?);
    if state.store.reseller_run_done(&period.id()).await? {
        return Ok(0);
    }
    let report = run_period(state, period, now)
        .await
        .map_err(|e| anyhow::anyhow!("reseller settlement run {period}: {}", e.message))?;
    Ok(report.statements_issued)
}

/// A page of a party's reseller statements.
pub async fn statements(
    state: &AppState,
    scope: &Scope,
    filter: &ResellerStatementFilter,
    page: &Page,
) -> AppResult<Vec<ResellerStatementRecord>> {
    Ok(state.store.reseller_statements(scope, filter, page).await?)
}
