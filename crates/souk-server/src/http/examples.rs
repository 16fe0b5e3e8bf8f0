//! Examples of the OpenAPI document (`#[schema(example = …)]` and per-operation examples).
//!
//! Taken from a real `souk serve --demo` (ids, codes and times are as Souk wrote them), so that
//! every example is what the server really sends. A unit test in `openapi.rs` checks that every
//! operation of the document has one.

use serde_json::{json, Value};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("examples are valid JSON")
}

/// `GET /healthz`.
pub fn health() -> Value {
    parse(
        r##"{
  "status": "ok",
  "version": "0.1.0"
}"##,
    )
}

/// `GET /readyz`.
pub fn ready() -> Value {
    parse(
        r##"{
  "status": "ready",
  "database": "sqlite"
}"##,
    )
}

/// `GET /v1/me` as a seller.
pub fn me() -> Value {
    parse(
        r##"{
  "party": {
    "id": "sel_01m88tkgazscd4681cf497jnsf",
    "role": "seller",
    "name": "Demo Seller",
    "email": "seller@demo.example",
    "status": "active",
    "created_at": "2026-11-25T07:44:27.487Z",
    "updated_at": "2026-11-25T07:44:27.487Z"
  },
  "key_id": "key_01m88tkgb1vv118sbrccmrp03h"
}"##,
    )
}

/// A party (here a buyer just created).
pub fn party() -> Value {
    parse(
        r##"{
  "id": "buy_01m88tm9d65mzmdypn66ekt34v",
  "role": "buyer",
  "name": "Globex Ltd",
  "email": "it@globex.example",
  "status": "active",
  "created_at": "2026-11-25T07:44:53.158Z",
  "updated_at": "2026-11-25T07:44:53.158Z"
}"##,
    )
}

/// A key just issued: the secret is shown this once.
pub fn issued_key() -> Value {
    parse(
        r##"{
  "key": {
    "id": "key_01m88tm94218dftycjd989b8xp",
    "party_id": "sel_01m88tkgazscd4681cf497jnsf",
    "role": "seller",
    "label": "production",
    "display_prefix": "sk_sel_N42WJ",
    "created_at": "2026-11-25T07:44:52.866Z",
    "created_by": "op_01m88tkgaqjdk44sjyha2fa6sk",
    "revoked_at": null,
    "last_used_at": null
  },
  "secret": "sk_sel_N42WJ814mnVAuFnypyWDZCktk59oOeho"
}"##,
    )
}

/// A party's keys.
pub fn api_key_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "key_01m88tkgb1vv118sbrccmrp03h",
      "party_id": "sel_01m88tkgazscd4681cf497jnsf",
      "role": "seller",
      "label": "demo",
      "display_prefix": "sk_sel_MzeW9",
      "created_at": "2026-11-25T07:44:27.489Z",
      "created_by": "op_01m88tkgaqjdk44sjyha2fa6sk",
      "revoked_at": null,
      "last_used_at": "2026-11-25T07:44:27.494Z"
    }
  ],
  "next_cursor": null
}"##,
    )
}

/// A key as revoked.
pub fn api_key() -> Value {
    parse(
        r##"{
  "id": "key_01m88tkgb1vv118sbrccmrp03h",
  "party_id": "sel_01m88tkgazscd4681cf497jnsf",
  "role": "seller",
  "label": "demo",
  "display_prefix": "sk_sel_MzeW9",
  "created_at": "2026-11-25T07:44:27.489Z",
  "created_by": "op_01m88tkgaqjdk44sjyha2fa6sk",
  "revoked_at": "2026-11-25T08:02:11.406Z",
  "last_used_at": "2026-11-25T07:44:27.494Z"
}"##,
    )
}

/// An audit trail.
pub fn audit_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "aud_01m88tkgazae184jr4vbyd9k1r",
      "at": "2026-11-25T07:44:27.487Z",
      "actor_id": "op_01m88tkgaqjdk44sjyha2fa6sk",
      "action": "seller.created",
      "subject_id": "sel_01m88tkgazscd4681cf497jnsf",
      "detail": {
        "email": "seller@demo.example",
        "name": "Demo Seller"
      }
    },
    {
      "id": "aud_01m88tkgb1c97kerwmz03j82an",
      "at": "2026-11-25T07:44:27.489Z",
      "actor_id": "op_01m88tkgaqjdk44sjyha2fa6sk",
      "action": "api_key.created",
      "subject_id": "sel_01m88tkgazscd4681cf497jnsf",
      "detail": {
        "key_id": "key_01m88tkgb1vv118sbrccmrp03h",
        "label": "demo"
      }
    }
  ]
}"##,
    )
}

/// A listed SaaS product as its seller sees it.
pub fn product() -> Value {
    parse(
        r##"{
  "id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "status": "listed",
  "name": "Demo Monitor",
  "delivery_type": "saas",
  "category": "devops/monitoring",
  "description": "Hosted monitoring for small teams, sold through Souk's demo marketplace.",
  "usage_guide": "Sign in at the frontEndUrl with the credentials shown on your instance.",
  "service_agreement": {
    "content": "Hosted monitoring with 99.9% monthly availability and e-mail support.",
    "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
    "phone": "+86 10 1234 5678",
    "email": "support@demo.example"
  },
  "supervised": false,
  "currency": "CNY",
  "enum_attributes": [
    {
      "name": "edition",
      "values": [
        "basic",
        "pro"
      ]
    }
  ],
  "quantity": {
    "name": "users",
    "unit": "user",
    "min": 1,
    "max": 100,
    "wire_field": "amount"
  },
  "prices": [
    {
      "sku": {
        "edition": "basic"
      },
      "billing_mode": "monthly",
      "amount_minor": 1000,
      "trial_days": null
    },
    {
      "sku": {
        "edition": "basic"
      },
      "billing_mode": "yearly",
      "amount_minor": 10000,
      "trial_days": null
    },
    {
      "sku": {
        "edition": "pro"
      },
      "billing_mode": "monthly",
      "amount_minor": 3000,
      "trial_days": null
    },
    {
      "sku": {
        "edition": "pro"
      },
      "billing_mode": "yearly",
      "amount_minor": 30000,
      "trial_days": null
    },
    {
      "sku": {},
      "billing_mode": "trial",
      "amount_minor": 0,
      "trial_days": 14
    }
  ],
  "skus": [
    {
      "id": "sku_01m88tkgbdtcjmb5jbgstjq0vk",
      "sku_code": "0dad36ff4255589e4a8628cafc5091e1",
      "attributes": {
        "edition": "basic"
      },
      "status": "active",
      "prices": [
        {
          "billing_mode": "monthly",
          "unit_price": {
            "amount_minor": 1000,
            "currency": "CNY"
          },
          "wire_product_id": "40b914910e7484e546ed348e5c9c470f"
        },
        {
          "billing_mode": "yearly",
          "unit_price": {
            "amount_minor": 10000,
            "currency": "CNY"
          },
          "wire_product_id": "a1fac68c8d6692d9ec85e9e064507d70"
        },
        {
          "billing_mode": "trial",
          "unit_price": {
            "amount_minor": 0,
            "currency": "CNY"
          },
          "trial_days": 14,
          "wire_product_id": "27ca4a0468316aa1221327521cae0cb0"
        }
      ]
    },
    {
      "id": "sku_01m88tkgbdvm2zstrmv07t3gwa",
      "sku_code": "c62f0a18b2889a209438da20cc10164d",
      "attributes": {
        "edition": "pro"
      },
      "status": "active",
      "prices": [
        {
          "billing_mode": "monthly",
          "unit_price": {
            "amount_minor": 3000,
            "currency": "CNY"
          },
          "wire_product_id": "9199daef6a596336237376707b074da0"
        },
        {
          "billing_mode": "yearly",
          "unit_price": {
            "amount_minor": 30000,
            "currency": "CNY"
          },
          "wire_product_id": "6cc2584ba4697fcf74c6338c7a28c3f2"
        },
        {
          "billing_mode": "trial",
          "unit_price": {
            "amount_minor": 0,
            "currency": "CNY"
          },
          "trial_days": 14,
          "wire_product_id": "cb24b1b5d68f2ee16caba44d9b8363d2"
        }
      ]
    }
  ],
  "integration": {
    "protocol": "v2",
    "production_url": "http://127.0.0.1:34567/produce",
    "key_set": true,
    "pii_encrypt_bits": 256,
    "buyer_fields": [],
    "updated_at": "2026-11-25T07:44:27.501Z"
  },
  "first_listed_at": "2026-11-25T07:44:27.517Z",
  "created_at": "2026-11-25T07:44:27.501Z",
  "updated_at": "2026-11-25T07:44:27.517Z"
}"##,
    )
}

/// A revision the operator rejected.
pub fn revision() -> Value {
    parse(
        r##"{
  "id": "rev_01m88tnypm7e2dmaj0tx6tt3mv",
  "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "status": "rejected",
  "reason": "The service agreement link is broken.",
  "proposed": {
    "name": "Demo Monitor",
    "delivery_type": "saas",
    "category": "devops/monitoring",
    "description": "Hosted monitoring for small teams, now with alert routing.",
    "usage_guide": "Sign in at the frontEndUrl with the credentials shown on your instance.",
    "service_agreement": {
      "content": "Hosted monitoring with 99.9% monthly availability and e-mail support.",
      "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
      "phone": "+86 10 1234 5678",
      "email": "support@demo.example"
    },
    "supervised": false,
    "currency": "CNY",
    "enum_attributes": [
      {
        "name": "edition",
        "values": [
          "basic",
          "pro"
        ]
      }
    ],
    "quantity": {
      "name": "users",
      "unit": "user",
      "min": 1,
      "max": 100,
      "wire_field": "amount"
    },
    "prices": [
      {
        "sku": {
          "edition": "basic"
        },
        "billing_mode": "monthly",
        "amount_minor": 1000,
        "trial_days": null
      },
      {
        "sku": {
          "edition": "basic"
        },
        "billing_mode": "yearly",
        "amount_minor": 10000,
        "trial_days": null
      },
      {
        "sku": {
          "edition": "pro"
        },
        "billing_mode": "monthly",
        "amount_minor": 3000,
        "trial_days": null
      },
      {
        "sku": {
          "edition": "pro"
        },
        "billing_mode": "yearly",
        "amount_minor": 30000,
        "trial_days": null
      },
      {
        "sku": {},
        "billing_mode": "trial",
        "amount_minor": 0,
        "trial_days": 14
      }
    ]
  },
  "created_at": "2026-11-25T07:45:47.732Z",
  "created_by": "sel_01m88tkgazscd4681cf497jnsf",
  "decided_at": "2026-11-25T07:45:48.107Z",
  "decided_by": "op_01m88tkgaqjdk44sjyha2fa6sk"
}"##,
    )
}

/// The review queue with one pending revision.
pub fn review_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
      "revision_id": "rev_01m88tnypm7e2dmaj0tx6tt3mv",
      "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
      "name": "Demo Monitor",
      "delivery_type": "saas",
      "submitted_at": "2026-11-25T07:45:47.732Z"
    }
  ]
}"##,
    )
}

/// An integration profile.
pub fn integration() -> Value {
    parse(
        r##"{
  "protocol": "v2",
  "production_url": "http://127.0.0.1:34567/produce",
  "key_set": true,
  "pii_encrypt_bits": 256,
  "buyer_fields": [],
  "updated_at": "2026-11-25T07:45:47.705Z"
}"##,
    )
}

/// One SKU with its prices.
pub fn sku() -> Value {
    parse(
        r##"{
  "id": "sku_01m88tkgbdtcjmb5jbgstjq0vk",
  "sku_code": "0dad36ff4255589e4a8628cafc5091e1",
  "attributes": {
    "edition": "basic"
  },
  "status": "active",
  "prices": [
    {
      "billing_mode": "monthly",
      "unit_price": {
        "amount_minor": 1000,
        "currency": "CNY"
      },
      "wire_product_id": "40b914910e7484e546ed348e5c9c470f"
    },
    {
      "billing_mode": "yearly",
      "unit_price": {
        "amount_minor": 10000,
        "currency": "CNY"
      },
      "wire_product_id": "a1fac68c8d6692d9ec85e9e064507d70"
    },
    {
      "billing_mode": "trial",
      "unit_price": {
        "amount_minor": 0,
        "currency": "CNY"
      },
      "trial_days": 14,
      "wire_product_id": "27ca4a0468316aa1221327521cae0cb0"
    }
  ]
}"##,
    )
}

/// A completed order.
pub fn order() -> Value {
    parse(
        r##"{
  "id": "ord_01m88tm50qk26gs1s1rxec5w1j",
  "kind": "new",
  "state": "completed",
  "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
  "sku_id": "sku_01m88tkgbdtcjmb5jbgstjq0vk",
  "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
  "term": {
    "kind": "period",
    "unit": "month",
    "count": 1
  },
  "quantity": 5,
  "amount": {
    "amount_minor": 5000,
    "currency": "CNY"
  },
  "voucher_id": null,
  "voucher_minor": 0,
  "cash": {
    "amount_minor": 5000,
    "currency": "CNY"
  },
  "snapshot": {
    "attributes": {
      "edition": "basic"
    },
    "auto_renew": false,
    "billing_mode": "monthly",
    "delivery_type": "saas",
    "license_mode": null,
    "product_name": "Demo Monitor",
    "quantity_field": "amount",
    "sku_code": "0dad36ff4255589e4a8628cafc5091e1",
    "unit_price": {
      "amount_minor": 1000,
      "currency": "CNY"
    },
    "wire_product_id": "40b914910e7484e546ed348e5c9c470f"
  },
  "pay_deadline": "2026-11-26T07:44:48.663Z",
  "created_at": "2026-11-25T07:44:48.663Z",
  "paid_at": "2026-11-25T07:44:49.083Z",
  "completed_at": "2026-11-25T07:44:49.115Z",
  "cancelled_at": null,
  "refunded_at": null,
  "failure_reason": null
}"##,
    )
}

/// An active instance, as its buyer sees it.
pub fn instance() -> Value {
    parse(
        r##"{
  "id": "ins_01m88tm50qnkj9xm5h0y3bz113",
  "state": "active",
  "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
  "sku_id": "sku_01m88tkgbdtcjmb5jbgstjq0vk",
  "origin_order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
  "delivery_type": "saas",
  "term": {
    "kind": "period",
    "unit": "month",
    "count": 1
  },
  "quantity": 5,
  "trial": false,
  "auto_renew": false,
  "expire_at": "2026-12-25T07:44:49.083Z",
  "seller_instance_id": "3af2b025-28f3-4f3c-ae17-1ab14860b655",
  "app_info": {
    "front_end_url": "https://example-seller.invalid/instances/3af2b025-28f3-4f3c-ae17-1ab14860b655",
    "admin_url": null,
    "user_name": "user-3af2b025",
    "password": "6FGT35vPDvIQ",
    "memo": null
  },
  "created_at": "2026-11-25T07:44:49.083Z",
  "opened_at": "2026-11-25T07:44:49.115Z",
  "released_at": null
}"##,
    )
}

/// A balance after a top-up.
pub fn balance() -> Value {
    parse(
        r##"{
  "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
  "balance": {
    "amount_minor": 1095000,
    "currency": "CNY"
  },
  "credit_limit": {
    "amount_minor": 0,
    "currency": "CNY"
  }
}"##,
    )
}

/// A buyer's ledger.
pub fn ledger_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "led_01m88tkgc5k2266vw7zqbrkcfy",
      "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
      "amount": {
        "amount_minor": 1000000,
        "currency": "CNY"
      },
      "kind": "top_up",
      "order_id": null,
      "memo": "demo money",
      "created_at": "2026-11-25T07:44:27.525Z"
    },
    {
      "id": "led_01m88tm5dvjbk6e6cthshfs3gx",
      "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
      "amount": {
        "amount_minor": -5000,
        "currency": "CNY"
      },
      "kind": "order_debit",
      "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
      "memo": null,
      "created_at": "2026-11-25T07:44:49.083Z"
    }
  ],
  "next_cursor": null
}"##,
    )
}

/// The sandbox clock.
pub fn clock() -> Value {
    parse(
        r##"{
  "now": "2026-11-25T07:44:52.771329106Z",
  "offset_seconds": 0
}"##,
    )
}

/// A call to the seller with its attempts.
pub fn call() -> Value {
    parse(
        r##"{
  "call": {
    "seq": 1,
    "id": "job_01m88tm5dvcj1ax47n76dky0rs",
    "kind": "new_instance",
    "state": "succeeded",
    "phase": "send",
    "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
    "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
    "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
    "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
    "payload": {},
    "attempts": 1,
    "first_attempt_at": "2026-11-25T07:44:49.089Z",
    "next_attempt_at": "2026-11-25T07:44:49.083Z",
    "last_error": null,
    "created_at": "2026-11-25T07:44:49.083Z",
    "finished_at": "2026-11-25T07:44:49.115Z"
  },
  "attempts": [
    {
      "id": "att_01m88tm5emzst7na3tef28b8xc",
      "job_id": "job_01m88tm5dvcj1ax47n76dky0rs",
      "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
      "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
      "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
      "activity": "newInstance",
      "business_id": "3af2b025-28f3-4f3c-ae17-1ab14860b655",
      "request": {
        "body": {
          "activity": "newInstance",
          "businessId": "3af2b025-28f3-4f3c-ae17-1ab14860b655",
          "orderId": "ord_01m88tm50qk26gs1s1rxec5w1j",
          "orderLineId": "ord_01m88tm50qk26gs1s1rxec5w1j-000001"
        },
        "method": "POST",
        "nonce": "1F641EEBCA61BC2BFDD4A20B2C42F838",
        "timestamp": 1795592689108,
        "url": "http://127.0.0.1:34567/produce"
      },
      "http_status": 200,
      "response_body": "{\"resultCode\":\"000000\",\"resultMsg\":\"success.\",\"encryptType\":\"1\",\"instanceId\":\"3af2b025-28f3-4f3c-ae17-1ab14860b655\",\"appInfo\":{\"frontEndUrl\":\"https://example-seller.invalid/instances/3af2b025-28f3-4f3c-ae17-1ab14860b655\",\"userName\":\"5vsnZ04eXXUqRiKJcf7ec8+Hq+pSsqSWNWce2A==\",\"password\":\"gEzaR7XWAbwpQQhyxbfWW+LasviVFEiX3ZK5QA==\"}}",
      "body_sign": "valid",
      "result_code": "000000",
      "outcome": "success",
      "error": null,
      "latency_ms": 6,
      "started_at": "2026-11-25T07:44:49.108Z"
    }
  ]
}"##,
    )
}

/// An instance's calls.
pub fn call_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "seq": 1,
      "id": "job_01m88tm5dvcj1ax47n76dky0rs",
      "kind": "new_instance",
      "state": "succeeded",
      "phase": "send",
      "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
      "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
      "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
      "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
      "payload": {},
      "attempts": 1,
      "first_attempt_at": "2026-11-25T07:44:49.089Z",
      "next_attempt_at": "2026-11-25T07:44:49.083Z",
      "last_error": null,
      "created_at": "2026-11-25T07:44:49.083Z",
      "finished_at": "2026-11-25T07:44:49.115Z"
    }
  ]
}"##,
    )
}

/// Interface messages: one attempt of a call.
pub fn attempt_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "att_01m88tm5emzst7na3tef28b8xc",
      "job_id": "job_01m88tm5dvcj1ax47n76dky0rs",
      "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
      "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
      "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
      "activity": "newInstance",
      "business_id": "3af2b025-28f3-4f3c-ae17-1ab14860b655",
      "request": {
        "body": {
          "activity": "newInstance",
          "businessId": "3af2b025-28f3-4f3c-ae17-1ab14860b655",
          "orderId": "ord_01m88tm50qk26gs1s1rxec5w1j",
          "orderLineId": "ord_01m88tm50qk26gs1s1rxec5w1j-000001"
        },
        "method": "POST",
        "nonce": "1F641EEBCA61BC2BFDD4A20B2C42F838",
        "timestamp": 1795592689108,
        "url": "http://127.0.0.1:34567/produce"
      },
      "http_status": 200,
      "response_body": "{\"resultCode\":\"000000\",\"resultMsg\":\"success.\",\"encryptType\":\"1\",\"instanceId\":\"3af2b025-28f3-4f3c-ae17-1ab14860b655\",\"appInfo\":{\"frontEndUrl\":\"https://example-seller.invalid/instances/3af2b025-28f3-4f3c-ae17-1ab14860b655\",\"userName\":\"5vsnZ04eXXUqRiKJcf7ec8+Hq+pSsqSWNWce2A==\",\"password\":\"gEzaR7XWAbwpQQhyxbfWW+LasviVFEiX3ZK5QA==\"}}",
      "body_sign": "valid",
      "result_code": "000000",
      "outcome": "success",
      "error": null,
      "latency_ms": 6,
      "started_at": "2026-11-25T07:44:49.108Z"
    }
  ],
  "next_cursor": null
}"##,
    )
}

/// A call after `retry`.
pub fn retried_call() -> Value {
    parse(
        r##"{
  "seq": 1,
  "id": "job_01m88tm5dvcj1ax47n76dky0rs",
  "kind": "new_instance",
  "state": "succeeded",
  "phase": "send",
  "instance_id": "ins_01m88tm50qnkj9xm5h0y3bz113",
  "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "product_id": "prd_01m88tkgbd2bx04pj4dfsqfz0p",
  "payload": {},
  "attempts": 1,
  "first_attempt_at": "2026-11-25T07:44:49.089Z",
  "next_attempt_at": "2026-11-25T07:44:49.083Z",
  "last_error": null,
  "created_at": "2026-11-25T07:44:49.083Z",
  "finished_at": "2026-11-25T07:44:49.115Z"
}"##,
    )
}

/// An AK/SK pair just created: the SK is shown this once.
pub fn access_key() -> Value {
    parse(
        r##"{
  "id": "aks_01m88tm96y4xr4c5x1qzymdf9c",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "access_key": "5L5V0E4OCOAGOQ13N1LV",
  "secret_key": "QIc8kaD7abbBeWq4vHtp5ot2R2r359z3Ismkup9b",
  "label": "license server",
  "created_at": "2026-11-25T07:44:52.958Z",
  "revoked_at": null
}"##,
    )
}

/// A seller's AK/SK pairs.
pub fn access_key_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "aks_01m88tm96y4xr4c5x1qzymdf9c",
      "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
      "access_key": "5L5V0E4OCOAGOQ13N1LV",
      "label": "license server",
      "created_at": "2026-11-25T07:44:52.958Z",
      "revoked_at": null
    }
  ]
}"##,
    )
}

/// The license-file signing keys (JWKS).
pub fn key_set() -> Value {
    parse(
        r##"{
  "keys": [
    {
      "kty": "OKP",
      "crv": "Ed25519",
      "alg": "EdDSA",
      "use": "sig",
      "kid": "lk_01m88tm99135a8rbs9cwxj02y0",
      "x": "KAaio-tnl613sguk8MHhazh55x45tckHjH6p6cbqPXk"
    }
  ]
}"##,
    )
}

/// An AK/SK pair as revoked.
pub fn access_key_revoked() -> Value {
    parse(
        r##"{
  "id": "aks_01m88tm96y4xr4c5x1qzymdf9c",
  "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
  "access_key": "5L5V0E4OCOAGOQ13N1LV",
  "label": "license server",
  "created_at": "2026-11-25T07:44:52.958Z",
  "revoked_at": "2026-11-25T08:05:40.120Z"
}"##,
    )
}

pub fn party_list() -> Value {
    json!({"data": [party()], "next_cursor": null})
}

pub fn product_list() -> Value {
    json!({"data": [product()], "next_cursor": null})
}

pub fn order_list() -> Value {
    json!({"data": [order()], "next_cursor": null})
}

pub fn instance_list() -> Value {
    json!({"data": [instance()], "next_cursor": null})
}

/// One license code with its machines (detail view).
pub fn code() -> Value {
    parse(
        r##"{
  "code": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E",
  "instance_id": "ins_01m88tq8k0c5j7d2f9w3h6xa1b",
  "ordinal": 1,
  "product_id": "prd_01m88tq1y3vt0f8h2x5kcmd9re",
  "sku_id": "sku_01m88tq1y3x2bq7a6d0w4znh5c",
  "order_id": "ord_01m88tq8k0a3m1c6y2e7g5rd4s",
  "state": "activated",
  "status": "ALIVE",
  "policy": {
    "seats": 5,
    "heartbeat_window_seconds": 600,
    "activations_per_hour": 20
  },
  "activated_at": "2026-11-25T08:09:40.512Z",
  "expire_at": "2027-11-25T08:09:12.337Z",
  "last_heartbeat_at": "2026-11-25T08:14:41.020Z",
  "machines": [
    {
      "fingerprint": "9f2c41d7-host-a",
      "activated_at": "2026-11-25T08:09:40.512Z",
      "last_seen_at": "2026-11-25T08:14:41.020Z",
      "deactivated_at": null,
      "live": true
    }
  ]
}"##,
    )
}

/// An offline license file (`payload` is base64url JSON; `signature` an Ed25519 signature over it).
pub fn license_file() -> Value {
    parse(
        r##"{
  "format": "souk-license/1",
  "key_id": "lk_01m88tm99135a8rbs9cwxj02y0",
  "payload": "eyJmb3JtYXQiOiJzb3VrLWxpY2Vuc2UvMSIsImtleV9pZCI6ImxrXzAxbTg4dG05OTEzNWE4cmJzOWN3eGowMnkwIiwiaXNzdWVyIjoic291ayIsImxpY2Vuc2VfY29kZSI6IlNPVUstN0tRMk0tWEg0VEQtOVJCV1AtQzNORkEtVjhaNkUiLCJwcm9kdWN0X2lkIjoicHJkXzAxbTg4dHExeTN2dDBmOGgyeDVrY21kOXJlIiwic2t1X2lkIjoic2t1XzAxbTg4dHExeTN4MmJxN2E2ZDB3NHpuaDVjIiwic2t1X2NvZGUiOiI1YjFmMGM5ZTJkN2E0ZTM4YjZjMWYwOWE3ZDNlMmI0MSIsImJ1eWVyX2lkIjoiYnV5XzAxbTg4dGtnYjI0bmRjYTA2c2ZycTR5Z2hmIiwiaW5zdGFuY2VfaWQiOiJpbnNfMDFtODh0cThrMGM1ajdkMmY5dzNoNnhhMWIiLCJtYWNoaW5lX2ZpbmdlcnByaW50IjoiOWYyYzQxZDctaG9zdC1hIiwiZW50aXRsZW1lbnRzIjp7InNlYXRzIjo1LCJxdWFudGl0eSI6MSwiYXR0cmlidXRlcyI6eyJlZGl0aW9uIjoicHJvIn19LCJpc3N1ZWRfYXQiOiIyMDI2LTExLTI1VDA4OjEwOjAwWiIsImxpY2Vuc2VfZXhwaXJlc19hdCI6IjIwMjctMTEtMjVUMDg6MDk6MTJaIiwiZmlsZV9leHBpcmVzX2F0IjoiMjAyNi0xMi0yNVQwODoxMDowMFoifQ",
  "signature": "tjF3GC6ep_lZ8nsyYHu1VZz3W2iOyhPyTBKkXo9UQR2xtPl_CesxqEn7uolmmZ-FyER2wIjOG-nZVdsPo3XXzQ"
}"##,
    )
}

/// A buyer's message centre.
pub fn message_list() -> Value {
    parse(
        r##"{
  "data": [
    {
      "id": "msg_01m88tr2v6y0d1k4c8h3e5n7qa",
      "party_id": "buy_01m88tkgb24ndca06sfrq4yghf",
      "kind": "order_refunded",
      "subject": "Order ord_01m88tq8k0a3m1c6y2e7g5rd4s could not be delivered and was refunded",
      "body": "The seller's system did not open your purchase in time (seller answered resultCode 000005). 50.00 CNY was returned to your balance.",
      "ref_id": "ord_01m88tq8k0a3m1c6y2e7g5rd4s",
      "created_at": "2026-11-25T08:20:03.114Z"
    }
  ],
  "next_cursor": null
}"##,
    )
}

/// The codes of an instance (the list view has no `machines`).
pub fn code_list() -> Value {
    let mut code = code();
    if let Some(fields) = code.as_object_mut() {
        fields.remove("machines");
    }
    json!({ "data": [code] })
}

/// The License open API's answer to an activation (v1).
pub fn license_activated() -> Value {
    let info = json!({
        "status": "ALIVE",
        "expire_time": "20271125080912",
        "product_id": "prd_01m88tq1y3vt0f8h2x5kcmd9re",
        "order_id": "ord_01m88tq8k0a3m1c6y2e7g5rd4s",
        "amount": "1",
    });
    json!({
        "error_code": "92020000",
        "error_msg": "success",
        "data": {
            "license_code": "SOUK-7KQ2M-XH4TD-9RBWP-C3NFA-V8Z6E",
            "status": "ALIVE",
            "activate_time": "20261125080940",
            "effective_time": "20261125080912",
            "expire_time": "20271125080912",
            "product_id": "prd_01m88tq1y3vt0f8h2x5kcmd9re",
            "sku_id": "sku_01m88tq1y3x2bq7a6d0w4znh5c",
            "order_id": "ord_01m88tq8k0a3m1c6y2e7g5rd4s",
            "instance_id": "ins_01m88tq8k0c5j7d2f9w3h6xa1b",
            "amount": "1",
            "seats": 5,
            "machines_in_use": 1,
            "souk_state": "active",
            "license_code_info": info.to_string(),
        }
    })
}

/// The License open API's refusal of a request whose AK/SK signature does not verify.
pub fn apig_refusal() -> Value {
    json!({
        "error_code": "APIG.0301",
        "error_msg": "AK/SK authentication failed: unknown access key",
        "souk_reason": "unknown_access_key",
    })
}

/// The order query's answer (KooGallery's shape).
pub fn order_query() -> Value {
    json!({
        "resultCode": "MKT.0000",
        "resultMsg": "success",
        "orderInfo": {
            "orderId": "ord_01m88tm50qk26gs1s1rxec5w1j",
            "orderType": "NEW",
            "createTime": "20261125074448",
            "orderLine": [{
                "orderLineId": "ord_01m88tm50qk26gs1s1rxec5w1j-000001",
                "chargingMode": "PERIOD",
                "currency": "CNY",
                "amount": 5000,
                "amountUnit": "minor",
                "productInfo": [{
                    "skuCode": "0dad36ff4255589e4a8628cafc5091e1",
                    "productId": "40b914910e7484e546ed348e5c9c470f",
                    "productName": "Demo Monitor",
                    "linearValue": 5
                }],
                "periodType": "month",
                "periodNumber": 1,
                "expireTime": "20261225074449"
            }],
            "buyerInfo": {"customerId": "buy_01m88tkgb24ndca06sfrq4yghf", "customerName": "Demo Buyer"},
            "extendParams": []
        }
    })
}
