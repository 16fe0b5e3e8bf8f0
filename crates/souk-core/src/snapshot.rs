//! What an order records of what was bought, at the time it was bought: product, SKU, price,
//! and the buyer details the seller receives. Typed, so that a call to a seller built from it
//! cannot silently miss a field (no JSON read by key with a default).

use crate::catalog::{BillingMode, DeliveryType, LicenseMode};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The order's copy of what was on sale when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderSnapshot {
    pub product_name: String,
    pub delivery_type: DeliveryType,
    /// KooGallery `skuCode`.
    pub sku_code: String,
    /// KooGallery `productId` of the SKU × billing mode.
    pub wire_product_id: String,
    /// The SKU's enum attribute values, e.g. `{"edition": "pro"}`.
    pub attributes: BTreeMap<String, String>,
    pub billing_mode: BillingMode,
    pub unit_price: Money,
    /// The wire field the quantity is sent as (`amount`, `diskSize`, `bandWidth`), if any.
    pub quantity_field: Option<String>,
    pub license_mode: Option<LicenseMode>,
    /// Renew automatically at expiry (new purchases only).
    #[serde(default)]
    pub auto_renew: bool,
    /// Upgrades: the SKU and quantity before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_sku_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_quantity: Option<u32>,
    /// The buyer details the product asked to send to the seller, as they were at purchase.
    #[serde(default, skip_serializing_if = "BuyerContact::is_empty")]
    pub buyer: BuyerContact,
    /// The extra fields the buyer filled in (`saasExtendParams`), in the product's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extend_params: Vec<ExtendValue>,
    /// On-demand: the Step/Tier rating the product had when the order was placed (`None`: the
    /// flat `unit_price` per unit of usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage_price: Option<crate::metering::PriceMode>,
    /// Usage package: what the package SKU gave when the order was placed (quota per billing
    /// item, reset, stop-when-exhausted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub package: Option<crate::metering::package::PackageDef>,
    /// Hardware: where the goods go, captured at order time (business rules §3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// The product's supervision flag at purchase (decides supervision of SaaS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub supervised: bool,
    /// Supervised SaaS opened when the buyer accepts (§3.2), not at payment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_after_acceptance: bool,
    /// The sales scenario fixed at order creation (business rules §3.1).
    #[serde(default, skip_serializing_if = "is_general")]
    pub sales_scenario: crate::supervision::SalesScenario,
}

impl OrderSnapshot {
    /// Whether a seller call opens what was bought (SaaS, and Licenses other than the ones
    /// delivered by hand under supervision); otherwise the instance opens in Souk alone.
    pub fn seller_opens(&self) -> bool {
        self.delivery_type.needs_integration()
            && self.license_mode.is_none_or(LicenseMode::calls_seller)
    }
}

fn is_general(s: &crate::supervision::SalesScenario) -> bool {
    *s == crate::supervision::SalesScenario::General
}

/// The recipient of a hardware order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    #[schema(example = "Li Lei")]
    pub name: String,
    #[schema(example = "+8613800000000")]
    pub phone: String,
    #[schema(example = "1 Example Road, Shenzhen")]
    pub address: String,
}

/// Buyer details a product may have sent to its seller (KooGallery newInstance's
/// `customerName`, `userId`, `userName`, `mobilePhone`, `email`). Plain text here; the phone and
/// e-mail are encrypted with the product's key size when they go on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BuyerContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl BuyerContact {
    pub fn is_empty(&self) -> bool {
        *self == BuyerContact::default()
    }
}

/// One extra field's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtendValue {
    pub name: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_written_before_buyer_details_still_read() {
        let old = r#"{"product_name":"Acme","delivery_type":"saas","sku_code":"S1",
            "wire_product_id":"P1","attributes":{"edition":"pro"},"billing_mode":"monthly",
            "unit_price":{"amount_minor":1000,"currency":"CNY"},"quantity_field":"amount",
            "license_mode":null,"auto_renew":true}"#;
        let s: OrderSnapshot = serde_json::from_str(old).unwrap();
        assert!(s.auto_renew);
        assert!(s.buyer.is_empty());
        assert_eq!(s.attributes["edition"], "pro");
        let round: OrderSnapshot =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(round, s);
    }
}
