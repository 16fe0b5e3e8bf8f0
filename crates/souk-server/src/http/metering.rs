//! Metering over HTTP: the usage-record push open API at KooGallery's paths (seller software
//! only changes its host name), and the usage and charge views of an instance (JSON or CSV).
//! See `docs/metering.md`.

use super::extract::{ApiJson, ApiPath};
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::OperatorCaller;
use crate::usecase::licenses as lic;
use crate::usecase::metering::{self as uc, Flavour};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use souk_core::party::PartyId;
use souk_protocol::apig::RequestParts;
use souk_protocol::usage::{
    self as wire, UsagePushAnswer, CODE_EMPTY, CODE_INVALID_BODY, CODE_TOO_MANY, MAX_RECORDS,
};
use souk_protocol::SellerKey;
use souk_store::UsageChargeRow;

/// The largest usage push read: 1,000 records of every field at its longest fit easily; the
/// server-wide `max_body_bytes` is sized for ordinary API bodies and would cut a full batch.
pub const MAX_PUSH_BYTES: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    // A route's own body limit replaces the server-wide one.
    let limit = || axum::extract::DefaultBodyLimit::max(MAX_PUSH_BYTES);
    Router::new()
        .route(wire::PATH, post(push_current).layer(limit()))
        .route(wire::PATH_OLD, post(push_old).layer(limit()))
        .route(wire::PATH_CAMEL, post(push_camel).layer(limit()))
        .route("/v1/instances/{id}/usage-adjustments", post(adjust_usage))
}

// ---------------------------------------------------------------------------------------------
// The push open API

fn answer(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    let body = UsagePushAnswer {
        error_code: code.to_owned(),
        error_msg: msg.into(),
        accepted: 0,
        duplicates: 0,
        abnormal_usage_records: Vec::new(),
    };
    (status, Json(body)).into_response()
}

fn refused(reason: &str, msg: impl std::fmt::Display) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "error_code": "APIG.0301",
            "error_msg": format!("authentication failed: {msg}"),
            "souk_reason": reason,
        })),
    )
        .into_response()
}

/// Who signed the push: AK/SK (APIG `Authorization`) or the newer `signature`/`ts`/`nonce`
/// headers with the Key of the product of the first record's instance.
async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    first_instance: &str,
) -> Result<PartyId, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header(header::AUTHORIZATION.as_str()).is_some() {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
            .collect();
        let parts = RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: &pairs,
            body,
        };
        return lic::authenticate(state, &parts)
            .await
            .map_err(|f| refused(f.reason(), f.message()));
    }
    let Some(signature) = header(wire::HEADER_SIGNATURE) else {
        return Err(refused(
            "missing_authorization",
            "sign with AK/SK (Authorization) or with the signature, ts and nonce headers",
        ));
    };
    let (ts, nonce) = (
        header(wire::HEADER_TS).unwrap_or(""),
        header(wire::HEADER_NONCE).unwrap_or(""),
    );
    if nonce.trim().is_empty() || nonce.len() > 64 {
        return Err(refused(
            "invalid_nonce",
            "nonce is required, at most 64 characters",
        ));
    }
    let key = uc::push_key(state, first_instance)
        .await
        .map_err(|e| e.into_response())?;
    let Some((seller, key)) = key else {
        return Err(refused(
            "unknown_instance",
            "the first record's instance_id names no instance whose Key could verify the signature",
        ));
    };
    // Protocol time is real: `ts` comes from the seller's own clock.
    let now_ms = souk_core::clock::to_unix_ms(time::OffsetDateTime::now_utc());
    let window = state.config.metering.push_window.std();
    wire::verify_usage_signature(
        &SellerKey::new(key),
        body,
        signature,
        ts,
        nonce,
        now_ms,
        window,
    )
    .map_err(|e| refused("signature_mismatch", e))?;
    // Remembered in the database: a replay to another Souk process on it is refused too. A
    // nonce is kept twice the window (a `ts` may be up to one window early or late).
    let first_use = state
        .store
        .first_use_of_nonce(&seller, nonce, now_ms, 2 * window.as_millis() as i64)
        .await
        .map_err(|e| crate::error::AppError::from(e).into_response())?;
    if !first_use {
        return Err(refused("replayed_nonce", "this nonce was already used"));
    }
    Ok(seller)
}

async fn serve_push(
    state: &AppState,
    flavour: Flavour,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    // One pass over the body: the records stay raw text until each is parsed on its own.
    let raw = match flavour {
        Flavour::Current | Flavour::Old => {
            serde_json::from_slice::<wire::ReceivedPush>(body).map(|p| p.usage_records)
        }
        Flavour::Camel => {
            serde_json::from_slice::<wire::ReceivedCamelPush>(body).map(|p| p.usage_records)
        }
    };
    let Ok(records) = raw else {
        let shape = match flavour {
            Flavour::Camel => "{\"usageRecords\": [ … ]}",
            Flavour::Current | Flavour::Old => "{\"usage_records\": [ … ]}",
        };
        return answer(
            StatusCode::BAD_REQUEST,
            CODE_INVALID_BODY,
            format!("the body must be JSON {shape}"),
        );
    };
    // Past the limit nothing is parsed further (the batch is refused whole below).
    let received: Vec<uc::Received> = if records.len() > MAX_RECORDS {
        records
            .iter()
            .take(1)
            .map(|r| uc::receive(flavour, r))
            .collect()
    } else {
        records.iter().map(|r| uc::receive(flavour, r)).collect()
    };
    let first_instance = received
        .first()
        .and_then(uc::Received::instance_id)
        .unwrap_or("");
    let seller = match authenticate(state, method, uri, headers, body, first_instance).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if records.is_empty() {
        return answer(
            StatusCode::BAD_REQUEST,
            CODE_EMPTY,
            "usage_records is empty",
        );
    }
    if records.len() > MAX_RECORDS {
        return answer(
            StatusCode::BAD_REQUEST,
            CODE_TOO_MANY,
            format!(
                "{} records in one push; at most {MAX_RECORDS} are accepted: split the batch (nothing was stored)",
                records.len()
            ),
        );
    }
    match uc::push(state, flavour, &seller, &received).await {
        Ok(a) => (StatusCode::OK, Json(a)).into_response(),
        Err(e) => {
            tracing::error!(error = %e.message, "usage push failed");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "MKT.0999",
                "Souk could not store the records; push the batch again",
            )
        }
    }
}

/// A usage push: `{"usage_records": [ … ]}`. Each record is checked on its own (invalid ones
/// come back in the abnormal list), so the document does not constrain the records' fields.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UsagePushBody {
    /// 1 to 1,000 records: `instance_id`, `metering_sn` (current API) or `product_id` (old
    /// API), `record_time`, `begin_time`, `end_time` (`yyyyMMdd'T'HHmmss'Z'` UTC),
    /// `usage_value` (> 0, ≤ 4 decimals), `relate_pkg_instance`.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<Object>)]
    usage_records: Vec<()>,
}

/// Push usage records (KooGallery 话单推送), signed with signature/ts/nonce or AK/SK.
#[utoipa::path(post, path = "/api/mkp-openapi-public/global/v1/isv/usage-data", tag = "open api",
    request_body(content = UsagePushBody, content_type = "application/json", example = examples::push),
    responses((status = 200, description = "`MKT.0000`: every valid record is stored; `duplicates` were stored before; each invalid record is in `abnormal_usage_records`", body = Object, example = examples::push_answer),
              (status = 400, description = "`MKT.0100` not a usage push, `MKT.0101` more than 1,000 records, `MKT.0102` no records: nothing stored", body = Object,
                example = json!({"error_code": "MKT.0101", "error_msg": "1001 records in one push; at most 1000 are accepted: split the batch (nothing was stored)", "accepted": 0, "duplicates": 0, "abnormal_usage_records": []})),
              (status = 401, description = "`APIG.0301`: the signature does not verify", body = crate::http::licenses::ApigRefusal)))]
pub async fn push_current(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_push(&state, Flavour::Current, &method, &uri, &headers, &body).await
}

/// Push usage records, old API: records carry `product_id` instead of `metering_sn`.
#[utoipa::path(post, path = "/rest/marketplace/v1/isv/usage-data", tag = "open api",
    request_body(content = UsagePushBody, content_type = "application/json", example = examples::push_old),
    responses((status = 200, description = "`MKT.0000`: every valid record is stored (deduplicated by window); each invalid one is in `abnormal_usage_records`", body = Object, example = examples::push_answer),
              (status = 400, description = "`MKT.0100`, `MKT.0101`, `MKT.0102`: nothing stored", body = Object,
                example = json!({"error_code": "MKT.0100", "error_msg": "the body must be JSON {\"usage_records\": [ … ]}", "accepted": 0, "duplicates": 0, "abnormal_usage_records": []})),
              (status = 401, description = "`APIG.0301`: the signature does not verify", body = crate::http::licenses::ApigRefusal)))]
pub async fn push_old(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_push(&state, Flavour::Old, &method, &uri, &headers, &body).await
}

/// The oldest push: `{"usageRecords": [ … ]}`. Each record is checked on its own (invalid
/// ones come back in the abnormal list).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CamelPushBody {
    /// 1 to 1,000 records: `instanceId`, `recordTime`, `beginTime`, `endTime`
    /// (`yyyyMMdd'T'HHmmss'Z'` UTC), `usageEntity` (one billing unit and its usage, e.g.
    /// `{"times": "3524"}`).
    #[schema(rename = "usageRecords", min_items = 1, max_items = 1000, value_type = Vec<Object>)]
    usage_records: Vec<()>,
}

/// Push usage records, oldest API: camelCase records, the usage in `usageEntity`.
#[utoipa::path(post, path = "/v1.0/{partnerId}/billing/bill-mgr/push-usage-data", tag = "open api",
    params(("partnerId" = String, Path, description = "The seller's partner id (not checked: the signature says who pushes)")),
    request_body(content = CamelPushBody, content_type = "application/json", example = examples::push_camel),
    responses((status = 200, description = "`MKT.0000`: every valid record is stored (deduplicated by window); each invalid one is in `abnormal_usage_records` (its `index`, `instance_id`, `error_code`)", body = Object, example = examples::push_answer),
              (status = 400, description = "`MKT.0100` not `{\"usageRecords\": [...]}`, `MKT.0101` more than 1,000 records, `MKT.0102` no records: nothing stored", body = Object,
                example = json!({"error_code": "MKT.0100", "error_msg": "the body must be JSON {\"usageRecords\": [ … ]}", "accepted": 0, "duplicates": 0, "abnormal_usage_records": []})),
              (status = 401, description = "`APIG.0301`: the signature does not verify", body = crate::http::licenses::ApigRefusal)))]
pub async fn push_camel(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_push(&state, Flavour::Camel, &method, &uri, &headers, &body).await
}

/// An operator's correction of usage charges.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageAdjustment {
    /// Owed by the buyer (positive) or credited (negative), in the instance's currency.
    pub amount: souk_core::money::Money,
    /// Why; the buyer reads it on the ledger line. 1–500 characters.
    #[schema(example = "Seller reported double-counted SMS on 25 Nov")]
    pub reason: String,
}

/// Enter a correction of an instance's usage charges (the operator): a charge without records
/// and its ledger line, audited with the reason.
#[utoipa::path(post, path = "/v1/instances/{id}/usage-adjustments", tag = "metering", params(("id" = String, Path)),
    request_body(content = UsageAdjustment, example = json!({"amount": {"amount_minor": -250, "currency": "CNY"}, "reason": "Seller reported double-counted SMS on 25 Nov"})),
    responses((status = 201, description = "The adjustment, as it appears among the usage charges", body = Object,
                example = json!({"id": "uch_01JD7X2M8Q0W3E5R7T9Y1U3I5O", "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M", "period": "2026-11", "cutoff": "2026-11-25T15:20:00Z", "usage": "0.0000", "records": 0, "amount": {"amount_minor": -250, "currency": "CNY"}, "reason": "Seller reported double-counted SMS on 25 Nov", "created_at": "2026-11-25T15:20:00Z"})),
              (status = 404, description = "`not_found`: no such instance", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn adjust_usage(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UsageAdjustment>,
) -> AppResult<(StatusCode, Json<UsageChargeRow>)> {
    let id = crate::usecase::orders::instance_id(&id)?;
    let row = uc::adjust(&state, caller.party_id(), &id, input.amount, &input.reason).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Examples of the OpenAPI document.
mod examples {
    use serde_json::{json, Value};

    pub fn push() -> Value {
        json!({"usage_records": [{
            "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
            "metering_sn": "acme-2026112513-0001",
            "record_time": "20261125T140500Z",
            "begin_time": "20261125T130000Z",
            "end_time": "20261125T140000Z",
            "usage_value": "12.5"
        }]})
    }

    pub fn push_old() -> Value {
        json!({"usage_records": [{
            "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
            "product_id": "00301-666666-0--0",
            "record_time": "20261125T140500Z",
            "begin_time": "20261125T130000Z",
            "end_time": "20261125T140000Z",
            "usage_value": "12.5"
        }]})
    }

    pub fn push_camel() -> Value {
        json!({"usageRecords": [{
            "instanceId": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
            "recordTime": "20261125T140500Z",
            "beginTime": "20261125T130000Z",
            "endTime": "20261125T140000Z",
            "usageEntity": {"times": "3524"}
        }]})
    }

    pub fn push_answer() -> Value {
        json!({
            "error_code": "MKT.0000",
            "error_msg": "success",
            "accepted": 998,
            "duplicates": 1,
            "abnormal_usage_records": [{
                "index": 7,
                "metering_sn": "acme-2026112513-0008",
                "instance_id": "ins_01JD7W6Q4X3N9R2K5T8V1B0C6M",
                "error_code": "time_in_future",
                "error_msg": "end_time is in the future; push usage after it happened"
            }]
        })
    }
}
