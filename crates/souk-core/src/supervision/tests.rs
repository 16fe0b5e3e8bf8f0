//! The supervision state machine, step by step on a fixed clock.

use super::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn standard(review: bool) -> Supervision {
    let flow = flow_for(DeliveryType::ManualService, false, review).unwrap();
    Supervision::start(flow, false, false, T0)
}

fn step(s: &Supervision, a: Actor, act: Action, at: OffsetDateTime) -> Supervision {
    decide(s, a, &act, &SupervisionPolicy::default(), at)
        .unwrap_or_else(|e| panic!("{act:?}: {e}"))
        .next
}

fn proof(start: Option<OffsetDateTime>) -> Action {
    Action::DeliverProof {
        evidence: vec![Evidence {
            kind: "acceptance_report".into(),
            description: "signed report".into(),
            signed_by: vec!["seller".into()],
            remote: false,
            attachments: vec![],
        }],
        actual_start: start,
    }
}

#[test]
fn flows_follow_the_delivery_type() {
    use Node::*;
    assert_eq!(
        flow_for(DeliveryType::Hardware, false, true).unwrap(),
        vec![Implement, PlatformReview, BuyerAccept, Completed]
    );
    assert_eq!(flow_for(DeliveryType::Saas, false, false), None);
    assert_eq!(flow_for(DeliveryType::Image, false, false), None);
    assert_eq!(
        flow_for(DeliveryType::Saas, true, false).unwrap()[0],
        SubmitRequirement
    );
}

#[test]
fn a_standard_flow_runs_to_completion_and_sets_the_validity_start() {
    let mut s = standard(true);
    let req = Action::SubmitRequirement {
        requirement: "a shop".into(),
        attachments: vec![],
    };
    s = step(&s, Actor::Buyer, req, T0);
    s = step(&s, Actor::Seller, Action::ConfirmRequirement, T0);
    s = step(
        &s,
        Actor::Seller,
        Action::Implement {
            carrier: None,
            tracking_number: None,
            license: None,
        },
        T0,
    );
    let day2 = T0 + Duration::days(2);
    s = step(&s, Actor::Seller, proof(Some(T0 + Duration::days(1))), day2);
    assert_eq!(s.node, Node::PlatformReview);
    s = step(&s, Actor::Operator, Action::PassReview, day2);
    assert_eq!(s.deadline, Some(day2 + Duration::days(7)));
    let r = decide(
        &s,
        Actor::Buyer,
        &Action::Accept,
        &SupervisionPolicy::default(),
        day2,
    )
    .unwrap();
    assert!(r.completed);
    assert_eq!(r.next.validity_start(), Some(T0 + Duration::days(1)));
    assert_eq!(r.next.accepted_by, Some(Actor::Buyer));
}

#[test]
fn acting_out_of_turn_names_the_waiting_node() {
    let s = standard(false);
    let e = decide(
        &s,
        Actor::Seller,
        &Action::ConfirmRequirement,
        &SupervisionPolicy::default(),
        T0,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SupervisionError::OutOfTurn {
            node: Node::SubmitRequirement,
            actor: Actor::Buyer,
            by: Actor::Seller,
            action: "confirm_requirement"
        }
    );
}

#[test]
fn the_actual_start_must_lie_between_payment_and_now() {
    let mut s = standard(false);
    s.node = Node::DeliverProof;
    let p = SupervisionPolicy::default();
    for bad in [T0 - Duration::hours(1), T0 + Duration::days(3)] {
        let e = decide(
            &s,
            Actor::Seller,
            &proof(Some(bad)),
            &p,
            T0 + Duration::days(2),
        );
        assert!(matches!(
            e,
            Err(SupervisionError::Invalid("actual_start", _))
        ));
    }
}

#[test]
fn rejections_unlock_the_sellers_appeal_and_appeals_pause_the_timer() {
    let p = SupervisionPolicy::default();
    let mut s = standard(false);
    s.node = Node::Implement;
    let appeal = Action::Appeal {
        reason: "buyer keeps rejecting".into(),
        demand: "accept".into(),
    };
    for i in 0..3 {
        assert!(
            matches!(
                decide(&s, Actor::Seller, &appeal, &p, T0),
                Err(SupervisionError::AppealLocked { .. })
            ),
            "locked after {i} rejections"
        );
        s = step(
            &s,
            Actor::Seller,
            Action::Implement {
                carrier: None,
                tracking_number: None,
                license: None,
            },
            T0,
        );
        s = step(&s, Actor::Seller, proof(None), T0);
        s = step(
            &s,
            Actor::Buyer,
            Action::RejectDelivery {
                reason: "no".into(),
            },
            T0,
        );
    }
    s = step(
        &s,
        Actor::Seller,
        Action::Implement {
            carrier: None,
            tracking_number: None,
            license: None,
        },
        T0,
    );
    s = step(&s, Actor::Seller, proof(None), T0);
    assert_eq!(s.deadline, Some(T0 + Duration::days(7)));
    let frozen = step(&s, Actor::Seller, appeal, T0 + Duration::days(2));
    assert_eq!(frozen.deadline, None);
    assert_eq!(frozen.waiting_for(), Some(Actor::Operator));
    assert_eq!(
        decide(&frozen, Actor::Buyer, &Action::Accept, &p, T0),
        Err(SupervisionError::Frozen)
    );
    let resumed = step(
        &frozen,
        Actor::Operator,
        Action::ResolveAppeal {
            outcome: Resolution::Dismiss,
            node: None,
            amount: None,
            reason: "carry on".into(),
        },
        T0 + Duration::days(10),
    );
    assert_eq!(
        resumed.deadline,
        Some(T0 + Duration::days(15)),
        "5 days were left"
    );
}

#[test]
fn an_idle_buyer_side_node_unlocks_the_sellers_appeal() {
    let p = SupervisionPolicy::default();
    let s = standard(false);
    let appeal = Action::Appeal {
        reason: "silent".into(),
        demand: "close".into(),
    };
    assert!(decide(&s, Actor::Seller, &appeal, &p, T0 + Duration::days(4)).is_err());
    assert!(decide(&s, Actor::Seller, &appeal, &p, T0 + Duration::days(5)).is_ok());
    assert!(
        decide(&s, Actor::Buyer, &appeal, &p, T0).is_ok(),
        "buyers appeal any time"
    );
}

#[test]
fn resolutions_force_accept_or_return_to_a_node() {
    let s = standard(false);
    let open = step(
        &s,
        Actor::Buyer,
        Action::Appeal {
            reason: "r".into(),
            demand: "d".into(),
        },
        T0,
    );
    let forced = decide(
        &open,
        Actor::Operator,
        &Action::ResolveAppeal {
            outcome: Resolution::ForceAccept,
            node: None,
            amount: None,
            reason: "ok".into(),
        },
        &SupervisionPolicy::default(),
        T0,
    )
    .unwrap();
    assert!(forced.completed);
    assert_eq!(forced.next.accepted_by, Some(Actor::Operator));
    let back = step(
        &open,
        Actor::Operator,
        Action::ResolveAppeal {
            outcome: Resolution::ReturnTo,
            node: Some(Node::Implement),
            amount: None,
            reason: "redo".into(),
        },
        T0,
    );
    assert_eq!(back.node, Node::Implement);
    let hw = Supervision::start(
        flow_for(DeliveryType::Hardware, false, false).unwrap(),
        true,
        true,
        T0,
    );
    let hw_open = step(
        &hw,
        Actor::Buyer,
        Action::Appeal {
            reason: "r".into(),
            demand: "d".into(),
        },
        T0,
    );
    assert!(
        decide(
            &hw_open,
            Actor::Operator,
            &Action::ResolveAppeal {
                outcome: Resolution::ReturnTo,
                node: Some(Node::DeliverProof),
                amount: None,
                reason: "x".into()
            },
            &SupervisionPolicy::default(),
            T0
        )
        .is_err(),
        "hardware has no deliver_proof node"
    );
}

#[test]
fn hardware_needs_tracking_and_arms_its_timer_only_for_the_buyers_phone() {
    let p = SupervisionPolicy::default();
    let flow = flow_for(DeliveryType::Hardware, false, false).unwrap();
    let s = Supervision::start(flow.clone(), true, true, T0);
    let bare = Action::Implement {
        carrier: None,
        tracking_number: None,
        license: None,
    };
    assert!(matches!(
        decide(&s, Actor::Seller, &bare, &p, T0),
        Err(SupervisionError::Invalid("carrier", _))
    ));
    let ship = Action::Implement {
        carrier: Some("SF".into()),
        tracking_number: Some("SF1".into()),
        license: None,
    };
    assert_eq!(
        step(&s, Actor::Seller, ship.clone(), T0).deadline,
        Some(T0 + Duration::days(10))
    );
    let unarmed = Supervision::start(flow, true, false, T0);
    assert_eq!(step(&unarmed, Actor::Seller, ship, T0).deadline, None);
}

#[test]
fn a_pending_refund_pauses_the_timer_and_a_refund_closes_supervision() {
    let mut s = standard(false);
    s.node = Node::DeliverProof;
    let s = step(&s, Actor::Seller, proof(None), T0);
    let paused = s.refund_requested(T0 + Duration::days(3));
    assert_eq!(paused.deadline, None);
    assert!(paused.frozen());
    let resumed = paused.refund_closed(T0 + Duration::days(20));
    assert_eq!(
        resumed.deadline,
        Some(T0 + Duration::days(24)),
        "4 days were left"
    );
    let closed = paused.refunded();
    assert_eq!(
        decide(
            &closed,
            Actor::Buyer,
            &Action::Accept,
            &SupervisionPolicy::default(),
            T0
        ),
        Err(SupervisionError::Closed)
    );
}

fn activation(at: OffsetDateTime) -> Action {
    Action::ActivateCode {
        license: "SOUK-1".into(),
        activated_at: at,
    }
}

#[test]
fn a_code_activation_completes_the_license_code_flow_and_starts_the_period() {
    let s = Supervision::start(license_code_flow(false), false, false, T0);
    assert_eq!(s.waiting_for(), Some(Actor::System));
    assert!(!s.code_taken());
    // Parties cannot pass the node themselves.
    let refused = decide(
        &s,
        Actor::Buyer,
        &activation(T0),
        &SupervisionPolicy::default(),
        T0,
    );
    assert!(matches!(refused, Err(SupervisionError::OutOfTurn { .. })));
    let at = T0 + Duration::days(2);
    let step = decide(
        &s,
        Actor::System,
        &activation(at),
        &SupervisionPolicy::default(),
        at,
    )
    .unwrap();
    assert!(step.completed);
    assert_eq!(step.next.accepted_by, Some(Actor::System));
    assert_eq!(step.next.validity_start(), Some(at));
    assert!(step.next.code_taken());
}

#[test]
fn a_reviewed_code_flow_keeps_the_activation_start_through_proof_and_review() {
    let s = Supervision::start(license_code_flow(true), false, false, T0);
    let at = T0 + Duration::hours(5);
    let s = step(&s, Actor::System, activation(at), at);
    assert_eq!(s.node, Node::DeliverProof);
    let s = step(&s, Actor::Seller, proof(None), at + Duration::hours(1));
    assert_eq!(s.node, Node::PlatformReview);
    let s = step(
        &s,
        Actor::Operator,
        Action::PassReview,
        at + Duration::hours(2),
    );
    assert_eq!(s.node, Node::Completed);
    assert_eq!(s.accepted_by, Some(Actor::Operator));
    assert_eq!(s.validity_start(), Some(at));
}

#[test]
fn reminders_go_out_once_a_day_before_auto_acceptance_and_once_when_stale() {
    let mut s = Supervision::start(
        flow_for(DeliveryType::ManualService, false, false).unwrap(),
        false,
        false,
        T0,
    );
    s.node = Node::BuyerAccept;
    s.deadline = Some(T0 + Duration::days(7));
    let (day, stale) = (Duration::hours(24), Duration::days(180));
    assert!(s.reminder_due(day, stale, T0 + Duration::days(5)).is_none());
    let (r, s2) = s.reminder_due(day, stale, T0 + Duration::days(6)).unwrap();
    assert_eq!(r, Reminder::AutoAcceptSoon(T0 + Duration::days(7)));
    assert!(s2
        .reminder_due(day, stale, T0 + Duration::days(6))
        .is_none());
    let mut old = s2.clone();
    old.deadline = None;
    old.node = Node::Implement;
    let (r, done) = old.reminder_due(day, stale, T0 + stale).unwrap();
    assert_eq!(r, Reminder::Stale);
    assert!(done.reminder_due(day, stale, T0 + stale * 2).is_none());
}

fn implement(license: Option<&str>) -> Action {
    Action::Implement {
        carrier: None,
        tracking_number: None,
        license: license.map(str::to_owned),
    }
}

#[test]
fn license_modes_have_their_flows() {
    use Node::*;
    assert_eq!(license_flow(LicenseMode::SellerIssued, false), None);
    assert_eq!(
        license_flow(LicenseMode::Identifier, true).unwrap(),
        vec![
            SubmitIdentifier,
            Implement,
            PlatformReview,
            BuyerAccept,
            Completed
        ]
    );
    assert_eq!(
        license_flow(LicenseMode::Offline, false).unwrap(),
        vec![Implement, DeliverProof, BuyerAccept, Completed]
    );
    for mode in [LicenseMode::PackageDeployment, LicenseMode::Online] {
        assert_eq!(
            license_flow(mode, false).unwrap(),
            vec![Implement, BuyerAccept, Completed]
        );
    }
}

#[test]
fn an_identifier_is_typed_by_the_buyer_or_generated() {
    let flow = license_flow(LicenseMode::Identifier, false).unwrap();
    let s = Supervision::start(flow, false, false, T0).for_license(Some(LicenseMode::Identifier));
    let p = SupervisionPolicy::default();
    let none = Action::SubmitIdentifier {
        hardware_id: None,
        system_id: None,
    };
    assert!(matches!(
        decide(&s, Actor::Buyer, &none, &p, T0),
        Err(SupervisionError::Invalid("hardware_id", _))
    ));
    let typed = Action::SubmitIdentifier {
        hardware_id: Some(" MAC-00:11:22 ".into()),
        system_id: None,
    };
    let s1 = step(&s, Actor::Buyer, typed, T0);
    assert_eq!(s1.identifier.as_deref(), Some("MAC-00:11:22"));
    assert!(!s1.identifier_generated);
    assert_eq!(s1.node, Node::Implement);
    let generated = Action::SubmitIdentifier {
        hardware_id: None,
        system_id: Some("SYS-1".into()),
    };
    let s2 = step(&s, Actor::Buyer, generated, T0);
    assert_eq!(s2.identifier.as_deref(), Some("SYS-1"));
    assert!(s2.identifier_generated);
    // A license by hand is the online mode's only.
    assert!(matches!(
        decide(&s2, Actor::Seller, &implement(Some("LIC")), &p, T0),
        Err(SupervisionError::Invalid("license", _))
    ));
    let s3 = step(&s2, Actor::Seller, implement(None), T0);
    assert_eq!(s3.node, Node::BuyerAccept);
    assert_eq!(
        step(&s3, Actor::Buyer, Action::Accept, T0).node,
        Node::Completed
    );
}

#[test]
fn an_offline_license_needs_a_report_and_three_screenshots_unless_remote() {
    let flow = license_flow(LicenseMode::Offline, false).unwrap();
    let s = Supervision::start(flow, false, false, T0).for_license(Some(LicenseMode::Offline));
    let p = SupervisionPolicy::default();
    let s = step(&s, Actor::Seller, implement(None), T0);
    let item = |kind: &str, files: &[&str], remote: bool| Evidence {
        kind: kind.into(),
        description: "d".into(),
        signed_by: vec![],
        remote,
        attachments: files.iter().map(|f| f.to_string()).collect(),
    };
    let deliver = |evidence: Vec<Evidence>| Action::DeliverProof {
        evidence,
        actual_start: None,
    };
    let report = item("acceptance_report", &["a1"], false);
    let refused = |ev: Vec<Evidence>| {
        matches!(
            decide(&s, Actor::Seller, &deliver(ev), &p, T0),
            Err(SupervisionError::Invalid("evidence", _))
        )
    };
    assert!(refused(vec![item(
        "screenshot",
        &["s1", "s2", "s3"],
        false
    )]));
    assert!(refused(vec![
        report.clone(),
        item("screenshot", &["s1", "s2"], false)
    ]));
    let ok = vec![
        report.clone(),
        item("screenshot", &["s1"], false),
        item("screenshot", &["s2", "s3"], false),
    ];
    assert_eq!(
        step(&s, Actor::Seller, deliver(ok), T0).node,
        Node::BuyerAccept
    );
    let remote = vec![report, item("remote_delivery_record", &[], true)];
    assert_eq!(
        step(&s, Actor::Seller, deliver(remote), T0).node,
        Node::BuyerAccept
    );
}
