//! The seller's product form: create and edit a product (attributes → SKUs, prices, integration
//! profile) and submit it for review, through `usecase::catalog` exactly as the JSON API does.
//!
//! The form writes attributes and prices as lines of text (a person types them; a table of
//! inputs per SKU would not fit a phone). This module only turns those lines into the use
//! case's input; every rule (names, bounds, one price per SKU and mode, SSRF on the URL) is
//! checked by the use case, whose message the form shows.

use super::session::{Member, Submitted};
use super::{render, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::catalog::{self, CreateProduct};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::catalog::{
    BillingMode, DeliveryType, EnumAttribute, IntegrationInput, PriceInput, ProductAction,
    ProductPatch, Protocol, QuantityAttribute, ServiceAgreement,
};
use souk_core::invoice::InvoiceType;
use souk_core::party::Role;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seller/products/new", get(new_form).post(create))
        .route("/seller/products/{id}/edit", get(edit_form).post(save))
        .route("/seller/products/{id}/submit", post(submit))
}

/// What the form posts (and shows again after a problem).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ProductForm {
    name: String,
    delivery_type: String,
    category: String,
    description: String,
    usage_guide: String,
    supervised: Option<String>,
    /// Also issue special VAT invoices (the general one is always offered).
    invoice_special: Option<String>,
    currency: String,
    sa_content: String,
    sa_hours: String,
    sa_phone: String,
    sa_email: String,
    /// `edition: basic, pro` per line.
    attributes: String,
    q_name: String,
    q_unit: String,
    q_min: String,
    q_max: String,
    q_wire: String,
    /// `edition=basic monthly 10.00`, `yearly 100` (every SKU), `trial 14` per line.
    prices: String,
    protocol: String,
    production_url: String,
    /// Blank keeps the stored key.
    key: String,
}

fn invalid(field: &str, msg: impl Into<String>) -> AppError {
    AppError::invalid_field(field, msg)
}

fn attributes_of(text: &str) -> Result<Vec<EnumAttribute>, AppError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, values) = l.split_once(':').ok_or_else(|| {
                invalid("attributes", format!("`{l}`: write `name: value, value`"))
            })?;
            Ok(EnumAttribute {
                name: name.trim().to_owned(),
                values: values
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            })
        })
        .collect()
}

fn prices_of(text: &str, currency: &str) -> Result<Vec<PriceInput>, AppError> {
    let currency: souk_core::money::Currency = currency
        .trim()
        .parse()
        .map_err(|_| invalid("currency", "a three-letter currency code such as CNY"))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let hint = || {
                invalid(
                    "prices",
                    format!(
                        "`{l}`: write `[attribute=value …] monthly|yearly|on_demand amount` or \
                         `trial days`"
                    ),
                )
            };
            let mut sku = BTreeMap::new();
            let mut rest = Vec::new();
            for t in l.split_whitespace() {
                match t.split_once('=') {
                    Some((k, v)) => {
                        sku.insert(k.to_owned(), v.to_owned());
                    }
                    None => rest.push(t),
                }
            }
            let [mode, figure] = rest.as_slice() else {
                return Err(hint());
            };
            let billing_mode: BillingMode = mode.parse().map_err(|_| hint())?;
            if billing_mode == BillingMode::Trial {
                let days = figure.parse().map_err(|_| hint())?;
                return Ok(PriceInput {
                    sku,
                    billing_mode,
                    amount_minor: 0,
                    trial_days: Some(days),
                });
            }
            let amount_minor = currency.parse_major(figure).ok_or_else(|| {
                invalid(
                    "prices",
                    format!("`{l}`: `{figure}` is not an amount in {currency} such as 99.90"),
                )
            })?;
            Ok(PriceInput {
                sku,
                billing_mode,
                amount_minor,
                trial_days: None,
            })
        })
        .collect()
}

fn quantity_of(f: &ProductForm) -> Result<Option<QuantityAttribute>, AppError> {
    if f.q_name.trim().is_empty() {
        return Ok(None);
    }
    let bound = |field: &str, v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| invalid(field, "a whole number of at least 1"))
    };
    Ok(Some(QuantityAttribute {
        name: f.q_name.trim().to_owned(),
        unit: f.q_unit.trim().to_owned(),
        min: bound("q_min", &f.q_min)?,
        max: bound("q_max", &f.q_max)?,
        wire_field: f
            .q_wire
            .parse()
            .map_err(|_| invalid("q_wire", "amount, diskSize or bandWidth"))?,
    }))
}

fn integration_of(f: &ProductForm) -> Result<Option<IntegrationInput>, AppError> {
    if f.production_url.trim().is_empty() {
        return Ok(None);
    }
    let protocol: Protocol = f
        .protocol
        .parse()
        .map_err(|_| invalid("protocol", "v1 or v2"))?;
    Ok(Some(IntegrationInput {
        protocol,
        production_url: f.production_url.trim().to_owned(),
        key: Some(f.key.clone()).filter(|k| !k.is_empty()),
        pii_encrypt_bits: None,
        buyer_fields: Vec::new(),
        license_mode: None,
    }))
}

fn create_input(f: &ProductForm) -> Result<CreateProduct, AppError> {
    Ok(CreateProduct {
        name: f.name.clone(),
        delivery_type: f
            .delivery_type
            .parse()
            .map_err(|_| invalid("delivery_type", "choose a delivery type"))?,
        category: f.category.trim().to_owned(),
        description: f.description.clone(),
        usage_guide: Some(f.usage_guide.clone()).filter(|g| !g.trim().is_empty()),
        service_agreement: ServiceAgreement {
            content: f.sa_content.clone(),
            hours: f.sa_hours.clone(),
            phone: f.sa_phone.clone(),
            email: f.sa_email.clone(),
        },
        supervised: f.supervised.is_some(),
        open_after_acceptance: false,
        currency: f.currency.trim().to_owned(),
        enum_attributes: attributes_of(&f.attributes)?,
        quantity: quantity_of(f)?,
        prices: prices_of(&f.prices, &f.currency)?,
        order_fields: Vec::new(),
        invoice_types: if f.invoice_special.is_some() {
            vec![InvoiceType::General, InvoiceType::Special]
        } else {
            vec![InvoiceType::General]
        },
        integration: integration_of(f)?,
    })
}

/// The form as a stored product fills it in (the key is never shown).
fn form_of(p: &souk_store::ProductRecord) -> ProductForm {
    let s = &p.spec;
    let input: souk_core::catalog::ProductInput = s.clone().into();
    let attributes = input
        .enum_attributes
        .iter()
        .map(|a| format!("{}: {}", a.name, a.values.join(", ")))
        .collect::<Vec<_>>()
        .join("\n");
    let currency: souk_core::money::Currency = input
        .currency
        .parse()
        .unwrap_or(souk_core::money::Currency::CNY);
    let prices = input
        .prices
        .iter()
        .map(|pr| {
            let mut parts: Vec<String> = pr.sku.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.push(pr.billing_mode.as_str().to_owned());
            parts.push(match pr.trial_days {
                Some(d) => d.to_string(),
                None => currency.format_major(pr.amount_minor),
            });
            parts.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let q = input.quantity.as_ref();
    let integration = p.integration.as_ref().map(|i| &i.record);
    ProductForm {
        name: input.name.clone(),
        delivery_type: input.delivery_type.as_str().to_owned(),
        category: input.category.clone(),
        description: input.description.clone(),
        usage_guide: input.usage_guide.clone().unwrap_or_default(),
        supervised: input.supervised.then(|| "on".to_owned()),
        invoice_special: input
            .invoice_types
            .contains(&InvoiceType::Special)
            .then(|| "on".to_owned()),
        currency: input.currency.clone(),
        sa_content: input.service_agreement.content.clone(),
        sa_hours: input.service_agreement.hours.clone(),
        sa_phone: input.service_agreement.phone.clone(),
        sa_email: input.service_agreement.email.clone(),
        attributes,
        q_name: q.map(|q| q.name.clone()).unwrap_or_default(),
        q_unit: q.map(|q| q.unit.clone()).unwrap_or_default(),
        q_min: q.map(|q| q.min.to_string()).unwrap_or_default(),
        q_max: q.map(|q| q.max.to_string()).unwrap_or_default(),
        q_wire: q
            .map(|q| q.wire_field.as_str().to_owned())
            .unwrap_or_default(),
        prices,
        protocol: integration
            .map(|i| i.protocol.as_str().to_owned())
            .unwrap_or_else(|| "v2".into()),
        production_url: integration
            .map(|i| i.production_url.clone())
            .unwrap_or_default(),
        key: String::new(),
    }
}

fn show(
    v: &super::session::Visitor,
    status: StatusCode,
    form: &ProductForm,
    product_id: Option<&str>,
    problem: Option<&AppError>,
) -> PageResult {
    render(
        v,
        "product_form.html",
        status,
        minijinja::context! {
            form, product_id,
            delivery_types => DeliveryType::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            problem => problem.map(|e| e.message.clone()),
            code => problem.map(|e| e.code),
            field => problem.and_then(|e| e.details.as_ref()).and_then(|d| d.get("field")).and_then(|f| f.as_str()).map(str::to_owned),
        },
    )
}

async fn new_form(m: Member) -> PageResult {
    m.require(&[Role::Seller])?;
    let form = ProductForm {
        delivery_type: "saas".into(),
        currency: "CNY".into(),
        protocol: "v2".into(),
        q_wire: "amount".into(),
        ..Default::default()
    };
    show(&m.visitor, StatusCode::OK, &form, None, None)
}

/// A refusal the person can fix is the form again with the reason; anything else an error page.
fn again(
    v: &super::session::Visitor,
    form: &ProductForm,
    product_id: Option<&str>,
    e: AppError,
) -> PageResult {
    if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND {
        show(v, e.status, form, product_id, Some(&e))
    } else {
        Err(WebError::with(v)(e))
    }
}

async fn create(State(state): State<AppState>, m: Member, s: Submitted<ProductForm>) -> PageResult {
    m.require(&[Role::Seller])?;
    let created = match create_input(&s.form) {
        Ok(input) => catalog::create(&state, &m.principal(), input).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(p) => Ok(Redirect::to(&format!("/seller/products#{}", p.id)).into_response()),
        Err(e) => again(&s.visitor, &s.form, None, e),
    }
}

async fn edit_form(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Seller])?;
    let p = catalog::get(&state, &m.principal(), &id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    show(&m.visitor, StatusCode::OK, &form_of(&p), Some(&id), None)
}

/// Saves the product (a listed one gets a revision for review) and its integration profile.
async fn save(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<ProductForm>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let who = m.principal();
    let result = async {
        let input = create_input(&s.form)?;
        let current = catalog::get(&state, &who, &id).await?;
        let stored = form_of(&current);
        let mut changed = ProductForm {
            key: String::new(),
            ..s.form.clone()
        };
        changed.protocol.clone_from(&stored.protocol);
        changed.production_url.clone_from(&stored.production_url);
        // Only the product's own fields go into the patch; nothing changed is no edit.
        let product_changed =
            serde_json::to_value(&changed).ok() != serde_json::to_value(&stored).ok();
        if product_changed {
            let patch = ProductPatch {
                name: Some(input.name),
                delivery_type: Some(input.delivery_type),
                category: Some(input.category),
                description: Some(input.description),
                usage_guide: input.usage_guide,
                service_agreement: Some(input.service_agreement),
                supervised: Some(input.supervised),
                open_after_acceptance: None,
                currency: Some(input.currency),
                enum_attributes: Some(input.enum_attributes),
                quantity: input.quantity,
                prices: Some(input.prices),
                order_fields: None,
                invoice_types: Some(input.invoice_types),
            };
            catalog::edit(&state, &who, &id, patch).await?;
        }
        let integration_changed = s.form.production_url.trim() != stored.production_url
            || s.form.protocol != stored.protocol
            || !s.form.key.is_empty();
        if let (true, Some(i)) = (integration_changed, input.integration) {
            catalog::set_integration(&state, &who, &id, i).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/seller/products#{id}")).into_response()),
        Err(e) => again(&s.visitor, &s.form, Some(&id), e),
    }
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn submit(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    catalog::act(&state, &m.principal(), &id, ProductAction::Submit, None)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to(&format!("/seller/products#{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_lines_become_price_inputs() {
        let p = prices_of(
            "edition=basic monthly 10\nedition=pro yearly 300.50\n\ntrial 14",
            "CNY",
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].sku.get("edition").map(String::as_str), Some("basic"));
        assert_eq!(p[1].amount_minor, 30050);
        assert_eq!(p[2].trial_days, Some(14));
        let e = prices_of("monthly ten", "CNY").unwrap_err();
        assert_eq!(e.code, "invalid_field");
        assert!(e.message.contains("`ten`"), "{}", e.message);
    }

    #[test]
    fn attribute_lines_name_their_values() {
        let a = attributes_of("edition: basic, pro\n region : cn-north ").unwrap();
        assert_eq!(a[0].values, vec!["basic", "pro"]);
        assert_eq!(a[1].name, "region");
        assert!(attributes_of("no colon here").is_err());
    }
}
