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
use serde_json::{json, Value};
use souk_core::order::{OrderKind, PeriodUnit, Term};
use souk_protocol::apig::RequestParts;
use souk_protocol::timestamp::TimestampFormat;
use souk_store::Scope;

pub const PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(query_order))
}

/// Success code of this API. The documentation shows the error codes (`MKT.0100`, `MKT.0101`)
/// but not the success one; `MKT.0000` follows their pattern (decision, docs/sellers.md).
const OK: &str = "MKT.0000";

fn reply(status: StatusCode, code: &str, msg: &str, order: Option<Value>) -> Response {
    let mut body = json!({ "resultCode": code, "resultMsg": msg });
    if let Some(o) = order {
        body["orderInfo"] = o;
    }
    (status, Json(body)).into_response()
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
                example = json!({"resultCode": "MKT.0101", "resultMsg": "Invalid parameter: no such order for this seller"})),
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
                Json(json!({
                    "error_code": "APIG.0301",
                    "error_msg": format!("AK/SK authentication failed: {}", f.message()),
                    "souk_reason": f.reason(),
                })),
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
            "MKT.0100",
            "Failure of input parameter: orderId is required (at most 64 characters)",
            None,
        );
    };
    let line = params.get("orderLineId").cloned();
    if let Some(mock) = mock_order(order_id) {
        return reply(StatusCode::OK, OK, "success", Some(mock));
    }
    let order = match state
        .store
        .find_order(&Scope::Party(seller.clone()), order_id)
        .await
    {
        Ok(Some(o)) if o.seller_id == seller => o,
        Ok(_) => {
            return reply(
                StatusCode::BAD_REQUEST,
                "MKT.0101",
                "Invalid parameter: no such order for this seller",
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = ?e, "order query failed");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "MKT.0999",
                "internal error",
                None,
            );
        }
    };
    let line_id = format!("{}-000001", order.id);
    if line.as_ref().is_some_and(|l| *l != line_id) {
        return reply(
            StatusCode::BAD_REQUEST,
            "MKT.0101",
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
    };
    let secs = |t: time::OffsetDateTime| TimestampFormat::Seconds.format(t);
    let mut order_line = json!({
        "orderLineId": line_id,
        "chargingMode": charging,
        "currency": order.amount.currency.as_str(),
        "amount": order.amount.amount_minor,
        "amountUnit": "minor",
        "productInfo": [{
            "skuCode": order.snapshot.sku_code,
            "productId": order.snapshot.wire_product_id,
            "productName": order.snapshot.product_name,
            "linearValue": order.quantity,
        }],
    });
    if let (Some(t), Some(n)) = (period_type, period_number) {
        order_line["periodType"] = json!(t);
        order_line["periodNumber"] = json!(n);
    }
    if let Some(exp) = instance.and_then(|i| i.expire_at) {
        order_line["expireTime"] = json!(secs(exp));
    }
    let order_type = match order.kind {
        OrderKind::New => "NEW",
        OrderKind::Trial => "TRIAL",
        OrderKind::TrialToFormal => "TRIAL_TO_FORMAL",
        OrderKind::Renewal => "RENEW",
        OrderKind::Upgrade => "CHANGE",
    };
    let info = json!({
        "orderId": order.id,
        "orderType": order_type,
        "createTime": secs(order.created_at),
        "orderLine": [order_line],
        "buyerInfo": buyer_info(&state, &order, buyer_name).await,
        "extendParams": order.snapshot.extend_params.iter()
            .map(|p| json!({"key": p.name, "value": p.value}))
            .collect::<Vec<_>>(),
    });
    reply(StatusCode::OK, OK, "success", Some(info))
}

/// `buyerInfo`: the account, and the details the product asked for, phone and e-mail encrypted
/// under the product's Key as in newInstance.
async fn buyer_info(
    state: &AppState,
    order: &souk_store::OrderRecord,
    buyer_name: Option<String>,
) -> Value {
    let mut info = json!({ "customerId": order.buyer_id, "customerName": buyer_name });
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
    for (name, value) in [
        ("userId", wire.user_id),
        ("userName", wire.user_name),
        ("mobilePhone", wire.mobile_phone),
        ("email", wire.email),
    ] {
        if let Some(v) = value {
            info[name] = json!(v);
        }
    }
    info
}

/// The documented mock orders, for sellers testing their order-query code.
fn mock_order(id: &str) -> Option<Value> {
    let (order_type, charging, period): (&str, &str, Option<(&str, u32)>) = match id {
        "MOCKPERIODYEARNEW" => ("NEW", "PERIOD", Some(("year", 1))),
        "MOCKONETIMENEW" => ("NEW", "ONE_TIME", None),
        "MOCKONDEMAND" => ("NEW", "ON_DEMAND", None),
        "MOCKONDEMANDPKG" => ("NEW", "ON_DEMAND_PKG", None),
        "MOCKPERIODDAYTRIAL" => ("TRIAL", "PERIOD", Some(("day", 7))),
        "MOCKMONTYTRIALTOFORMAL" => ("TRIAL_TO_FORMAL", "PERIOD", Some(("month", 1))),
        "MOCKMONTYUNSUBSCRIBE" => ("UNSUBSCRIBE", "PERIOD", Some(("month", 1))),
        "MOCKMONTYRENEW" => ("RENEW", "PERIOD", Some(("month", 1))),
        "MOCKMONTYCHANGE" => ("CHANGE", "PERIOD", Some(("month", 1))),
        _ => return None,
    };
    let mut line = json!({
        "orderLineId": format!("{id}-000001"),
        "chargingMode": charging,
        "currency": "CNY",
        "amount": 0,
        "amountUnit": "minor",
        "productInfo": [{
            "skuCode": "mock-sku-code",
            "productId": "00301-666666-0--0",
            "productName": "Mock product",
            "linearValue": 1,
        }],
    });
    if let Some((t, n)) = period {
        line["periodType"] = json!(t);
        line["periodNumber"] = json!(n);
        line["expireTime"] = json!("20991231000000");
    }
    Some(json!({
        "orderId": id,
        "orderType": order_type,
        "createTime": "20240101000000",
        "orderLine": [line],
        "buyerInfo": { "customerId": "68cbc86abc2018ab880d92f36422fa0e", "customerName": "Mock Buyer" },
        "extendParams": [],
    }))
}
