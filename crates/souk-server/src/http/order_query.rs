//! The order-query open API (KooGallery §9.2):
//! `GET /api/mkp-openapi-public/global/v1/order/query?orderId=…[&orderLineId=…]`, signed with the
//! seller's AK/SK (APIG `SDK-HMAC-SHA256`).
//!
//! A V2 seller receives only ids in newInstance (orderId, orderLineId) and asks this API what
//! was bought. A seller sees only its own orders; another seller's order is "not found". The
//! documented mock orders (`MOCKPERIODYEARNEW`, …) answer canned data so sellers can test their
//! code before any real order exists.

use crate::usecase::licenses as lic;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use souk_core::order::{OrderKind, PeriodUnit, Term};
use souk_protocol::apig::RequestParts;
use souk_protocol::order_query as oq;
use souk_protocol::timestamp::TimestampFormat;
use souk_store::Scope;

pub const PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(query_order))
}

fn reply(status: StatusCode, code: &str, msg: &str, order: Option<oq::OrderInfo>) -> Response {
    let answer = oq::OrderQueryAnswer {
        result_code: code.to_owned(),
        result_msg: msg.to_owned(),
        order_info: order,
    };
    (status, Json(answer)).into_response()
}

/// The order query's answer: KooGallery's shape, not Souk's error envelope.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(example = crate::http::examples::order_query)]
pub struct OrderQueryAnswer {
    /// `MKT.0000` on success; `MKT.0100` (orderId missing or longer than 64 characters),
    /// `MKT.0101` (no such order or order line for this seller), `MKT.0999` (Souk failed).
    #[serde(rename = "resultCode")]
    result_code: String,
    #[serde(rename = "resultMsg")]
    result_msg: String,
    /// The order (on success only): `orderId`, `orderType`, `createTime` (yyyyMMddHHmmss UTC),
    /// `orderLine` (one line: `orderLineId`, `chargingMode`, `currency`, `amount` in minor units,
    /// `productInfo`, and `periodType`/`periodNumber`/`expireTime` where they apply),
    /// `buyerInfo` and `extendParams`.
    #[serde(rename = "orderInfo")]
    #[schema(value_type = Object, required = false)]
    order_info: Option<()>,
}

/// Query an order (seller software, AK/SK signed).
#[utoipa::path(get, path = "/api/mkp-openapi-public/global/v1/order/query", tag = "open api",
    params(("orderId" = String, Query), ("orderLineId" = Option<String>, Query)),
    responses((status = 200, description = "`MKT.0000`: the order", body = OrderQueryAnswer),
              (status = 400, description = "`MKT.0100`, `MKT.0101`: no orderId, or no such order (line) for this seller", body = OrderQueryAnswer,
                example = json!({"resultCode": oq::NO_SUCH_ORDER, "resultMsg": "Invalid parameter: no such order for this seller"})),
              (status = 401, description = "`APIG.0301`: AK/SK authentication failed", body = crate::http::licenses::ApigRefusal)))]
pub async fn query_order(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
        .collect();
    let parts = RequestParts {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        // A GET has no body; the signature covers the empty one.
        body: &[],
    };
    let seller = match lic::authenticate(&state, &parts).await {
        Ok(s) => s,
        Err(f) => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(souk_protocol::license_api::GatewayRefusal::auth_failed(
                    &f.message(),
                    f.reason(),
                )),
            )
                .into_response()
        }
    };
    let params = souk_protocol::query::parse_params(uri.query().unwrap_or(""));
    let Some(order_id) = params
        .get("orderId")
        .filter(|s| !s.is_empty() && s.len() <= 64)
    else {
        return reply(
            StatusCode::BAD_REQUEST,
            oq::BAD_ORDER_ID,
            "Failure of input parameter: orderId is required (at most 64 characters)",
            None,
        );
    };
    let line = params.get("orderLineId").cloned();
    if let Some(mock) = oq::mock_order(order_id) {
        return reply(StatusCode::OK, oq::OK, "success", Some(mock));
    }
    // An orderId that is not one of ours names no order: the same answer as an unknown one.
    let found = match souk_core::id::OrderId::parse(order_id) {
        Some(id) => {
            state
                .store
                .find_order(&Scope::Party(seller.clone()), &id)
                .await
        }
        None => Ok(None),
    };
    let order = match found {
        Ok(Some(o)) if o.seller_id == seller => o,
        Ok(_) => {
            return reply(
                StatusCode::BAD_REQUEST,
                oq::NO_SUCH_ORDER,
                "Invalid parameter: no such order for this seller",
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = ?e, "order query failed");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                oq::INTERNAL,
                "internal error",
                None,
            );
        }
    };
    let line_id = format!("{}-000001", order.id);
    if line.as_ref().is_some_and(|l| *l != line_id) {
        return reply(
            StatusCode::BAD_REQUEST,
            oq::NO_SUCH_ORDER,
            "Invalid parameter: no such order line",
            None,
        );
    }
    let instance = state
        .store
        .find_instance(&Scope::Everything, &order.instance_id)
        .await
        .ok()
        .flatten();
    let buyer_name = state
        .store
        .find_party(&Scope::Everything, &order.buyer_id)
        .await
        .ok()
        .flatten()
        .map(|p| p.name);
    let (charging, period_type, period_number) = match order.term {
        Term::Period { unit, count } => (
            "PERIOD",
            Some(match unit {
                PeriodUnit::Month => "month",
                PeriodUnit::Year => "year",
            }),
            Some(count),
        ),
        Term::Trial { days } => ("PERIOD", Some("day"), Some(days)),
        Term::OneTime => ("ONE_TIME", None, None),
        Term::OnDemand => ("ON_DEMAND", None, None),
        // Souk default (the value is [U]): a usage package is prepaid for months.
        Term::Package { months, .. } => ("PACKAGE", Some("month"), Some(months)),
    };
    let secs = |t: time::OffsetDateTime| TimestampFormat::Seconds.format(t);
    let order_line = oq::OrderLine {
        order_line_id: line_id,
        charging_mode: charging.to_owned(),
        currency: order.amount.currency.as_str().to_owned(),
        amount: order.amount.amount_minor,
        amount_unit: "minor".to_owned(),
        product_info: vec![oq::ProductInfo {
            sku_code: order.snapshot.sku_code.clone(),
            product_id: order.snapshot.wire_product_id.clone(),
            product_name: order.snapshot.product_name.clone(),
            linear_value: order.quantity,
        }],
        period_type: period_type.map(str::to_owned),
        period_number,
        expire_time: instance.and_then(|i| i.expire_at).map(secs),
    };
    let order_type = match order.kind {
        OrderKind::New => "NEW",
        OrderKind::Trial => "TRIAL",
        OrderKind::TrialToFormal => "TRIAL_TO_FORMAL",
        OrderKind::Renewal => "RENEW",
        OrderKind::Upgrade => "CHANGE",
    };
    let info = oq::OrderInfo {
        order_id: order.id.to_string(),
        order_type: order_type.to_owned(),
        create_time: secs(order.created_at),
        order_line: vec![order_line],
        buyer_info: buyer_info(&state, &order, buyer_name).await,
        extend_params: order
            .snapshot
            .extend_params
            .iter()
            .map(|p| oq::KeyValue {
                key: p.name.clone(),
                value: p.value.clone(),
            })
            .collect(),
    };
    reply(StatusCode::OK, oq::OK, "success", Some(info))
}

/// `buyerInfo`: the account, and the details the product asked for, phone and e-mail encrypted
/// under the product's Key as in newInstance.
async fn buyer_info(
    state: &AppState,
    order: &souk_store::OrderRecord,
    buyer_name: Option<String>,
) -> oq::BuyerInfo {
    let mut info = oq::BuyerInfo {
        customer_id: order.buyer_id.to_string(),
        customer_name: buyer_name,
        ..Default::default()
    };
    let contact = &order.snapshot.buyer;
    if contact.is_empty() {
        return info;
    }
    let profile = state
        .store
        .integration_profile(&order.product_id)
        .await
        .ok()
        .flatten();
    let key = profile.as_ref().and_then(|p| {
        state
            .master_key
            .open(
                &souk_core::catalog::seller_key_context(&order.product_id),
                &p.seller_key_sealed,
            )
            .ok()
    });
    let (Some(profile), Some(key)) = (profile, key) else {
        return info;
    };
    let wire = crate::usecase::buyer_wire::wire_contact(
        contact,
        &souk_protocol::secret::SellerKey::new(key),
        profile.pii_encrypt_bits,
    );
    info.user_id = wire.user_id;
    info.user_name = wire.user_name;
    info.mobile_phone = wire.mobile_phone;
    info.email = wire.email;
    info
}
