//! `/v1/products`, `/v1/reviews`, `/v1/revisions`: the catalog and its review workflow.
//!
//! Sellers write products; the operator reviews them; buyers and resellers read the public
//! catalog (listed products, active SKUs, prices; never integration profiles or revisions).

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::{Caller, OperatorCaller};
use crate::http::parties::AuditList;
use crate::usecase::catalog::{self as uc, CreateProduct};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::catalog::{
    BillingMode, BuyerField, IntegrationInput, LicenseMode, ProductAction, ProductInput,
    ProductPatch, ProductStatus, Protocol, RevisionStatus, SkuStatus,
};
use souk_core::id::{ProductId, RevisionId, SkuId};
use souk_core::money::Money;
use souk_core::party::PartyId;
use souk_store::{IntegrationSettings, ProductRecord, ReviewItem, RevisionRecord, SkuRecord};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/products", get(list_products).post(create_product))
        .route("/v1/products/{id}", get(get_product).patch(edit_product))
        .route("/v1/products/{id}/submit", post(submit_product))
        .route("/v1/products/{id}/approve", post(approve_product))
        .route("/v1/products/{id}/reject", post(reject_product))
        .route("/v1/products/{id}/delist", post(delist_product))
        .route("/v1/products/{id}/integration", put(set_integration))
        .route("/v1/products/{id}/skus/{sku_id}/delist", post(delist_sku))
        .route("/v1/products/{id}/audit", get(product_audit))
        .route("/v1/reviews", get(list_reviews))
        .route("/v1/revisions/{id}", get(get_revision))
        .route("/v1/revisions/{id}/approve", post(approve_revision))
        .route("/v1/revisions/{id}/reject", post(reject_revision))
}

// ---------------------------------------------------------------------------------------------
// Views.
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, utoipa::ToSchema)]
pub struct PriceView {
    pub billing_mode: BillingMode,
    /// Per quantity unit; per period for monthly and yearly; zero for a trial.
    pub unit_price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_days: Option<u32>,
    /// KooGallery `productId` of this SKU × billing mode.
    pub wire_product_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::sku)]
pub struct SkuView {
    pub id: SkuId,
    /// KooGallery `skuCode`: stable for the life of the product.
    pub sku_code: String,
    /// The SKU's enum attribute values, e.g. {"edition": "pro"}.
    pub attributes: BTreeMap<String, String>,
    pub status: SkuStatus,
    pub prices: Vec<PriceView>,
}

fn sku_view(s: SkuRecord, currency: souk_core::money::Currency) -> SkuView {
    SkuView {
        id: s.id,
        sku_code: s.sku_code,
        attributes: s.attributes,
        status: s.status,
        prices: s
            .prices
            .into_iter()
            .map(|p| PriceView {
                billing_mode: p.billing_mode,
                unit_price: Money::new(p.amount_minor, currency),
                trial_days: p.trial_days,
                wire_product_id: p.wire_product_id,
            })
            .collect(),
    }
}

/// The integration profile as its seller and the operator see it: the key is never shown.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::integration)]
pub struct IntegrationView {
    pub protocol: Protocol,
    pub production_url: String,
    /// A key is stored (it is write-only).
    pub key_set: bool,
    pub pii_encrypt_bits: u16,
    pub buyer_fields: Vec<BuyerField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_mode: Option<LicenseMode>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<IntegrationSettings> for IntegrationView {
    fn from(i: IntegrationSettings) -> Self {
        IntegrationView {
            protocol: i.record.protocol,
            production_url: i.record.production_url,
            key_set: !i.record.seller_key_sealed.is_empty(),
            pii_encrypt_bits: i.record.pii_encrypt_bits,
            buyer_fields: i.record.buyer_fields,
            license_mode: i.license_mode,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::revision)]
pub struct RevisionView {
    pub id: RevisionId,
    pub product_id: ProductId,
    pub seller_id: PartyId,
    pub status: RevisionStatus,
    /// Why the operator rejected it.
    pub reason: Option<String>,
    /// The content proposed (it replaces the listed content when approved).
    pub proposed: ProductInput,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    pub created_by: PartyId,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<PartyId>,
}

impl From<RevisionRecord> for RevisionView {
    fn from(r: RevisionRecord) -> Self {
        RevisionView {
            id: r.id,
            product_id: r.product_id,
            seller_id: r.seller_id,
            status: r.status,
            reason: r.reason,
            proposed: r.spec.into(),
            created_at: r.created_at,
            created_by: r.created_by,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
        }
    }
}

/// A product. Buyers and resellers get the public view: no `integration`, no
/// `pending_revision`, active SKUs only.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::product)]
pub struct ProductView {
    pub id: ProductId,
    pub seller_id: PartyId,
    pub status: ProductStatus,
    /// Why the operator rejected it (while `rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// The content as written by the seller (the listed content while a revision is pending).
    #[serde(flatten)]
    pub content: ProductInput,
    /// Generated from the enum attributes, in order (first attribute varies slowest).
    pub skus: Vec<SkuView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<IntegrationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_revision: Option<RevisionView>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_listed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<ProductRecord> for ProductView {
    fn from(p: ProductRecord) -> Self {
        let currency = p.spec.currency;
        ProductView {
            id: p.id,
            seller_id: p.seller_id,
            status: p.status,
            rejection_reason: p.rejection_reason,
            content: p.spec.into(),
            skus: p.skus.into_iter().map(|s| sku_view(s, currency)).collect(),
            integration: p.integration.map(Into::into),
            pending_revision: p.pending_revision.map(Into::into),
            first_listed_at: p.first_listed_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::product_list)]
pub struct ProductList {
    pub data: Vec<ProductView>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub product_id: ProductId,
    /// Null when the product itself is submitted; the revision's id otherwise.
    pub revision_id: Option<RevisionId>,
    pub seller_id: PartyId,
    pub name: String,
    pub delivery_type: souk_core::catalog::DeliveryType,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: OffsetDateTime,
}

impl From<ReviewItem> for ReviewView {
    fn from(r: ReviewItem) -> Self {
        ReviewView {
            product_id: r.product_id,
            revision_id: r.revision_id,
            seller_id: r.seller_id,
            name: r.name,
            delivery_type: r.delivery_type,
            submitted_at: r.submitted_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::review_list)]
pub struct ReviewList {
    /// Everything waiting for review, oldest first (not paginated: the queue is short).
    pub data: Vec<ReviewView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The service agreement link is broken."}))]
pub struct RejectBody {
    /// Shown to the seller; 1–2000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "The service agreement link is broken."
    )]
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------------

/// Create a draft product (sellers).
#[utoipa::path(post, path = "/v1/products", tag = "catalog",
    request_body(content = CreateProduct, example = json!({
        "name": "Acme Monitor", "delivery_type": "saas", "category": "devops/monitoring",
        "description": "Hosted monitoring for small teams.",
        "service_agreement": {"content": "Hosted monitoring with 99.9% monthly availability and e-mail support.",
            "hours": "Mon-Fri 09:00-18:00 (UTC+8)", "phone": "+86 10 1234 5678", "email": "support@acme.example"},
        "currency": "CNY",
        "enum_attributes": [{"name": "edition", "values": ["basic", "pro"]}],
        "quantity": {"name": "users", "unit": "user", "min": 1, "max": 100, "wire_field": "amount"},
        "prices": [
            {"sku": {"edition": "basic"}, "billing_mode": "monthly", "amount_minor": 1000},
            {"sku": {"edition": "pro"}, "billing_mode": "monthly", "amount_minor": 3000},
            {"billing_mode": "trial", "trial_days": 14}],
        "integration": {"protocol": "v2", "production_url": "https://isv.acme.example/produce",
            "key": "a-long-random-secret-shared-with-souk", "pii_encrypt_bits": 256, "buyer_fields": ["email"]}})),
    responses((status = 201, body = ProductView), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_product(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<CreateProduct>,
) -> AppResult<(StatusCode, Json<ProductView>)> {
    let p = uc::create(&state, &caller.0, input).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// Products: a seller's own, every product for the operator, listed ones for buyers.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(PageQuery),
    responses((status = 200, body = ProductList)),
    security(("api_key" = [])))]
pub async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<ProductList>> {
    let page = q.page()?;
    let items = uc::list(&state, &caller.0, &page).await?;
    let next_cursor = (items.len() as u32 == page.limit)
        .then(|| items.last().map(|p| p.id.to_string()))
        .flatten();
    Ok(Json(ProductList {
        data: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One product.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog",
    params(("id" = String, Path)),
    responses((status = 200, body = ProductView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_product(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ProductView>> {
    Ok(Json(uc::get(&state, &caller.0, &id).await?.into()))
}

/// Edit a product: in place for draft, rejected and delisted products; for a listed product,
/// a revision submitted for review (shown as `pending_revision`) while the listed version stays
/// on sale.
#[utoipa::path(patch, path = "/v1/products/{id}", tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = ProductPatch, example = json!({"description": "Hosted monitoring for small teams, now with alert routing."})),
    responses((status = 200, body = ProductView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope),
              (status = 409, description = "`revision_pending`, `invalid_transition`, `conflict`: the product cannot be edited now", body = ErrorEnvelope), (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn edit_product(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<ProductPatch>,
) -> AppResult<Json<ProductView>> {
    Ok(Json(uc::edit(&state, &caller.0, &id, patch).await?.into()))
}

/// Submit a draft, rejected or delisted product for review (sellers).
#[utoipa::path(post, path = "/v1/products/{id}/submit", tag = "catalog",
    params(("id" = String, Path)),
    responses((status = 200, body = ProductView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope),
              (status = 409, description = "`invalid_transition`, `integration_required`, `conflict`: the product cannot be submitted now", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn submit_product(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ProductView>> {
    let p = uc::act(&state, &caller.0, &id, ProductAction::Submit, None).await?;
    Ok(Json(p.into()))
}

/// Approve a submitted product: it goes on sale (operator).
#[utoipa::path(post, path = "/v1/products/{id}/approve", tag = "catalog review",
    params(("id" = String, Path)),
    responses((status = 200, body = ProductView), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 409, description = "`invalid_transition`, `conflict`: the product is not waiting for review", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn approve_product(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ProductView>> {
    let p = uc::act(&state, &caller.0, &id, ProductAction::Approve, None).await?;
    Ok(Json(p.into()))
}

/// Reject a submitted product with a reason (operator).
#[utoipa::path(post, path = "/v1/products/{id}/reject", tag = "catalog review",
    params(("id" = String, Path)), request_body = RejectBody,
    responses((status = 200, body = ProductView), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 409, description = "`invalid_transition`, `conflict`: the product is not waiting for review", body = ErrorEnvelope), (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reject_product(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> AppResult<Json<ProductView>> {
    let p = uc::act(
        &state,
        &caller.0,
        &id,
        ProductAction::Reject,
        Some(&body.reason),
    )
    .await?;
    Ok(Json(p.into()))
}

/// Take a listed product off sale (its seller or the operator). Running instances are not
/// affected; it can be resubmitted.
#[utoipa::path(post, path = "/v1/products/{id}/delist", tag = "catalog",
    params(("id" = String, Path)),
    responses((status = 200, body = ProductView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope),
              (status = 409, description = "`invalid_transition`, `conflict`: the product is not listed", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delist_product(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ProductView>> {
    let p = uc::act(&state, &caller.0, &id, ProductAction::Delist, None).await?;
    Ok(Json(p.into()))
}

/// Set the integration profile (sellers). Takes effect at once and is not reviewed. The key is
/// write-only; omit it to keep the stored one.
#[utoipa::path(put, path = "/v1/products/{id}/integration", tag = "catalog",
    params(("id" = String, Path)),
    request_body(content = IntegrationInput, example = json!({"protocol": "v2",
        "production_url": "https://isv.acme.example/produce", "pii_encrypt_bits": 256, "buyer_fields": ["email", "mobile_phone"]})),
    responses((status = 200, body = IntegrationView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope),
              (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn set_integration(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<IntegrationInput>,
) -> AppResult<Json<IntegrationView>> {
    let i = uc::set_integration(&state, &caller.0, &id, input).await?;
    Ok(Json(i.into()))
}

/// Take one SKU off sale for good (its seller or the operator). SKUs are never deleted once a
/// product has been listed; delisting twice changes nothing.
#[utoipa::path(post, path = "/v1/products/{id}/skus/{sku_id}/delist", tag = "catalog",
    params(("id" = String, Path), ("sku_id" = String, Path)),
    responses((status = 200, body = SkuView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delist_sku(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, sku_id)): ApiPath<(String, String)>,
) -> AppResult<Json<SkuView>> {
    let product = uc::get(&state, &caller.0, &id).await?;
    let sku = uc::delist_sku(&state, &caller.0, &id, &sku_id).await?;
    Ok(Json(sku_view(sku, product.spec.currency)))
}

/// A product's audit trail: every transition, revision, SKU delisting and integration change,
/// with who and when (its seller and the operator).
#[utoipa::path(get, path = "/v1/products/{id}/audit", tag = "catalog",
    params(("id" = String, Path)),
    responses((status = 200, body = AuditList), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn product_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<AuditList>> {
    let data = uc::audit(&state, &caller.0, &id).await?;
    Ok(Json(AuditList { data }))
}

/// Everything waiting for review: submitted products and revisions (operator).
#[utoipa::path(get, path = "/v1/reviews", tag = "catalog review",
    responses((status = 200, body = ReviewList), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_reviews(
    State(state): State<AppState>,
    OperatorCaller(_caller): OperatorCaller,
) -> AppResult<Json<ReviewList>> {
    let data = uc::reviews(&state).await?;
    Ok(Json(ReviewList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// One revision (its seller and the operator).
#[utoipa::path(get, path = "/v1/revisions/{id}", tag = "catalog review",
    params(("id" = String, Path)),
    responses((status = 200, body = RevisionView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_revision(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<RevisionView>> {
    Ok(Json(uc::get_revision(&state, &caller.0, &id).await?.into()))
}

/// Approve a revision: its content replaces the listed content, new SKUs go on sale (operator).
#[utoipa::path(post, path = "/v1/revisions/{id}/approve", tag = "catalog review",
    params(("id" = String, Path)),
    responses((status = 200, body = ProductView), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope), (status = 409, description = "`invalid_transition`, `conflict`: the revision is not pending", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn approve_revision(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ProductView>> {
    let p = uc::approve_revision(&state, caller.party_id(), &id).await?;
    Ok(Json(p.into()))
}

/// Reject a revision with a reason; the listed content stays on sale (operator).
#[utoipa::path(post, path = "/v1/revisions/{id}/reject", tag = "catalog review",
    params(("id" = String, Path)), request_body = RejectBody,
    responses((status = 200, body = RevisionView), (status = 403, description = "`forbidden`: your role may not do this", body = ErrorEnvelope),
              (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope), (status = 409, description = "`invalid_transition`, `conflict`: the revision is not pending", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reject_revision(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> AppResult<Json<RevisionView>> {
    let r = uc::reject_revision(&state, caller.party_id(), &id, &body.reason).await?;
    Ok(Json(r.into()))
}
