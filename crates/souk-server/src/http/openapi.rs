//! The OpenAPI document served at `/v1/openapi.json`.
//!
//! Paths, bodies and the statuses particular to an operation come from the `#[utoipa::path]`
//! annotations on the handlers. What many operations share — authentication failures, malformed
//! bodies, paths and queries, internal errors — is added here by [`StandardErrors`] from what
//! each operation declares (security, a request body, path or query parameters), so that every
//! status an operation can answer with is in the document together with its stable error codes.

use crate::error::ErrorEnvelope;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi as Document, RefOr, Response};
use utoipa::{OpenApi, ToSchema};

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: sk_op_…, sk_sel_…, sk_buy_… or sk_rsl_…"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Souk API", description = "The marketplace API. Conventions: docs/API.md."),
    paths(
        crate::http::system::healthz,
        crate::http::system::readyz,
        crate::http::system::metrics,
        crate::http::system::openapi,
        crate::http::system::docs,
        crate::http::parties::me,
        crate::http::parties::create_party,
        crate::http::parties::list_parties,
        crate::http::parties::get_party,
        crate::http::parties::update_party,
        crate::http::parties::create_key,
        crate::http::parties::list_keys,
        crate::http::parties::revoke_key,
        crate::http::parties::audit_trail,
        crate::http::order_query::query_order,
        crate::http::orders::place_order,
        crate::http::orders::list_orders,
        crate::http::orders::get_order,
        crate::http::orders::pay_order,
        crate::http::orders::cancel_order,
        crate::http::orders::list_instances,
        crate::http::orders::get_instance,
        crate::http::orders::renew_instance,
        crate::http::orders::upgrade_instance,
        crate::http::orders::set_auto_renew,
        crate::http::orders::get_balance,
        crate::http::orders::top_up,
        crate::http::orders::set_credit_limit,
        crate::http::orders::get_ledger,
        crate::http::supervision::get_supervision,
        crate::http::supervision::act,
        crate::http::refunds::request_refund,
        crate::http::refunds::list_refunds,
        crate::http::refunds::decide_refund,
        crate::http::attachments::upload_attachment,
        crate::http::attachments::list_attachments,
        crate::http::attachments::download_attachment,
        crate::http::orders::get_clock,
        crate::http::orders::advance_clock,
        crate::http::messages::list_attempts,
        crate::http::messages::get_call,
        crate::http::messages::retry_call,
        crate::http::messages::instance_calls,
        crate::http::messages::list_messages,
        crate::http::catalog::create_product,
        crate::http::catalog::list_products,
        crate::http::catalog::get_product,
        crate::http::catalog::edit_product,
        crate::http::catalog::submit_product,
        crate::http::catalog::approve_product,
        crate::http::catalog::reject_product,
        crate::http::catalog::delist_product,
        crate::http::catalog::set_integration,
        crate::http::catalog::delist_sku,
        crate::http::catalog::product_audit,
        crate::http::catalog::list_reviews,
        crate::http::catalog::get_revision,
        crate::http::catalog::approve_revision,
        crate::http::catalog::reject_revision,
        crate::http::licenses::activate_v1,
        crate::http::licenses::heartbeat_v1,
        crate::http::licenses::activate_v2,
        crate::http::licenses::heartbeat_v2,
        crate::http::licenses::public_keys,
        crate::http::licenses::license_keys,
        crate::http::licenses::rotate_keys,
        crate::http::licenses::create_access_key,
        crate::http::licenses::list_access_keys,
        crate::http::licenses::revoke_access_key,
        crate::http::licenses::set_policy,
        crate::http::licenses::get_policy,
        crate::http::licenses::instance_codes,
        crate::http::licenses::get_code,
        crate::http::licenses::deactivate_machine,
        crate::http::licenses::license_file,
        crate::http::metering::push_current,
        crate::http::metering::push_old,
        crate::http::metering::push_camel,
        crate::http::usage_views::usage_records,
        crate::http::usage_views::usage_charges,
        crate::http::usage_views::usage_summary,
        crate::http::metering::adjust_usage,
        crate::http::usage_price::set_usage_price,
        crate::http::usage_price::get_usage_price,
        crate::http::usage_packages::set_usage_packages,
        crate::http::usage_packages::get_usage_packages,
        crate::http::usage_packages::package_quotas,
        crate::http::settlement::put_fee_policy,
        crate::http::settlement::get_fee_policy,
        crate::http::settlement::run_settlement,
        crate::http::settlement::record_adjustment,
        crate::http::settlement::check_settlement,
        crate::http::settlement::list_statements,
        crate::http::settlement::get_statement,
        crate::http::settlement::statement_csv,
        crate::http::settlement::move_statement,
        crate::http::resellers::create_invitation,
        crate::http::resellers::list_invitations,
        crate::http::resellers::accept_invitation,
        crate::http::resellers::get_exclusions,
        crate::http::resellers::put_exclusions,
        crate::http::resellers::list_customers,
        crate::http::resellers::create_authorisation,
        crate::http::resellers::list_authorisations,
        crate::http::resellers::get_authorisation,
        crate::http::resellers::decide_authorisation,
        crate::http::resellers::create_offer,
        crate::http::resellers::list_offers,
        crate::http::resellers::get_offer,
        crate::http::resellers::offer_link,
        crate::http::reseller_statements::performance,
        crate::http::reseller_statements::performance_csv,
        crate::http::reseller_statements::run_resellers,
        crate::http::reseller_statements::list_reseller_statements,
        crate::http::reseller_statements::get_reseller_statement,
        crate::http::reseller_statements::reseller_statement_csv,
        crate::http::reseller_statements::pay_reseller_statement,
        crate::http::reseller_statement_invoices::upload_reseller_invoice,
        crate::http::reseller_statement_invoices::list_reseller_invoices,
        crate::http::reseller_statement_invoices::remove_reseller_invoice,
        crate::http::reseller_statement_invoices::reseller_invoice_file,
        crate::http::reseller_statement_invoices::move_reseller_statement,
        crate::http::invoices::request_invoice,
        crate::http::invoices::list_invoices,
        crate::http::invoices::get_invoice,
        crate::http::invoices::act_on_invoice,
        crate::http::invoices::download_invoice,
        crate::http::statement_invoices::submit_statement_invoice,
        crate::http::statement_invoices::list_statement_invoices,
        crate::http::statement_invoices::latest_statement_invoice,
        crate::http::vouchers::issue_voucher,
        crate::http::vouchers::list_vouchers,
        crate::http::vouchers::get_voucher,
        crate::http::vouchers::revoke_voucher,
        crate::http::fee_invoices::request_fee_invoice,
        crate::http::fee_invoices::list_fee_invoices,
        crate::http::fee_invoices::get_fee_invoice,
        crate::http::fee_invoices::issue_fee_invoice,
        crate::http::fee_invoices::act_on_fee_invoice,
        crate::http::fee_invoices::download_fee_invoice,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    modifiers(&SecurityAddon, &StandardErrors)
)]
pub struct ApiDoc;

/// Paths whose answers are not Souk's error envelope (KooGallery's own open APIs) or that
/// cannot fail.
fn outside_the_envelope(path: &str) -> bool {
    path.starts_with("/api/mkp-openapi-public/")
        || path == souk_protocol::usage::PATH_OLD
        || path == souk_protocol::usage::PATH_CAMEL
        || matches!(
            path,
            "/healthz"
                | "/metrics"
                | "/v1/openapi.json"
                | "/docs"
                | "/.well-known/souk-license-keys.json"
        )
}

/// Adds the statuses every operation of a kind shares to each operation of the document.
struct StandardErrors;

impl utoipa::Modify for StandardErrors {
    fn modify(&self, openapi: &mut Document) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if outside_the_envelope(path) {
                continue;
            }
            let ops = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    standard_errors(method, path, op);
                }
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            open_flattened_parts(components);
        }
    }
}

/// Who may call the operations that are not open to every role (method, path, roles); any other
/// caller gets `403 forbidden`. Checked against the document by a unit test.
const RESTRICTED: &[(&str, &str, &str)] = &[
    ("post", "/v1/{collection}", "the operator"),
    ("patch", "/v1/{collection}/{id}", "the operator"),
    ("post", "/v1/buyers/{id}/balance/top-ups", "the operator"),
    (
        "get",
        "/v1/buyers/{id}/association-exclusions",
        "the operator",
    ),
    (
        "put",
        "/v1/buyers/{id}/association-exclusions",
        "the operator",
    ),
    (
        "put",
        "/v1/buyers/{id}/balance/credit-limit",
        "the operator",
    ),
    ("get", "/v1/sandbox/clock", "the operator"),
    ("post", "/v1/sandbox/clock/advance", "the operator"),
    ("post", "/v1/products/{id}/approve", "the operator"),
    ("post", "/v1/products/{id}/reject", "the operator"),
    ("get", "/v1/reviews", "the operator"),
    ("post", "/v1/revisions/{id}/approve", "the operator"),
    ("post", "/v1/revisions/{id}/reject", "the operator"),
    ("post", "/v1/license-keys/rotate", "the operator"),
    ("post", "/v1/orders", "buyers"),
    ("post", "/v1/orders/{id}/pay", "buyers"),
    ("post", "/v1/orders/{id}/cancel", "buyers"),
    ("post", "/v1/instances/{id}/renew", "buyers"),
    ("post", "/v1/instances/{id}/upgrade", "buyers"),
    ("put", "/v1/instances/{id}/auto-renew", "buyers"),
    ("get", "/v1/interface-messages", "sellers and the operator"),
    ("get", "/v1/calls/{id}", "sellers and the operator"),
    ("post", "/v1/calls/{id}/retry", "sellers and the operator"),
    (
        "get",
        "/v1/instances/{id}/calls",
        "sellers and the operator",
    ),
    (
        "get",
        "/v1/sellers/{id}/access-keys",
        "sellers and the operator",
    ),
    (
        "post",
        "/v1/sellers/{id}/access-keys",
        "sellers and the operator",
    ),
    ("delete", "/v1/access-keys/{id}", "sellers and the operator"),
    (
        "delete",
        "/v1/license-codes/{code}/machines/{fingerprint}",
        "sellers and the operator",
    ),
    ("put", "/v1/products/{id}/license-policy", "sellers"),
    ("put", "/v1/products/{id}/usage-price", "sellers"),
    ("put", "/v1/products/{id}/usage-packages", "sellers"),
    (
        "post",
        "/v1/instances/{id}/usage-adjustments",
        "the operator",
    ),
    ("post", "/v1/products", "sellers"),
    ("patch", "/v1/products/{id}", "the product's seller"),
    ("post", "/v1/products/{id}/submit", "the product's seller"),
    (
        "post",
        "/v1/products/{id}/delist",
        "the product's seller and the operator",
    ),
    (
        "put",
        "/v1/products/{id}/integration",
        "the product's seller",
    ),
    (
        "post",
        "/v1/products/{id}/skus/{sku_id}/delist",
        "the product's seller and the operator",
    ),
    (
        "get",
        "/v1/products/{id}/audit",
        "the product's seller and the operator",
    ),
    ("put", "/v1/products/{id}/fee-policy", "the operator"),
    (
        "get",
        "/v1/products/{id}/fee-policy",
        "the product's seller and the operator",
    ),
    ("post", "/v1/settlement/runs", "the operator"),
    ("post", "/v1/settlement/adjustments", "the operator"),
    ("get", "/v1/settlement/check", "the operator"),
    ("get", "/v1/statements", "sellers and the operator"),
    (
        "get",
        "/v1/statements/{id}",
        "the statement's seller and the operator",
    ),
    (
        "get",
        "/v1/statements/{id}/lines.csv",
        "the statement's seller and the operator",
    ),
    (
        "post",
        "/v1/statements/{id}/transitions",
        "the statement's seller and the operator",
    ),
    ("post", "/v1/orders/{id}/invoices", "the order's buyer"),
    ("get", "/v1/invoices", "buyers, sellers and the operator"),
    (
        "get",
        "/v1/invoices/{id}",
        "its buyer, its seller and the operator",
    ),
    ("post", "/v1/invoices/{id}/actions", "the order's seller"),
    (
        "get",
        "/v1/invoices/{id}/file",
        "its buyer, its seller and the operator",
    ),
    (
        "post",
        "/v1/statements/{id}/invoices",
        "the statement's seller",
    ),
    (
        "get",
        "/v1/statements/{id}/invoices",
        "the statement's seller and the operator",
    ),
    (
        "get",
        "/v1/statements/{id}/invoices/latest",
        "the statement's seller and the operator",
    ),
    ("post", "/v1/vouchers", "sellers"),
    ("get", "/v1/vouchers", "buyers, sellers and the operator"),
    (
        "get",
        "/v1/vouchers/{id}",
        "its seller, its buyer and the operator",
    ),
    ("post", "/v1/vouchers/{id}/revoke", "its seller"),
    ("post", "/v1/fee-invoices", "sellers"),
    ("get", "/v1/fee-invoices", "sellers and the operator"),
    (
        "get",
        "/v1/fee-invoices/{id}",
        "its seller and the operator",
    ),
    ("post", "/v1/fee-invoices/{id}/issue", "the operator"),
    ("post", "/v1/fee-invoices/{id}/actions", "the operator"),
    (
        "get",
        "/v1/fee-invoices/{id}/file",
        "its seller and the operator",
    ),
];

fn standard_errors(method: &str, path: &str, op: &mut Operation) {
    if let Some((_, _, who)) = RESTRICTED
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
    {
        add(
            op,
            "403",
            &["forbidden"],
            &format!("only {who} may do this"),
        );
    }
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add(op, "401", &["missing_credentials", "invalid_credentials", "invalid_api_key"],
            "no API key, not `Bearer <key>`, or a malformed, unknown or revoked key or a suspended owner");
    }
    if has_path {
        add(
            op,
            "400",
            &["invalid_path"],
            "a path segment could not be decoded",
        );
    }
    if has_path {
        add(
            op,
            "404",
            &["not_found"],
            "no such resource, a malformed id or an id of another kind, or one not visible to you",
        );
    }
    if path.contains("{collection}") {
        add(
            op,
            "404",
            &["route_not_found"],
            "the collection is not one of those listed",
        );
    }
    if has_query {
        add(
            op,
            "400",
            &["invalid_query"],
            "a query parameter is malformed, out of range or unknown",
        );
    }
    if op.request_body.is_some() {
        add(
            op,
            "400",
            &["malformed_json", "unreadable_body"],
            "the body is not JSON or could not be read",
        );
        add(
            op,
            "413",
            &["payload_too_large"],
            "the body is larger than `max_body_bytes`",
        );
        add(
            op,
            "415",
            &["unsupported_media_type"],
            "the body was not sent as `application/json`",
        );
        add(op, "422", &["invalid_body"],
            "the JSON has the wrong shape: a wrong type, a missing or unknown field, an unknown enum value");
    }
    add(
        op,
        "500",
        &["internal"],
        "something failed on Souk's side; quote `x-request-id`",
    );
}

/// Declares (or extends) the error response `status` of `op` with `codes`, and why.
fn add(op: &mut Operation, status: &str, codes: &[&str], why: &str) {
    let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let line = format!("{}: {why}.", listed.join(", "));
    let envelope = || {
        Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            ErrorEnvelope::name(),
        ))))
    };
    match op.responses.responses.get_mut(status) {
        Some(RefOr::T(existing)) => {
            if !existing.description.contains(&line) {
                existing.description = if existing.description.is_empty() {
                    line
                } else {
                    format!("{}\n\n{line}", existing.description)
                };
            }
            existing
                .content
                .entry("application/json".into())
                .or_insert_with(envelope);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = Response::new(line);
            response
                .content
                .insert("application/json".into(), envelope());
            op.responses
                .responses
                .insert(status.to_owned(), RefOr::T(response));
        }
    }
}

/// A struct flattened into a response (`#[serde(flatten)]`) becomes one part of an `allOf`; if
/// that part forbids unknown fields (it is also a request body with `deny_unknown_fields`), it
/// forbids the other parts' fields too and no real answer validates. Such parts are inlined
/// without that restriction.
fn open_flattened_parts(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let closed: std::collections::BTreeMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(o))
                if matches!(
                    o.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) =>
            {
                let mut open = o.clone();
                open.additional_properties = None;
                Some((name.clone(), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::AllOf(all)) = schema {
            for part in all.items.iter_mut() {
                if let RefOr::Ref(r) = part {
                    let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                    if let Some(open) = closed.get(name) {
                        *part = RefOr::T(open.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_restricted_operation_exists_and_declares_403() {
        let doc = ApiDoc::openapi();
        for (method, path, _) in RESTRICTED {
            let item = doc
                .paths
                .paths
                .get(*path)
                .unwrap_or_else(|| panic!("no path {path}"));
            let op = match *method {
                "get" => &item.get,
                "put" => &item.put,
                "post" => &item.post,
                "delete" => &item.delete,
                "patch" => &item.patch,
                _ => unreachable!(),
            };
            let op = op.as_ref().unwrap_or_else(|| panic!("no {method} {path}"));
            assert!(
                op.responses.responses.contains_key("403"),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn every_enveloped_operation_declares_its_errors_with_codes() {
        let doc = ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            if outside_the_envelope(path) {
                continue;
            }
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                for (status, response) in &op.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            response.description.contains('`'),
                            "{path} {status}: no error code listed"
                        );
                        assert!(
                            response.content.contains_key("application/json"),
                            "{path} {status}"
                        );
                    }
                }
                assert!(op.responses.responses.contains_key("500"), "{path}");
            }
        }
    }

    /// Whether a media type (`content` entry) shows an example: its own, or its schema's
    /// (following a `$ref` into the components).
    fn has_example(doc: &serde_json::Value, media: &serde_json::Value) -> bool {
        if media.get("example").is_some() || media.get("examples").is_some() {
            return true;
        }
        let mut schema = &media["schema"];
        while let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
            let name = r.rsplit('/').next().unwrap_or_default();
            schema = &doc["components"]["schemas"][name];
        }
        schema.get("example").is_some() || schema.get("examples").is_some()
    }

    #[test]
    fn every_operation_has_examples_for_its_body_and_success() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let label = format!("{} {path}", method.to_uppercase());
                if let Some(body) = op.get("requestBody") {
                    for (media_type, media) in body["content"].as_object().unwrap() {
                        if !has_example(&doc, media) {
                            missing.push(format!("{label}: request body ({media_type})"));
                        }
                    }
                }
                let responses = op["responses"].as_object().unwrap();
                let success = responses.keys().filter(|s| s.starts_with('2')).min();
                let Some(status) = success else {
                    missing.push(format!("{label}: no success status"));
                    continue;
                };
                match responses[status]["content"].as_object() {
                    Some(content) if !content.is_empty() => {
                        for (media_type, media) in content {
                            if !has_example(&doc, media) {
                                missing.push(format!("{label}: {status} response ({media_type})"));
                            }
                        }
                    }
                    _ => missing.push(format!("{label}: {status} response has no content")),
                }
            }
        }
        assert!(
            missing.is_empty(),
            "operations without an example:\n{}",
            missing.join("\n")
        );
    }
}
