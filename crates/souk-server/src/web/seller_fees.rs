//! The seller's fee pages (issue 12, §8.1): each of its products' platform fee rate, rebate
//! bands (graduated: each band's rate applies to the part of the month's paid amount within
//! it) and joint seller share, read-only; and what a given monthly paid amount would cost in
//! fees and earn back in rebate, computed by the settlement's own `FeePolicy::rebate` and
//! `line_rate` (souk-core), so the page cannot drift from the statements.

use super::operator_fees::{percent, products_with_policies, ListQuery};
use super::session::Member;
use super::{page, render, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::{catalog, settlement};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use souk_core::money::{Currency, Money, MAX_AMOUNT_MINOR};
use souk_core::party::Role;
use souk_core::settlement::{Exact, FeePolicy};
use souk_store::Scope;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seller/fees", get(list))
        .route("/seller/fees/{product_id}", get(detail))
}

pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "seller_fees.html",
        include_str!("../../templates/seller_fees.html"),
    ),
    (
        "seller_fee.html",
        include_str!("../../templates/seller_fee.html"),
    ),
];

/// The policy as the seller reads it: each band with where it ends and the rebate it earns
/// (the fee rate less the band's rate) on the part of the month's sales within it.
fn policy_ctx(p: &FeePolicy, default: bool, currency: Currency) -> minijinja::Value {
    let money = |minor: i64| Money::new(minor, currency).to_string();
    let bands: Vec<_> = p
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            minijinja::context! {
                from => money(t.from_minor), first => t.from_minor == 0,
                to => p.tiers.get(i + 1).map(|n| money(n.from_minor)),
                rate => percent(t.rate_bp.bp()),
                rebate => percent(p.rate_bp.bp().saturating_sub(t.rate_bp.bp())),
            }
        })
        .collect();
    let rebate = p.seller_share_bp.is_none() && p.tiers.iter().any(|t| t.rate_bp < p.rate_bp);
    minijinja::context! {
        default, rate => percent(p.rate_bp.bp()), bands, rebate,
        seller_share => p.seller_share_bp.map(|s| percent(s.bp())),
        platform_keeps => percent(p.line_rate().bp()),
    }
}

async fn list(State(state): State<AppState>, m: Member, q: Query<ListQuery>) -> PageResult {
    m.require(&[Role::Seller])?;
    // The seller's own products only (the catalogue scopes a seller's list to it).
    let (products, next) = products_with_policies(&state, &m, &q).await?;
    let items: Vec<_> = products
        .iter()
        .map(|(p, policy, default)| {
            minijinja::context! {
                id => p.id.as_str(), name => p.spec.name, status => p.status.as_str(),
                policy => policy_ctx(policy, *default, p.spec.currency),
            }
        })
        .collect();
    page(
        &m.visitor,
        "seller_fees.html",
        minijinja::context! { items, next },
    )
}

#[derive(serde::Deserialize, Default)]
struct Estimate {
    /// The month's paid amount to estimate for, in major units as a person writes it.
    #[serde(default)]
    paid: String,
}

/// A month's paid amount from the form: a non-negative amount in the product's currency.
fn paid_minor(text: &str, currency: Currency) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match currency.parse_major(text) {
        Some(minor) if minor <= MAX_AMOUNT_MINOR => Ok(Some(minor)),
        _ => Err(AppError::invalid_field(
            "paid",
            format!(
                "write the month's paid amount in {} like 12000.00 (not negative, at most {} decimals)",
                currency.as_str(),
                currency.exponent()
            ),
        )),
    }
}

/// What the month's statement would say for `paid_minor` of this product's sales, as the
/// settlement computes it: the fee on the lines at the line rate and the rebate by the bands,
/// each rounded once like a statement total, and the differences of those totals (as the
/// statement's net is).
fn estimate_ctx(p: &FeePolicy, paid_minor: i64, currency: Currency) -> minijinja::Value {
    let money = |minor: i64| Money::new(minor, currency).to_string();
    let fee = Exact::of(paid_minor, p.line_rate()).round();
    let rebate = p.rebate(paid_minor).round();
    minijinja::context! {
        paid => money(paid_minor),
        fee => money(fee), rebate => money(rebate),
        net_fee => money(fee - rebate),
        seller_gets => money(paid_minor - fee + rebate),
    }
}

async fn detail(
    State(state): State<AppState>,
    m: Member,
    Path(product_id): Path<String>,
    q: Query<Estimate>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&m.visitor);
    let me = m.principal();
    // Scoped to the seller: another seller's product is not found (404), listed or not.
    let (policy, default) =
        settlement::fee_policy(&state, &Scope::Party(me.party_id.clone()), &product_id)
            .await
            .map_err(err())?;
    let product = catalog::get(&state, &me, &product_id)
        .await
        .map_err(err())?;
    let currency = product.spec.currency;
    let (status, estimate, problem) = match paid_minor(&q.paid, currency) {
        Ok(paid) => (
            StatusCode::OK,
            paid.map(|p| estimate_ctx(&policy, p, currency)),
            None,
        ),
        Err(e) => (e.status, None, Some(e)),
    };
    render(
        &m.visitor,
        "seller_fee.html",
        status,
        minijinja::context! {
            id => product.id.as_str(), name => product.spec.name,
            currency => currency.as_str(),
            policy => policy_ctx(&policy, default, currency),
            paid => q.paid.trim(), estimate,
            problem => problem.as_ref().map(|e| e.message.clone()),
            code => problem.as_ref().map(|e| e.code),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_settlements_fee_and_rebate() {
        // 5 %; from 10,000.00 the platform keeps 4 %; from 50,000.00, 3 %.
        let p = settlement::fee_policy_from(
            500,
            Some(vec![(0, 500), (1_000_000, 400), (5_000_000, 300)]),
            None,
        )
        .unwrap();
        let cny = Currency::CNY;
        // 60,000.00: fee 3,000.00; rebate 40,000.00 × 1 % + 10,000.00 × 2 % = 600.00.
        let e = estimate_ctx(&p, 6_000_000, cny);
        assert_eq!(e.get_attr("fee").unwrap().to_string(), "3000.00 CNY");
        assert_eq!(e.get_attr("rebate").unwrap().to_string(), "600.00 CNY");
        assert_eq!(e.get_attr("net_fee").unwrap().to_string(), "2400.00 CNY");
        assert_eq!(
            e.get_attr("seller_gets").unwrap().to_string(),
            "57600.00 CNY"
        );
        assert_eq!(paid_minor(" 60000 ", cny).unwrap(), Some(6_000_000));
        assert_eq!(paid_minor("", cny).unwrap(), None);
        for bad in ["-1", "1.001", "ten", "99999999999999999999"] {
            let e = paid_minor(bad, cny).unwrap_err();
            assert_eq!(e.code, "invalid_field", "{bad}");
        }
    }
}
