//! Examples of the reseller operations in the OpenAPI document, as the server writes them.

use serde_json::{json, Value};

const RESELLER: &str = "rsl_01m88tkh2q7c4w9e3r5t6y8v0a";
const SELLER: &str = "sel_01m88tkgazscd4681cf497jnsf";
const BUYER: &str = "buy_01m88tkhx5b7n9m2k4j6h8g0f3";
const PRODUCT: &str = "prd_01m88tkgbdtcjmb5jbgstjq0vk";
const ORDER: &str = "ord_01m88tn3x2q9c8v7b6n5m4k3j2";
const OFFER: &str = "ofr_01m8a2h3k4m5n6p7q8r9s0t1v2";
const STATEMENT: &str = "rst_01m8a2h3k4m5n6p7q8r9s0t1v2";

pub fn invitation() -> Value {
    json!({"token": "inv_01m8a1z9c4w7e2r5t8y3v6b0n1", "link": "/invite/inv_01m8a1z9c4w7e2r5t8y3v6b0n1",
        "created_at": "2026-12-01T08:30:00Z"})
}

pub fn invitation_list() -> Value {
    json!({"data": [invitation()]})
}

pub fn associated() -> Value {
    json!({"reseller_id": RESELLER})
}

pub fn customer_list() -> Value {
    json!({"data": [{"buyer_id": BUYER, "name": "Hangzhou Example Co., Ltd.",
        "associated_at": "2026-12-01T09:12:45Z"}]})
}

pub fn authorisation() -> Value {
    json!({"id": "rau_01m8a2h3k4m5n6p7q8r9s0t1v2", "seller_id": SELLER, "reseller_id": RESELLER,
        "product_id": PRODUCT, "state": "active", "formula": "deal_price", "share_bp": 1000,
        "max_discount_bp": 2000, "vat_product_bp": 0, "vat_service_bp": 0, "reason": null,
        "created_at": "2026-12-01T10:00:00Z"})
}

pub fn authorisation_list() -> Value {
    json!({"data": [authorisation()], "next_cursor": null})
}

pub fn offer() -> Value {
    json!({"id": OFFER, "reseller_id": RESELLER, "product_id": PRODUCT,
        "sku_id": "sku_01m8a2h3k4m5n6p7q8r9s0t1v2", "billing_mode": "monthly",
        "unit_price": {"amount_minor": 850, "currency": "CNY"},
        "valid_from": "2026-12-01T10:05:00Z", "valid_until": "2026-12-31T16:00:00Z",
        "token": "lnk_01m8a2h4x7c2v5b8n1m4k7j0h3", "link": "/offer/lnk_01m8a2h4x7c2v5b8n1m4k7j0h3"})
}

/// What the buyer holding the link sees: no token.
pub fn offer_link() -> Value {
    let mut v = offer();
    v["token"] = Value::Null;
    v["link"] = Value::Null;
    v
}

pub fn offer_list() -> Value {
    json!({"data": [offer()], "next_cursor": null})
}

fn performance_row() -> Value {
    json!({"order_id": ORDER, "buyer_id": BUYER, "product_id": PRODUCT, "kind": "new",
        "state": "completed", "paid_at": "2026-12-02T03:15:20Z", "currency": "CNY",
        "amount_minor": 850, "refunded_minor": 0, "offer_id": OFFER, "commission": "85.0000"})
}

pub fn performance() -> Value {
    json!({"orders": [performance_row()],
        "customers": [{"buyer_id": BUYER, "orders": 1, "amount_minor": 850, "refunded_minor": 0,
            "commission": "85.0000"}]})
}

pub const PERFORMANCE_CSV: &str = "order_id,buyer_id,product_id,kind,state,paid_at,currency,amount_minor,refunded_minor,offer_id,commission\r\nord_01m88tn3x2q9c8v7b6n5m4k3j2,buy_01m88tkhx5b7n9m2k4j6h8g0f3,prd_01m88tkgbdtcjmb5jbgstjq0vk,new,completed,2026-12-02T03:15:20Z,CNY,850,0,ofr_01m8a2h3k4m5n6p7q8r9s0t1v2,85.0000\r\n";

pub fn run_report() -> Value {
    json!({"period": "202611", "statements_issued": 3, "resellers_skipped": 0, "items_settled": 41})
}

pub fn statement() -> Value {
    json!({"id": STATEMENT, "reseller_id": RESELLER, "period": "202611", "currency": "CNY",
        "state": "awaiting_invoice",
        "totals": {"sales_minor": 850, "refunds_minor": 0, "commission_minor": 85,
            "carried_in_minor": 0, "net_minor": 85, "payable_minor": 85, "carried_forward_minor": 0},
        "issued_at": "2026-12-06T16:00:00Z", "invoice_due_at": "2027-01-06T16:00:00Z",
        "overdue": false, "reason": null, "payout_due_at": null, "payout_overdue": false})
}

pub fn statement_detail() -> Value {
    let mut v = statement();
    v["lines"] = json!([{"kind": "opening", "source_id": ORDER, "order_id": ORDER,
        "occurred_at": "2026-11-25T07:45:01Z", "amount_minor": 850, "commission": "85.0000"}]);
    v
}

pub fn statement_list() -> Value {
    json!({"data": [statement()], "next_cursor": null})
}

pub const STATEMENT_CSV: &str = "statement_id,period,currency,kind,source_id,order_id,occurred_at,amount_minor,commission\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,202611,CNY,opening,ord_01m88tn3x2q9c8v7b6n5m4k3j2,ord_01m88tn3x2q9c8v7b6n5m4k3j2,2026-11-25T07:45:01Z,850,85.0000\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,sales_minor,850\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,refunds_minor,0\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,commission_minor,85\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,carried_in_minor,0\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,net_minor,85\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,payable_minor,85\r\nrst_01m8a2h3k4m5n6p7q8r9s0t1v2,total,carried_forward_minor,0\r\n";

pub fn invoice() -> Value {
    json!({"id": "rsi_01m8a2h3k4m5n6p7q8r9s0t1v2", "statement_id": STATEMENT,
        "invoice_number": "044002300111-20261208", "invoice_type": "special",
        "amount": {"amount_minor": 85, "currency": "CNY"}, "tax_rate_bp": 600,
        "filename": "invoice-202611.pdf", "content_type": "application/pdf", "size_bytes": 48213,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "state": "uploaded", "created_at": "2026-12-08T02:10:00Z"})
}

pub fn invoice_list() -> Value {
    json!({"data": [invoice()]})
}
