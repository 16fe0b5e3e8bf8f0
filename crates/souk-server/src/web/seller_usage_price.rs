//! The seller's usage-price page (business rules §6.4): how a product's on-demand usage is
//! rated — fixed, Step (volume) or Tier (graduated) bands — and collected (hourly or daily),
//! saved by `usecase::usage_price::set` exactly as `PUT /v1/products/{id}/usage-price` does.
//!
//! A person writes the bands one per line, `UP_TO PRICE` (the last band `* PRICE`), the price in
//! the product's currency (`1000 0.10`); this module only turns those lines into the use case's
//! input, and every rule (band order, limits, mode) is the use case's.

use super::session::{Member, Submitted, Visitor};
use super::{render, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::usage_price::{self, BandView, UsagePriceView};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use souk_core::catalog::BillingMode;
use souk_core::money::Currency;
use souk_core::party::Role;
use souk_store::Scope;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/seller/products/{id}/usage-price",
        get(show_page).post(save),
    )
}

pub(super) const TEMPLATES: &[(&str, &str)] = &[(
    "seller_usage_price.html",
    include_str!("../../templates/seller_usage_price.html"),
)];

#[derive(serde::Deserialize, Default)]
struct PriceForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    bands: String,
}

/// The bands as lines a person reads and writes back.
fn lines_of(bands: &[BandView], currency: Currency) -> String {
    bands
        .iter()
        .map(|b| {
            format!(
                "{} {}",
                b.up_to.as_deref().unwrap_or("*"),
                currency.format_major(b.unit_minor)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The use case's input from the posted form.
fn input_of(form: &PriceForm, currency: Currency) -> Result<UsagePriceView, AppError> {
    let mut bands = Vec::new();
    for (n, line) in form.bands.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || {
            AppError::invalid_field(
                "bands",
                format!(
                    "line {}: write `UP_TO PRICE` (the last band `* PRICE`), the price in {} like 0.10",
                    n + 1,
                    currency.as_str()
                ),
            )
        };
        let (up_to, price) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let unit_minor = currency.parse_major(price).ok_or_else(bad)?;
        bands.push(BandView {
            up_to: (up_to != "*").then(|| up_to.to_owned()),
            unit_minor,
        });
    }
    Ok(UsagePriceView {
        mode: form.mode.trim().to_owned(),
        bands,
        collection: Some(form.collection.trim().to_owned()).filter(|c| !c.is_empty()),
    })
}

fn show(
    v: &Visitor,
    status: StatusCode,
    product: &souk_store::ProductRecord,
    form: &PriceForm,
    problem: Option<&AppError>,
) -> PageResult {
    let on_demand = product.skus.iter().any(|s| {
        s.prices
            .iter()
            .any(|p| p.billing_mode == BillingMode::OnDemand)
    });
    render(
        v,
        "seller_usage_price.html",
        status,
        minijinja::context! {
            product_id => product.id.as_str(),
            name => product.spec.name,
            currency => product.spec.currency.as_str(),
            on_demand,
            mode => form.mode, collection => form.collection, bands => form.bands,
            problem => problem.map(|e| e.message.clone()),
            code => problem.map(|e| e.code),
        },
    )
}

async fn show_page(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Seller])?;
    let (product, view) = usage_price::get(&state, &m.principal(), &id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    let form = PriceForm {
        bands: lines_of(&view.bands, product.spec.currency),
        mode: view.mode,
        collection: view.collection.unwrap_or_default(),
    };
    show(&m.visitor, StatusCode::OK, &product, &form, None)
}

/// Replaces the product's usage price; a refusal is the form again, as typed, with the reason
/// (nothing is stored).
async fn save(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<PriceForm>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let me = m.principal();
    let (product, _) = usage_price::get(&state, &me, &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    let scope = Scope::Party(me.party_id.clone());
    let saved = match input_of(&s.form, product.spec.currency) {
        Ok(input) => usage_price::set(&state, &scope, &me.party_id, &id, &input).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => {
            Ok(Redirect::to(&format!("/seller/products/{id}/usage-price?saved=1")).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            show(&s.visitor, e.status, &product, &s.form, Some(&e))
        }
        Err(e) => Err(WebError::with(&s.visitor)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_lines_read_back_as_they_were_written() {
        let cny = Currency::CNY;
        let form = PriceForm {
            mode: " tier ".into(),
            collection: "daily".into(),
            bands: "100 0.10\n\n1000 0.08\n* 0.05\n".into(),
        };
        let input = input_of(&form, cny).unwrap();
        assert_eq!(input.mode, "tier");
        assert_eq!(input.collection.as_deref(), Some("daily"));
        assert_eq!(input.bands.len(), 3);
        assert_eq!(input.bands[0].up_to.as_deref(), Some("100"));
        assert_eq!(input.bands[0].unit_minor, 10);
        assert_eq!(input.bands[2].up_to, None);
        assert_eq!(lines_of(&input.bands, cny), "100 0.10\n1000 0.08\n* 0.05");
        for bad in ["100", "100 ten", "100 0.001", "100 -1"] {
            let form = PriceForm {
                bands: bad.into(),
                ..PriceForm::default()
            };
            let e = input_of(&form, cny).unwrap_err();
            assert!(e.message.contains("line 1"), "{bad}: {}", e.message);
        }
    }
}
