//! The catalog's use cases: create and edit products, the review workflow, SKU delisting and the
//! integration profile.
//!
//! Each one loads what it needs in the caller's catalog scope (so another tenant's product is a
//! 404 before anything else is said about it), decides with `souk_core::catalog`, and hands the
//! outcome to one store call. The seller key is sealed here, under
//! `seller_key_context(product_id)`, and never leaves the server again.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::http::StatusCode;
use souk_core::catalog::{
    check_revision, parse_reject_reason, seller_key_context, transition, CatalogError,
    DeliveryType, EnumAttribute, Integration, IntegrationInput, PriceInput, ProductAction,
    ProductInput, ProductPatch, ProductSpec, ProductStatus, QuantityAttribute, ServiceAgreement,
};
use souk_core::id::{ProductId, RevisionId, SkuId};
use souk_core::party::{PartyId, Role};
use souk_store::{
    AuditEvent, CatalogScope, IntegrationSettings, IntegrationWrite, NewProduct, NewRevision, Page,
    Principal, ProductEdit, ProductRecord, ReviewItem, RevisionApproval, RevisionRecord, SkuRecord,
    StatusChange,
};

impl From<CatalogError> for AppError {
    fn from(e: CatalogError) -> Self {
        match &e {
            CatalogError::Invalid { field, .. } => AppError::invalid_field(field, e.to_string()),
            CatalogError::IllegalTransition { status, .. } => {
                AppError::conflict("invalid_transition", e.to_string())
                    .with_details(serde_json::json!({ "status": status }))
            }
            CatalogError::Forbidden { .. } => AppError::forbidden(e.to_string()),
        }
    }
}

/// What products a caller sees: the operator everything, a seller its own, everyone else the
/// public catalog (listed products only).
pub fn scope_for(caller: &Principal) -> CatalogScope {
    match caller.role {
        Role::Operator => CatalogScope::Everything,
        Role::Seller => CatalogScope::Seller(caller.party_id.clone()),
        Role::Buyer | Role::Reseller => CatalogScope::Public,
    }
}

/// Request body of `POST /v1/products`: the product, and optionally its integration profile.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    pub name: String,
    pub delivery_type: DeliveryType,
    pub category: String,
    pub description: String,
    #[serde(default)]
    pub usage_guide: Option<String>,
    pub service_agreement: ServiceAgreement,
    #[serde(default)]
    pub supervised: bool,
    /// Supervised SaaS: send newInstance when the buyer accepts, not at payment.
    #[serde(default)]
    pub open_after_acceptance: bool,
    pub currency: String,
    #[serde(default)]
    pub enum_attributes: Vec<EnumAttribute>,
    #[serde(default)]
    pub quantity: Option<QuantityAttribute>,
    pub prices: Vec<PriceInput>,
    /// Fields the buyer fills in when buying, at most 10 (sent to the seller as
    /// `saasExtendParams`).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub order_fields: Vec<souk_core::catalog::OrderField>,
    /// The invoices the seller issues on the product (§10): `general`, `special`; none given:
    /// `general`.
    #[serde(default)]
    #[schema(max_items = 2)]
    pub invoice_types: Vec<souk_core::invoice::InvoiceType>,
    /// Needed before a SaaS or License product can be submitted; may be set later with
    /// `PUT /v1/products/{id}/integration`.
    #[serde(default)]
    pub integration: Option<IntegrationInput>,
}

impl CreateProduct {
    fn split(self) -> (ProductInput, Option<IntegrationInput>) {
        (
            ProductInput {
                name: self.name,
                delivery_type: self.delivery_type,
                category: self.category,
                description: self.description,
                usage_guide: self.usage_guide,
                service_agreement: self.service_agreement,
                supervised: self.supervised,
                open_after_acceptance: self.open_after_acceptance,
                currency: self.currency,
                enum_attributes: self.enum_attributes,
                quantity: self.quantity,
                prices: self.prices,
                order_fields: self.order_fields,
                invoice_types: self.invoice_types,
            },
            self.integration,
        )
    }
}

fn parse_product_id(id: &str) -> AppResult<ProductId> {
    ProductId::parse(id).ok_or_else(|| AppError::not_found("product"))
}

fn changed_meanwhile() -> AppError {
    AppError::conflict(
        "conflict",
        "the product changed while this request was processed; read it again and retry",
    )
}

/// Parses and seals an integration profile for `product_id`.
fn integration_write(
    state: &AppState,
    product_id: &ProductId,
    delivery_type: DeliveryType,
    input: IntegrationInput,
    key_stored: bool,
) -> AppResult<IntegrationWrite> {
    let parsed = Integration::parse(
        input,
        delivery_type,
        state.config.private_endpoints_allowed(),
        key_stored,
    )?;
    let seller_key_sealed = parsed.key.as_ref().map(|k| {
        state
            .master_key
            .seal(&seller_key_context(product_id.as_str()), k.expose())
    });
    Ok(IntegrationWrite {
        protocol: parsed.protocol,
        production_url: parsed.production_url.as_str().to_owned(),
        seller_key_sealed,
        pii_encrypt_bits: parsed.pii_encrypt_bits,
        buyer_fields: parsed.buyer_fields,
        license_mode: parsed.license_mode,
    })
}

/// A seller creates a draft product.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    input: CreateProduct,
) -> AppResult<ProductRecord> {
    caller_must_be(caller, Role::Seller, "create products")?;
    let (product, integration) = input.split();
    let spec = ProductSpec::parse(product)?;
    let now = state.clock.now();
    let id = ProductId::generate(now);
    let integration = integration
        .map(|i| integration_write(state, &id, spec.delivery_type, i, false))
        .transpose()?;
    let skus = spec.skus(id.as_str());
    Ok(state
        .store
        .create_product(NewProduct {
            id,
            seller_id: caller.party_id.clone(),
            spec,
            skus,
            integration,
            now,
        })
        .await?)
}

fn caller_must_be(caller: &Principal, role: Role, what: &str) -> AppResult<()> {
    if caller.role == role {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only a {role} may {what}; your key is a {} key",
            caller.role
        )))
    }
}

pub async fn get(state: &AppState, caller: &Principal, id: &str) -> AppResult<ProductRecord> {
    let id = parse_product_id(id)?;
    state
        .store
        .find_product(&scope_for(caller), &id)
        .await?
        .ok_or_else(|| AppError::not_found("product"))
}

pub async fn list(
    state: &AppState,
    caller: &Principal,
    page: &Page,
) -> AppResult<Vec<ProductRecord>> {
    Ok(state.store.list_products(&scope_for(caller), page).await?)
}

/// A seller edits a product. Draft, rejected and delisted products change in place; a listed
/// product gets a revision that waits for review while the listed version stays on sale.
pub async fn edit(
    state: &AppState,
    caller: &Principal,
    id: &str,
    patch: ProductPatch,
) -> AppResult<ProductRecord> {
    let product = get(state, caller, id).await?;
    transition(product.status, ProductAction::Edit, caller.role)?;
    if patch.is_empty() {
        return Err(AppError::invalid_field(
            "body",
            "the patch changes nothing: send at least one field",
        ));
    }
    let proposed = ProductSpec::parse(patch.apply(product.spec.clone().into()))?;
    if product.first_listed_at.is_some() {
        check_revision(&product.spec, &proposed)?;
    }
    let now = state.clock.now();
    if product.status == ProductStatus::Listed {
        state
            .store
            .create_revision(NewRevision {
                id: RevisionId::generate(now),
                product_id: product.id.clone(),
                spec: proposed,
                actor: caller.party_id.clone(),
                now,
            })
            // A revision already under review is `409 revision_pending` (crate::error).
            .await?
            .ok_or_else(changed_meanwhile)?;
        return get(state, caller, product.id.as_str()).await;
    }
    let skus = proposed.skus(product.id.as_str());
    state
        .store
        .edit_product(ProductEdit {
            id: product.id,
            expected_status: product.status,
            spec: proposed,
            skus,
            actor: caller.party_id.clone(),
            now,
        })
        .await?
        .ok_or_else(changed_meanwhile)
}

/// Submit, approve, reject or delist a product.
pub async fn act(
    state: &AppState,
    caller: &Principal,
    id: &str,
    action: ProductAction,
    reason: Option<&str>,
) -> AppResult<ProductRecord> {
    let product = get(state, caller, id).await?;
    let to = transition(product.status, action, caller.role)?;
    let reason = match action {
        ProductAction::Reject => Some(parse_reject_reason(reason.unwrap_or(""))?),
        _ => None,
    };
    if action == ProductAction::Submit
        && product.spec.delivery_type.needs_integration()
        && product.integration.is_none()
    {
        return Err(AppError::conflict(
            "integration_required",
            format!(
                "a {} product needs its integration profile before review: \
                 PUT /v1/products/{}/integration",
                product.spec.delivery_type, product.id
            ),
        ));
    }
    state
        .store
        .change_status(StatusChange {
            id: product.id,
            from: product.status,
            to,
            reason,
            actor: caller.party_id.clone(),
            now: state.clock.now(),
        })
        .await?
        .ok_or_else(changed_meanwhile)
}

/// A seller (or the operator) takes one SKU off sale for good.
pub async fn delist_sku(
    state: &AppState,
    caller: &Principal,
    product_id: &str,
    sku_id: &str,
) -> AppResult<SkuRecord> {
    if !matches!(caller.role, Role::Seller | Role::Operator) {
        // Buyers may see the product but never change it.
        get(state, caller, product_id).await?;
        return Err(AppError::forbidden(
            "only the seller or the operator may delist a SKU",
        ));
    }
    let product_id = parse_product_id(product_id)?;
    let sku_id = SkuId::parse(sku_id).ok_or_else(|| AppError::not_found("SKU"))?;
    state
        .store
        .delist_sku(
            &scope_for(caller),
            &product_id,
            &sku_id,
            &caller.party_id,
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| AppError::not_found("SKU"))
}

/// A seller replaces its product's integration profile. Operational configuration: effective at
/// once, not reviewed.
pub async fn set_integration(
    state: &AppState,
    caller: &Principal,
    id: &str,
    input: IntegrationInput,
) -> AppResult<IntegrationSettings> {
    let product = get(state, caller, id).await?;
    caller_must_be(caller, Role::Seller, "change an integration profile")?;
    let write = integration_write(
        state,
        &product.id,
        product.spec.delivery_type,
        input,
        product.integration.is_some(),
    )?;
    state
        .store
        .set_integration(
            &scope_for(caller),
            &product.id,
            write,
            &caller.party_id,
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| AppError::not_found("product"))
}

pub async fn reviews(state: &AppState) -> AppResult<Vec<ReviewItem>> {
    Ok(state.store.list_reviews().await?)
}

pub async fn get_revision(
    state: &AppState,
    caller: &Principal,
    id: &str,
) -> AppResult<RevisionRecord> {
    let id = RevisionId::parse(id).ok_or_else(|| AppError::not_found("revision"))?;
    state
        .store
        .find_revision(&scope_for(caller), &id)
        .await?
        .ok_or_else(|| AppError::not_found("revision"))
}

fn revision_not_pending(r: &RevisionRecord) -> AppError {
    AppError::conflict(
        "invalid_transition",
        format!("this revision is {} and no longer under review", r.status),
    )
}

/// The operator approves a revision: its content replaces the listed one, new SKUs go on sale.
pub async fn approve_revision(
    state: &AppState,
    caller: &PartyId,
    id: &str,
) -> AppResult<ProductRecord> {
    let revision = get_revision_as_operator(state, id).await?;
    let skus = revision.spec.skus(revision.product_id.as_str());
    state
        .store
        .approve_revision(RevisionApproval {
            revision_id: revision.id.clone(),
            product_id: revision.product_id.clone(),
            skus,
            actor: caller.clone(),
            now: state.clock.now(),
        })
        .await?
        .ok_or_else(|| revision_not_pending(&revision))
}

pub async fn reject_revision(
    state: &AppState,
    caller: &PartyId,
    id: &str,
    reason: &str,
) -> AppResult<RevisionRecord> {
    let reason = parse_reject_reason(reason)?;
    let revision = get_revision_as_operator(state, id).await?;
    state
        .store
        .reject_revision(&revision.id, &reason, caller, state.clock.now())
        .await?
        .ok_or_else(|| revision_not_pending(&revision))
}

async fn get_revision_as_operator(state: &AppState, id: &str) -> AppResult<RevisionRecord> {
    let id = RevisionId::parse(id).ok_or_else(|| AppError::not_found("revision"))?;
    state
        .store
        .find_revision(&CatalogScope::Everything, &id)
        .await?
        .ok_or_else(|| AppError::not_found("revision"))
}

/// The audit trail of a product, for its seller and the operator.
pub async fn audit(state: &AppState, caller: &Principal, id: &str) -> AppResult<Vec<AuditEvent>> {
    let id = parse_product_id(id)?;
    let scope = scope_for(caller);
    if scope == CatalogScope::Public {
        // Buyers may know a listed product exists, but its history is the seller's business.
        state
            .store
            .find_product(&scope, &id)
            .await?
            .ok_or_else(|| AppError::not_found("product"))?;
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a product's audit trail is for its seller and the operator",
        ));
    }
    state
        .store
        .product_audit(&scope, &id)
        .await?
        .ok_or_else(|| AppError::not_found("product"))
}
