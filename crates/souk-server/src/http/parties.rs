//! `/v1/{sellers|buyers|resellers|operators}`, their API keys, and `/v1/me`.

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use crate::error::{AppError, AppResult};
use crate::http::auth::{Caller, OperatorCaller};
use crate::usecase::parties::{self, CreateParty};
use crate::AppState;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::party::{PartyId, PartyStatus, Role};
use souk_store::{ApiKeyRecord, AuditEvent, PartyRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/{collection}", get(list_parties).post(create_party))
        .route("/v1/{collection}/{id}", get(get_party).patch(update_party))
        .route(
            "/v1/{collection}/{id}/api-keys",
            get(list_keys).post(create_key),
        )
        .route("/v1/{collection}/{id}/audit", get(audit_trail))
        .route("/v1/api-keys/{key_id}", delete(revoke_key))
}

/// Maps the collection segment of a path to a role; unknown collections are 404.
fn collection_role(collection: &str) -> AppResult<Role> {
    match collection {
        "operators" => Ok(Role::Operator),
        "sellers" => Ok(Role::Seller),
        "buyers" => Ok(Role::Buyer),
        "resellers" => Ok(Role::Reseller),
        _ => Err(AppError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("there is no /v1/{collection}; see /v1/openapi.json for the API"),
        )),
    }
}

/// Parses a party id that must belong to the collection named in the path.
fn party_in(collection: &str, id: &str) -> AppResult<PartyId> {
    let role = collection_role(collection)?;
    PartyId::parse_as(id, role).ok_or_else(|| AppError::not_found(role.as_str()))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::party)]
pub struct PartyView {
    pub id: PartyId,
    pub role: Role,
    pub name: String,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub status: PartyStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<PartyRecord> for PartyView {
    fn from(p: PartyRecord) -> Self {
        PartyView {
            id: p.id,
            role: p.role,
            name: p.name,
            email: p.email,
            mobile_phone: p.mobile_phone,
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::party_list)]
pub struct PartyList {
    pub data: Vec<PartyView>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::api_key)]
pub struct ApiKeyView {
    pub id: souk_core::id::ApiKeyId,
    pub party_id: PartyId,
    pub role: Role,
    pub label: Option<String>,
    /// The first characters of the key, to tell keys apart.
    pub display_prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    pub created_by: Option<PartyId>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(k: ApiKeyRecord) -> Self {
        ApiKeyView {
            id: k.id,
            party_id: k.party_id,
            role: k.role,
            label: k.label,
            display_prefix: k.display_prefix,
            created_at: k.created_at,
            created_by: k.created_by,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::api_key_list)]
pub struct ApiKeyList {
    pub data: Vec<ApiKeyView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::issued_key)]
pub struct IssuedKeyView {
    pub key: ApiKeyView,
    /// The API key itself. Shown only in this response: store it now.
    pub secret: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A note to tell keys apart (e.g. "ci", "laptop"), at most 100 printable characters.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$",
        example = "ci"
    )]
    pub label: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::me)]
pub struct MeView {
    pub party: PartyView,
    pub key_id: souk_core::id::ApiKeyId,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::audit_list)]
pub struct AuditList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<AuditEvent>,
}

fn next_cursor<T>(items: &[T], limit: u32, id: impl Fn(&T) -> String) -> Option<String> {
    (items.len() as u32 == limit)
        .then(|| items.last().map(id))
        .flatten()
}

/// Who am I?
#[utoipa::path(get, path = "/v1/me", tag = "parties",
    responses((status = 200, body = MeView), (status = 401, body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn me(state: axum::extract::State<AppState>, caller: Caller) -> AppResult<Json<MeView>> {
    let party = state
        .store
        .find_party(&caller.scope(), caller.party_id())
        .await?
        .ok_or_else(|| AppError::not_found("party"))?;
    Ok(Json(MeView {
        party: party.into(),
        key_id: caller.0.key_id.clone(),
    }))
}

/// Create a seller, buyer or reseller (operator only).
#[utoipa::path(post, path = "/v1/{collection}", tag = "parties",
    params(("collection" = String, Path, description = "sellers | buyers | resellers")),
    request_body(content = CreateParty, example = json!({"name": "Globex Ltd", "email": "it@globex.example"})),
    responses((status = 201, body = PartyView), (status = 403, description = "`forbidden`: your role may not do this", body = crate::error::ErrorEnvelope),
              (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_party(
    state: axum::extract::State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(collection): ApiPath<String>,
    ApiJson(input): ApiJson<CreateParty>,
) -> AppResult<(StatusCode, Json<PartyView>)> {
    let role = collection_role(&collection)?;
    let party = parties::create(&state, caller.party_id(), role, input).await?;
    Ok((StatusCode::CREATED, Json(party.into())))
}

/// List parties of one role. The operator sees all; anyone else sees only themselves.
#[utoipa::path(get, path = "/v1/{collection}", tag = "parties",
    params(("collection" = String, Path, description = "operators | sellers | buyers | resellers"), PageQuery),
    responses((status = 200, body = PartyList)),
    security(("api_key" = [])))]
pub async fn list_parties(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath(collection): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<PartyList>> {
    let role = collection_role(&collection)?;
    let page = q.page()?;
    let items = state
        .store
        .list_parties(&caller.scope(), role, &page)
        .await?;
    let next_cursor = next_cursor(&items, page.limit, |p| p.id.to_string());
    Ok(Json(PartyList {
        data: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One party. Another tenant's party is reported as not found.
#[utoipa::path(get, path = "/v1/{collection}/{id}", tag = "parties",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PartyView), (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_party(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath((collection, id)): ApiPath<(String, String)>,
) -> AppResult<Json<PartyView>> {
    let id = party_in(&collection, &id)?;
    let party = state
        .store
        .find_party(&caller.scope(), &id)
        .await?
        .ok_or_else(|| AppError::not_found("party"))?;
    Ok(Json(party.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateParty {
    /// `suspended` stops every key of the party at once; `active` restores them.
    pub status: PartyStatus,
}

/// Suspend or reactivate a party (operator only). Its data stays; its keys stop working.
#[utoipa::path(patch, path = "/v1/{collection}/{id}", tag = "parties",
    params(("collection" = String, Path), ("id" = String, Path)),
    request_body(content = UpdateParty, example = json!({"status": "suspended"})),
    responses((status = 200, body = PartyView), (status = 403, description = "`forbidden`: your role may not do this", body = crate::error::ErrorEnvelope),
              (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope),
              (status = 409, description = "`cannot_suspend_self`: an operator cannot suspend itself", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn update_party(
    state: axum::extract::State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath((collection, id)): ApiPath<(String, String)>,
    ApiJson(input): ApiJson<UpdateParty>,
) -> AppResult<Json<PartyView>> {
    let id = party_in(&collection, &id)?;
    let party = parties::set_status(&state, caller.party_id(), &id, input.status).await?;
    Ok(Json(party.into()))
}

/// Issue an API key for a party (the operator for anyone; a party for itself).
#[utoipa::path(post, path = "/v1/{collection}/{id}/api-keys", tag = "api keys",
    params(("collection" = String, Path), ("id" = String, Path)),
    request_body(content = CreateKey, example = json!({"label": "production"})),
    responses((status = 201, body = IssuedKeyView), (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_key(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath((collection, id)): ApiPath<(String, String)>,
    ApiJson(input): ApiJson<CreateKey>,
) -> AppResult<(StatusCode, Json<IssuedKeyView>)> {
    let id = party_in(&collection, &id)?;
    let issued =
        parties::issue_key(&state, &caller.scope(), caller.party_id(), &id, input.label).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKeyView {
            key: issued.record.into(),
            secret: issued.secret,
        }),
    ))
}

/// A party's API keys, revoked ones included.
#[utoipa::path(get, path = "/v1/{collection}/{id}/api-keys", tag = "api keys",
    params(("collection" = String, Path), ("id" = String, Path), PageQuery),
    responses((status = 200, body = ApiKeyList), (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_keys(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath((collection, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<ApiKeyList>> {
    let id = party_in(&collection, &id)?;
    let page = q.page()?;
    let items = state
        .store
        .list_api_keys(&caller.scope(), &id, &page)
        .await?
        .ok_or_else(|| AppError::not_found("party"))?;
    let next_cursor = next_cursor(&items, page.limit, |k| k.id.to_string());
    Ok(Json(ApiKeyList {
        data: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Revoke an API key. It stops working at once; revoking again changes nothing.
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api keys",
    params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn revoke_key(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath(key_id): ApiPath<String>,
) -> AppResult<Json<ApiKeyView>> {
    let record = parties::revoke_key(&state, &caller.scope(), caller.party_id(), &key_id).await?;
    Ok(Json(record.into()))
}

/// The audit trail of a party: who created it, its keys, their revocations.
#[utoipa::path(get, path = "/v1/{collection}/{id}/audit", tag = "parties",
    params(("collection" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = AuditList), (status = 404, description = "`not_found`: no such resource visible to you", body = crate::error::ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn audit_trail(
    state: axum::extract::State<AppState>,
    caller: Caller,
    ApiPath((collection, id)): ApiPath<(String, String)>,
) -> AppResult<Json<AuditList>> {
    let id = party_in(&collection, &id)?;
    let scope = caller.scope();
    if state.store.find_party(&scope, &id).await?.is_none() {
        return Err(AppError::not_found("party"));
    }
    let data = state.store.audit_trail(&scope, id.as_str()).await?;
    Ok(Json(AuditList { data }))
}
