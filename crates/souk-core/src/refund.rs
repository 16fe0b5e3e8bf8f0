//! Refunds 退订 (business rules §4): who may get which refund of which order, for how much, and
//! the refund request's state machine. Pure; the store records what these functions allow.
//!
//! ```text
//! no_reason (self-service, §4.2) ───────────────────────────────▶ refunded
//! negotiated (§4.3): pending_seller_review ──approve──▶ refunded
//!                          │ ├──reject──▶ rejected   (the buyer may file a new one)
//!                          │ └──withdraw (buyer)──▶ withdrawn
//! operator_forced (appeal resolution, §3.4) ────────────────────▶ refunded
//! hardware, goods received (§4.3 Souk default):
//!   pending_seller_review ─approve─▶ return_approved ─ship_return (buyer)─▶ return_shipped
//!        return_approved ─(ship window passes)─▶ lapsed / ─withdraw─▶ withdrawn
//!        return_shipped ─confirm_receipt (seller, or the system after the receipt window)─▶ refunded
//! ```

use crate::catalog::{BillingMode, DeliveryType};
use crate::money::Money;
use crate::order::{string_enum, OrderKind, OrderState};
use crate::transition::{event_enum, StateMachine, Transition};
use time::{Duration, OffsetDateTime};

string_enum!(
    /// Which refund mechanism.
    RefundKind {
        /// 5天无理由全额退订: unsupervised SaaS and Image, period orders, within the window.
        NoReason = "no_reason",
        /// 协商退订: a supervised order inside its transaction-guarantee period.
        Negotiated = "negotiated",
        /// An operator's `force_refund` resolution of an appeal.
        OperatorForced = "operator_forced",
        /// 退续费 (§4.4): a paid renewal whose period has not started, refunded in full.
        RenewalPeriod = "renewal_period",
    }
);

string_enum!(
    /// Where a refund request is.
    RefundState {
        PendingSellerReview = "pending_seller_review",
        /// Hardware, goods received: the seller agreed; the buyer ships the goods back.
        ReturnApproved = "return_approved",
        /// The buyer entered the return's carrier and tracking number.
        ReturnShipped = "return_shipped",
        Refunded = "refunded",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        /// The buyer did not ship the return in time.
        Lapsed = "lapsed",
    }
);

string_enum!(
    /// What the buyer says of hardware goods when asking for a refund (§4.3).
    GoodsState {
        /// 未收货: refunded when the seller approves.
        NotReceived = "not_received",
        /// 已收货: the goods go back first (return steps).
        Received = "received",
    }
);

string_enum!(
    /// What a party does to a pending negotiated refund.
    RefundDecision {
        /// Seller: the agreed amount goes back to the buyer at once.
        Approve = "approve",
        /// Seller: terminal; the buyer may file a new request.
        Reject = "reject",
        /// Buyer.
        Withdraw = "withdraw",
        /// Buyer, hardware return approved: the goods are on their way back.
        ShipReturn = "ship_return",
        /// Seller, hardware return shipped: the goods arrived; the refund completes.
        ConfirmReceipt = "confirm_receipt",
        /// Operator, hardware "not received" filed while the goods are in transit: the request
        /// may go to the seller (§4.3). Changes no state.
        ConfirmInTransit = "confirm_in_transit",
    }
);

event_enum!(
    /// Something that happens to a refund request.
    RefundEvent {
        /// The seller (or an operator) agreed; a no-reason or operator-forced refund is
        /// approved as it is filed.
        Approve = "approved",
        Reject = "rejected",
        Withdraw = "withdrawn",
        /// The seller agreed to take received goods back.
        ApproveReturn = "return approved",
        ShipReturn = "return shipped",
        ConfirmReceipt = "receipt confirmed",
        Lapse = "lapsed",
    }
);

impl RefundDecision {
    /// What the decision does to the request (`None`: it moves no state).
    pub fn event(self) -> Option<RefundEvent> {
        match self {
            RefundDecision::Approve => Some(RefundEvent::Approve),
            RefundDecision::Reject => Some(RefundEvent::Reject),
            RefundDecision::Withdraw => Some(RefundEvent::Withdraw),
            RefundDecision::ShipReturn => Some(RefundEvent::ShipReturn),
            RefundDecision::ConfirmReceipt => Some(RefundEvent::ConfirmReceipt),
            RefundDecision::ConfirmInTransit => None,
        }
    }
}

impl StateMachine for RefundState {
    type Event = RefundEvent;
    const WHAT: &'static str = "a refund request";
    const STATES: &'static [Self] = RefundState::ALL;
    /// Filed, waiting for the seller (refunds that take effect at once are approved as filed).
    const START: Self = RefundState::PendingSellerReview;

    /// The refund request state machine: only a pending request is decided, once.
    fn next(self, event: RefundEvent) -> Option<RefundState> {
        use RefundEvent::*;
        use RefundState::*;
        match (self, event) {
            (PendingSellerReview, Approve) => Some(Refunded),
            (PendingSellerReview, Reject) => Some(Rejected),
            (PendingSellerReview, Withdraw) => Some(Withdrawn),
            (PendingSellerReview, ApproveReturn) => Some(ReturnApproved),
            (ReturnApproved, ShipReturn) => Some(ReturnShipped),
            (ReturnApproved, Withdraw) => Some(Withdrawn),
            (ReturnApproved, Lapse) => Some(Lapsed),
            (ReturnShipped, ConfirmReceipt) => Some(Refunded),
            _ => None,
        }
    }
}

/// The configurable numbers of §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    /// `refund.no_reason_window`, from the instance's opening.
    pub no_reason_window: Duration,
    /// `refund.no_reason_yearly_quota`, per buyer in any rolling year.
    pub no_reason_yearly_quota: u32,
    /// `refund.return_ship_window`: a hardware return not shipped by then lapses.
    pub return_ship_window: Duration,
    /// `refund.return_receipt_auto`: a shipped return the seller does not confirm by then is
    /// refunded by the system.
    pub return_receipt_auto: Duration,
}

impl Default for RefundPolicy {
    fn default() -> Self {
        RefundPolicy {
            no_reason_window: Duration::hours(120),
            no_reason_yearly_quota: 10,
            return_ship_window: Duration::days(7),
            return_receipt_auto: Duration::days(10),
        }
    }
}

/// What the refund rules need to know about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub kind: OrderKind,
    pub state: OrderState,
    pub delivery: DeliveryType,
    pub billing_mode: BillingMode,
    /// The cash paid (the order's price less its voucher part): what a refund returns.
    pub paid: Money,
    /// The part a seller voucher paid (§8.2). An order a voucher paid in full (`paid` 0) is
    /// refunded with a zero cash amount: the refund gives the voucher part back.
    pub voucher_minor: i64,
    /// When its instance opened (the no-reason window runs from here).
    pub opened_at: Option<OffsetDateTime>,
    /// `None`: not supervised; `Some(done)`: supervised, completed or not.
    pub supervision_completed: Option<bool>,
}

/// Why a refund is refused, each with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("{0}")]
    NotEligible(String),
    #[error("the no-reason refund window ({hours} h from opening) has closed")]
    WindowClosed { hours: i64 },
    #[error("this account has used its {quota} no-reason refunds of the last 12 months")]
    QuotaExhausted { quota: u32 },
    #[error("the amount must be more than 0 and at most the {paid} paid")]
    Amount { paid: Money },
    #[error(
        "a voucher paid this whole order: the refund returns no cash, so its amount is 0 \
             {currency} (the voucher part goes back to the voucher)"
    )]
    VoucherOnlyAmount { currency: crate::money::Currency },
    #[error("only a pending refund request can be decided; this one is {0}")]
    NotPending(RefundState),
}

/// The year the no-reason quota counts back over (Souk default: a rolling 12 months, so the
/// quota cannot be doubled around New Year).
pub fn quota_since(now: OffsetDateTime) -> OffsetDateTime {
    now - Duration::days(365)
}

/// A no-reason full refund (§4.2): the full paid amount, or why not. `used` is how many the
/// buyer received since [`quota_since`].
pub fn no_reason(
    f: &OrderFacts,
    used: u32,
    policy: &RefundPolicy,
    now: OffsetDateTime,
) -> Result<Money, RefundRefusal> {
    let eligible_type = matches!(f.delivery, DeliveryType::Saas | DeliveryType::Image)
        && f.supervision_completed.is_none();
    if !eligible_type {
        return Err(RefundRefusal::NotEligible(format!(
            "no-reason refunds are for unsupervised SaaS and Image orders; this is a {}{} \
             order (supervised orders use a negotiated refund)",
            if f.supervision_completed.is_some() {
                "supervised "
            } else {
                ""
            },
            f.delivery
        )));
    }
    if !f.billing_mode.is_period() || f.kind != OrderKind::New {
        return Err(RefundRefusal::NotEligible(
            "no-reason refunds are for new monthly or yearly purchases".to_owned(),
        ));
    }
    if f.state != OrderState::Completed {
        return Err(RefundRefusal::NotEligible(format!(
            "the order is {}; only a delivered order can be refunded this way",
            f.state
        )));
    }
    match f.opened_at {
        Some(opened) if now - opened <= policy.no_reason_window => {}
        _ => {
            return Err(RefundRefusal::WindowClosed {
                hours: policy.no_reason_window.whole_hours(),
            })
        }
    }
    if used >= policy.no_reason_yearly_quota {
        return Err(RefundRefusal::QuotaExhausted {
            quota: policy.no_reason_yearly_quota,
        });
    }
    Ok(f.paid)
}

/// Whether a refund of this order returns no cash: a voucher paid it in full, so what goes back
/// is the voucher part alone (`souk_core::voucher::voucher_back`).
pub fn voucher_only(paid: Money, voucher_minor: i64) -> bool {
    paid.amount_minor == 0 && voucher_minor > 0
}

/// `0 < amount ≤ paid`; for an order a voucher paid in full, exactly 0 (the refund returns the
/// voucher part only).
fn amount_within(paid: Money, voucher_minor: i64, amount: Money) -> Result<Money, RefundRefusal> {
    if voucher_only(paid, voucher_minor) {
        if amount.currency != paid.currency || amount.amount_minor != 0 {
            return Err(RefundRefusal::VoucherOnlyAmount {
                currency: paid.currency,
            });
        }
        return Ok(amount);
    }
    if amount.currency != paid.currency
        || amount.amount_minor <= 0
        || amount.amount_minor > paid.amount_minor
    {
        return Err(RefundRefusal::Amount { paid });
    }
    Ok(amount)
}

/// A negotiated refund request (§4.3): a supervised new purchase still inside its
/// transaction-guarantee period (supervision not completed), for 0 < amount ≤ paid.
pub fn negotiated(f: &OrderFacts, amount: Money) -> Result<Money, RefundRefusal> {
    match f.supervision_completed {
        None => {
            return Err(RefundRefusal::NotEligible(
                "negotiated refunds are for supervised orders; this order is not supervised"
                    .to_owned(),
            ))
        }
        Some(true) => {
            return Err(RefundRefusal::NotEligible(
                "supervision is completed, so the transaction-guarantee period is over".to_owned(),
            ))
        }
        Some(false) => {}
    }
    if f.kind != OrderKind::New || f.state != OrderState::Processing {
        return Err(RefundRefusal::NotEligible(format!(
            "the order is {}; a negotiated refund needs a paid order under supervision",
            f.state
        )));
    }
    amount_within(f.paid, f.voucher_minor, amount)
}

/// A renewal-period refund 退续费 (§4.4): the full paid amount of a completed renewal whose
/// period `(from, to)` has not started at `now`. `instance_expiry` must still be the renewal's
/// end: a later renewal is refunded first (its period would otherwise hang in the air).
/// Self-service, no seller approval, no quota (Souk defaults).
pub fn renewal_period(
    f: &OrderFacts,
    window: Option<(OffsetDateTime, OffsetDateTime)>,
    instance_expiry: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Money, RefundRefusal> {
    if f.kind != OrderKind::Renewal {
        return Err(RefundRefusal::NotEligible(format!(
            "a renewal-period refund is for renewal orders; this is a {} order",
            f.kind
        )));
    }
    if f.state != OrderState::Completed {
        return Err(RefundRefusal::NotEligible(format!(
            "the renewal is {}; only a completed renewal can be refunded",
            f.state
        )));
    }
    let Some((from, to)) = window else {
        return Err(RefundRefusal::NotEligible(
            "Souk did not record the period this renewal added".to_owned(),
        ));
    };
    if now >= from {
        return Err(RefundRefusal::NotEligible(
            "the renewed period has started; a renewal in effect cannot be refunded".to_owned(),
        ));
    }
    if instance_expiry != Some(to) {
        return Err(RefundRefusal::NotEligible(
            "a later renewal extends this instance; refund that one first".to_owned(),
        ));
    }
    if f.paid.amount_minor <= 0 {
        return Err(RefundRefusal::NotEligible(
            "nothing was paid for this renewal".to_owned(),
        ));
    }
    Ok(f.paid)
}

/// An operator's forced refund (§3.4): 0 < amount ≤ paid (0 for an order a voucher paid in
/// full).
pub fn forced(paid: Money, voucher_minor: i64, amount: Money) -> Result<Money, RefundRefusal> {
    amount_within(paid, voucher_minor, amount)
}

/// A party's decision on a request, as the move the store persists (compare-and-set on
/// `from`).
pub fn decide(
    state: RefundState,
    d: RefundDecision,
) -> Result<Transition<RefundState>, RefundRefusal> {
    decide_goods(state, d, None)
}

/// As [`decide`], for a request that may concern hardware goods: approving a refund of
/// received goods approves their return first.
pub fn decide_goods(
    state: RefundState,
    d: RefundDecision,
    goods: Option<GoodsState>,
) -> Result<Transition<RefundState>, RefundRefusal> {
    let event = match (d, goods) {
        (RefundDecision::Approve, Some(GoodsState::Received)) => Some(RefundEvent::ApproveReturn),
        _ => d.event(),
    };
    event
        .and_then(|e| state.transition(e).ok())
        .ok_or(RefundRefusal::NotPending(state))
}

/// §4.3: a hardware "not received" request filed while the goods are in transit (the seller
/// recorded the shipment, the buyer has not accepted) waits for an operator's confirmation
/// before the seller may decide it.
pub fn needs_operator_confirmation(
    goods: Option<GoodsState>,
    shipped: bool,
    completed: bool,
) -> bool {
    goods == Some(GoodsState::NotReceived) && shipped && !completed
}

/// Whether a request in `state` is still open (one per order).
pub fn is_open(state: RefundState) -> bool {
    matches!(
        state,
        RefundState::PendingSellerReview | RefundState::ReturnApproved | RefundState::ReturnShipped
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 0:00 UTC);

    fn saas() -> OrderFacts {
        OrderFacts {
            kind: OrderKind::New,
            state: OrderState::Completed,
            delivery: DeliveryType::Saas,
            billing_mode: BillingMode::Monthly,
            paid: Money::new(5000, Currency::CNY),
            voucher_minor: 0,
            opened_at: Some(T0),
            supervision_completed: None,
        }
    }

    #[test]
    fn goods_in_transit_reported_not_received_wait_for_an_operator() {
        use GoodsState::*;
        assert!(needs_operator_confirmation(Some(NotReceived), true, false));
        assert!(!needs_operator_confirmation(
            Some(NotReceived),
            false,
            false
        ));
        assert!(!needs_operator_confirmation(Some(NotReceived), true, true));
        assert!(!needs_operator_confirmation(Some(Received), true, false));
        assert!(!needs_operator_confirmation(None, true, false));
        assert_eq!(
            decide(
                RefundState::PendingSellerReview,
                RefundDecision::ConfirmInTransit
            ),
            Err(RefundRefusal::NotPending(RefundState::PendingSellerReview))
        );
    }

    #[test]
    fn no_reason_refunds_hold_for_120_hours_and_ten_a_year() {
        let p = RefundPolicy::default();
        assert_eq!(
            no_reason(&saas(), 0, &p, T0 + Duration::hours(120))
                .unwrap()
                .amount_minor,
            5000
        );
        assert_eq!(
            no_reason(&saas(), 0, &p, T0 + Duration::hours(121)),
            Err(RefundRefusal::WindowClosed { hours: 120 })
        );
        assert!(no_reason(&saas(), 9, &p, T0).is_ok());
        assert_eq!(
            no_reason(&saas(), 10, &p, T0),
            Err(RefundRefusal::QuotaExhausted { quota: 10 })
        );
    }

    #[test]
    fn no_reason_refunds_exclude_supervised_one_time_and_renewals() {
        let p = RefundPolicy::default();
        let supervised = OrderFacts {
            supervision_completed: Some(false),
            ..saas()
        };
        assert!(matches!(
            no_reason(&supervised, 0, &p, T0),
            Err(RefundRefusal::NotEligible(_))
        ));
        let once = OrderFacts {
            billing_mode: BillingMode::OneTime,
            ..saas()
        };
        assert!(no_reason(&once, 0, &p, T0).is_err());
        let renewal = OrderFacts {
            kind: OrderKind::Renewal,
            ..saas()
        };
        assert!(no_reason(&renewal, 0, &p, T0).is_err());
        let image = OrderFacts {
            delivery: DeliveryType::Image,
            ..saas()
        };
        assert!(no_reason(&image, 0, &p, T0).is_ok());
        let api = OrderFacts {
            delivery: DeliveryType::Api,
            ..saas()
        };
        assert!(no_reason(&api, 0, &p, T0).is_err());
    }

    #[test]
    fn negotiated_refunds_need_an_open_guarantee_period_and_a_sane_amount() {
        let f = OrderFacts {
            state: OrderState::Processing,
            delivery: DeliveryType::ManualService,
            supervision_completed: Some(false),
            ..saas()
        };
        let cny = |m| Money::new(m, Currency::CNY);
        assert_eq!(negotiated(&f, cny(5000)).unwrap().amount_minor, 5000);
        assert!(matches!(
            negotiated(&f, cny(5001)),
            Err(RefundRefusal::Amount { .. })
        ));
        assert!(matches!(
            negotiated(&f, cny(0)),
            Err(RefundRefusal::Amount { .. })
        ));
        assert!(negotiated(&f, Money::new(100, Currency::USD)).is_err());
        let done = OrderFacts {
            supervision_completed: Some(true),
            ..f.clone()
        };
        assert!(matches!(
            negotiated(&done, cny(1)),
            Err(RefundRefusal::NotEligible(_))
        ));
        assert!(negotiated(&saas(), cny(1)).is_err());
        // A voucher paid the whole order: the refund's cash is exactly 0.
        let voucher = OrderFacts {
            paid: cny(0),
            voucher_minor: 5000,
            ..f.clone()
        };
        assert_eq!(negotiated(&voucher, cny(0)).unwrap().amount_minor, 0);
        assert!(matches!(
            negotiated(&voucher, cny(1)),
            Err(RefundRefusal::VoucherOnlyAmount { .. })
        ));
        assert_eq!(forced(cny(0), 5000, cny(0)).unwrap().amount_minor, 0);
        assert!(forced(cny(0), 0, cny(0)).is_err());
        assert!(forced(cny(300), 200, cny(0)).is_err());
    }

    #[test]
    fn a_renewal_is_refunded_in_full_only_before_its_period_and_latest_first() {
        let renewal = OrderFacts {
            kind: OrderKind::Renewal,
            ..saas()
        };
        let from = T0 + Duration::days(10);
        let to = from + Duration::days(30);
        let w = Some((from, to));
        assert_eq!(
            renewal_period(&renewal, w, Some(to), T0)
                .unwrap()
                .amount_minor,
            5000
        );
        // In effect, not the latest renewal, unknown period, not a renewal.
        assert!(renewal_period(&renewal, w, Some(to), from).is_err());
        let later = to + Duration::days(30);
        assert!(renewal_period(&renewal, w, Some(later), T0).is_err());
        assert!(renewal_period(&renewal, None, Some(to), T0).is_err());
        assert!(renewal_period(&saas(), w, Some(to), T0).is_err());
    }

    #[test]
    fn only_pending_requests_are_decided() {
        use RefundDecision::*;
        use RefundState::*;
        let to = |d| decide(PendingSellerReview, d).map(|t| t.to);
        assert_eq!(to(Approve), Ok(Refunded));
        assert_eq!(to(Reject), Ok(Rejected));
        assert_eq!(to(Withdraw), Ok(Withdrawn));
        // Received hardware goods go back before the money does.
        let ret = |s, d| decide_goods(s, d, Some(GoodsState::Received)).map(|t| t.to);
        assert_eq!(ret(PendingSellerReview, Approve), Ok(ReturnApproved));
        assert_eq!(ret(ReturnApproved, ShipReturn), Ok(ReturnShipped));
        assert_eq!(ret(ReturnApproved, Withdraw), Ok(Withdrawn));
        assert_eq!(ret(ReturnShipped, ConfirmReceipt), Ok(Refunded));
        assert!(ret(ReturnShipped, Withdraw).is_err());
        assert_eq!(ReturnApproved.apply(RefundEvent::Lapse), Ok(Lapsed));
        let not_received =
            decide_goods(PendingSellerReview, Approve, Some(GoodsState::NotReceived));
        assert_eq!(not_received.map(|t| t.to), Ok(Refunded));
        for done in [Refunded, Rejected, Withdrawn, Lapsed] {
            assert!(
                done.next(RefundEvent::Approve).is_none(),
                "{done} is decided once"
            );
        }
        assert_eq!(
            Rejected
                .apply(RefundEvent::Approve)
                .unwrap_err()
                .to_string(),
            "a refund request that is rejected cannot be approved"
        );
        assert_eq!(
            decide(Rejected, Approve),
            Err(RefundRefusal::NotPending(Rejected))
        );
    }
}
