//! Usage packages over HTTP: the seller says what each package SKU of a product holds; buyers
//! (and the seller, the operator) read the quota balances that concern an instance.

use super::extract::{ApiJson, ApiPath};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::usecase::packages::{to_input, PackageInput};
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::party::Role;
use souk_store::QuotaView;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/products/{id}/usage-packages",
            put(set_usage_packages).get(get_usage_packages),
        )
        .route("/v1/instances/{id}/package-quotas", get(package_quotas))
}

/// Every package SKU of the product with what it holds (replaces the previous list).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePackages {
    pub packages: Vec<PackageInput>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<QuotaView>,
}

/// Say what the product's package SKUs hold (its seller): quota per billing item (an
/// on-demand SKU of the product), reset, validity, stop-when-exhausted. Orders copy it.
#[utoipa::path(put, path = "/v1/products/{id}/usage-packages", tag = "metering", params(("id" = String, Path)),
    request_body(content = UsagePackages, example = json!({"packages": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6M", "items": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6N", "quota": "1000"}], "reset": "monthly"}]})),
    responses((status = 200, body = UsagePackages, example = json!({"packages": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6M", "items": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6N", "quota": "1000.0000"}], "reset": "monthly", "validity_months": null, "stop_when_exhausted": false}]})),
              (status = 404, description = "`not_found`: no such product of yours", body = crate::error::ErrorEnvelope),
              (status = 422, description = "`invalid_field`: a SKU, quota, reset or validity that cannot be used", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn set_usage_packages(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UsagePackages>,
) -> AppResult<Json<UsagePackages>> {
    caller.require(&[Role::Seller])?;
    crate::usecase::packages::set_defs(&state, &caller, &id, &input.packages).await?;
    get_usage_packages(State(state), caller, ApiPath(id)).await
}

/// What the product's package SKUs hold.
#[utoipa::path(get, path = "/v1/products/{id}/usage-packages", tag = "metering", params(("id" = String, Path)),
    responses((status = 200, body = UsagePackages, example = json!({"packages": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6M", "items": [{"sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6N", "quota": "1000.0000"}], "reset": "monthly", "validity_months": null, "stop_when_exhausted": false}]})),
              (status = 404, description = "`not_found`: no such product", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_usage_packages(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<UsagePackages>> {
    let (_, defs) = crate::usecase::packages::defs(&state, &caller, &id).await?;
    Ok(Json(UsagePackages {
        packages: defs.iter().map(|(sku, d)| to_input(sku, d)).collect(),
    }))
}

/// The package quotas that concern an instance: a package instance's own, or the buyer's
/// packages covering an on-demand instance's billing item (quota, used and remaining in the
/// current period).
#[utoipa::path(get, path = "/v1/instances/{id}/package-quotas", tag = "metering", params(("id" = String, Path)),
    responses((status = 200, body = QuotaList, example = json!({"data": [{"package_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6P", "sku_id": "sku_01JD7W6Q4X3N9R2K5T8V1B0C6N", "reset": "monthly", "stop_when_exhausted": false, "quota": "1000.0000", "used": "250.5000", "remaining": "749.5000", "period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "effective_at": "2026-12-01T00:00:00Z", "expire_at": "2027-12-01T00:00:00Z", "exhausted_at": null}]})),
              (status = 404, description = "`not_found`: no such instance visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn package_quotas(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<QuotaList>> {
    let id = super::usage_views::visible_instance(&state, &caller, &id).await?;
    let data = state.store.package_quotas(&caller.scope(), &id).await?;
    Ok(Json(QuotaList { data }))
}
