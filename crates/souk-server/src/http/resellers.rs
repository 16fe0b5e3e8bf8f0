//! Resellers over HTTP (business rules §11): invitation links (reseller) and their acceptance
//! (buyer), authorisations (seller; operator approval), exclusive offers (reseller) and their
//! links (buyer), performance T+1 with CSV (reseller), reseller statements (reseller, operator).

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::reseller_examples as ex;
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::resellers as uc;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::catalog::BillingMode;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::reseller::{
    AssociationExclusion, AuthorisationAction, AuthorisationState, CommissionFormula,
};
use souk_store::{AuthorisationRecord, OfferRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/reseller-invitations",
            post(create_invitation).get(list_invitations),
        )
        .route("/v1/reseller-invitations/accept", post(accept_invitation))
        .route(
            "/v1/buyers/{id}/association-exclusions",
            get(get_exclusions).put(put_exclusions),
        )
        .route("/v1/reseller-customers", get(list_customers))
        .route(
            "/v1/reseller-authorisations",
            post(create_authorisation).get(list_authorisations),
        )
        .route("/v1/reseller-authorisations/{id}", get(get_authorisation))
        .route(
            "/v1/reseller-authorisations/{id}/decision",
            post(decide_authorisation),
        )
        .route("/v1/reseller-offers", post(create_offer).get(list_offers))
        .route("/v1/reseller-offers/{id}", get(get_offer))
        .route("/v1/offer-links", get(offer_link))
        .merge(super::reseller_statements::router())
}

pub(super) fn rfc3339<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::serialize(t, s)
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::invitation)]
pub struct InvitationView {
    /// The invitation link's token; the customer accepts it with
    /// `POST /v1/reseller-invitations/accept`, or opens `/invite/{token}` in the console.
    pub token: String,
    pub link: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
}

fn invitation_view(token: String, created_at: OffsetDateTime) -> InvitationView {
    InvitationView {
        link: format!("/invite/{token}"),
        token,
        created_at,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::invitation_list)]
pub struct InvitationList {
    pub data: Vec<InvitationView>,
}

/// Create an invitation link (reseller).
#[utoipa::path(post, path = "/v1/reseller-invitations", tag = "resellers",
    responses((status = 201, body = InvitationView), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<(StatusCode, Json<InvitationView>)> {
    caller.require(&[Role::Reseller])?;
    let token = uc::create_invitation(&state, caller.party_id()).await?;
    Ok((
        StatusCode::CREATED,
        Json(invitation_view(token, state.clock.now())),
    ))
}

/// The reseller's invitation links, newest first (the last 100).
#[utoipa::path(get, path = "/v1/reseller-invitations", tag = "resellers",
    responses((status = 200, body = InvitationList), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<InvitationList>> {
    caller.require(&[Role::Reseller])?;
    let data = state.store.invitations(caller.party_id()).await?;
    Ok(Json(InvitationList {
        data: data
            .into_iter()
            .map(|(t, at)| invitation_view(t, at))
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "inv_01m8a1z9c4w7e2r5t8y3v6b0n1"}))]
pub struct AcceptBody {
    #[schema(min_length = 1, max_length = 64)]
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::associated)]
pub struct Associated {
    pub reseller_id: PartyId,
}

/// Accept an invitation link: the buyer becomes the reseller's customer (buyer). Accepting the
/// same reseller's link again is harmless; another reseller's is `409 customer_associated`.
#[utoipa::path(post, path = "/v1/reseller-invitations/accept", tag = "resellers", request_body = AcceptBody,
    responses((status = 200, body = Associated), (status = 403, description = "`forbidden`: buyers only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such invitation", body = ErrorEnvelope),
        (status = 409, description = "`customer_associated`: already another reseller's customer; `customer_excluded`: the operator flagged the buyer as not associable (§11)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AcceptBody>,
) -> AppResult<Json<Associated>> {
    caller.require(&[Role::Buyer])?;
    let reseller_id = uc::accept_invitation(&state, caller.party_id(), &body.token).await?;
    Ok(Json(Associated { reseller_id }))
}

/// A buyer's §11 exclusion flags: an invitation link accepted by a flagged buyer is refused.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"flags": ["internal"]}))]
pub struct Exclusions {
    /// `internal` (an internal account), `consumer_cloud` (a consumer-cloud user), `reported`
    /// (already reported by a partner); empty: associable.
    pub flags: Vec<AssociationExclusion>,
}

/// A buyer's §11 exclusion flags (the operator).
#[utoipa::path(get, path = "/v1/buyers/{id}/association-exclusions", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = Exclusions), (status = 404, description = "`not_found`: no such buyer", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_exclusions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Exclusions>> {
    caller.require(&[Role::Operator])?;
    let flags = uc::exclusions(&state, &id).await?;
    Ok(Json(Exclusions { flags }))
}

/// Set (replace) a buyer's §11 exclusion flags (the operator); audited. Customers already
/// associated stay associated: the flags refuse new associations.
#[utoipa::path(put, path = "/v1/buyers/{id}/association-exclusions", tag = "resellers", params(("id" = String, Path)),
    request_body = Exclusions,
    responses((status = 200, body = Exclusions), (status = 404, description = "`not_found`: no such buyer", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn put_exclusions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Exclusions>,
) -> AppResult<Json<Exclusions>> {
    caller.require(&[Role::Operator])?;
    let flags = uc::set_exclusions(&state, caller.party_id(), &id, &body.flags).await?;
    Ok(Json(Exclusions { flags }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub buyer_id: PartyId,
    pub name: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub associated_at: OffsetDateTime,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::customer_list)]
pub struct CustomerList {
    pub data: Vec<CustomerView>,
}

/// The reseller's associated customers.
#[utoipa::path(get, path = "/v1/reseller-customers", tag = "resellers",
    responses((status = 200, body = CustomerList), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<CustomerList>> {
    caller.require(&[Role::Reseller])?;
    let data = state.store.customers(caller.party_id()).await?;
    Ok(Json(CustomerList {
        data: data
            .into_iter()
            .map(|c| CustomerView {
                buyer_id: c.buyer_id,
                name: c.buyer_name,
                associated_at: c.associated_at,
            })
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reseller_id": "rsl_01m8a2h3k4m5n6p7q8r9s0t1v2", "product_id": "prd_01m8a2h3k4m5n6p7q8r9s0t1v2", "share_bp": 1000, "max_discount_bp": 2000}))]
pub struct AuthoriseBody {
    pub reseller_id: String,
    pub product_id: String,
    /// §11 formula (default `deal_price`).
    pub formula: Option<CommissionFormula>,
    /// The reseller's share r (or resale discount), basis points. Above the standard share
    /// the operator approves first.
    #[schema(maximum = 10000)]
    pub share_bp: u32,
    /// The most an offer may take off the catalogue price, basis points.
    #[schema(maximum = 10000)]
    pub max_discount_bp: u32,
    #[schema(maximum = 10000)]
    pub vat_product_bp: Option<u32>,
    #[schema(maximum = 10000)]
    pub vat_service_bp: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::authorisation)]
pub struct AuthorisationView {
    pub id: String,
    pub seller_id: PartyId,
    pub reseller_id: PartyId,
    pub product_id: String,
    pub state: AuthorisationState,
    pub formula: CommissionFormula,
    pub share_bp: u32,
    pub max_discount_bp: u32,
    pub vat_product_bp: u32,
    pub vat_service_bp: u32,
    pub reason: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
}

impl From<AuthorisationRecord> for AuthorisationView {
    fn from(a: AuthorisationRecord) -> Self {
        AuthorisationView {
            id: a.id,
            seller_id: a.seller_id,
            reseller_id: a.reseller_id,
            product_id: a.product_id,
            state: a.state,
            formula: a.terms.formula,
            share_bp: a.terms.rate_bp.bp(),
            max_discount_bp: a.max_discount_bp.bp(),
            vat_product_bp: a.terms.vat_product_bp.bp(),
            vat_service_bp: a.terms.vat_service_bp.bp(),
            reason: a.reason,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::authorisation_list)]
pub struct AuthorisationList {
    pub data: Vec<AuthorisationView>,
    pub next_cursor: Option<String>,
}

/// Authorise a reseller on one of the seller's products (seller): `active` at once up to the
/// standard share, else `pending_approval` until the operator decides.
#[utoipa::path(post, path = "/v1/reseller-authorisations", tag = "resellers", request_body = AuthoriseBody,
    responses((status = 201, body = AuthorisationView), (status = 403, description = "`forbidden`: sellers only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such reseller, or not the seller's product", body = ErrorEnvelope),
        (status = 409, description = "`authorisation_exists`: an open authorisation exists", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a rate above 10000 bp", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_authorisation(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AuthoriseBody>,
) -> AppResult<(StatusCode, Json<AuthorisationView>)> {
    caller.require(&[Role::Seller])?;
    let a = uc::authorise(
        &state,
        caller.party_id(),
        uc::AuthoriseRequest {
            reseller_id: body.reseller_id,
            product_id: body.product_id,
            formula: body.formula.unwrap_or(CommissionFormula::DealPrice),
            share_bp: body.share_bp,
            max_discount_bp: body.max_discount_bp,
            vat_product_bp: body.vat_product_bp,
            vat_service_bp: body.vat_service_bp,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuthorisationQuery {
    pub state: Option<AuthorisationState>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Authorisations: a seller's grants, a reseller's, or all (operator).
#[utoipa::path(get, path = "/v1/reseller-authorisations", tag = "resellers", params(AuthorisationQuery),
    responses((status = 200, body = AuthorisationList), (status = 403, description = "`forbidden`: buyers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_authorisations(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuthorisationQuery>,
) -> AppResult<Json<AuthorisationList>> {
    caller.require(&[Role::Seller, Role::Reseller, Role::Operator])?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let data = state
        .store
        .authorisations(&caller.scope(), q.state, &page)
        .await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|a| a.id.clone()))
        .flatten();
    Ok(Json(AuthorisationList {
        data: data.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One authorisation (its seller, its reseller, the operator).
#[utoipa::path(get, path = "/v1/reseller-authorisations/{id}", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = AuthorisationView), (status = 403, description = "`forbidden`: buyers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_authorisation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<AuthorisationView>> {
    caller.require(&[Role::Seller, Role::Reseller, Role::Operator])?;
    let a = state
        .store
        .authorisation(&caller.scope(), &id)
        .await?
        .ok_or_else(|| AppError::not_found("authorisation"))?;
    Ok(Json(a.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "approve"}))]
pub struct DecisionBody {
    pub action: AuthorisationAction,
    /// Required to reject.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Approve or reject a pending authorisation (operator); revoke one (its seller, the operator).
#[utoipa::path(post, path = "/v1/reseller-authorisations/{id}/decision", tag = "resellers", params(("id" = String, Path)),
    request_body = DecisionBody,
    responses((status = 200, body = AuthorisationView), (status = 403, description = "`forbidden`: not the operator (approve, reject) or its seller (revoke)", body = ErrorEnvelope),
        (status = 409, description = "`authorisation_state`: not in a state the action applies to", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a rejection without a reason", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn decide_authorisation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> AppResult<Json<AuthorisationView>> {
    caller.require(&[Role::Seller, Role::Reseller, Role::Operator])?;
    let a = uc::decide_authorisation(
        &state,
        caller.party_id(),
        caller.role(),
        &id,
        body.action,
        body.reason,
    )
    .await?;
    Ok(Json(a.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku_id": "sku_01m8a2h3k4m5n6p7q8r9s0t1v2", "billing_mode": "monthly", "unit_price": {"amount_minor": 850, "currency": "CNY"}, "valid_until": "2026-12-31T16:00:00Z"}))]
pub struct OfferBody {
    pub sku_id: String,
    /// monthly, yearly or one_time.
    pub billing_mode: BillingMode,
    /// Per unit and period, between the floor (catalogue less the authorised discount) and
    /// the catalogue price.
    pub unit_price: Money,
    /// Default: now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub valid_until: OffsetDateTime,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::offer)]
pub struct OfferView {
    pub id: String,
    pub reseller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub billing_mode: BillingMode,
    pub unit_price: Money,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub valid_from: OffsetDateTime,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub valid_until: OffsetDateTime,
    /// The private link's token (only to its reseller): the buyer orders with
    /// `"offer": "<token>"`, or opens `/offer/{token}` in the console.
    pub token: Option<String>,
    pub link: Option<String>,
}

fn offer_view(o: OfferRecord, with_token: bool) -> OfferView {
    let link = with_token.then(|| format!("/offer/{}", o.token));
    OfferView {
        id: o.id,
        reseller_id: o.reseller_id,
        product_id: o.product_id,
        sku_id: o.sku_id,
        billing_mode: o.billing_mode,
        unit_price: o.unit_price,
        valid_from: o.valid_from,
        valid_until: o.valid_until,
        token: with_token.then_some(o.token),
        link,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::offer_list)]
pub struct OfferList {
    pub data: Vec<OfferView>,
    pub next_cursor: Option<String>,
}

/// Create an exclusive offer (专属优惠) as a private link (reseller, authorised on the product).
#[utoipa::path(post, path = "/v1/reseller-offers", tag = "resellers", request_body = OfferBody,
    responses((status = 201, body = OfferView), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such SKU on sale", body = ErrorEnvelope),
        (status = 409, description = "`not_authorised`: no active authorisation on the product", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a price outside floor..catalogue, another currency, an empty validity", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create_offer(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OfferBody>,
) -> AppResult<(StatusCode, Json<OfferView>)> {
    caller.require(&[Role::Reseller])?;
    let o = uc::create_offer(
        &state,
        caller.party_id(),
        uc::OfferRequest {
            sku_id: body.sku_id,
            billing_mode: body.billing_mode,
            unit_price: body.unit_price,
            valid_from: body.valid_from,
            valid_until: body.valid_until,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(offer_view(o, true))))
}

/// The reseller's offers (or all: operator).
#[utoipa::path(get, path = "/v1/reseller-offers", tag = "resellers", params(PageQuery),
    responses((status = 200, body = OfferList), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_offers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<OfferList>> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    let page = q.page()?;
    let data = state.store.offers(&caller.scope(), &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|o| o.id.clone()))
        .flatten();
    let own = caller.role() == Role::Reseller;
    Ok(Json(OfferList {
        data: data.into_iter().map(|o| offer_view(o, own)).collect(),
        next_cursor,
    }))
}

/// One offer (its reseller, the operator).
#[utoipa::path(get, path = "/v1/reseller-offers/{id}", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = OfferView), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_offer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<OfferView>> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    let o = state
        .store
        .offer(&caller.scope(), &id)
        .await?
        .ok_or_else(|| AppError::not_found("offer"))?;
    let own = caller.role() == Role::Reseller;
    Ok(Json(offer_view(o, own)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferLinkQuery {
    /// The token of the link the reseller sent.
    pub token: String,
}

/// What an offer link gives (any signed-in party holding the link): product, SKU, price and
/// validity. Order it with `POST /v1/orders` and `"offer": "<token>"`.
#[utoipa::path(get, path = "/v1/offer-links", tag = "resellers", params(OfferLinkQuery),
    responses((status = 200, body = OfferView, example = ex::offer_link), (status = 404, description = "`not_found`: no such offer or it expired", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn offer_link(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<OfferLinkQuery>,
) -> AppResult<Json<OfferView>> {
    let now = state.clock.now();
    let o = state
        .store
        .offer_by_token(&q.token)
        .await?
        .filter(|o| now < o.valid_until)
        .ok_or_else(|| AppError::not_found("offer"))?;
    Ok(Json(offer_view(o, false)))
}
