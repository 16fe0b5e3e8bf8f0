//! Service supervision 服务监管 (business rules §3): the node sequence of each delivery type,
//! who acts at each node, the appeal overlay, the acceptance timers and the validity start.
//!
//! Everything here is a pure function of (state, actor, action, policy, now): the store saves the
//! state [`decide`] returns with a compare-and-set on the version it read, and appends the log
//! entry it describes. Nothing is decided anywhere else.
//!
//! ```text
//! standard / data file / flagged SaaS:
//!   submit_requirement ⇄ confirm_requirement → implement → deliver_proof → [platform_review] → buyer_accept → completed
//! hardware:
//!   implement (carrier + tracking) → [platform_review] → buyer_accept → completed
//! License, Souk-issued codes (授权码):
//!   activate_code (system, on the first activation) → [deliver_proof → platform_review] → completed
//! License, identifier (识别码):
//!   submit_identifier → implement → [platform_review] → buyer_accept → completed
//! License, offline (线下):
//!   implement → deliver_proof (acceptance report + ≥ 3 screenshots) → [platform_review] → buyer_accept → completed
//! License, package deployment / online (在线开通):
//!   implement → [platform_review] → buyer_accept → completed
//! ```
//! A rejection goes one step back (confirm → submit; buyer_accept → implement) and counts; a
//! returned review goes back to the node before it. An open appeal freezes the flow and pauses
//! the acceptance timer, which resumes with the time it had left.

use crate::catalog::{DeliveryType, LicenseMode};
use crate::order::string_enum;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

mod action;
pub use action::*;

string_enum!(
    /// A supervision node (business rules §3.2).
    Node {
        /// 用户提交需求: the buyer states requirements.
        SubmitRequirement = "submit_requirement",
        /// License 识别码: the buyer supplies the hardware identifier (or asks for a system one).
        SubmitIdentifier = "submit_identifier",
        /// 服务商确认需求: the seller confirms or rejects them.
        ConfirmRequirement = "confirm_requirement",
        /// 服务商实施服务: the seller implements (hardware: ships).
        Implement = "implement",
        /// 授权码激活: the seller's software activates one of the order's codes (open API).
        ActivateCode = "activate_code",
        /// 上传交付证明: the seller uploads delivery evidence.
        DeliverProof = "deliver_proof",
        /// 华为云复核: an operator reviews the evidence.
        PlatformReview = "platform_review",
        /// 用户确认验收: the buyer accepts or rejects.
        BuyerAccept = "buyer_accept",
        Completed = "completed",
    }
);

string_enum!(
    /// Who acts in supervision.
    Actor {
        Buyer = "buyer",
        Seller = "seller",
        Operator = "operator",
        /// Timers.
        System = "system",
    }
);

string_enum!(
    /// The sales scenario fixed at order creation (business rules §3.1).
    SalesScenario {
        General = "general",
        /// 赋能云: empowerment-cloud track or voucher.
        Empowerment = "empowerment",
        /// 基地云: base-cloud track or pick-up voucher.
        Base = "base",
    }
);

// `string_enum!` fixes the derives, so `#[default]` cannot be put on the variant.
#[allow(clippy::derivable_impls)]
impl Default for SalesScenario {
    fn default() -> Self {
        SalesScenario::General
    }
}

impl Node {
    /// Who must act at this node (`None` when the flow is over).
    pub fn actor(self) -> Option<Actor> {
        match self {
            Node::SubmitRequirement | Node::SubmitIdentifier | Node::BuyerAccept => {
                Some(Actor::Buyer)
            }
            Node::ConfirmRequirement | Node::Implement | Node::DeliverProof => Some(Actor::Seller),
            Node::PlatformReview => Some(Actor::Operator),
            Node::ActivateCode => Some(Actor::System),
            Node::Completed => None,
        }
    }
}

/// The node sequence of an order, or `None` when the order is not supervised (Image, API,
/// unflagged SaaS). License keeps its code flow outside this module (see `docs/after-sale.md`).
pub fn flow_for(delivery: DeliveryType, flagged: bool, review: bool) -> Option<Vec<Node>> {
    use Node::*;
    let mut nodes = match delivery {
        DeliveryType::ManualService | DeliveryType::DataFile => {
            vec![
                SubmitRequirement,
                ConfirmRequirement,
                Implement,
                DeliverProof,
            ]
        }
        DeliveryType::Saas if flagged => {
            vec![
                SubmitRequirement,
                ConfirmRequirement,
                Implement,
                DeliverProof,
            ]
        }
        DeliveryType::Hardware => vec![Implement],
        _ => return None,
    };
    if review {
        nodes.push(PlatformReview);
    }
    nodes.push(BuyerAccept);
    nodes.push(Completed);
    Some(nodes)
}

/// The License code flow (§3.2): Souk issues the codes at payment (the seller's `implement`
/// and the buyer's taking of the code need no step), the first activation of any of the
/// order's codes passes `activate_code`, sets the actual start and counts as acceptance. With
/// platform review (empowerment/base scenarios) the seller then delivers proof and an operator's
/// pass completes it.
pub fn license_code_flow(review: bool) -> Vec<Node> {
    let mut nodes = vec![Node::ActivateCode];
    if review {
        nodes.push(Node::DeliverProof);
        nodes.push(Node::PlatformReview);
    }
    nodes.push(Node::Completed);
    nodes
}

/// The flow of a License order by its mode (§3.2), or `None` for the unsupervised
/// `seller_issued` mode. `[R]` goes before acceptance, as in [`flow_for`].
pub fn license_flow(mode: LicenseMode, review: bool) -> Option<Vec<Node>> {
    use Node::*;
    let head = match mode {
        LicenseMode::SellerIssued => return None,
        LicenseMode::SoukCodes => return Some(license_code_flow(review)),
        LicenseMode::Identifier => vec![SubmitIdentifier, Implement],
        LicenseMode::Offline => vec![Implement, DeliverProof],
        LicenseMode::PackageDeployment | LicenseMode::Online => vec![Implement],
    };
    let mut nodes = head;
    if review {
        nodes.push(PlatformReview);
    }
    nodes.push(BuyerAccept);
    nodes.push(Completed);
    Some(nodes)
}

/// The configurable numbers of §3.3 and §3.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupervisionPolicy {
    /// `supervision.auto_accept`: buyer silence in `buyer_accept` before the system accepts.
    pub auto_accept: Duration,
    /// `supervision.hardware_auto_accept`: the same for hardware, from the shipment record.
    pub hardware_auto_accept: Duration,
    /// `supervision.appeal_idle`: idle time on the buyer's side that lets the seller appeal.
    pub appeal_idle: Duration,
    /// `supervision.appeal_rejections`: rejections after which either side may appeal.
    pub appeal_rejections: u32,
    /// `supervision.offline_min_screenshots`: screenshots an offline License's delivery proof
    /// needs (§3.5), unless it was delivered remotely.
    pub offline_min_screenshots: u32,
}

impl Default for SupervisionPolicy {
    fn default() -> Self {
        SupervisionPolicy {
            auto_accept: Duration::days(7),
            hardware_auto_accept: Duration::days(10),
            appeal_idle: Duration::days(5),
            appeal_rejections: 3,
            offline_min_screenshots: 3,
        }
    }
}

/// An open appeal (§3.4): the flow is frozen until an operator resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAppeal {
    pub by: Actor,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    pub reason: String,
    pub demand: String,
    /// `supervision.appeal_sla` (working days) from the opening: when operators should have
    /// resolved it. Tracked, no automatic outcome (§3.4 Souk default).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub sla_due: Option<OffsetDateTime>,
    /// Operators were told the SLA passed (once).
    #[serde(default)]
    pub sla_breached: bool,
}

/// The state of one order's supervision, saved whole after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervision {
    pub flow: Vec<Node>,
    pub node: Node,
    #[serde(with = "time::serde::rfc3339")]
    pub node_entered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub paid_at: OffsetDateTime,
    pub hardware: bool,
    /// Hardware: the auto-acceptance is armed only when the recipient's phone is the buyer's.
    pub auto_accept_armed: bool,
    /// Rejections so far, in either direction.
    pub rejections: u32,
    /// When the system accepts if nobody acts (`buyer_accept` only).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub deadline: Option<OffsetDateTime>,
    /// While frozen: what was left of the deadline.
    #[serde(default)]
    pub paused_ms: Option<i64>,
    #[serde(default)]
    pub appeal: Option<OpenAppeal>,
    pub requirement: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// 服务实际开通时间 declared by the seller (§3.6).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub actual_start: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub accepted_at: Option<OffsetDateTime>,
    pub accepted_by: Option<Actor>,
    /// A refund request is pending: the timer is paused (§3.3).
    #[serde(default)]
    pub refund_pending: bool,
    /// The order was refunded: supervision is over without acceptance.
    #[serde(default)]
    pub closed: bool,
    /// The deadline the buyer was last reminded of (24 h before, §3.3).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub reminded_deadline: Option<OffsetDateTime>,
    /// The 180-day stale reminder went out (once).
    #[serde(default)]
    pub stale_reminded: bool,
    /// License orders: the mode, which decides the flow's extra rules (identifier, screenshots,
    /// the online license).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<LicenseMode>,
    /// License 识别码: the identifier the license is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// True when Souk generated it (a system identifier) rather than the buyer typing it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identifier_generated: bool,
}

/// A reminder a supervision is due for (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// The system accepts at this time unless the buyer acts.
    AutoAcceptSoon(OffsetDateTime),
    /// Still open long after payment: both parties are told; nothing closes.
    Stale,
    /// An appeal is still open past its SLA: operators are told; nothing is decided.
    AppealOverdue,
}

impl Supervision {
    /// A new supervision at the first node of `flow`, for an order paid at `now`.
    pub fn start(flow: Vec<Node>, hardware: bool, armed: bool, now: OffsetDateTime) -> Self {
        let node = flow[0];
        Supervision {
            flow,
            node,
            node_entered_at: now,
            paid_at: now,
            hardware,
            auto_accept_armed: armed,
            rejections: 0,
            deadline: None,
            paused_ms: None,
            appeal: None,
            requirement: None,
            carrier: None,
            tracking_number: None,
            evidence: Vec::new(),
            actual_start: None,
            accepted_at: None,
            accepted_by: None,
            refund_pending: false,
            closed: false,
            reminded_deadline: None,
            stale_reminded: false,
            license: None,
            identifier: None,
            identifier_generated: false,
        }
    }

    /// The same, for a License order of `mode`.
    pub fn for_license(mut self, mode: Option<LicenseMode>) -> Self {
        self.license = mode;
        self
    }

    /// The reminder due at `now`, if any, and the state that records it was sent.
    pub fn reminder_due(
        &self,
        before: Duration,
        stale_after: Duration,
        now: OffsetDateTime,
    ) -> Option<(Reminder, Supervision)> {
        if self.node == Node::Completed || self.closed {
            return None;
        }
        let mut next = self.clone();
        if let Some(a) = next.appeal.as_mut() {
            if !a.sla_breached && a.sla_due.is_some_and(|due| now >= due) {
                a.sla_breached = true;
                return Some((Reminder::AppealOverdue, next));
            }
        }
        if let (Node::BuyerAccept, false, Some(d)) = (self.node, self.frozen(), self.deadline) {
            if now >= d - before && now < d && self.reminded_deadline != Some(d) {
                next.reminded_deadline = Some(d);
                return Some((Reminder::AutoAcceptSoon(d), next));
            }
        }
        if !self.stale_reminded && now - self.paid_at >= stale_after {
            next.stale_reminded = true;
            return Some((Reminder::Stale, next));
        }
        None
    }

    /// Whether the acceptance timer is stopped (appeal, pending refund, closed).
    pub fn frozen(&self) -> bool {
        self.appeal.is_some() || self.refund_pending || self.closed
    }

    fn pause(&mut self, now: OffsetDateTime) {
        if let Some(d) = self.deadline.take() {
            self.paused_ms = Some((d - now).whole_milliseconds().max(0) as i64);
        }
    }

    fn resume(&mut self, now: OffsetDateTime) {
        if !self.frozen() {
            if let Some(ms) = self.paused_ms.take() {
                self.deadline = Some(now + Duration::milliseconds(ms));
            }
        }
    }

    /// The open appeal's SLA ends at `due` (computed on the business calendar by the caller).
    pub fn with_appeal_sla(mut self, due: OffsetDateTime) -> Supervision {
        if let Some(a) = self.appeal.as_mut() {
            a.sla_due = Some(due);
        }
        self
    }

    /// A refund request opened: the timer pauses with the time it has left.
    pub fn refund_requested(&self, now: OffsetDateTime) -> Supervision {
        let mut s = self.clone();
        s.pause(now);
        s.refund_pending = true;
        s
    }

    /// The request was rejected or withdrawn: the timer resumes (unless an appeal holds it).
    pub fn refund_closed(&self, now: OffsetDateTime) -> Supervision {
        let mut s = self.clone();
        s.refund_pending = false;
        s.resume(now);
        s
    }

    /// The order was refunded: supervision ends here.
    pub fn refunded(&self) -> Supervision {
        let mut s = self.clone();
        s.refund_pending = false;
        s.closed = true;
        s.deadline = None;
        s.paused_ms = None;
        s
    }

    /// License code flow: a code was activated, so the buyer has taken it and the negotiated
    /// refund is closed (§4.3 "code not taken").
    pub fn code_taken(&self) -> bool {
        self.flow.contains(&Node::ActivateCode) && self.node != Node::ActivateCode
    }

    /// Who must act now: the operator while an appeal is open, else the node's actor.
    pub fn waiting_for(&self) -> Option<Actor> {
        if self.appeal.is_some() {
            return Some(Actor::Operator);
        }
        self.node.actor()
    }

    /// The start of the period's validity once completed (§3.6): the declared actual start,
    /// else the acceptance time.
    pub fn validity_start(&self) -> Option<OffsetDateTime> {
        self.actual_start.or(self.accepted_at)
    }

    fn next_of(&self, node: Node) -> Node {
        let i = self.flow.iter().position(|n| *n == node).unwrap_or(0);
        self.flow.get(i + 1).copied().unwrap_or(Node::Completed)
    }

    fn before(&self, node: Node) -> Node {
        let i = self.flow.iter().position(|n| *n == node).unwrap_or(0);
        self.flow[i.saturating_sub(1)]
    }

    fn enter(&mut self, node: Node, policy: &SupervisionPolicy, now: OffsetDateTime) {
        self.node = node;
        self.node_entered_at = now;
        // Re-entering a node restarts its timer (§3.3 Souk default).
        self.deadline = match node {
            Node::BuyerAccept if self.hardware && self.auto_accept_armed => {
                Some(now + policy.hardware_auto_accept)
            }
            Node::BuyerAccept if !self.hardware => Some(now + policy.auto_accept),
            _ => None,
        };
    }

    fn appeal_unlocked(&self, by: Actor, policy: &SupervisionPolicy, now: OffsetDateTime) -> bool {
        match by {
            // Buyer: any node, any time (current rule).
            Actor::Buyer => true,
            // Seller: a buyer-side node idle long enough, or too many rejections.
            Actor::Seller => {
                self.rejections >= policy.appeal_rejections
                    || (self.node.actor() == Some(Actor::Buyer)
                        && now - self.node_entered_at >= policy.appeal_idle)
            }
            _ => false,
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisionError {
    /// Not this party's turn: `waiting` names the node and who acts there.
    #[error("supervision is waiting at `{node}` for the {actor}; a {by} cannot {action} now")]
    OutOfTurn {
        node: Node,
        actor: Actor,
        by: Actor,
        action: &'static str,
    },
    #[error("supervision is completed")]
    Completed,
    #[error("the order was refunded; its supervision is closed")]
    Closed,
    #[error("an appeal is open: the flow is frozen until an operator resolves it")]
    Frozen,
    #[error("no appeal is open")]
    NoAppeal,
    #[error("a seller may appeal after {rejections} rejections or {idle_days} idle days on the buyer's side")]
    AppealLocked { rejections: u32, idle_days: i64 },
    /// A value breaks a rule: (field, message).
    #[error("{1}")]
    Invalid(&'static str, String),
}

/// What [`decide`] returns: the state to save and what the log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub from: Node,
    pub next: Supervision,
    /// True when this step completed supervision.
    pub completed: bool,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, SupervisionError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(SupervisionError::Invalid(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// The supervision state machine: `actor` does `action` at `now`.
pub fn decide(
    current: &Supervision,
    actor: Actor,
    action: &Action,
    policy: &SupervisionPolicy,
    now: OffsetDateTime,
) -> Result<Step, SupervisionError> {
    if current.node == Node::Completed {
        return Err(SupervisionError::Completed);
    }
    if current.closed {
        return Err(SupervisionError::Closed);
    }
    let mut next = current.clone();
    let from = current.node;
    match action {
        Action::Appeal { reason, demand } => {
            if current.appeal.is_some() {
                return Err(SupervisionError::Frozen);
            }
            if !matches!(actor, Actor::Buyer | Actor::Seller) {
                return Err(out_of_turn(current, actor, action));
            }
            if !current.appeal_unlocked(actor, policy, now) {
                return Err(SupervisionError::AppealLocked {
                    rejections: policy.appeal_rejections,
                    idle_days: policy.appeal_idle.whole_days(),
                });
            }
            next.appeal = Some(OpenAppeal {
                by: actor,
                opened_at: now,
                reason: text("reason", reason, 2000)?,
                demand: text("demand", demand, 2000)?,
                sla_due: None,
                sla_breached: false,
            });
            next.pause(now);
            return Ok(Step {
                from,
                next,
                completed: false,
            });
        }
        Action::ResolveAppeal {
            outcome,
            node,
            reason,
            ..
        } => {
            if actor != Actor::Operator {
                return Err(out_of_turn(current, actor, action));
            }
            if current.appeal.is_none() {
                return Err(SupervisionError::NoAppeal);
            }
            text("reason", reason, 2000)?;
            next.appeal = None;
            match outcome {
                // The timer resumes with what it had left.
                Resolution::Dismiss => next.resume(now),
                // The refund itself is recorded with this step (amount checked by
                // `refund::forced`); supervision ends.
                Resolution::ForceRefund => next = next.refunded(),
                Resolution::ReturnTo => {
                    let Some(node) = node else {
                        return Err(SupervisionError::Invalid(
                            "node",
                            "return_to needs the node to return to".to_owned(),
                        ));
                    };
                    if *node == Node::Completed || !current.flow.contains(node) {
                        return Err(SupervisionError::Invalid(
                            "node",
                            format!("this order's flow has no node `{node}` to return to"),
                        ));
                    }
                    next.paused_ms = None;
                    next.enter(*node, policy, now);
                    // A pending refund request still holds the new node's timer.
                    if next.refund_pending {
                        next.pause(now);
                    }
                }
                Resolution::ForceAccept => {
                    next.paused_ms = None;
                    complete(&mut next, Actor::Operator, now);
                }
            }
            let completed = next.node == Node::Completed;
            return Ok(Step {
                from,
                next,
                completed,
            });
        }
        _ => {}
    }
    if current.appeal.is_some() {
        return Err(SupervisionError::Frozen);
    }
    let expected = current.node.actor();
    let allowed = match action {
        // The timer accepts on the buyer's behalf.
        Action::Accept => actor == Actor::Buyer || actor == Actor::System,
        _ => Some(actor) == expected,
    };
    let node_ok = matches!(
        (current.node, action),
        (Node::SubmitRequirement, Action::SubmitRequirement { .. })
            | (Node::SubmitIdentifier, Action::SubmitIdentifier { .. })
            | (Node::ConfirmRequirement, Action::ConfirmRequirement)
            | (Node::ConfirmRequirement, Action::RejectRequirement { .. })
            | (Node::Implement, Action::Implement { .. })
            | (Node::DeliverProof, Action::DeliverProof { .. })
            | (Node::PlatformReview, Action::PassReview)
            | (Node::PlatformReview, Action::ReturnReview { .. })
            | (Node::BuyerAccept, Action::Accept)
            | (Node::BuyerAccept, Action::RejectDelivery { .. })
            | (Node::ActivateCode, Action::ActivateCode { .. })
    );
    if !allowed || !node_ok {
        return Err(out_of_turn(current, actor, action));
    }
    match action {
        Action::SubmitRequirement { requirement, .. } => {
            next.requirement = Some(text("requirement", requirement, 20_000)?);
            next.enter(current.next_of(from), policy, now);
        }
        Action::SubmitIdentifier {
            hardware_id,
            system_id,
        } => {
            // A typed hardware id is the buyer's responsibility; without one, the system id
            // the use case generated is used.
            let (id, generated) = match (hardware_id, system_id) {
                (Some(h), _) => (text("hardware_id", h, 200)?, false),
                (None, Some(sys)) => (sys.clone(), true),
                (None, None) => {
                    return Err(SupervisionError::Invalid(
                        "hardware_id",
                        "give the hardware_id, or leave it out to get a system identifier"
                            .to_owned(),
                    ))
                }
            };
            next.identifier = Some(id);
            next.identifier_generated = generated;
            next.enter(current.next_of(from), policy, now);
        }
        Action::ConfirmRequirement | Action::PassReview => {
            next.enter(current.next_of(from), policy, now);
        }
        Action::RejectRequirement { reason } | Action::RejectDelivery { reason } => {
            text("reason", reason, 2000)?;
            next.rejections += 1;
            let back = if from == Node::BuyerAccept {
                Node::Implement
            } else {
                current.before(from)
            };
            next.enter(back, policy, now);
        }
        Action::ReturnReview { reason } => {
            text("reason", reason, 2000)?;
            next.enter(current.before(from), policy, now);
        }
        Action::Implement {
            carrier,
            tracking_number,
            license,
        } => {
            // Only the online License takes a license by hand (when its getLicense did not
            // deliver one); whether one is needed is the use case's (it reads the instance).
            if license.is_some() && current.license != Some(LicenseMode::Online) {
                return Err(SupervisionError::Invalid(
                    "license",
                    "only online License orders deliver a license here; leave it out".to_owned(),
                ));
            }
            if let Some(l) = license {
                text("license", l, 20_000)?;
            }
            if current.hardware {
                let c = carrier.as_deref().unwrap_or_default();
                let t = tracking_number.as_deref().unwrap_or_default();
                next.carrier = Some(text("carrier", c, 100)?);
                next.tracking_number = Some(text("tracking_number", t, 100)?);
            }
            next.enter(current.next_of(from), policy, now);
        }
        Action::DeliverProof {
            evidence,
            actual_start,
        } => {
            if evidence.is_empty() || evidence.len() > 50 {
                return Err(SupervisionError::Invalid(
                    "evidence",
                    "deliver 1 to 50 evidence items".to_owned(),
                ));
            }
            for e in evidence {
                text("evidence.kind", &e.kind, 100)?;
                text("evidence.description", &e.description, 2000)?;
            }
            if current.license == Some(LicenseMode::Offline) {
                offline_evidence(evidence, policy.offline_min_screenshots)?;
            }
            if let Some(start) = actual_start {
                if *start < current.paid_at || *start > now {
                    return Err(SupervisionError::Invalid(
                        "actual_start",
                        "the actual start time must lie between payment and now".to_owned(),
                    ));
                }
            }
            next.evidence = evidence.clone();
            // Code flow: the activation time stays the start unless the seller declares one.
            next.actual_start = if current.flow.contains(&Node::ActivateCode) {
                actual_start.or(current.actual_start)
            } else {
                *actual_start
            };
            next.enter(current.next_of(from), policy, now);
        }
        Action::ActivateCode { activated_at, .. } => {
            // §3.6 code flow: the period starts at the activation.
            next.actual_start = Some((*activated_at).clamp(current.paid_at, now));
            next.enter(current.next_of(from), policy, now);
        }
        Action::Accept => complete(&mut next, actor, now),
        Action::Appeal { .. } | Action::ResolveAppeal { .. } => unreachable!("handled above"),
    }
    // The code flow ends without a buyer node: activation, or the operator's review pass, is
    // the acceptance.
    if next.node == Node::Completed && next.accepted_at.is_none() {
        complete(&mut next, actor, now);
    }
    let completed = next.node == Node::Completed;
    Ok(Step {
        from,
        next,
        completed,
    })
}

/// §3.5 for an offline License: an acceptance report, and screenshots (each an attachment of
/// the order) of the working software, at least `min` of them — unless the delivery was remote,
/// where remote-delivery records (`remote: true`) replace the screenshots.
fn offline_evidence(evidence: &[Evidence], min: u32) -> Result<(), SupervisionError> {
    if !evidence.iter().any(|e| e.kind == "acceptance_report") {
        return Err(SupervisionError::Invalid(
            "evidence",
            "an offline License's delivery proof needs an `acceptance_report` item".to_owned(),
        ));
    }
    let remote = evidence.iter().any(|e| e.remote);
    let screenshots: usize = evidence
        .iter()
        .filter(|e| e.kind == "screenshot")
        .map(|e| e.attachments.len())
        .sum();
    if !remote && screenshots < min as usize {
        return Err(SupervisionError::Invalid(
            "evidence",
            format!(
                "an offline License's delivery proof needs at least {min} screenshots: \
                 `screenshot` items whose attachments are uploaded images (found {screenshots}); \
                 a remote delivery marks its records `remote: true` instead"
            ),
        ));
    }
    Ok(())
}

fn complete(s: &mut Supervision, by: Actor, now: OffsetDateTime) {
    s.node = Node::Completed;
    s.node_entered_at = now;
    s.deadline = None;
    s.accepted_at = Some(now);
    s.accepted_by = Some(by);
}

fn out_of_turn(s: &Supervision, by: Actor, action: &Action) -> SupervisionError {
    SupervisionError::OutOfTurn {
        node: s.node,
        actor: s.waiting_for().unwrap_or(Actor::System),
        by,
        action: action.name(),
    }
}

#[cfg(test)]
mod tests;
