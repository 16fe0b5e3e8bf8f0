//! The seller's usage packages page (套餐包, business rules §6.4): what each package SKU of a
//! product holds, shown and edited through a form, saved by `usecase::packages::set_defs`
//! exactly as `PUT /v1/products/{id}/usage-packages` does.
//!
//! The form names its fields by SKU (`reset.{package}`, `validity.{package}`,
//! `stop.{package}`, `quota.{package}.{item}`) so that the page needs no script; this module
//! only turns those fields into the use case's input, and every rule (which SKUs may be
//! packages or items, quota bounds, reset against validity) is the use case's.

use super::session::{Member, Submitted, Visitor};
use super::{render, PageResult, WebError};
use crate::error::AppError;
use crate::http::auth::Caller;
use crate::usecase::packages::{self, PackageInput, PackageItemInput};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use souk_core::catalog::BillingMode;
use souk_core::metering::package::PackageDef;
use souk_core::party::Role;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/seller/products/{id}/packages", get(show_page).post(save))
}

pub(super) const TEMPLATES: &[(&str, &str)] = &[(
    "seller_packages.html",
    include_str!("../../templates/seller_packages.html"),
)];

/// The posted fields in their order (the order of the package SKUs on the page).
type Fields = Vec<(String, String)>;

/// The form's fields as the stored definitions fill them in.
fn fields_of(defs: &[(String, PackageDef)]) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    for (sku, d) in defs {
        f.insert(format!("reset.{sku}"), d.reset.as_str().to_owned());
        if let Some(m) = d.validity_months {
            f.insert(format!("validity.{sku}"), m.to_string());
        }
        if d.stop_when_exhausted {
            f.insert(format!("stop.{sku}"), "on".to_owned());
        }
        for i in &d.items {
            f.insert(format!("quota.{sku}.{}", i.sku_id), i.quota.to_string());
        }
    }
    f
}

/// The use case's input from the posted fields: one package per `reset.{sku}` field; a
/// package whose quotas are all blank is left undefined (buyers cannot buy it).
fn inputs_of(fields: &Fields) -> Result<Vec<PackageInput>, AppError> {
    let mut out: Vec<PackageInput> = fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("reset.").map(|sku| PackageInput {
                sku_id: sku.to_owned(),
                items: Vec::new(),
                reset: v.clone(),
                validity_months: None,
                stop_when_exhausted: false,
            })
        })
        .collect();
    for (k, v) in fields {
        let (kind, rest) = k.split_once('.').unwrap_or((k, ""));
        let (sku, item) = rest.split_once('.').unwrap_or((rest, ""));
        let Some(p) = out.iter_mut().find(|p| p.sku_id == sku) else {
            continue;
        };
        let v = v.trim();
        match kind {
            "quota" if !v.is_empty() => p.items.push(PackageItemInput {
                sku_id: item.to_owned(),
                quota: v.to_owned(),
            }),
            "validity" if !v.is_empty() => {
                p.validity_months = Some(v.parse().map_err(|_| {
                    AppError::invalid_field(
                        "validity_months",
                        format!("`{v}` is not a whole number of months"),
                    )
                })?)
            }
            "stop" => p.stop_when_exhausted = true,
            _ => {}
        }
    }
    out.retain(|p| !p.items.is_empty());
    Ok(out)
}

/// A SKU as the page names it: its attribute values, or its id when it has none.
fn sku_view(s: &souk_store::SkuRecord) -> minijinja::Value {
    let label = s
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    minijinja::context! { id => s.id.as_str(), label => label }
}

fn show(
    v: &Visitor,
    status: StatusCode,
    product: &souk_store::ProductRecord,
    form: &BTreeMap<String, String>,
    problem: Option<&AppError>,
) -> PageResult {
    let sold_as = |mode: BillingMode| {
        product
            .skus
            .iter()
            .filter(|s| s.prices.iter().any(|p| p.billing_mode == mode))
            .map(sku_view)
            .collect::<Vec<_>>()
    };
    render(
        v,
        "seller_packages.html",
        status,
        minijinja::context! {
            product_id => product.id.as_str(),
            name => product.spec.name,
            packages => sold_as(BillingMode::Package),
            items => sold_as(BillingMode::OnDemand),
            form,
            problem => problem.map(|e| e.message.clone()),
            code => problem.map(|e| e.code),
            field => problem.and_then(|e| e.details.as_ref()).and_then(|d| d.get("field")).and_then(|f| f.as_str()).map(str::to_owned),
        },
    )
}

async fn show_page(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Seller])?;
    let (product, defs) = packages::defs(&state, &Caller(m.principal()), &id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    show(
        &m.visitor,
        StatusCode::OK,
        &product,
        &fields_of(&defs),
        None,
    )
}

/// Replaces the product's package definitions; a refusal is the form again, as typed, with
/// the reason (nothing is stored).
async fn save(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Fields>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let caller = Caller(m.principal());
    let saved = match inputs_of(&s.form) {
        Ok(input) => packages::set_defs(&state, &caller, &id, &input).await,
        Err(e) => Err(e),
    };
    let e = match saved {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("/seller/products/{id}/packages?saved=1")).into_response(),
            )
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => e,
        Err(e) => return Err(WebError::with(&s.visitor)(e)),
    };
    let (product, _) = packages::defs(&state, &caller, &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    let typed: BTreeMap<String, String> = s.form.iter().cloned().collect();
    show(&s.visitor, e.status, &product, &typed, Some(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fields_become_packages_and_blank_quotas_leave_a_package_out() {
        let p = inputs_of(&fields(&[
            ("csrf", "x"),
            ("reset.sku_a", "none"),
            ("validity.sku_a", " 12 "),
            ("stop.sku_a", "on"),
            ("quota.sku_a.sku_i", "100"),
            ("quota.sku_a.sku_j", ""),
            ("reset.sku_b", "monthly"),
            ("validity.sku_b", ""),
            ("quota.sku_b.sku_i", " "),
        ]))
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].sku_id, "sku_a");
        assert_eq!(p[0].validity_months, Some(12));
        assert!(p[0].stop_when_exhausted);
        assert_eq!(p[0].items.len(), 1);
        assert_eq!(p[0].items[0].sku_id, "sku_i");
        let e = inputs_of(&fields(&[
            ("reset.sku_a", "none"),
            ("validity.sku_a", "a year"),
        ]))
        .unwrap_err();
        assert!(e.message.contains("`a year`"), "{}", e.message);
    }
}
