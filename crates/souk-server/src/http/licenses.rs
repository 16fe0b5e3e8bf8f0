//! Licenses over HTTP: the KooGallery License open API (AK/SK-signed, KooGallery's paths and
//! answers), sellers' AK/SK pairs, license policies, codes and machines, offline license
//! files and the public keys that verify them. See `docs/licenses.md`.

use super::extract::{ApiJson, ApiPath};
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::{Caller, OperatorCaller};
use crate::usecase::licenses::{self as uc, LicenseRequest, Outcome};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use souk_core::license::LicenseStatus;
use souk_core::party::Role;
use souk_protocol::apig::RequestParts;
use souk_protocol::license_api::{
    BatchResult, BatchResults, GatewayRefusal, LicenseAnswer as Answer,
};
use souk_protocol::license_file::{KeySet, LicenseFile};
use souk_protocol::LicenseErrorCode;
use souk_store::{AccessKeyRecord, LicenseCodeRecord, MachineRecord};
use time::OffsetDateTime;

/// KooGallery's paths: seller software only changes its host name.
pub const ACTIVATE_V1: &str = "/api/mkp-openapi-public/global/v1/license/activate";
pub const HEARTBEAT_V1: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";
pub const ACTIVATE_V2: &str = "/api/mkp-openapi-public/global/v2/license/activate";
pub const HEARTBEAT_V2: &str = "/api/mkp-openapi-public/global/v2/license/heartbeat";
/// Where the public keys of offline license files are published.
pub const KEYS_PATH: &str = "/.well-known/souk-license-keys.json";
/// At most this many licenses in one v2 batch.
pub const MAX_BATCH: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(ACTIVATE_V1, any(activate_v1))
        .route(HEARTBEAT_V1, any(heartbeat_v1))
        .route(ACTIVATE_V2, any(activate_v2))
        .route(HEARTBEAT_V2, any(heartbeat_v2))
        .route(KEYS_PATH, get(public_keys))
        .route("/v1/license-keys", get(license_keys))
        .route("/v1/license-keys/rotate", post(rotate_keys))
        .route(
            "/v1/sellers/{id}/access-keys",
            get(list_access_keys).post(create_access_key),
        )
        .route(
            "/v1/access-keys/{id}",
            axum::routing::delete(revoke_access_key),
        )
        .route(
            "/v1/products/{id}/license-policy",
            put(set_policy).get(get_policy),
        )
        .route("/v1/instances/{id}/license-codes", get(instance_codes))
        .route("/v1/license-codes/{code}", get(get_code))
        .route(
            "/v1/license-codes/{code}/machines/{fingerprint}",
            axum::routing::delete(deactivate_machine),
        )
        .route("/v1/license-codes/{code}/file", post(license_file))
}

// ---------------------------------------------------------------------------------------------
// The open API

fn answer<T: Serialize>(status: StatusCode, body: T) -> Response {
    (status, Json(body)).into_response()
}

fn outcome_response(o: Outcome) -> Response {
    let status = match o.code {
        LicenseErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ref c => c
            .http_status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK),
    };
    answer(
        status,
        Answer {
            error_code: o.code,
            error_msg: o.message,
            data: o.data,
        },
    )
}

fn gateway_error(code: LicenseErrorCode, msg: &str) -> Response {
    outcome_response(Outcome {
        code,
        message: msg.into(),
        data: None,
    })
}

/// Method, signature, content type and body, in the order an API gateway checks them. Returns
/// the seller and the parsed body, or the answer to send.
async fn admit(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(souk_core::party::PartyId, Value), Response> {
    if method != Method::POST {
        let mut refused = gateway_error(
            LicenseErrorCode::MethodNotSupported,
            "HTTP method not supported: use POST",
        );
        // RFC 9110: a 405 names the methods the resource does support.
        refused
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return Err(refused);
    }
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
    let seller = uc::authenticate(state, &parts).await.map_err(|f| {
        answer(
            StatusCode::UNAUTHORIZED,
            GatewayRefusal::auth_failed(&f.message(), f.reason()),
        )
    })?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(gateway_error(
            LicenseErrorCode::UnsupportedContentType,
            "content type must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        gateway_error(
            LicenseErrorCode::UnreadableBody,
            "request body is unreadable: not JSON",
        )
    })?;
    if !value.is_object() {
        return Err(gateway_error(
            LicenseErrorCode::BadParameter,
            "bad parameter: the body must be a JSON object",
        ));
    }
    Ok((seller, value))
}

fn bad(code: LicenseErrorCode, msg: &str) -> Outcome {
    Outcome {
        code,
        message: msg.into(),
        data: None,
    }
}

fn single(value: &Value) -> Result<LicenseRequest, Outcome> {
    LicenseRequest::from_json(value).ok_or_else(|| {
        bad(
            LicenseErrorCode::BadParameter,
            "bad parameter: `license` (a string) is required",
        )
    })
}

fn batch(value: &Value) -> Result<Vec<LicenseRequest>, Outcome> {
    let items = LicenseRequest::batch_items(value).ok_or_else(|| {
        bad(
            LicenseErrorCode::BadParameter,
            "bad parameter: `licenses` (an array) is required",
        )
    })?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(bad(
            LicenseErrorCode::InvalidParameter,
            "invalid parameter: send 1 to 100 licenses",
        ));
    }
    items
        .iter()
        .map(|v| {
            LicenseRequest::from_json(v).ok_or_else(|| {
                bad(
                    LicenseErrorCode::BadParameter,
                    "bad parameter: each item needs `license` (a string)",
                )
            })
        })
        .collect()
}

fn internal(e: AppError) -> Response {
    tracing::error!(error = ?e.source, "license open API failed");
    gateway_error(LicenseErrorCode::InternalError, "internal error")
}

fn batch_response(results: Vec<(String, Outcome)>) -> Response {
    let all_ok = results.iter().all(|(_, o)| o.code.is_success());
    let results = results
        .into_iter()
        .map(|(license, o)| BatchResult {
            license,
            error_code: o.code,
            error_msg: o.message,
            data: o.data.map(|d| *d),
        })
        .collect();
    let (code, msg) = if all_ok {
        (LicenseErrorCode::Success, "success")
    } else {
        (
            LicenseErrorCode::InvalidLicenseExists,
            "an invalid license code exists: see each result",
        )
    };
    answer(
        StatusCode::OK,
        Answer {
            error_code: code,
            error_msg: msg.into(),
            data: Some(BatchResults { results }),
        },
    )
}

/// The two operations of the License open API; v1 takes one code, v2 a batch.
#[derive(Clone, Copy)]
enum LicenseOp {
    Activate,
    Heartbeat,
}

impl LicenseOp {
    async fn run(
        self,
        state: &AppState,
        seller: &souk_core::party::PartyId,
        req: &LicenseRequest,
    ) -> Result<Outcome, AppError> {
        match self {
            LicenseOp::Activate => uc::activate(state, seller, req).await,
            LicenseOp::Heartbeat => uc::heartbeat(state, seller, req).await,
        }
    }
}

/// Admits a v1 request (one code) and answers it.
async fn serve_single(
    state: &AppState,
    op: LicenseOp,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let (seller, value) = match admit(state, method, uri, headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let req = match single(&value) {
        Ok(r) => r,
        Err(o) => return outcome_response(o),
    };
    match op.run(state, &seller, &req).await {
        Ok(o) => outcome_response(o),
        Err(e) => internal(e),
    }
}

/// Admits a v2 request (up to 100 codes) and answers each.
async fn serve_batch(
    state: &AppState,
    op: LicenseOp,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let (seller, value) = match admit(state, method, uri, headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let reqs = match batch(&value) {
        Ok(r) => r,
        Err(o) => return outcome_response(o),
    };
    let mut results = Vec::with_capacity(reqs.len());
    for r in reqs {
        match op.run(state, &seller, &r).await {
            Ok(o) => results.push((r.license, o)),
            Err(e) => return internal(e),
        }
    }
    batch_response(results)
}

/// The answer of the License open API: KooGallery's shape, not Souk's error envelope. The HTTP
/// status is 200 for every business answer (success or a license error code); 400, 405 and 415
/// for malformed requests; 500 with `error_code` `92020999` when Souk fails.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = crate::http::examples::license_activated)]
pub struct LicenseAnswer {
    /// `92020000` on success; otherwise KooGallery's license error code (e.g. `92020005`: no such
    /// code, `92020020`: a code of a batch was refused, see each result).
    error_code: String,
    error_msg: String,
    /// On success (v1): the license (KooGallery LicenseInfo plus Souk's `seats`,
    /// `machines_in_use`, `souk_state`). v2: `{"results": [{license, error_code, error_msg,
    /// data?}, …]}`, one per code asked, in order. Absent when there is nothing to tell.
    #[schema(value_type = Object, required = false)]
    data: Option<()>,
}

/// The API gateway's refusal of a request whose AK/SK signature does not verify (HTTP 401).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = crate::http::examples::apig_refusal)]
pub struct ApigRefusal {
    /// Always `APIG.0301`.
    error_code: String,
    error_msg: String,
    /// Why, for the seller's logs: e.g. `unknown_access_key`, `bad_signature`, `stale_timestamp`.
    souk_reason: String,
}

/// Activate a license code (KooGallery 激活授权码), AK/SK-signed.
#[utoipa::path(post, path = "/api/mkp-openapi-public/global/v1/license/activate", tag = "license open API",
    request_body(content = Object, content_type = "application/json", example = json!({"license": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E", "machine_fingerprint": "9f2c41d7-host-a"})),
    responses((status = 200, description = "The answer: `error_code` 92020000 on success, a license error code otherwise", body = LicenseAnswer),
              (status = 401, description = "`APIG.0301`: the AK/SK signature does not verify", body = ApigRefusal)))]
pub async fn activate_v1(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_single(&state, LicenseOp::Activate, &method, &uri, &headers, &body).await
}

/// Heartbeat / query a license code (KooGallery 查询授权码), AK/SK-signed; answered from memory.
#[utoipa::path(post, path = "/api/mkp-openapi-public/global/v1/license/heartbeat", tag = "license open API",
    request_body(content = Object, content_type = "application/json", example = json!({"license": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E", "machine_fingerprint": "9f2c41d7-host-a"})),
    responses((status = 200, description = "The answer: `error_code` 92020000 on success, a license error code otherwise", body = LicenseAnswer),
              (status = 401, description = "`APIG.0301`: the AK/SK signature does not verify", body = ApigRefusal)))]
pub async fn heartbeat_v1(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_single(&state, LicenseOp::Heartbeat, &method, &uri, &headers, &body).await
}

/// Activate up to 100 license codes: `{"licenses": [{"license": …}, …]}`.
#[utoipa::path(post, path = "/api/mkp-openapi-public/global/v2/license/activate", tag = "license open API",
    request_body(content = Object, content_type = "application/json", example = json!({"licenses": [{"license": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E", "machine_fingerprint": "9f2c41d7-host-a"}]})),
    responses((status = 200, description = "The answers, one per code in `data.results`", body = LicenseAnswer,
                example = json!({"error_code": "92020000", "error_msg": "success", "data": {"results": [{"license": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E", "error_code": "92020000", "error_msg": "success", "data": crate::http::examples::license_activated()["data"]}]}})),
              (status = 401, description = "`APIG.0301`: the AK/SK signature does not verify", body = ApigRefusal)))]
pub async fn activate_v2(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_batch(&state, LicenseOp::Activate, &method, &uri, &headers, &body).await
}

/// Heartbeat up to 100 license codes: `{"licenses": [{"license": …}, …]}`.
#[utoipa::path(post, path = "/api/mkp-openapi-public/global/v2/license/heartbeat", tag = "license open API",
    request_body(content = Object, content_type = "application/json", example = json!({"licenses": [{"license": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E", "machine_fingerprint": "9f2c41d7-host-a"}]})),
    responses((status = 200, description = "The answers, one per code in `data.results`", body = LicenseAnswer,
                example = json!({"error_code": "92020020", "error_msg": "an invalid license code exists: see each result", "data": {"results": [{"license": "SOUK-0000-UNKNOWN", "error_code": "92020005", "error_msg": "license code does not exist"}]}})),
              (status = 401, description = "`APIG.0301`: the AK/SK signature does not verify", body = ApigRefusal)))]
pub async fn heartbeat_v2(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve_batch(&state, LicenseOp::Heartbeat, &method, &uri, &headers, &body).await
}

// ---------------------------------------------------------------------------------------------
// Public keys

/// The public keys that verify offline license files (a JWKS), for anyone.
#[utoipa::path(get, path = "/.well-known/souk-license-keys.json", tag = "licenses",
    responses((status = 200, description = "JWKS of Ed25519 keys", body = Object, example = crate::http::examples::key_set)))]
pub async fn public_keys(State(state): State<AppState>) -> AppResult<Json<KeySet>> {
    Ok(Json(uc::key_set(&state).await?))
}

/// The same keys, in the authenticated API (seller console).
#[utoipa::path(get, path = "/v1/license-keys", tag = "licenses",
    responses((status = 200, description = "JWKS of Ed25519 keys", body = Object, example = crate::http::examples::key_set)), security(("api_key" = [])))]
pub async fn license_keys(
    State(state): State<AppState>,
    _caller: Caller,
) -> AppResult<Json<KeySet>> {
    Ok(Json(uc::key_set(&state).await?))
}

/// Sign new license files with a new key (operator); older keys stay published.
#[utoipa::path(post, path = "/v1/license-keys/rotate", tag = "licenses",
    responses((status = 200, description = "JWKS of Ed25519 keys", body = Object, example = crate::http::examples::key_set)), security(("api_key" = [])))]
pub async fn rotate_keys(
    State(state): State<AppState>,
    _op: OperatorCaller,
) -> AppResult<Json<KeySet>> {
    Ok(Json(uc::rotate_signing_key(&state).await?))
}

// ---------------------------------------------------------------------------------------------
// AK/SK pairs

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessKeyInput {
    pub label: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::access_key)]
pub struct AccessKeyView {
    pub id: String,
    pub seller_id: String,
    /// The AK (`Access=` of the signature).
    pub access_key: String,
    /// The SK: only in the answer that created it, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    pub label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<OffsetDateTime>,
}

impl AccessKeyView {
    fn new(r: AccessKeyRecord, secret: Option<String>) -> Self {
        AccessKeyView {
            id: r.id,
            seller_id: r.seller_id.to_string(),
            access_key: r.access_key,
            secret_key: secret,
            label: r.label,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::access_key_list)]
pub struct AccessKeyList {
    pub data: Vec<AccessKeyView>,
}

fn seller_or_operator(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Seller, Role::Operator])
}

/// Issue an AK/SK pair for the License open API (the seller itself or the operator). The SK
/// is shown once.
#[utoipa::path(post, path = "/v1/sellers/{id}/access-keys", tag = "licenses", params(("id" = String, Path)),
    request_body(content = NewAccessKeyInput, example = json!({"label": "license server"})),
    responses((status = 201, body = AccessKeyView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn create_access_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<NewAccessKeyInput>,
) -> AppResult<(StatusCode, Json<AccessKeyView>)> {
    seller_or_operator(&caller)?;
    let (rec, secret) =
        uc::create_access_key(&state, &caller.scope(), caller.party_id(), &id, input.label).await?;
    Ok((
        StatusCode::CREATED,
        Json(AccessKeyView::new(rec, Some(secret))),
    ))
}

/// A seller's AK/SK pairs (revoked ones included; never the SK).
#[utoipa::path(get, path = "/v1/sellers/{id}/access-keys", tag = "licenses", params(("id" = String, Path)),
    responses((status = 200, body = AccessKeyList)), security(("api_key" = [])))]
pub async fn list_access_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<AccessKeyList>> {
    seller_or_operator(&caller)?;
    let data = uc::list_access_keys(&state, &caller.scope(), &id).await?;
    Ok(Json(AccessKeyList {
        data: data
            .into_iter()
            .map(|r| AccessKeyView::new(r, None))
            .collect(),
    }))
}

/// Revoke an AK/SK pair; at once, in this process, requests signed with it fail.
#[utoipa::path(delete, path = "/v1/access-keys/{id}", tag = "licenses", params(("id" = String, Path)),
    responses((status = 200, body = AccessKeyView, example = crate::http::examples::access_key_revoked)), security(("api_key" = [])))]
pub async fn revoke_access_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<AccessKeyView>> {
    seller_or_operator(&caller)?;
    let rec = uc::revoke_access_key(&state, &caller.scope(), caller.party_id(), &id).await?;
    Ok(Json(AccessKeyView::new(rec, None)))
}

// ---------------------------------------------------------------------------------------------
// Policies

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"seats": 5, "heartbeat_window_seconds": 600, "activations_per_hour": 20}))]
#[serde(deny_unknown_fields)]
pub struct PolicyView {
    /// Machines one code may run on at once (floating seats), 1–10000.
    #[schema(minimum = 1, maximum = 10000, example = 5)]
    pub seats: u32,
    /// A machine silent for this long is culled and its seat freed (60 s – 30 days).
    #[schema(minimum = 60, maximum = 2592000, example = 600)]
    pub heartbeat_window_seconds: u32,
    /// Activation attempts allowed per code per hour, 1–10000.
    #[schema(minimum = 1, maximum = 10000, example = 20)]
    pub activations_per_hour: u32,
}

impl From<souk_core::license::LicensePolicy> for PolicyView {
    fn from(p: souk_core::license::LicensePolicy) -> Self {
        PolicyView {
            seats: p.seats,
            heartbeat_window_seconds: p.heartbeat_window.whole_seconds() as u32,
            activations_per_hour: p.activations_per_hour,
        }
    }
}

/// Set the license policy of a License product (its seller); it applies to codes issued from
/// now on.
#[utoipa::path(put, path = "/v1/products/{id}/license-policy", tag = "licenses", params(("id" = String, Path)),
    request_body = PolicyView, responses((status = 200, body = PolicyView)), security(("api_key" = [])))]
pub async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<PolicyView>,
) -> AppResult<Json<PolicyView>> {
    caller.require(&[Role::Seller])?;
    let p = uc::set_policy(
        &state,
        &caller.scope(),
        caller.party_id(),
        &id,
        input.seats,
        input.heartbeat_window_seconds,
        input.activations_per_hour,
    )
    .await?;
    Ok(Json(p.into()))
}

/// The license policy of a product (defaults when never set).
#[utoipa::path(get, path = "/v1/products/{id}/license-policy", tag = "licenses", params(("id" = String, Path)),
    responses((status = 200, body = PolicyView)), security(("api_key" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<PolicyView>> {
    Ok(Json(uc::policy_of(&state, &caller.0, &id).await?.into()))
}

// ---------------------------------------------------------------------------------------------
// Codes and machines

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::code)]
pub struct CodeView {
    pub code: String,
    pub instance_id: souk_core::id::InstanceId,
    pub ordinal: u32,
    pub product_id: String,
    pub sku_id: String,
    pub order_id: souk_core::id::OrderId,
    /// `issued` or `activated`.
    pub state: String,
    /// What a heartbeat reports now: ALIVE, EXPIRED or RELEASED.
    pub status: String,
    pub policy: PolicyView,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub expire_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub last_heartbeat_at: Option<OffsetDateTime>,
    /// Machines (detail view only): `live` says whether it holds a seat now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub machines: Option<Vec<Value>>,
}

pub(crate) fn code_view(
    state: &AppState,
    r: LicenseCodeRecord,
    machines: Option<Vec<MachineRecord>>,
) -> CodeView {
    let status: LicenseStatus = uc::status_now(state, &r);
    let now = state.clock.now();
    let machines = machines.map(|ms| {
        ms.into_iter()
            .map(|m| {
                let live = m.deactivated_at.is_none() && r.policy.is_live(m.last_seen_at, now);
                let mut v = serde_json::to_value(&m).unwrap_or(Value::Null);
                v["live"] = json!(live);
                v
            })
            .collect()
    });
    CodeView {
        code: r.code,
        instance_id: r.instance_id,
        ordinal: r.ordinal,
        product_id: r.product_id,
        sku_id: r.sku_id,
        order_id: r.order_id,
        state: r.state.as_str().to_owned(),
        status: status.as_wire().to_owned(),
        policy: r.policy.into(),
        activated_at: r.activated_at,
        expire_at: r.expire_at,
        last_heartbeat_at: r.last_heartbeat_at,
        machines,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::code_list)]
pub struct CodeList {
    pub data: Vec<CodeView>,
}

/// The license codes of an instance (its buyer, its seller, the operator).
#[utoipa::path(get, path = "/v1/instances/{id}/license-codes", tag = "licenses", params(("id" = String, Path)),
    responses((status = 200, body = CodeList)), security(("api_key" = [])))]
pub async fn instance_codes(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<CodeList>> {
    let codes = uc::codes_of_instance(&state, &caller.scope(), &id).await?;
    Ok(Json(CodeList {
        data: codes
            .into_iter()
            .map(|c| code_view(&state, c, None))
            .collect(),
    }))
}

/// One license code with its machines.
#[utoipa::path(get, path = "/v1/license-codes/{code}", tag = "licenses", params(("code" = String, Path)),
    responses((status = 200, body = CodeView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn get_code(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<CodeView>> {
    let d = uc::code_detail(&state, &caller.scope(), &code).await?;
    Ok(Json(code_view(&state, d.code, Some(d.machines))))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"deactivated": true}))]
pub struct Deactivated {
    /// False when the machine held no seat (deactivating twice changes nothing).
    pub deactivated: bool,
}

/// Free the seat of a lost machine (the code's seller, or the operator).
#[utoipa::path(delete, path = "/v1/license-codes/{code}/machines/{fingerprint}", tag = "licenses",
    params(("code" = String, Path), ("fingerprint" = String, Path)),
    responses((status = 200, body = Deactivated)), security(("api_key" = [])))]
pub async fn deactivate_machine(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((code, fingerprint)): ApiPath<(String, String)>,
) -> AppResult<Json<Deactivated>> {
    seller_or_operator(&caller)?;
    let deactivated = uc::deactivate_machine(
        &state,
        &caller.scope(),
        caller.party_id(),
        &code,
        &fingerprint,
    )
    .await?;
    Ok(Json(Deactivated { deactivated }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"machine_fingerprint": "9f2c41d7-host-a", "ttl_days": 30}))]
pub struct FileInput {
    /// Bind the file to one machine (optional); 1–1024 characters.
    #[schema(min_length = 1, max_length = 1024, example = "9f2c41d7-host-a")]
    pub machine_fingerprint: Option<String>,
    /// How long the file is good for before it must be refreshed (1–366 days, default 30).
    #[schema(minimum = 1, maximum = 366, example = 30)]
    pub ttl_days: Option<u32>,
}

/// A signed offline license file for a code (its buyer, its seller, the operator).
#[utoipa::path(post, path = "/v1/license-codes/{code}/file", tag = "licenses", params(("code" = String, Path)),
    request_body = FileInput, responses((status = 200, description = "the license file", body = Object, example = crate::http::examples::license_file), (status = 409, description = "`conflict`: the request conflicts with the current state", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn license_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(input): ApiJson<FileInput>,
) -> AppResult<Json<LicenseFile>> {
    let f = uc::license_file(
        &state,
        &caller.scope(),
        &code,
        input.machine_fingerprint,
        input.ttl_days,
    )
    .await?;
    Ok(Json(f))
}
