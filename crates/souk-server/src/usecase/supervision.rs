//! Service supervision: starting it when a supervised order is paid, each party's actions, the
//! operator's appeal resolutions and the acceptance timer. Every rule is
//! `souk_core::supervision::decide`; this module loads, asks, and saves with compare-and-set.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::http::StatusCode;
use souk_core::catalog::{DeliveryType, LicenseMode};
use souk_core::instance::InstanceEvent;
use souk_core::notice::{self, Notice};
use souk_core::order::{OrderEvent, OrderKind};
use souk_core::party::{PartyId, Role};
use souk_core::snapshot::Recipient;
use souk_core::supervision::license_flow;
use souk_core::supervision::{
    decide, flow_for, Action, Actor, Node, Reminder, Resolution, Supervision, SupervisionError,
};
use souk_core::transition::StateMachine;
use souk_store::{
    Completion, ManualLicense, NewSupervision, OrderRecord, Page, Scope, SupervisionRecord,
    SupervisionWrite,
};
use time::OffsetDateTime;

/// Hardware needs a recipient; other types take none.
pub fn recipient_for(
    delivery: DeliveryType,
    input: Option<Recipient>,
) -> AppResult<Option<Recipient>> {
    match (delivery, input) {
        (DeliveryType::Hardware, Some(r)) => {
            for (field, value, max) in [
                ("recipient.name", &r.name, 100),
                ("recipient.phone", &r.phone, 30),
                ("recipient.address", &r.address, 500),
            ] {
                let n = value.trim().chars().count();
                if n == 0 || n > max {
                    return Err(AppError::invalid_field(
                        field,
                        format!("{field} must be 1 to {max} characters"),
                    ));
                }
            }
            Ok(Some(r))
        }
        (DeliveryType::Hardware, None) => Err(AppError::invalid_field(
            "recipient",
            "hardware orders need a recipient: name, phone and address",
        )),
        (_, Some(_)) => Err(AppError::invalid_field(
            "recipient",
            "only hardware orders take a recipient; leave it out",
        )),
        (_, None) => Ok(None),
    }
}

/// The supervision a paid order starts, if its type is supervised. Trials are not supervised:
/// nothing was paid, so there is no guarantee period to supervise.
pub async fn start_for(
    state: &AppState,
    order: &OrderRecord,
    now: OffsetDateTime,
) -> AppResult<Option<NewSupervision>> {
    if order.kind != OrderKind::New {
        return Ok(None);
    }
    let snap = &order.snapshot;
    let review = state
        .config
        .supervision
        .review_scenarios
        .contains(&snap.sales_scenario);
    let license = (snap.delivery_type == DeliveryType::License)
        .then(|| snap.license_mode.unwrap_or(LicenseMode::SellerIssued));
    let flow = match license {
        Some(mode) => license_flow(mode, review),
        None => flow_for(snap.delivery_type, snap.supervised, review),
    };
    let Some(flow) = flow else {
        return Ok(None);
    };
    let hardware = snap.delivery_type == DeliveryType::Hardware;
    // §3.3: hardware auto-acceptance is not armed when the logistics phone is not the buyer's.
    let armed = if hardware {
        let buyer = state
            .store
            .find_party(&Scope::Everything, &order.buyer_id)
            .await?;
        let phone = buyer.and_then(|b| b.mobile_phone);
        match (&snap.recipient, phone) {
            (Some(r), Some(p)) => r.phone.trim() == p.trim(),
            _ => false,
        }
    } else {
        false
    };
    let s = Supervision::start(flow, hardware, armed, now).for_license(license);
    let notices = waiting_notices(state, order, &s).await?;
    Ok(Some(NewSupervision {
        order_id: order.id.clone(),
        buyer_id: order.buyer_id.clone(),
        seller_id: order.seller_id.clone(),
        instance_id: order.instance_id.clone(),
        state: s,
        notices,
    }))
}

pub(crate) async fn operators(state: &AppState) -> AppResult<Vec<PartyId>> {
    Ok(state
        .store
        .list_parties(&Scope::Everything, Role::Operator, &Page::first(20))
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

fn party_of(order: &OrderRecord, actor: Actor) -> Option<PartyId> {
    match actor {
        Actor::Buyer => Some(order.buyer_id.clone()),
        Actor::Seller => Some(order.seller_id.clone()),
        _ => None,
    }
}

/// The message for whoever the supervision now waits for.
async fn waiting_notices(
    state: &AppState,
    order: &OrderRecord,
    s: &Supervision,
) -> AppResult<Vec<(PartyId, Notice)>> {
    let n = notice::supervision_waiting(order.id.as_str(), s.node);
    Ok(match s.waiting_for() {
        Some(Actor::Operator) => operators(state)
            .await?
            .into_iter()
            .map(|p| (p, n.clone()))
            .collect(),
        Some(a) => party_of(order, a).map(|p| (p, n)).into_iter().collect(),
        None => Vec::new(),
    })
}

/// The supervision of an order visible to the caller.
pub async fn find(state: &AppState, scope: &Scope, order_id: &str) -> AppResult<SupervisionRecord> {
    let order = state
        .store
        .find_order(scope, &crate::usecase::orders::order_id(order_id)?)
        .await?;
    if order.is_none() {
        return Err(AppError::not_found("order"));
    }
    state
        .store
        .find_supervision(scope, &crate::usecase::orders::order_id(order_id)?)
        .await?
        .ok_or_else(|| {
            AppError::new(
                StatusCode::NOT_FOUND,
                "not_supervised",
                "this order is not under service supervision (Image, API, unflagged SaaS, \
                 `seller_issued` licenses, trials, renewals and upgrades are not)",
            )
        })
}

fn refused(e: SupervisionError) -> AppError {
    let message = e.to_string();
    match e {
        SupervisionError::OutOfTurn { node, actor, .. } => {
            AppError::conflict("out_of_turn", message)
                .with_details(serde_json::json!({ "node": node, "waiting_for": actor }))
        }
        SupervisionError::Completed => AppError::conflict("supervision_completed", message),
        SupervisionError::Closed => AppError::conflict("supervision_closed", message),
        SupervisionError::Frozen => AppError::conflict("appeal_open", message),
        SupervisionError::NoAppeal => AppError::conflict("no_appeal", message),
        SupervisionError::AppealLocked { .. } => AppError::conflict("appeal_locked", message),
        SupervisionError::Invalid(field, message) => AppError::invalid_field(field, message),
    }
}

/// A party acts on an order's supervision.
pub async fn act(
    state: &AppState,
    role: Role,
    party: &PartyId,
    scope: &Scope,
    order_id: &str,
    mut action: Action,
) -> AppResult<SupervisionRecord> {
    let record = find(state, scope, order_id).await?;
    let actor = match role {
        Role::Operator => Actor::Operator,
        Role::Buyer if party == &record.buyer_id => Actor::Buyer,
        Role::Seller if party == &record.seller_id => Actor::Seller,
        _ => {
            return Err(AppError::forbidden(
                "only the order's buyer and seller, and operators, act in its supervision",
            ))
        }
    };
    let referenced: Vec<String> = match &action {
        Action::SubmitRequirement { attachments, .. } => attachments.clone(),
        Action::DeliverProof { evidence, .. } => evidence
            .iter()
            .flat_map(|e| e.attachments.clone())
            .collect(),
        _ => Vec::new(),
    };
    crate::usecase::attachments::check_ids(state, order_id, &referenced).await?;
    if let Action::DeliverProof { evidence, .. } = &action {
        screenshots_are_images(state, order_id, evidence).await?;
    }
    // License 识别码 without a typed hardware id: Souk generates the system identifier.
    if let Action::SubmitIdentifier {
        hardware_id: None,
        system_id,
    } = &mut action
    {
        *system_id = Some(system_identifier());
    }
    let manual = online_license(state, &record, actor, &mut action).await?;
    let now = state.clock.now();
    if !step_with(
        state,
        &record,
        actor,
        Some(party.clone()),
        &action,
        manual,
        now,
    )
    .await?
    {
        return Err(AppError::conflict(
            "supervision_changed",
            "someone else acted on this supervision at the same time; reload it and try again",
        ));
    }
    find(state, scope, order_id).await
}

/// A system identifier for a License 识别码 order whose buyer typed no hardware id.
fn system_identifier() -> String {
    let mut bytes = [0u8; 10];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("SYS-{hex}")
}

/// §3.5: a screenshot is an image.
async fn screenshots_are_images(
    state: &AppState,
    order_id: &str,
    evidence: &[souk_core::supervision::Evidence],
) -> AppResult<()> {
    for e in evidence.iter().filter(|e| e.kind == "screenshot") {
        for a in crate::usecase::attachments::check_ids(state, order_id, &e.attachments).await? {
            if !a.content_type.starts_with("image/") {
                return Err(AppError::invalid_field(
                    "evidence",
                    format!(
                        "attachment {} is {}, not an image; a screenshot must be a PNG or JPEG",
                        a.id, a.content_type
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Online License (§3.2 在线开通): the seller's `implement` says the license is delivered —
/// by its getLicense answer, or by hand in `license` when the call failed. Returns the license
/// to seal onto the instance, and takes it out of the action so the log never holds it (only
/// the buyer sees a license).
async fn online_license(
    state: &AppState,
    record: &SupervisionRecord,
    actor: Actor,
    action: &mut Action,
) -> AppResult<Option<ManualLicense>> {
    let Action::Implement { license, .. } = action else {
        return Ok(None);
    };
    let online = record.state.license == Some(LicenseMode::Online);
    if !online || actor != Actor::Seller || record.state.node != Node::Implement {
        // `decide` refuses a license outside the online flow, and out-of-turn steps.
        return Ok(None);
    }
    let instance = state
        .store
        .find_instance(&Scope::Everything, &record.instance_id)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    if let Some(text) = license.take() {
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 20_000 {
            return Err(AppError::invalid_field(
                "license",
                "license must be 1 to 20000 characters",
            ));
        }
        let sealed = state
            .master_key
            .seal(&format!("license:{}", record.instance_id), &text);
        // The instance opens now; a getLicense answer that comes later changes nothing.
        let open = instance.state.transition(InstanceEvent::Open).ok();
        return Ok(Some(ManualLicense { sealed, open }));
    }
    if instance.license_sealed.is_none() {
        return Err(AppError::conflict(
            "license_not_delivered",
            "Souk has no license from your getLicense answer for this order yet: retry the call \
             from your production interface messages, or deliver the license by hand in \
             `license`",
        ));
    }
    Ok(None)
}

/// Decides and saves one step; `Ok(false)` when another step won the race.
async fn step(
    state: &AppState,
    record: &SupervisionRecord,
    actor: Actor,
    actor_id: Option<PartyId>,
    action: &Action,
    now: OffsetDateTime,
) -> AppResult<bool> {
    step_with(state, record, actor, actor_id, action, None, now).await
}

async fn step_with(
    state: &AppState,
    record: &SupervisionRecord,
    actor: Actor,
    actor_id: Option<PartyId>,
    action: &Action,
    manual_license: Option<ManualLicense>,
    now: OffsetDateTime,
) -> AppResult<bool> {
    let policy = state.config.supervision.policy();
    let mut s = decide(&record.state, actor, action, &policy, now).map_err(refused)?;
    if let Action::Appeal { .. } = action {
        // §3.4 Souk default: operators resolve within the SLA, counted in working days.
        let calendar = state
            .config
            .after_sale_calendar()
            .map_err(AppError::internal)?;
        let due = calendar.add_working_days(now, state.config.supervision.appeal_sla_working_days);
        s.next = s.next.with_appeal_sla(due);
    }
    let order = state
        .store
        .find_order(&Scope::Everything, &record.order_id)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    let next = &s.next;
    let mut notices = Vec::new();
    let completion = if s.completed {
        let by = next.accepted_by.unwrap_or(actor);
        for p in [&order.buyer_id, &order.seller_id] {
            notices.push((
                p.clone(),
                notice::supervision_completed(order.id.as_str(), by),
            ));
        }
        // §3.6: the paid period starts at the declared actual start, else at acceptance.
        let start = next.validity_start().unwrap_or(now);
        let expire_at = order
            .term
            .end(
                start,
                state.config.settlement.zone().map_err(AppError::internal)?,
            )
            .map_err(|e| AppError::invalid_field("actual_start", e.to_string()))?;
        // No seller call opens manual service, hardware, data file or a License delivered by
        // hand: it opens now.
        let open = if order.snapshot.seller_opens() {
            None
        } else {
            state
                .store
                .find_instance(&Scope::Everything, &order.instance_id)
                .await?
                .and_then(|i| i.state.transition(InstanceEvent::Open).ok())
        };
        // §3.2 "open after buyer acceptance": acceptance sends the seller's newInstance (the
        // expiry it carries is the one set here); the order is delivered when the seller
        // answers, or failed and refunded if it never does.
        let later = order.snapshot.open_after_acceptance;
        let jobs = if later {
            vec![souk_store::NewJob {
                kind: souk_core::provisioning::CallKind::NewInstance,
                instance_id: order.instance_id.clone(),
                order_id: order.id.clone(),
                seller_id: order.seller_id.clone(),
                product_id: order.product_id.clone(),
                payload: souk_store::CallPayload::Nothing,
            }]
        } else {
            Vec::new()
        };
        Some(Completion {
            // Already moved on (e.g. refunded meanwhile): the CAS would refuse it anyway.
            order: if later {
                None
            } else {
                order.state.transition(OrderEvent::Deliver).ok()
            },
            instance_id: order.instance_id.clone(),
            period_start: start,
            expire_at,
            open,
            jobs,
        })
    } else {
        match action {
            Action::Appeal { reason, .. } => {
                let other = match actor {
                    Actor::Buyer => &order.seller_id,
                    _ => &order.buyer_id,
                };
                let n = notice::appeal_opened(order.id.as_str(), actor, reason);
                notices.push((other.clone(), n.clone()));
                for op in operators(state).await? {
                    notices.push((op, n.clone()));
                }
            }
            Action::ResolveAppeal {
                outcome, reason, ..
            } => {
                for p in [&order.buyer_id, &order.seller_id] {
                    let n = notice::appeal_resolved(order.id.as_str(), outcome.as_str(), reason);
                    notices.push((p.clone(), n));
                }
                notices.extend(waiting_notices(state, &order, next).await?);
            }
            _ => notices.extend(waiting_notices(state, &order, next).await?),
        }
        None
    };
    let write = SupervisionWrite {
        order_id: record.order_id.clone(),
        expect_version: record.version,
        state: next.clone(),
        actor,
        actor_id,
        action: action.name(),
        from_node: s.from,
        reason: action.reason().map(str::to_owned),
        payload: serde_json::to_value(action).unwrap_or_default(),
        completion,
        notices,
        manual_license,
        now,
    };
    if let Action::ResolveAppeal {
        outcome: Resolution::ForceRefund,
        amount,
        ..
    } = action
    {
        crate::usecase::refunds::force(state, &order, *amount, write).await?;
        return Ok(true);
    }
    let saved = state.store.apply_supervision(write).await?;
    state.wake.notify_one();
    Ok(saved)
}

/// The seller's software activated `license` of `order_id` at `now` (License open API): the
/// code flow's `activate_code` node passes, which completes supervision (or, with platform
/// review, moves it to the seller's proof). Later activations find the node passed and change
/// nothing.
pub async fn code_activated(
    state: &AppState,
    order_id: &souk_core::id::OrderId,
    license: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    for _ in 0..3 {
        let Some(record) = state
            .store
            .find_supervision(&Scope::Everything, order_id)
            .await?
        else {
            return Ok(());
        };
        if record.state.node != Node::ActivateCode || record.state.frozen() {
            return Ok(());
        }
        let action = Action::ActivateCode {
            license: license.to_owned(),
            activated_at: now,
        };
        if step(state, &record, Actor::System, None, &action, now).await? {
            // The instance's validity moved to the activation: heartbeats must see it.
            state.licenses.invalidate_instance(&record.instance_id);
            return Ok(());
        }
    }
    Ok(())
}

/// Timer pass: the buyer is reminded `supervision.auto_accept_reminder` before an automatic
/// acceptance, both parties once when supervision is open `supervision.stale_reminder` after
/// payment (§3.3), and operators once when an appeal is open past its SLA (§3.4). Each
/// reminder is a logged step, so it goes out once. A run reads `supervision.reminder_batch`
/// open supervisions after the last one the previous run read, so successive runs go round
/// all of them however many are open.
pub async fn reminders_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let cfg = &state.config.supervision;
    let after = state
        .reminder_cursor
        .lock()
        .map_err(|_| anyhow::anyhow!("reminder cursor poisoned"))?
        .clone();
    let batch = state
        .store
        .open_supervisions_after(after.as_ref(), cfg.reminder_batch)
        .await?;
    // A short batch reached the end: the next run starts again from the beginning.
    let next_cursor = if batch.len() < cfg.reminder_batch as usize {
        None
    } else {
        batch.last().map(|r| r.order_id.clone())
    };
    if let Ok(mut c) = state.reminder_cursor.lock() {
        *c = next_cursor;
    }
    let mut operators_cache: Option<Vec<PartyId>> = None;
    let mut sent = 0;
    for record in batch.into_iter().filter(|r| !r.state.closed) {
        // License code flow: an activation that came while the flow was frozen (an appeal, a
        // refund request) did not pass `activate_code`; once it thaws, the first activation
        // passes it here.
        if record.state.node == Node::ActivateCode && !record.state.frozen() {
            let codes = state
                .store
                .license_codes_of_instance(&Scope::Everything, &record.instance_id)
                .await?;
            let first = codes
                .into_iter()
                .filter_map(|c| c.activated_at.map(|t| (t, c.code)))
                .min();
            if let Some((activated_at, license)) = first {
                let action = Action::ActivateCode {
                    license,
                    activated_at,
                };
                let passed = step(state, &record, Actor::System, None, &action, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                if passed {
                    state.licenses.invalidate_instance(&record.instance_id);
                    sent += 1;
                }
                continue;
            }
        }
        let Some((reminder, next)) =
            record
                .state
                .reminder_due(cfg.auto_accept_reminder.0, cfg.stale_reminder.0, now)
        else {
            continue;
        };
        let oid = record.order_id.as_str();
        let (action, notices) = match reminder {
            Reminder::AutoAcceptSoon(at) => (
                "auto_accept_reminder",
                vec![(record.buyer_id.clone(), notice::auto_accept_soon(oid, at))],
            ),
            Reminder::Stale => (
                "stale_reminder",
                [&record.buyer_id, &record.seller_id]
                    .into_iter()
                    .map(|p| (p.clone(), notice::supervision_stale(oid)))
                    .collect(),
            ),
            Reminder::AppealOverdue => {
                if operators_cache.is_none() {
                    let ops = operators(state)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                    operators_cache = Some(ops);
                }
                (
                    "appeal_sla_breached",
                    operators_cache
                        .iter()
                        .flatten()
                        .map(|p| (p.clone(), notice::appeal_overdue(oid)))
                        .collect(),
                )
            }
        };
        let write = SupervisionWrite {
            notices,
            ..crate::usecase::refunds::side_step(&record, next, Actor::System, None, action, now)
        };
        // Lost to a party's step: the next pass looks again.
        if state.store.apply_supervision(write).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Timer pass: buyer silence at acceptance past its deadline → the system accepts.
pub async fn auto_accept_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    for record in state.store.due_supervisions(now, 200).await? {
        debug_assert_eq!(record.state.node, Node::BuyerAccept);
        match step(state, &record, Actor::System, None, &Action::Accept, now).await {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(order = %record.order_id, error = %e.message, "auto-accept refused")
            }
        }
    }
    Ok(changed)
}
