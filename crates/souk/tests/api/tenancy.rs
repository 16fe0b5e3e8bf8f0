//! Tenant isolation, checked against the whole API rather than the paths someone remembered:
//! every operation in `/v1/openapi.json` with an id in its path is called by another tenant
//! (a seller, a buyer and a reseller of their own) with tenant A's real ids, and must answer
//! exactly as it does for an id that does not exist: 404 `not_found`. The one other answer
//! allowed is a 403 that the same call also gets for a missing id (a role check that reveals
//! nothing about the resource).

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use crate::licenses::{access_key, buy_codes, license_market};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use std::collections::BTreeSet;

/// Tenant A's resources, by the placeholder names the document uses.
struct TenantA {
    seller_id: String,
    buyer_id: String,
    draft_product: String,
    draft_sku: String,
    revision: String,
    order: String,
    instance: String,
    license_instance: String,
    code: String,
    call: String,
    access_key_id: String,
    api_key_id: String,
    statement: String,
    attachment: String,
    authorisation: String,
    offer: String,
    reseller_statement: String,
    reseller_invoice: String,
    invoice: String,
    voucher: String,
    fee_invoice: String,
}

async fn tenant_a(app: &TestApp) -> TenantA {
    let ex = example_seller(app, |_| {}).await;
    let m = market(app, Proto::V2, ex).await;
    // A listed product is public; what must stay private is a draft, a revision under review,
    // orders, instances, calls, keys and balances.
    let draft = app
        .post(
            "/v1/products",
            &m.seller_key,
            product_body("Acme Draft", Proto::V2, "https://isv.acme.example/produce"),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
    let revised = app
        .send(
            app.http
                .patch(app.url(&format!("/v1/products/{}", m.product_id)))
                .bearer_auth(&m.seller_key)
                .json(&json!({"description": "Hosted monitoring, now with alerts."})),
        )
        .await;
    assert_eq!(revised.status, StatusCode::OK, "{}", revised.text);
    let bought = m
        .buy(app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
        .await;
    let instance = bought["instance_id"].as_str().unwrap().to_owned();
    m.wait_instance(app, &instance, "active").await;
    let calls = app
        .get(&format!("/v1/instances/{instance}/calls"), &m.seller_key)
        .await;
    assert_eq!(calls.status, StatusCode::OK, "{}", calls.text);

    let lic = license_market(
        app,
        Proto::V2,
        "souk_codes",
        example_seller(app, |_| {}).await,
    )
    .await;
    let (license_instance, codes) = buy_codes(app, &lic, 1).await;
    access_key(app, &lic.seller_id, &lic.seller_key).await;
    let aks = app
        .get(
            &format!("/v1/sellers/{}/access-keys", lic.seller_id),
            &lic.seller_key,
        )
        .await;
    let keys = app
        .get(
            &format!("/v1/sellers/{}/api-keys", m.seller_id),
            &app.operator_key,
        )
        .await;
    let order_id = bought["id"].as_str().unwrap().to_owned();
    let attached = app
        .send(
            app.http
                .post(app.url(&format!(
                    "/v1/orders/{order_id}/attachments?filename=requirements.txt"
                )))
                .bearer_auth(&m.buyer_key)
                .header("content-type", "text/plain")
                .body("Five pages, English and Chinese."),
        )
        .await;
    assert_eq!(attached.status, StatusCode::CREATED, "{}", attached.text);
    // A reseller authorised on the product sells through an exclusive offer link.
    let (reseller_id, reseller) = app.party("resellers", "Reseller A").await;
    let (auth, offer, via) =
        crate::reseller_invoices::sell_through_offer(app, &m, &reseller_id, &reseller).await;
    // The buyer asks for an invoice for that order.
    let invoice = app
        .post(
            &format!("/v1/orders/{}/invoices", via["id"].as_str().unwrap()),
            &m.buyer_key,
            json!({"invoice_type": "general", "title": "Buyer A", "email": "ap@a.example"}),
        )
        .await;
    assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.text);
    // The seller gives the buyer a voucher.
    let voucher_until = app.clock.now() + time::Duration::days(400);
    let voucher = app
        .post(
            "/v1/vouchers",
            &m.seller_key,
            json!({"buyer_id": m.buyer_id, "face_value": {"amount_minor": 500, "currency": "CNY"},
                   "valid_until": voucher_until.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(voucher.status, StatusCode::CREATED, "{}", voucher.text);
    // A settled month: move to the next run day (day 7 of the next month in the business zone)
    // so the timer passes issue tenant A's statement (and, on the 3rd, its reseller's).
    let zone = time::macros::offset!(+8);
    let month = souk_core::settlement::Period::containing(app.clock.now(), zone);
    let run = month.run_at(7, zone) + time::Duration::minutes(1);
    app.advance(run - app.clock.now()).await;
    let statements = app.get("/v1/statements", &m.seller_key).await;
    let statement = statements.body["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no statement: {}", statements.text))
        .to_owned();
    // The statement paid, and the platform's fee invoice requested for it.
    crate::fee_invoices::pay(app, &m.seller_key, &statement).await;
    let fee_invoice = app
        .post(
            "/v1/fee-invoices",
            &m.seller_key,
            json!({"statement_ids": [statement], "invoice_type": "digital_general",
                   "title": "Acme A", "email": "ap@acme-a.example"}),
        )
        .await;
    assert_eq!(
        fee_invoice.status,
        StatusCode::CREATED,
        "{}",
        fee_invoice.text
    );
    let rst = app.get("/v1/reseller-statements", &reseller).await;
    let reseller_statement = rst.body["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no reseller statement: {}", rst.text))
        .to_owned();
    // The reseller's invoice for its statement (uploaded, not submitted).
    let reseller_invoice = crate::reseller_invoices::upload(
        app,
        &reseller,
        &reseller_statement,
        "invoice_number=T-1&amount_minor=1&tax_rate_bp=600",
        b"%PDF",
    )
    .await;
    assert_eq!(
        reseller_invoice.status,
        StatusCode::CREATED,
        "{}",
        reseller_invoice.text
    );
    TenantA {
        reseller_invoice: reseller_invoice.body["id"].as_str().unwrap().to_owned(),
        authorisation: auth["id"].as_str().unwrap().to_owned(),
        offer: offer["id"].as_str().unwrap().to_owned(),
        reseller_statement,
        invoice: invoice.body["id"].as_str().unwrap().to_owned(),
        voucher: voucher.body["id"].as_str().unwrap().to_owned(),
        fee_invoice: fee_invoice.body["id"].as_str().unwrap().to_owned(),
        attachment: attached.body["id"].as_str().unwrap().to_owned(),
        seller_id: m.seller_id.clone(),
        buyer_id: m.buyer_id.clone(),
        draft_product: draft.body["id"].as_str().unwrap().to_owned(),
        draft_sku: draft.body["skus"][0]["id"].as_str().unwrap().to_owned(),
        revision: revised.body["pending_revision"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no pending revision: {}", revised.text))
            .to_owned(),
        order: bought["id"].as_str().unwrap().to_owned(),
        instance,
        license_instance,
        code: codes[0].clone(),
        call: calls.body["data"][0]["id"].as_str().unwrap().to_owned(),
        access_key_id: aks.body["data"][0]["id"].as_str().unwrap().to_owned(),
        api_key_id: keys.body["data"][0]["id"].as_str().unwrap().to_owned(),
        statement,
    }
}

/// The value for a path parameter: tenant A's id, or (when `real` is false) an id of the same
/// shape that does not exist.
fn fill(template: &str, a: &TenantA, real: bool) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        let before = &out;
        let value = match name {
            "collection" => {
                // Decided by the id that follows; filled in below.
                "{collection}".to_owned()
            }
            "id" if before.ends_with("/v1/products/") => pick(real, &a.draft_product, "prd_"),
            "sku_id" => pick(real, &a.draft_sku, "sku_"),
            "id" if before.ends_with("/v1/revisions/") => pick(real, &a.revision, "rev_"),
            "id" if before.ends_with("/v1/sellers/") => pick(real, &a.seller_id, "sel_"),
            "id" if before.ends_with("/v1/buyers/") => pick(real, &a.buyer_id, "buy_"),
            "id" if before.ends_with("/v1/access-keys/") => pick(real, &a.access_key_id, "ak_"),
            "id" if before.ends_with("/v1/orders/") => pick(real, &a.order, "ord_"),
            "id" if before.ends_with("/v1/calls/") => pick(real, &a.call, "job_"),
            "id" if before.ends_with("/v1/instances/") => {
                if rest[end..].starts_with("}/license-codes") {
                    pick(real, &a.license_instance, "ins_")
                } else {
                    pick(real, &a.instance, "ins_")
                }
            }
            "id" if before.ends_with("/v1/{collection}/") => pick(real, &a.seller_id, "sel_"),
            "id" if before.ends_with("/v1/statements/") => pick(real, &a.statement, "stm_"),
            "id" if before.ends_with("/v1/reseller-authorisations/") => {
                pick(real, &a.authorisation, "rau_")
            }
            "id" if before.ends_with("/v1/reseller-offers/") => pick(real, &a.offer, "ofr_"),
            "id" if before.ends_with("/v1/reseller-statements/") => {
                pick(real, &a.reseller_statement, "rst_")
            }
            "id" if before.ends_with("/v1/invoices/") => pick(real, &a.invoice, "ivc_"),
            "id" if before.ends_with("/v1/vouchers/") => pick(real, &a.voucher, "vch_"),
            "id" if before.ends_with("/v1/fee-invoices/") => pick(real, &a.fee_invoice, "fiv_"),
            "key_id" => pick(real, &a.api_key_id, "key_"),
            "attachment_id" => pick(real, &a.attachment, "att_"),
            "invoice_id" => pick(real, &a.reseller_invoice, "rsi_"),
            "code" => pick(real, &a.code, "ZZZZ-"),
            "fingerprint" => "machine-1".to_owned(),
            other => panic!(
                "{template}: no tenant-A id for path parameter `{other}`; teach tests/api/tenancy.rs \
                 which resource it names"
            ),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace("{collection}", "sellers")
}

fn pick(real: bool, id: &str, prefix: &str) -> String {
    if real {
        return id.to_owned();
    }
    // Same kind and length, different value.
    let tail: String = id[prefix.len().min(id.len())..]
        .chars()
        .map(|c| if c == 'Z' { 'Y' } else { 'Z' })
        .collect();
    format!("{}{tail}", &id[..prefix.len().min(id.len())])
}

/// A body the operation accepts, so that validation cannot answer before the lookup does.
fn body_for(method: &str, template: &str) -> Option<Value> {
    let b = match (method, template) {
        ("patch", "/v1/products/{id}") => json!({"name": "Mine now"}),
        ("post", t) if t.ends_with("/reject") => json!({"reason": "not yours"}),
        ("put", "/v1/products/{id}/integration") => {
            json!({"protocol": "v2", "production_url": "https://evil.example/x", "key": "k"})
        }
        ("put", "/v1/products/{id}/license-policy") => {
            json!({"seats": 1, "heartbeat_window_seconds": 600, "activations_per_hour": 10})
        }
        ("put", "/v1/products/{id}/usage-price") => json!({"mode": "fixed"}),
        ("put", "/v1/products/{id}/usage-packages") => json!({"packages": []}),
        ("post", "/v1/instances/{id}/usage-adjustments") => {
            json!({"amount": {"amount_minor": 100, "currency": "CNY"}, "reason": "probe"})
        }
        ("post", "/v1/instances/{id}/renew") => json!({"periods": 1}),
        ("post", "/v1/instances/{id}/upgrade") => json!({"quantity": 2}),
        ("put", "/v1/instances/{id}/auto-renew") => json!({"auto_renew": true}),
        ("put", "/v1/products/{id}/fee-policy") => json!({"rate_bp": 300}),
        ("put", "/v1/buyers/{id}/association-exclusions") => json!({"flags": []}),
        ("post", "/v1/statements/{id}/transitions") => {
            json!({"action": "countersign"})
        }
        ("post", "/v1/reseller-statements/{id}/transitions") => {
            json!({"action": "submit_invoice"})
        }
        ("post", "/v1/orders/{id}/invoices") => {
            json!({"invoice_type": "general", "title": "Not yours", "email": "x@b.example"})
        }
        ("post", "/v1/invoices/{id}/actions") => json!({"action": "reject", "reason": "probe"}),
        ("post", "/v1/fee-invoices/{id}/actions") => {
            json!({"action": "reject", "reason": "probe"})
        }
        ("post", "/v1/orders/{id}/supervision/actions") => json!({"action": "accept"}),
        ("post", "/v1/reseller-authorisations/{id}/decision") => json!({"action": "revoke"}),
        ("post", "/v1/orders/{id}/refunds") => json!({"kind": "no_reason"}),
        ("post", "/v1/orders/{id}/refunds/decision") => json!({"decision": "withdraw"}),
        ("post", "/v1/buyers/{id}/balance/top-ups") => {
            json!({"amount": {"amount_minor": 100, "currency": "CNY"}})
        }
        ("put", "/v1/buyers/{id}/balance/credit-limit") => {
            json!({"limit": {"amount_minor": 100, "currency": "CNY"}})
        }
        ("patch", "/v1/{collection}/{id}") => json!({"status": "suspended"}),
        ("delete", _) | ("get", _) => return None,
        _ => json!({}),
    };
    Some(b)
}

async fn call(app: &TestApp, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut req = app.http.request(m, app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    app.send(req).await
}

backend_test!(
    every_path_answers_404_for_another_tenants_ids,
    |app: TestApp| async move {
        let a = tenant_a(&app).await;
        let (_, seller_b) = app.party("sellers", "Seller B").await;
        let (_, buyer_b) = app.party("buyers", "Buyer B").await;
        let (_, reseller_b) = app.party("resellers", "Reseller B").await;

        let doc = app.get("/v1/openapi.json", &app.operator_key).await.body;
        let mut operations: BTreeSet<(String, String)> = BTreeSet::new();
        for (template, item) in doc["paths"].as_object().unwrap() {
            let ids_in_path =
                template.matches('{').count() - template.matches("{collection}").count();
            // Protocol paths outside /v1 (e.g. the older usage push's `/v1.0/{partnerId}/…`)
            // are not reached with API keys but signed with the seller's AK/SK, and their
            // placeholder names the caller, not a resource; a record for another seller's
            // instance comes back abnormal (tests/api/metering.rs).
            if ids_in_path == 0 || !template.starts_with("/v1/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    operations.insert((template.clone(), method.to_owned()));
                }
            }
        }
        assert!(
            operations.len() >= 40,
            "only {} operations",
            operations.len()
        );

        let mut probes = 0;
        let mut leaks = Vec::new();
        for (template, method) in &operations {
            let real = fill(template, &a, true);
            let missing = fill(template, &a, false);
            for (role, key) in [
                ("seller", &seller_b),
                ("buyer", &buyer_b),
                ("reseller", &reseller_b),
            ] {
                probes += 1;
                let foreign = call(&app, key, method, &real, body_for(method, template)).await;
                if foreign.status == StatusCode::NOT_FOUND
                    && foreign.body["error"]["code"] == "not_found"
                {
                    continue;
                }
                let absent = call(&app, key, method, &missing, body_for(method, template)).await;
                let same_role_refusal = foreign.status == StatusCode::FORBIDDEN
                    && absent.status == StatusCode::FORBIDDEN
                    && foreign.body["error"]["code"] == absent.body["error"]["code"];
                if !same_role_refusal {
                    leaks.push(format!(
                        "{} {real} as {role}: {} {} (missing id: {} {})",
                        method.to_uppercase(),
                        foreign.status,
                        foreign.text,
                        absent.status,
                        absent.text
                    ));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} of {probes} probes leak:\n{}",
            leaks.len(),
            leaks.join("\n")
        );
        eprintln!(
            "tenancy walk: {probes} probes over {} operations",
            operations.len()
        );

        // And tenant A still has everything (nothing was changed by the probes).
        let order = app
            .get(&format!("/v1/orders/{}", a.order), &app.operator_key)
            .await;
        assert_eq!(order.status, StatusCode::OK);
        let party = app
            .get(&format!("/v1/sellers/{}", a.seller_id), &app.operator_key)
            .await;
        assert_eq!(party.body["status"], "active", "{}", party.text);
    }
);

backend_test!(
    each_party_sees_only_its_own_message_centre_the_operator_too,
    |app: TestApp| async move {
        // The market's product was approved: a `review_approved` notice for the seller.
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let seller_msgs = app.get("/v1/messages", &m.seller_key).await.body;
        let approved = seller_msgs["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "review_approved")
            .unwrap_or_else(|| panic!("{seller_msgs}"))
            .clone();
        let op = crate::console_support::operator_id(&app).await;
        let ops = app.get("/v1/messages?limit=200", &app.operator_key).await;
        assert_eq!(ops.status, StatusCode::OK, "{}", ops.text);
        for n in ops.body["data"].as_array().unwrap() {
            assert_eq!(n["party_id"], op.as_str(), "not the operator's: {n}");
        }
        // The console's message centre is the same list.
        crate::console_support::login_for(&app, &op, "ops@tenancy.example").await;
        let web = crate::console_support::Web::new(&app);
        web.login("ops@tenancy.example", crate::console_support::PASSWORD)
            .await;
        let page = web.get("/messages").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let id = approved["id"].as_str().unwrap();
        assert!(!page.text.contains(id), "the seller's notice {id} shown");
        let subject = approved["subject"].as_str().unwrap();
        assert!(!page.text.contains(subject), "{}", page.text);
        // And the seller still has it.
        crate::console_support::login_for(&app, &m.seller_id, "acme@tenancy.example").await;
        let seller = crate::console_support::Web::new(&app);
        seller
            .login("acme@tenancy.example", crate::console_support::PASSWORD)
            .await;
        let page = seller.get("/messages").await;
        assert!(page.text.contains(subject), "{}", page.text);
    }
);
