//! Supervision flows per delivery type, review, appeals, timers.

use super::*;

backend_test!(
    manual_service_runs_the_standard_flow_and_starts_validity_at_the_declared_start,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let paid_at = at(&order["paid_at"]);
        let s = supervision(&app, &m.buyer_key, id).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(
            s.body["flow"],
            json!([
                "submit_requirement",
                "confirm_requirement",
                "implement",
                "deliver_proof",
                "buyer_accept",
                "completed"
            ])
        );
        assert_eq!(s.body["waiting_for"], "buyer");
        let seller_msgs = messages_of(&app, &m.buyer_key).await;
        assert!(
            seller_msgs
                .iter()
                .any(|n| n["kind"] == "supervision_waiting"),
            "{seller_msgs:?}"
        );

        // Out of turn: 409 naming the node that waits and who acts there.
        let early = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "confirm_requirement"}),
        )
        .await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
        assert_eq!(early.body["error"]["code"], "out_of_turn");
        assert_eq!(early.body["error"]["details"]["node"], "submit_requirement");
        assert_eq!(early.body["error"]["details"]["waiting_for"], "buyer");

        act(
            &app,
            &m.buyer_key,
            id,
            json!({"action": "submit_requirement", "requirement": "A shop"}),
        )
        .await;
        let no_reason = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "reject_requirement", "reason": "  "}),
        )
        .await;
        assert_eq!(
            no_reason.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            no_reason.text
        );
        let back = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "reject_requirement", "reason": "Which languages?"}),
        )
        .await;
        assert_eq!(back["node"], "submit_requirement");
        to_implementation(&app, &m, id, "A shop in English and Chinese").await;

        app.advance(Duration::days(3)).await;
        let start = paid_at + Duration::days(1);
        let start = start.replace_millisecond(start.millisecond()).unwrap();
        let too_early = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence(),
            "actual_start": (paid_at - Duration::hours(1)).format(&Rfc3339).unwrap()}),
        )
        .await;
        assert_eq!(
            too_early.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            too_early.text
        );
        assert_eq!(too_early.body["error"]["details"]["field"], "actual_start");
        let s = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence(),
            "actual_start": start.format(&Rfc3339).unwrap()}),
        )
        .await;
        assert_eq!(s["node"], "buyer_accept");
        assert_eq!(
            at(&s["actual_start"]),
            start,
            "shown to the buyer before acceptance"
        );
        assert_eq!(m.order(&app, id).await["state"], "processing");

        let done = act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(done["node"], "completed");
        assert_eq!(done["accepted_by"], "buyer");
        assert_eq!(done["waiting_for"], Value::Null);
        let o = m.order(&app, id).await;
        assert_eq!(o["state"], "completed", "{o}");
        let instance = m.instance(&app, o["instance_id"].as_str().unwrap()).await;
        assert_eq!(instance["state"], "active");
        // One month from the declared actual start, not from payment or acceptance.
        assert_eq!(
            Some(at(&instance["expire_at"])),
            souk_core::order::add_months(start, 1),
            "{instance}"
        );

        // The whole log, in order, with actors and reasons.
        let log = done["log"].as_array().unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(
            actions,
            [
                "start",
                "submit_requirement",
                "reject_requirement",
                "submit_requirement",
                "confirm_requirement",
                "implement",
                "deliver_proof",
                "accept"
            ]
        );
        assert_eq!(log[2]["actor"], "seller");
        assert_eq!(log[2]["reason"], "Which languages?");
        assert_eq!(log[2]["actor_id"], m.seller_id.as_str());
        assert_eq!(
            log[6]["payload"]["evidence"][0]["kind"],
            "acceptance_report"
        );
        let again = try_act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(
            again.body["error"]["code"], "supervision_completed",
            "{}",
            again.text
        );

        // A stranger sees nothing: 404, as for an order that does not exist.
        let (_, other_key) = app.party("buyers", "Other Buyer").await;
        let hidden = supervision(&app, &other_key, id).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
        let hidden = try_act(&app, &other_key, id, json!({"action": "accept"})).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    }
);

backend_test!(
    the_supervision_log_is_append_only_in_the_database,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        assert_eq!(
            supervision(&app, &m.seller_key, id).await.body["log"][0]["action"],
            "start"
        );
        let db = app.stop().await;
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let update =
            sqlx::query("UPDATE supervision_log SET reason = 'rewritten' WHERE order_id = $1")
                .bind(id)
                .execute(&pool)
                .await;
        assert!(update.is_err(), "UPDATE on supervision_log must be refused");
        let delete = sqlx::query("DELETE FROM supervision_log WHERE order_id = $1")
            .bind(id)
            .execute(&pool)
            .await;
        assert!(delete.is_err(), "DELETE on supervision_log must be refused");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM supervision_log WHERE order_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
);

backend_test!(
    hardware_needs_a_recipient_ships_with_tracking_and_auto_accepts_after_a_paused_appeal,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "hardware", json!({})).await;
        let r = app
            .post(
                "/v1/buyers",
                &app.operator_key,
                json!({"name": "Phone Buyer", "mobile_phone": "+8613800000000"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let buyer_id = r.body["id"].as_str().unwrap().to_owned();
        let k = app
            .post(
                &format!("/v1/buyers/{buyer_id}/api-keys"),
                &app.operator_key,
                json!({}),
            )
            .await;
        let buyer_key = k.body["secret"].as_str().unwrap().to_owned();
        top_up(&app, &buyer_id, 100_000).await;

        let missing = app
            .post(
                "/v1/orders",
                &buyer_key,
                json!({"sku_id": sku, "billing_mode": "one_time"}),
            )
            .await;
        assert_eq!(
            missing.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            missing.text
        );
        assert_eq!(missing.body["error"]["details"]["field"], "recipient");
        let placed = app.post("/v1/orders", &buyer_key, json!({"sku_id": sku, "billing_mode": "one_time",
            "recipient": {"name": "Li Lei", "phone": "+8613800000000", "address": "1 Example Road, Shenzhen"}})).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!(placed.body["snapshot"]["recipient"]["name"], "Li Lei");
        let id = placed.body["id"].as_str().unwrap().to_owned();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &buyer_key, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);

        let s = supervision(&app, &buyer_key, &id).await.body;
        assert_eq!(s["flow"], json!(["implement", "buyer_accept", "completed"]));
        let untracked = try_act(&app, &m.seller_key, &id, json!({"action": "implement"})).await;
        assert_eq!(
            untracked.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            untracked.text
        );
        let shipped = act(&app, &m.seller_key, &id, json!({"action": "implement", "carrier": "SF Express", "tracking_number": "SF1234567890"})).await;
        assert_eq!(shipped["tracking_number"], "SF1234567890");
        let left = at(&shipped["deadline"]) - app.clock.now();
        assert!(
            left <= Duration::days(10) && left > Duration::days(10) - Duration::minutes(1),
            "{left}"
        );

        // Day 4: the buyer appeals; the timer pauses with 6 days left.
        app.advance(Duration::days(4)).await;
        let frozen = act(
            &app,
            &buyer_key,
            &id,
            json!({"action": "appeal", "reason": "Box arrived damaged", "demand": "Replace it"}),
        )
        .await;
        assert_eq!(frozen["deadline"], Value::Null);
        assert_eq!(frozen["waiting_for"], "operator");
        let blocked = try_act(&app, &buyer_key, &id, json!({"action": "accept"})).await;
        assert_eq!(
            blocked.body["error"]["code"], "appeal_open",
            "{}",
            blocked.text
        );
        let ops = messages_of(&app, &app.operator_key).await;
        assert!(ops.iter().any(|n| n["kind"] == "appeal_opened"), "{ops:?}");
        app.advance(Duration::days(30)).await;
        assert_eq!(
            supervision(&app, &buyer_key, &id).await.body["node"],
            "buyer_accept",
            "frozen: no auto-accept"
        );

        let resumed = act(&app, &app.operator_key, &id, json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "Carrier claim filed; goods usable"})).await;
        let left = at(&resumed["deadline"]) - app.clock.now();
        assert!(
            left <= Duration::days(6) && left > Duration::days(6) - Duration::minutes(1),
            "resumes with the time left: {left}"
        );
        app.advance(Duration::days(5)).await;
        assert_eq!(
            supervision(&app, &buyer_key, &id).await.body["node"],
            "buyer_accept"
        );
        app.advance(Duration::days(1)).await;
        let done = supervision(&app, &buyer_key, &id).await.body;
        assert_eq!(done["node"], "completed", "{done}");
        assert_eq!(done["accepted_by"], "system");
        let o = app.get(&format!("/v1/orders/{id}"), &buyer_key).await.body;
        assert_eq!(o["state"], "completed");
        let log = done["log"].as_array().unwrap();
        let resolution = log
            .iter()
            .find(|e| e["action"] == "resolve_appeal")
            .unwrap();
        assert_eq!(resolution["actor"], "operator");
        assert_eq!(resolution["payload"]["outcome"], "dismiss");
        assert_eq!(log.last().unwrap()["actor"], "system");
    }
);

backend_test!(
    an_empowerment_order_passes_platform_review_before_acceptance,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": sku, "billing_mode": "monthly", "sales_scenario": "empowerment"}),
            )
            .await;
        let id = order["id"].as_str().unwrap();
        to_implementation(&app, &m, id, "Daily CSV export").await;
        let s = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        assert_eq!(s["node"], "platform_review");
        assert_eq!(s["waiting_for"], "operator");
        let buyer_try = try_act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(
            buyer_try.body["error"]["details"]["node"], "platform_review",
            "{}",
            buyer_try.text
        );
        let returned = act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "return_review", "reason": "Needs the signed acceptance form"}),
        )
        .await;
        assert_eq!(returned["node"], "deliver_proof");
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        let passed = act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "pass_review"}),
        )
        .await;
        assert_eq!(passed["node"], "buyer_accept");
        act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        m.wait_order(&app, id, "completed").await;

        // A general-scenario order of the same product skips review.
        let plain = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let flow = supervision(&app, &m.buyer_key, plain["id"].as_str().unwrap())
            .await
            .body["flow"]
            .clone();
        assert!(
            !flow.as_array().unwrap().contains(&json!("platform_review")),
            "{flow}"
        );
    }
);

backend_test!(
    buyer_rejections_unlock_the_sellers_appeal_and_operators_resolve_it,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let appeal = json!({"action": "appeal", "reason": "The buyer rejects working deliveries", "demand": "Accept the delivery"});
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        to_acceptance(&app, &m, id).await;
        for round in 1..=3 {
            let locked = try_act(&app, &m.seller_key, id, appeal.clone()).await;
            assert_eq!(
                locked.body["error"]["code"], "appeal_locked",
                "round {round}: {}",
                locked.text
            );
            act(
                &app,
                &m.buyer_key,
                id,
                json!({"action": "reject_delivery", "reason": format!("Not right, round {round}")}),
            )
            .await;
            act(&app, &m.seller_key, id, json!({"action": "implement"})).await;
            act(
                &app,
                &m.seller_key,
                id,
                json!({"action": "deliver_proof", "evidence": evidence()}),
            )
            .await;
        }
        let s = act(&app, &m.seller_key, id, appeal.clone()).await;
        assert_eq!(s["rejections"], 3);
        assert_eq!(s["appeal"]["by"], "seller");
        let not_operator = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "resolve_appeal", "outcome": "force_accept", "reason": "mine"}),
        )
        .await;
        assert_eq!(
            not_operator.status,
            StatusCode::CONFLICT,
            "{}",
            not_operator.text
        );
        let forced = act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "force_accept", "reason": "Evidence shows a working delivery"})).await;
        assert_eq!(forced["node"], "completed");
        assert_eq!(forced["accepted_by"], "operator");
        m.wait_order(&app, id, "completed").await;

        // Return-to-node: the flow goes back to the node the operator names.
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        to_acceptance(&app, &m, id).await;
        act(&app, &m.buyer_key, id, json!({"action": "appeal", "reason": "Half the pages are missing", "demand": "Finish the site"})).await;
        let bad = try_act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "return_to", "node": "platform_review", "reason": "x"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let back = act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "return_to", "node": "implement", "reason": "Finish the missing pages"})).await;
        assert_eq!(back["node"], "implement");
        assert_eq!(back["appeal"], Value::Null);
        let none = try_act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "x"}),
        )
        .await;
        assert_eq!(none.body["error"]["code"], "no_appeal", "{}", none.text);
        act(&app, &m.seller_key, id, json!({"action": "implement"})).await;
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        // The buyer stays silent: the system accepts after the configured 7 days.
        app.advance(Duration::days(7)).await;
        let done = supervision(&app, &m.buyer_key, id).await.body;
        assert_eq!(done["accepted_by"], "system", "{done}");
    }
);

backend_test!(
    flagged_saas_opens_at_the_seller_but_completes_only_on_acceptance,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = &flagged_saas(&app, &m).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let instance = order["instance_id"].as_str().unwrap();
        m.wait_instance(&app, instance, "active").await;
        assert_eq!(
            m.order(&app, id).await["state"],
            "processing",
            "the seller opened it; supervision goes on"
        );
        to_acceptance(&app, &m, id).await;
        act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        m.wait_order(&app, id, "completed").await;
    }
);

backend_test!(
    image_products_are_bought_and_open_at_once_without_supervision,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "image", json!({})).await;
        let placed = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": sku, "billing_mode": "monthly"}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
            .await;
        assert_eq!(paid.body["state"], "completed", "{}", paid.text);
        let s = supervision(&app, &m.buyer_key, id).await;
        assert_eq!(s.status, StatusCode::NOT_FOUND);
        assert_eq!(s.body["error"]["code"], "not_supervised");
        let i = m
            .instance(&app, paid.body["instance_id"].as_str().unwrap())
            .await;
        assert_eq!(i["state"], "active");
        let manual = listed(&app, &m, "manual_service", json!({})).await;
        let with_recipient = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": manual, "billing_mode": "monthly",
            "recipient": {"name": "x", "phone": "1234", "address": "y"}}),
            )
            .await;
        assert_eq!(
            with_recipient.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            with_recipient.text
        );
    }
);

backend_test!(
    the_buyer_is_reminded_a_day_before_auto_acceptance_and_both_parties_after_180_days,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let kind_count =
            |msgs: &[Value], kind: &str| msgs.iter().filter(|n| n["kind"] == kind).count();
        let a = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let a = a["id"].as_str().unwrap().to_owned();
        to_acceptance(&app, &m, &a).await;
        app.advance(Duration::days(5)).await;
        assert_eq!(
            kind_count(
                &messages_of(&app, &m.buyer_key).await,
                "supervision_auto_accept_soon"
            ),
            0
        );
        app.advance(Duration::days(1) + Duration::minutes(1)).await;
        app.advance(Duration::hours(1)).await;
        assert_eq!(
            kind_count(
                &messages_of(&app, &m.buyer_key).await,
                "supervision_auto_accept_soon"
            ),
            1,
            "once"
        );
        let s = supervision(&app, &m.buyer_key, &a).await.body;
        assert!(
            s["log"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "auto_accept_reminder"),
            "{s}"
        );

        // An order stuck at the requirement for 180 days: both parties hear it, once.
        let b = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let b = b["id"].as_str().unwrap().to_owned();
        app.advance(Duration::days(180) + Duration::minutes(1))
            .await;
        app.advance(Duration::days(1)).await;
        assert_eq!(
            kind_count(&messages_of(&app, &m.buyer_key).await, "supervision_stale"),
            1
        );
        assert_eq!(
            kind_count(&messages_of(&app, &m.seller_key).await, "supervision_stale"),
            1
        );
        assert_eq!(
            supervision(&app, &m.buyer_key, &b).await.body["node"],
            "submit_requirement"
        );
    }
);
