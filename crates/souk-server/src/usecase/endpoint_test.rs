//! "Test my endpoint" (KooGallery's 交付接口调试, but showing why): runs the conformance tester
//! of `souk-isv` against a product's production URL with its stored seller Key, and returns
//! every check with its fix hint. The tester's calls are the real activities with test ids, as
//! KooGallery's debugging tool sends them; a conformant seller answers and cleans up.

use crate::error::{AppError, AppResult};
use crate::usecase::catalog;
use crate::AppState;
use souk_core::catalog::{seller_key_context, BuyerField, Protocol};
use souk_core::party::Role;
use souk_isv::tester::{self, Report, TesterConfig};
use souk_isv::{EncryptType, Generation};
use souk_store::Principal;
use std::time::Duration;

/// Runs the conformance test for the product `id` of the caller (its seller, or the operator).
pub async fn run(state: &AppState, caller: &Principal, id: &str) -> AppResult<Report> {
    if !matches!(caller.role, Role::Seller | Role::Operator) {
        return Err(AppError::forbidden(
            "only the product's seller or the operator can test its endpoint",
        ));
    }
    let product = catalog::get(state, caller, id).await?;
    let profile = state
        .store
        .integration_profile(product.id.as_str())
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                "integration_required",
                "this product has no integration profile yet: set its production URL and Key first",
            )
        })?;
    // The same SSRF rule as when the URL was saved: configuration may have changed since.
    souk_core::endpoint::EndpointUrl::parse(
        &profile.production_url,
        state.config.private_endpoints_allowed(),
    )
    .map_err(|e| AppError::invalid_field("production_url", e.to_string()))?;
    let key = state
        .master_key
        .open(
            &seller_key_context(product.id.as_str()),
            &profile.seller_key_sealed,
        )
        .map_err(AppError::internal)?;
    let generation = match profile.protocol {
        Protocol::V1 => Generation::V1,
        Protocol::V2 => Generation::V2,
    };
    let mut config = TesterConfig::new(profile.production_url.clone(), key, generation);
    // A V1 product that sends the buyer's e-mail or phone sends them encrypted: test that too.
    let sends_pii = profile
        .buyer_fields
        .iter()
        .any(|f| matches!(f, BuyerField::Email | BuyerField::MobilePhone));
    if profile.protocol == Protocol::V1 && sends_pii {
        config.buyer_pii = EncryptType::from_bits(u32::from(profile.pii_encrypt_bits));
    }
    let timeout: Duration = state.config.provisioning.seller_timeout.std();
    config.timeout = timeout;
    config.warn_after = (timeout / 2).min(tester::DEFAULT_WARN);
    tester::run(config)
        .await
        .map_err(|e| AppError::invalid_field("production_url", e.to_string()))
}
