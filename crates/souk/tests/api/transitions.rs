//! State changes are the core's decisions, persisted by the store with a compare-and-set on the
//! state they were decided from: a change decided from a state the row has left is a lost race
//! that changes nothing (no state, no money, no calls, no audit line).

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use serde_json::json;
use souk_core::clock::Clock;
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::{InstanceEvent, InstanceState};
use souk_core::transition::StateMachine;
use souk_store::{InstanceChange, PayError, Scope, StatementMove, StoreError};

async fn active_instance(app: &TestApp, m: &Market) -> InstanceId {
    let order = m
        .buy(app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
        .await;
    let id = order["instance_id"].as_str().unwrap();
    m.wait_instance(app, id, "active").await;
    InstanceId::parse(id).unwrap()
}

async fn state_of(app: &TestApp, id: &InstanceId) -> InstanceState {
    app.state
        .store
        .find_instance(&Scope::Everything, id)
        .await
        .unwrap()
        .unwrap()
        .state
}

backend_test!(
    a_timer_move_decided_from_a_stale_state_changes_nothing,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V2, ex).await;
        let id = active_instance(&app, &m).await;
        let now = app.clock.now();
        let store = &app.state.store;

        // A freeze decided while the instance was (believed) in grace: it is active, so the
        // compare-and-set finds no row, nothing moves and no seller call is queued.
        let stale = InstanceState::Grace
            .transition(InstanceEvent::Freeze)
            .unwrap();
        let freeze_job = souk_server::usecase::orders::status_job(
            &store
                .find_instance(&Scope::Everything, &id)
                .await
                .unwrap()
                .unwrap(),
            souk_core::provisioning::CallKind::FreezeInstance,
        );
        assert!(!store
            .apply_timer(&id, stale, vec![freeze_job], now)
            .await
            .unwrap());
        assert_eq!(state_of(&app, &id).await, InstanceState::Active);
        let calls = store
            .jobs_of_instance(&Scope::Everything, &id)
            .await
            .unwrap();
        assert_eq!(calls.len(), 1, "only the opening call: {calls:?}");

        // The same move decided from the real state goes through.
        let expire = InstanceState::Active
            .transition(InstanceEvent::Expire)
            .unwrap();
        assert!(store.apply_timer(&id, expire, vec![], now).await.unwrap());
        assert_eq!(state_of(&app, &id).await, InstanceState::Grace);
        // ... once: replaying it is the lost race again.
        assert!(!store.apply_timer(&id, expire, vec![], now).await.unwrap());
        assert_eq!(state_of(&app, &id).await, InstanceState::Grace);
    }
);

backend_test!(
    a_payment_decided_from_a_stale_instance_state_is_refused_whole,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let id = active_instance(&app, &m).await;
        let placed = app
            .post(
                &format!("/v1/instances/{id}/renew"),
                &m.buyer_key,
                json!({"periods": 1}),
            )
            .await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        let order_id = OrderId::parse(placed.body["id"].as_str().unwrap()).unwrap();
        let before = balance(&app, &m).await;

        // The renewal was decided while the instance was in grace; it is active.
        let stale = InstanceChange {
            transition: InstanceState::Grace
                .transition(InstanceEvent::Renew)
                .unwrap(),
            expire_at: None,
            period_start: None,
            term: None,
            trial: None,
            complete_order: false,
        };
        let buyer = souk_core::party::PartyId::from_trusted(m.buyer_id.clone());
        let refused = app
            .state
            .store
            .pay_order(
                &buyer,
                &order_id,
                None,
                Some(stale),
                vec![],
                app.clock.now(),
            )
            .await;
        assert!(
            matches!(
                refused,
                Err(PayError::InstanceChanged(InstanceState::Active))
            ),
            "{refused:?}"
        );
        // Nothing of the payment stays: no debit, the order still waits, no call queued.
        assert_eq!(balance(&app, &m).await, before);
        assert_eq!(
            m.order(&app, order_id.as_str()).await["state"],
            "pending_payment"
        );
        let calls = app
            .state
            .store
            .jobs_of_instance(&Scope::Everything, &id)
            .await
            .unwrap();
        assert_eq!(calls.len(), 1, "only the opening call: {calls:?}");

        // Paid through the API, the use case decides from the real state and it goes through.
        let paid = app
            .post(
                &format!("/v1/orders/{order_id}/pay"),
                &m.buyer_key,
                json!({}),
            )
            .await;
        assert_eq!(paid.status, 200, "{}", paid.text);
        m.wait_order(&app, order_id.as_str(), "completed").await;
    }
);

backend_test!(
    a_statement_move_decided_from_a_stale_state_changes_nothing,
    |app: TestApp| async move {
        use crate::settlement::{advance_to, detail, scenario, statements, transition, ZONE};
        use souk_core::party::{PartyId, Role};
        use souk_core::settlement::notice::statement_moved;
        use souk_core::settlement::{StatementAction, StatementState};
        let s = scenario(&app).await;
        advance_to(&app, s.month.run_at(7, ZONE) + time::Duration::minutes(1)).await;
        let id = statements(&app, &app.operator_key, &s.month).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let op = app.operator_key.clone();
        let r = transition(&app, &op, &id, json!({"action": "countersign"})).await;
        assert_eq!(r.body["state"], "awaiting_invoice", "{}", r.text);

        // A second countersign decided from the state read before the first landed: the
        // compare-and-set on `countersign` finds no row — a lost race, and nothing is written.
        let stale = StatementState::Countersign
            .take(StatementAction::Countersign, Role::Operator)
            .unwrap();
        let m = StatementMove {
            id: id.clone(),
            transition: stale,
            action: StatementAction::Countersign,
            reason: None,
            invoice_number: None,
            invoice_file: None,
            notice: statement_moved(&id, stale.to, None),
            due_at: None,
        };
        let seller = PartyId::from_trusted(s.m.seller_id.clone());
        let err = app
            .state
            .store
            .move_statement(&Scope::Everything, &m, Some(&seller), app.clock.now())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::LostRace { .. }), "{err:?}");
        let st = detail(&app, &s.m.seller_key, &id).await;
        assert_eq!(st["state"], "awaiting_invoice");
        assert_eq!(st["history"].as_array().unwrap().len(), 2, "{st}");
        let told = app
            .get("/v1/messages?limit=200", &s.m.seller_key)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "statement_state")
            .count();
        assert_eq!(told, 1, "no notice for a move that did not happen");
    }
);
