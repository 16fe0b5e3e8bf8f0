//! The settlement run issues statements in batches, one transaction per batch (issue 12,
//! performance): a statement the database refuses — the seller already has one for the period,
//! or one of its sources is already settled — is left out whole, and the rest of its batch is
//! issued whole: its lines, ledger movements and notice, nothing of the refused one.

use crate::backend_test;
use crate::harness::TestApp;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::money::{Currency, Money};
use souk_core::party::PartyId;
use souk_core::settlement::notice::statement_issued;
use souk_core::settlement::{
    compute, FeePolicy, Item, LineKind, Period, Rate, StatementInput, StatementState,
};
use souk_core::transition::StateMachine;
use souk_store::{NewStatement, Page, Scope, StatementFilter, StatementRecord};
use time::{Duration, OffsetDateTime, UtcOffset};

/// A statement of `seller` for `period` issued at `now` settling a 10.00 sale per source.
fn statement(now: OffsetDateTime, seller: &str, period: &str, sources: &[&str]) -> NewStatement {
    let period = Period::parse(period).unwrap();
    let start = period.start(UtcOffset::UTC);
    let input = StatementInput {
        period_start: start,
        items: sources
            .iter()
            .map(|s| Item {
                kind: LineKind::Opening,
                source_id: (*s).to_owned(),
                order_id: Some(OrderId::from_trusted((*s).to_owned())),
                product_id: Some("prd_batch".to_owned()),
                amount_minor: 1_000,
                occurred_at: start + Duration::hours(1),
                commission: None,
            })
            .collect(),
        policies: Default::default(),
        default_policy: FeePolicy::flat(Rate::from_bp(500).unwrap()),
        carried_in_minor: 0,
    };
    let computed = compute(&input).unwrap();
    let id = souk_core::id::generate("stm", now);
    NewStatement {
        record: StatementRecord {
            id: id.clone(),
            seller_id: PartyId::from_trusted(seller.to_owned()),
            period: period.id(),
            currency: Currency::CNY,
            state: StatementState::START,
            period_start: start,
            totals: computed.totals,
            policies: input.policies,
            default_policy: input.default_policy,
            invoice_number: None,
            issued_at: now,
            updated_at: now,
            due_at: None,
        },
        notice: statement_issued(
            &period.id(),
            &id,
            Money::new(computed.totals.net_minor, Currency::CNY),
        ),
        lines: computed.lines,
        usage_charges: Vec::new(),
    }
}

backend_test!(
    a_refused_statement_leaves_its_batch_whole,
    |app: TestApp| async move {
        let (a, _) = app.party("sellers", "Seller A").await;
        let (b, _) = app.party("sellers", "Seller B").await;
        let store = &app.state.store;
        // To the millisecond, as the database keeps it.
        let now = from_unix_ms(to_unix_ms(app.state.clock.now()));
        let first = statement(now, &a, "202601", &["src_a1"]);
        assert_eq!(store.issue_statements(&[first], now).await.unwrap(), [true]);

        let batch = [
            // A already has its January statement.
            statement(now, &a, "202601", &["src_a2"]),
            statement(now, &b, "202601", &["src_b1", "src_b2"]),
            // src_a1 is settled already.
            statement(now, &b, "202602", &["src_b3", "src_a1"]),
            statement(now, &a, "202602", &["src_a3"]),
        ];
        let issued = store.issue_statements(&batch, now).await.unwrap();
        assert_eq!(issued, [false, true, false, true]);

        for (n, issued) in batch.iter().zip(issued) {
            let stored = store.statement(&Scope::Everything, &n.record.id).await;
            let lines = store.statement_lines(&n.record.id).await.unwrap();
            if issued {
                assert_eq!(stored.unwrap().as_ref(), Some(&n.record));
                assert_eq!(lines, n.lines);
            } else {
                assert_eq!(stored.unwrap(), None);
                assert!(lines.is_empty());
            }
        }
        let all = store
            .list_statements(
                &Scope::Everything,
                &StatementFilter::default(),
                &Page {
                    limit: 100,
                    after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        // The ledger has the movements of the three issued statements only, each balanced.
        assert!(store.unbalanced_movements().await.unwrap().is_empty());
        let receipts: i64 = store
            .account_balances()
            .await
            .unwrap()
            .iter()
            .filter(|b| b.account == souk_store::accounts::BUYER_RECEIPTS)
            .map(|b| b.balance_minor)
            .sum();
        assert_eq!(receipts, -4 * 1_000);
    }
);
