//! The order-query open API's answer (spec §9.2): what a V2 seller's software reads back after
//! `GET /api/mkp-openapi-public/global/v1/order/query?orderId=…[&orderLineId=…]`.
//!
//! Field names follow the documented ones; where the documentation leaves a field [U] (the
//! line's amounts, the buyer's details) the names follow the saascenter newInstance body by
//! analogy. `orderInfo` is present on success only.

use serde::{Deserialize, Serialize};

/// Success code of the API (the documented errors are `MKT.0100`/`MKT.0101`; `MKT.0000` follows
/// their pattern).
pub const OK: &str = "MKT.0000";
/// `orderId` missing or longer than 64 characters.
pub const BAD_ORDER_ID: &str = "MKT.0100";
/// No such order (or order line) for this seller.
pub const NO_SUCH_ORDER: &str = "MKT.0101";
/// The marketplace failed.
pub const INTERNAL: &str = "MKT.0999";

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderQueryAnswer {
    /// [`OK`] or an error code.
    pub result_code: String,
    /// A message for people.
    pub result_msg: String,
    /// The order, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_info: Option<OrderInfo>,
}

/// One order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInfo {
    /// The order id.
    pub order_id: String,
    /// `NEW`, `TRIAL`, `TRIAL_TO_FORMAL`, `UNSUBSCRIBE`, `RENEW` or `CHANGE`.
    pub order_type: String,
    /// `yyyyMMddHHmmss` UTC.
    pub create_time: String,
    /// The order's lines (Souk: one).
    pub order_line: Vec<OrderLine>,
    /// Who bought.
    pub buyer_info: BuyerInfo,
    /// The buyer's order fields.
    pub extend_params: Vec<KeyValue>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// `<orderId>-000001`.
    pub order_line_id: String,
    /// `PERIOD`, `ONE_TIME`, `ON_DEMAND` or `ON_DEMAND_PKG`.
    pub charging_mode: String,
    /// ISO 4217.
    pub currency: String,
    /// The amount paid, in `amount_unit`.
    pub amount: i64,
    /// `minor` (Souk states the unit rather than use a decimal).
    pub amount_unit: String,
    /// What was bought.
    pub product_info: Vec<ProductInfo>,
    /// `year`, `month` or `day` (trials), for period products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_type: Option<String>,
    /// How many periods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_number: Option<u32>,
    /// `yyyyMMddHHmmss` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
}

/// The SKU bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    /// The specification.
    pub sku_code: String,
    /// The product id of the SKU × billing mode (as in V1 newInstance).
    pub product_id: String,
    /// The product's name.
    pub product_name: String,
    /// The quantity.
    pub linear_value: u32,
}

/// The buyer, with the details the product asked for (phone and e-mail encrypted as in V1
/// newInstance, see [`crate::credentials`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerInfo {
    /// The buyer's account id.
    pub customer_id: String,
    /// Its name.
    #[serde(default)]
    pub customer_name: Option<String>,
    /// Sub-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Sub-user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// AES-encrypted phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    /// AES-encrypted e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A `{key, value}` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The field's name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The documented mock orders (`MOCKPERIODYEARNEW`, …), answered with canned data so sellers
/// can test their order-query code before any real order exists.
pub fn mock_order(id: &str) -> Option<OrderInfo> {
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
    Some(OrderInfo {
        order_id: id.to_owned(),
        order_type: order_type.to_owned(),
        create_time: "20240101000000".to_owned(),
        order_line: vec![OrderLine {
            order_line_id: format!("{id}-000001"),
            charging_mode: charging.to_owned(),
            currency: "CNY".to_owned(),
            amount: 0,
            amount_unit: "minor".to_owned(),
            product_info: vec![ProductInfo {
                sku_code: "mock-sku-code".to_owned(),
                product_id: "00301-666666-0--0".to_owned(),
                product_name: "Mock product".to_owned(),
                linear_value: 1,
            }],
            period_type: period.map(|(t, _)| t.to_owned()),
            period_number: period.map(|(_, n)| n),
            expire_time: period.map(|_| "20991231000000".to_owned()),
        }],
        buyer_info: BuyerInfo {
            customer_id: "68cbc86abc2018ab880d92f36422fa0e".to_owned(),
            customer_name: Some("Mock Buyer".to_owned()),
            ..Default::default()
        },
        extend_params: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_use_the_documented_names_and_round_trip() {
        let answer = OrderQueryAnswer {
            result_code: OK.into(),
            result_msg: "success".into(),
            order_info: mock_order("MOCKMONTYRENEW"),
        };
        let v = serde_json::to_value(&answer).unwrap();
        assert_eq!(v["resultCode"], "MKT.0000");
        assert_eq!(v["orderInfo"]["orderType"], "RENEW");
        assert_eq!(v["orderInfo"]["orderLine"][0]["periodType"], "month");
        assert_eq!(
            v["orderInfo"]["orderLine"][0]["productInfo"][0]["linearValue"],
            1
        );
        assert_eq!(v["orderInfo"]["buyerInfo"]["customerName"], "Mock Buyer");
        assert!(v["orderInfo"]["buyerInfo"].get("email").is_none());
        let back: OrderQueryAnswer = serde_json::from_value(v).unwrap();
        assert_eq!(back, answer);
        let onetime = mock_order("MOCKONETIMENEW").unwrap();
        assert!(serde_json::to_value(&onetime).unwrap()["orderLine"][0]
            .get("periodType")
            .is_none());
        assert!(mock_order("CS123").is_none());
    }
}
