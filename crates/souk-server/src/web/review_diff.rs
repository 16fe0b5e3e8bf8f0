//! The review queue's side-by-side view: what the buyer sees now (the listed version) beside
//! what the seller submitted (the revision, or the new product itself), one row per field and
//! per SKU, rows that differ marked. Presentation only: approving still goes through
//! `usecase::catalog`.

use serde::Serialize;
use souk_core::catalog::{PlannedPrice, ProductSpec};
use souk_core::money::{Currency, Money};
use souk_store::{ProductRecord, RevisionRecord};
use std::collections::BTreeMap;

/// One compared value: the listed one (empty when the product is not listed yet) and the
/// submitted one.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Row {
    pub field: String,
    pub listed: String,
    pub submitted: String,
    pub changed: bool,
}

impl Row {
    fn new(field: impl Into<String>, listed: String, submitted: String) -> Row {
        let changed = listed != submitted;
        Row {
            field: field.into(),
            listed,
            submitted,
            changed,
        }
    }
}

/// The comparison the page shows.
#[derive(Debug, Serialize)]
pub struct Comparison {
    /// `None` when the product itself is submitted (nothing is listed to compare with).
    pub revision_id: Option<String>,
    pub fields: Vec<Row>,
    pub skus: Vec<Row>,
    /// The integration profile is not part of a revision (sellers change it directly); shown
    /// so that the operator sees where the calls will go.
    pub integration: Vec<(String, String)>,
    pub changed: usize,
}

/// Compares `product` as listed with its pending revision, or shows a newly submitted product
/// against nothing.
pub fn compare(product: &ProductRecord, revision: Option<&RevisionRecord>) -> Comparison {
    let (listed, submitted) = match revision {
        Some(r) => (Some(&product.spec), &r.spec),
        None => (None, &product.spec),
    };
    let fields = spec_rows(listed, submitted);
    let listed_skus: BTreeMap<String, String> = if listed.is_some() {
        product
            .skus
            .iter()
            .map(|s| {
                let status = if s.status.as_str() == "active" {
                    String::new()
                } else {
                    format!(" [{}]", s.status.as_str())
                };
                (
                    s.attr_key.clone(),
                    format!("{}{status}", prices(&s.prices, product.spec.currency)),
                )
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut skus: Vec<Row> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in submitted.skus(product.id.as_str()) {
        seen.insert(s.attr_key.clone());
        skus.push(Row::new(
            sku_label(&s.attributes),
            listed_skus.get(&s.attr_key).cloned().unwrap_or_default(),
            prices(&s.prices, submitted.currency),
        ));
    }
    for s in &product.skus {
        if listed.is_some() && !seen.contains(&s.attr_key) {
            skus.push(Row::new(
                sku_label(&s.attributes),
                listed_skus.get(&s.attr_key).cloned().unwrap_or_default(),
                String::new(),
            ));
        }
    }
    let integration = product
        .integration
        .as_ref()
        .map(|i| {
            let r = &i.record;
            vec![
                ("protocol".to_owned(), r.protocol.as_str().to_owned()),
                ("production_url".to_owned(), r.production_url.clone()),
                (
                    "buyer_fields".to_owned(),
                    r.buyer_fields
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                (
                    "license_mode".to_owned(),
                    i.license_mode
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            ]
        })
        .unwrap_or_default();
    let changed = fields.iter().chain(&skus).filter(|r| r.changed).count();
    Comparison {
        revision_id: revision.map(|r| r.id.as_str().to_owned()),
        fields,
        skus,
        integration,
        changed,
    }
}

fn spec_rows(listed: Option<&ProductSpec>, submitted: &ProductSpec) -> Vec<Row> {
    let cells = |s: &ProductSpec| -> Vec<(&'static str, String)> {
        vec![
            ("name", s.name.clone()),
            ("category", s.category.clone()),
            ("delivery_type", s.delivery_type.as_str().to_owned()),
            ("currency", s.currency.to_string()),
            ("description", s.description.clone()),
            ("usage_guide", s.usage_guide.clone().unwrap_or_default()),
            (
                "service_agreement.content",
                s.service_agreement.content.clone(),
            ),
            ("service_agreement.hours", s.service_agreement.hours.clone()),
            ("service_agreement.phone", s.service_agreement.phone.clone()),
            ("service_agreement.email", s.service_agreement.email.clone()),
            ("supervised", s.supervised.to_string()),
            ("open_after_acceptance", s.open_after_acceptance.to_string()),
            ("enum_attributes", json(&s.enum_attributes)),
            ("quantity", json(&s.quantity)),
            ("order_fields", json(&s.order_fields)),
        ]
    };
    let old = listed.map(cells);
    cells(submitted)
        .into_iter()
        .enumerate()
        .map(|(i, (field, new))| {
            let was = old.as_ref().map(|o| o[i].1.clone()).unwrap_or_default();
            Row::new(field, was, new)
        })
        .collect()
}

/// Compact JSON of the structured fields (attributes, quantity, order fields).
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn sku_label(attributes: &BTreeMap<String, String>) -> String {
    if attributes.is_empty() {
        return "—".to_owned();
    }
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn prices(prices: &[PlannedPrice], currency: Currency) -> String {
    prices
        .iter()
        .map(|p| {
            let trial = p
                .trial_days
                .map(|d| format!(" (trial {d}d)"))
                .unwrap_or_default();
            format!(
                "{} {}{trial}",
                p.billing_mode.as_str(),
                Money::new(p.amount_minor, currency)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
