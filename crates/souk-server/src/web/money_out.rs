//! Money-out pages: statements with their lines, CSV and workflow actions (seller, operator),
//! reseller authorisations (seller grants, operator approves), the reseller center
//! (invitation links, customers, exclusive offers, performance T+1, statements) and the
//! buyer's invitation and offer-link pages. Every action goes through the same use cases as
//! the JSON API.

use super::money_texts::texts;
use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::{resellers, settlement};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_core::settlement::reseller::{AuthorisationAction, CommissionFormula};
use souk_core::settlement::StatementAction;
use souk_store::{Page, Scope, StatementFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seller/statements", get(statements))
        .route("/operator/statements", get(statements))
        .route("/statements/{id}", get(statement))
        .route("/statements/{id}/lines.csv", get(statement_csv))
        .route("/statements/{id}/move", post(move_statement))
        .route(
            "/seller/authorisations",
            get(authorisations).post(authorise),
        )
        .route("/operator/authorisations", get(authorisations))
        .route("/authorisations/{id}/decide", post(decide))
        .route("/reseller", get(reseller_home))
        .route("/reseller/invitations", post(new_invitation))
        .route("/reseller/offers", post(super::reseller_offers::new_offer))
        .route("/reseller/performance.csv", get(performance_csv))
        .route("/invite/{token}", get(invitation).post(accept))
        .route("/offer/{token}", get(offer))
}

/// What a console user may see: everything for the operator, its own party otherwise (as the
/// API's `Caller::scope`).
fn scope_of(p: &souk_store::Principal) -> Scope {
    match p.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(p.party_id.clone()),
    }
}

fn ctx_texts(m: &Member) -> &'static super::money_texts::MoneyTexts {
    texts(m.visitor.lang)
}

async fn statements(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let p = m.principal();
    let scope = scope_of(&p);
    let data = state
        .store
        .list_statements(
            &scope,
            &StatementFilter::default(),
            &Page::first(Page::MAX_LIMIT),
        )
        .await?;
    let now = state.clock.now();
    let items: Vec<_> = data
        .into_iter()
        .rev()
        .map(|s| {
            minijinja::context! {
                id => s.id, period => s.period, state => s.state.as_str(),
                currency => s.currency.as_str(), net => s.totals.net_minor,
                payable => s.totals.payable_minor, due => s.due_at.map(super::when),
                overdue => s.due_at.is_some_and(|d| d <= now),
            }
        })
        .collect();
    page(
        &m.visitor,
        "statements.html",
        minijinja::context! { s => ctx_texts(&m), items => items },
    )
}

async fn visible(
    state: &AppState,
    m: &Member,
    id: &str,
) -> Result<souk_store::StatementRecord, WebError> {
    m.require(&[Role::Seller, Role::Operator])?;
    let scope = scope_of(&m.principal());
    state
        .store
        .statement(&scope, id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("statement")))
}

async fn statement(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    let s = visible(&state, &m, &id).await?;
    let lines: Vec<_> = state
        .store
        .statement_lines(&id)
        .await?
        .into_iter()
        .map(|l| {
            minijinja::context! {
                kind => l.kind.as_str(), order_id => l.order_id.map(|o| o.to_string()),
                source_id => l.source_id, amount => l.amount_minor,
                fee => l.platform_fee.to_decimal(), rebate => l.rebate.to_decimal(),
                commission => l.commission.to_decimal(), net => l.net.to_decimal(),
            }
        })
        .collect();
    let history: Vec<_> = state
        .store
        .audit_trail(&Scope::Everything, &id)
        .await?
        .into_iter()
        .map(|e| minijinja::context! { action => e.action, at => e.at.to_string() })
        .collect();
    let t = s.totals;
    let role = m.principal().role;
    let actions: Vec<&str> = StatementAction::ALL
        .iter()
        .filter(|a| a.actor() == Some(role) && s.state.take(**a, role).is_ok())
        .map(|a| a.as_str())
        .collect();
    page(
        &m.visitor,
        "statement.html",
        minijinja::context! {
            s => ctx_texts(&m), id => s.id, period => s.period, state => s.state.as_str(),
            currency => s.currency.as_str(), invoice_number => s.invoice_number,
            due => s.due_at.map(super::when),
            overdue => s.due_at.is_some_and(|d| d <= state.clock.now()),
            totals => minijinja::context! {
                gross => t.gross_minor, refunds => t.refunds_minor,
                adjustments => t.adjustments_minor, fee => t.platform_fee_minor,
                rebate => t.rebate_minor, commission => t.commission_minor,
                carried_in => t.carried_in_minor, net => t.net_minor,
                payable => t.payable_minor, carried_forward => t.carried_forward_minor,
            },
            lines => lines, history => history, actions => actions,
            invoices => super::invoices::statement_context(&state, &id).await?,
        },
    )
}

fn csv_response(name: String, body: String) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn statement_csv(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult {
    let s = visible(&state, &m, &id).await?;
    let lines = state.store.statement_lines(&id).await?;
    let body = crate::http::settlement_csv::statement_csv(&s, &lines);
    Ok(csv_response(
        format!("statement-{}-{}.csv", s.period, s.id),
        body,
    ))
}

#[derive(serde::Deserialize)]
struct MoveForm {
    action: String,
    #[serde(default)]
    reason: String,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

async fn move_statement(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<MoveForm>,
) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let err = || WebError::with(&f.visitor);
    let action: StatementAction = f
        .form
        .action
        .parse()
        .map_err(|_| err()(AppError::invalid_field("action", "choose an action")))?;
    let p = m.principal();
    settlement::move_statement(
        &state,
        &scope_of(&p),
        settlement::Mover {
            role: p.role,
            actor: &p.party_id,
        },
        &id,
        action,
        non_empty(&f.form.reason),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/statements/{id}")).into_response())
}

async fn authorisations(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let p = m.principal();
    let pending_only = p.role == Role::Operator;
    let data = state
        .store
        .authorisations(
            &scope_of(&p),
            pending_only
                .then_some(souk_core::settlement::reseller::AuthorisationState::PendingApproval),
            &Page::first(Page::MAX_LIMIT),
        )
        .await?;
    let items: Vec<_> = data
        .into_iter()
        .map(|a| {
            minijinja::context! {
                id => a.id, reseller_id => a.reseller_id.to_string(), product_id => a.product_id,
                state => a.state.as_str(), share_bp => a.terms.rate_bp.bp(),
                max_discount_bp => a.max_discount_bp.bp(), reason => a.reason,
            }
        })
        .collect();
    page(
        &m.visitor,
        "authorisations.html",
        minijinja::context! {
            s => ctx_texts(&m), items => items, operator => pending_only,
        },
    )
}

#[derive(serde::Deserialize)]
struct AuthoriseForm {
    reseller_id: String,
    product_id: String,
    share_bp: u32,
    max_discount_bp: u32,
}

async fn authorise(
    State(state): State<AppState>,
    m: Member,
    f: Submitted<AuthoriseForm>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let form = &f.form;
    resellers::authorise(
        &state,
        &m.principal().party_id,
        resellers::AuthoriseRequest {
            reseller_id: form.reseller_id.trim().to_owned(),
            product_id: form.product_id.trim().to_owned(),
            formula: CommissionFormula::DealPrice,
            share_bp: form.share_bp,
            max_discount_bp: form.max_discount_bp,
            vat_product_bp: None,
            vat_service_bp: None,
        },
    )
    .await
    .map_err(WebError::with(&f.visitor))?;
    Ok(Redirect::to("/seller/authorisations").into_response())
}

#[derive(serde::Deserialize)]
struct DecideForm {
    action: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<DecideForm>,
) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let err = || WebError::with(&f.visitor);
    let action: AuthorisationAction = f
        .form
        .action
        .parse()
        .map_err(|_| err()(AppError::invalid_field("action", "choose an action")))?;
    let p = m.principal();
    resellers::decide_authorisation(
        &state,
        &p.party_id,
        p.role,
        &id,
        action,
        non_empty(&f.form.reason),
    )
    .await
    .map_err(err())?;
    let back = if p.role == Role::Operator {
        "/operator/authorisations"
    } else {
        "/seller/authorisations"
    };
    Ok(Redirect::to(back).into_response())
}

async fn reseller_home(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Reseller])?;
    let me = m.principal().party_id;
    let scope = Scope::Party(me.clone());
    let invitations: Vec<_> = state
        .store
        .invitations(&me)
        .await?
        .into_iter()
        .map(|(t, at)| minijinja::context! { token => t, at => at.to_string() })
        .collect();
    let customers: Vec<_> = state
        .store
        .customers(&me)
        .await?
        .into_iter()
        .map(|c| minijinja::context! { id => c.buyer_id.to_string(), name => c.buyer_name })
        .collect();
    let choices = super::reseller_offers::offer_choices(&state, &me)
        .await
        .map_err(WebError::with(&m.visitor))?;
    let zone = state
        .config
        .settlement
        .zone()
        .map_err(|e| WebError::with(&m.visitor)(AppError::internal(e)))?;
    let auths: Vec<_> = state
        .store
        .authorisations(&scope, None, &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .map(|a| {
            minijinja::context! {
                product => choices.iter().find(|c| c.product_id == a.product_id)
                    .map_or(a.product_id.clone(), |c| c.product.clone()),
                state => a.state.as_str(),
                share_bp => a.terms.rate_bp.bp(), max_discount_bp => a.max_discount_bp.bp(),
            }
        })
        .collect();
    let offers: Vec<_> = state
        .store
        .offers(&scope, &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .map(|o| {
            minijinja::context! {
                id => o.id, mode => o.billing_mode.as_str(),
                what => choices.iter().find(|c| c.sku_id() == o.sku_id)
                    .map_or(o.sku_id.clone(), |c| c.what()),
                price => o.unit_price.amount_minor, currency => o.unit_price.currency.as_str(),
                last_day => super::reseller_offers::last_day(o.valid_until, zone).to_string(),
                token => o.token,
            }
        })
        .collect();
    // The same rows as the API's performance (T+1), serialised as they are there.
    let performance = crate::http::reseller_statements::performance_views(&state, &me)
        .await
        .map_err(WebError::with(&m.visitor))?;
    let performance = minijinja::Value::from_serialize(&performance);
    let statements: Vec<_> = state
        .store
        .reseller_statements(&scope, &Default::default(), &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .map(|s| {
            minijinja::context! {
                id => s.id, period => s.period, state => s.state.as_str(),
                currency => s.currency.as_str(), commission => s.totals.commission_minor,
                payable => s.totals.payable_minor,
            }
        })
        .collect();
    page(
        &m.visitor,
        "reseller.html",
        minijinja::context! {
            s => ctx_texts(&m), invitations => invitations, customers => customers,
            authorisations => auths, offers => offers, performance => performance,
            statements => statements,
            choices => minijinja::Value::from_serialize(&choices),
            // Links to hand to customers are whole addresses.
            base => state.config.smtp.public_url.trim_end_matches('/'),
        },
    )
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn new_invitation(
    State(state): State<AppState>,
    m: Member,
    f: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Reseller])?;
    resellers::create_invitation(&state, &m.principal().party_id)
        .await
        .map_err(WebError::with(&f.visitor))?;
    Ok(Redirect::to("/reseller").into_response())
}

async fn performance_csv(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Reseller])?;
    let rows = crate::http::reseller_statements::performance_views(&state, &m.principal().party_id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    Ok(csv_response(
        "reseller-performance.csv".to_owned(),
        crate::http::settlement_csv::performance_csv(&rows),
    ))
}

async fn invitation(m: Member, Path(token): Path<String>) -> PageResult {
    m.require(&[Role::Buyer])?;
    page(
        &m.visitor,
        "invitation.html",
        minijinja::context! { s => ctx_texts(&m), token => token },
    )
}

async fn accept(
    State(state): State<AppState>,
    m: Member,
    Path(token): Path<String>,
    f: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    resellers::accept_invitation(&state, &m.principal().party_id, &token)
        .await
        .map_err(WebError::with(&f.visitor))?;
    Ok(Redirect::to("/shop").into_response())
}

async fn offer(State(state): State<AppState>, m: Member, Path(token): Path<String>) -> PageResult {
    m.require(&[Role::Buyer])?;
    let now = state.clock.now();
    let o = state
        .store
        .offer_by_token(&token)
        .await?
        .filter(|o| now < o.valid_until)
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("offer")))?;
    let sku = state
        .store
        .purchasable_sku(&o.sku_id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("offer")))?;
    // The buyer's vouchers that can pay an order at the offer's price (a promotion: vouchers
    // flagged "not with promotions" are left out).
    let buyer = m.principal().party_id;
    let mine = crate::usecase::vouchers::list(
        &state,
        &Scope::Party(buyer.clone()),
        &Page::first(Page::MAX_LIMIT),
    )
    .await
    .map_err(WebError::with(&m.visitor))?;
    let purchase = souk_core::voucher::Purchase {
        buyer_id: buyer.as_str(),
        seller_id: sku.seller_id.as_str(),
        product_id: &o.product_id,
        sku_id: &o.sku_id,
        kind: souk_core::order::OrderKind::New,
        billing_mode: o.billing_mode,
        amount: o.unit_price,
        via_offer: true,
    };
    let vouchers = super::shop::applicable_vouchers(&mine, &purchase, now);
    let zone = state
        .config
        .settlement
        .zone()
        .map_err(|e| WebError::with(&m.visitor)(AppError::internal(e)))?;
    page(
        &m.visitor,
        "offer.html",
        minijinja::context! {
            s => ctx_texts(&m), token => token, product_id => o.product_id,
            product_name => sku.product_name, sku_id => o.sku_id,
            mode => o.billing_mode.as_str(), price => o.unit_price.amount_minor,
            currency => o.unit_price.currency.as_str(),
            until => super::reseller_offers::last_day(o.valid_until, zone).to_string(),
            vouchers => vouchers,
        },
    )
}
