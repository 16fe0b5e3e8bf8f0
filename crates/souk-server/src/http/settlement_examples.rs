//! Examples of the settlement operations in the OpenAPI document, as the server writes them.

use serde_json::{json, Value};

pub fn fee_policy_body() -> Value {
    json!({"rate_bp": 500, "tiers": [{"from_minor": 0, "rate_bp": 500}, {"from_minor": 1000000, "rate_bp": 400}, {"from_minor": 5000000, "rate_bp": 300}]})
}

pub fn fee_policy_view() -> Value {
    json!({"product_id": "prd_01m88tkgbdtcjmb5jbgstjq0vk", "default": false,
        "policy": {"rate_bp": 500, "tiers": [{"from_minor": 0, "rate_bp": 500}, {"from_minor": 1000000, "rate_bp": 400}], "seller_share_bp": null}})
}

pub fn run_report() -> Value {
    json!({"period": "202611", "statements_issued": 12, "sellers_skipped": 0, "items_settled": 3481})
}

pub fn adjustment_body() -> Value {
    json!({"seller_id": "sel_01m88tkgazscd4681cf497jnsf", "kind": "refund",
        "order_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2", "amount": {"amount_minor": -1000, "currency": "CNY"},
        "reason": "negotiated refund 5f3 approved after the November statement"})
}

pub fn check_report() -> Value {
    json!({"statements_checked": 12, "accounts_checked": 27, "orders_checked_against_buyer_ledger": true, "discrepancies": []})
}

pub fn statement() -> Value {
    json!({
        "id": "stm_01m8a2h3k4m5n6p7q8r9s0t1v2", "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
        "period": "202611", "currency": "CNY", "state": "countersign",
        "totals": {"gross_minor": 4000, "refunds_minor": 0, "adjustments_minor": 0,
            "platform_fee_minor": 200, "rebate_minor": 0, "commission_minor": 0,
            "carried_in_minor": 0, "net_minor": 3800, "payable_minor": 3800, "carried_forward_minor": 0},
        "invoice_number": null,
        "issued_at": "2026-12-06T16:00:00.120Z", "updated_at": "2026-12-06T16:00:00.120Z"
    })
}

pub fn statement_detail() -> Value {
    let mut v = statement();
    v["lines"] = json!([{"kind": "opening", "source_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2",
        "order_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2", "product_id": "prd_01m88tkgbdtcjmb5jbgstjq0vk",
        "occurred_at": "2026-11-25T07:45:01.003Z", "carried": false, "amount_minor": 4000,
        "platform_fee": "200.0000", "rebate": "0.0000", "commission": "0.0000", "net": "3800.0000"}]);
    v["history"] = json!([{"id": "aud_01m8a2h3k4m5n6p7q8r9s0t1v3", "at": "2026-12-06T16:00:00.120Z",
        "actor_id": null, "action": "statement.issued", "subject_id": "stm_01m8a2h3k4m5n6p7q8r9s0t1v2",
        "detail": {"period": "202611", "currency": "CNY", "lines": 1, "net_minor": 3800}}]);
    v
}

pub fn statement_list() -> Value {
    json!({"data": [statement()], "next_cursor": null})
}

pub const CSV_EXAMPLE: &str = "statement_id,period,currency,kind,source_id,order_id,product_id,occurred_at,carried,amount_minor,platform_fee,rebate,commission,net\r\nstm_01m8a2h3k4m5n6p7q8r9s0t1v2,202611,CNY,opening,ord_01m88tn3x2q9c8v7b6n5m4k3j2,ord_01m88tn3x2q9c8v7b6n5m4k3j2,prd_01m88tkgbdtcjmb5jbgstjq0vk,2026-11-25T07:45:01.003Z,false,4000,200.0000,0.0000,0.0000,3800.0000\r\nstm_01m8a2h3k4m5n6p7q8r9s0t1v2,total,net_minor,3800\r\n";
