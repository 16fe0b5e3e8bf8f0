//! What the message centre tells a party when something waits for them: the wording lives here,
//! with the rules, not in the store that records it.

use crate::money::Money;
use crate::provisioning::CallKind;

/// One message-centre entry: a stable kind, a subject line and a body a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

/// To the buyer: an opening failed for good and the money is back.
pub fn order_refunded(order_id: &str, amount: Money, reason: &str) -> Notice {
    Notice {
        kind: "order_refunded",
        subject: format!("Order {order_id} could not be delivered and was refunded"),
        body: format!(
            "The seller's system did not open your purchase in time ({reason}). {amount} was \
             returned to your balance."
        ),
    }
}

/// To the seller: a call failed for the first time; Souk keeps retrying.
pub fn call_failed(kind: CallKind, instance_id: &str, error: Option<&str>) -> Notice {
    Notice {
        kind: "call_failed",
        subject: format!(
            "A call to your production endpoint failed: {kind} for instance {instance_id}"
        ),
        body: format!(
            "{}. Souk keeps retrying; see the production interface messages for the request and \
             your answer.",
            error.unwrap_or("the call failed")
        ),
    }
}

/// To the seller: Souk stopped retrying a call.
pub fn call_gave_up(kind: CallKind, instance_id: &str, error: &str) -> Notice {
    Notice {
        kind: "call_gave_up",
        subject: format!("Souk stopped retrying {kind} for instance {instance_id}"),
        body: format!(
            "Last error: {error}. Fix your production endpoint, then press retry on this call in \
             the production interface messages."
        ),
    }
}

/// To the party a supervision node now waits for.
pub fn supervision_waiting(order_id: &str, node: crate::supervision::Node) -> Notice {
    use crate::supervision::Node;
    let what = match node {
        Node::SubmitRequirement => "submit your requirements",
        Node::SubmitIdentifier => {
            "give the hardware identifier the license binds to (or ask for a system identifier)"
        }
        Node::ConfirmRequirement => "confirm or reject the buyer's requirements",
        Node::Implement => {
            "implement the service (hardware: ship it and enter the tracking number; License: \
             deliver the license)"
        }
        Node::DeliverProof => "upload the delivery evidence",
        Node::ActivateCode => "activate a license code in the seller's software",
        Node::PlatformReview => "review the delivery evidence",
        Node::BuyerAccept => "accept the delivery or reject it with a reason",
        Node::Completed => "nothing: supervision is completed",
    };
    Notice {
        kind: "supervision_waiting",
        subject: format!("Order {order_id} waits for you: {node}"),
        body: format!(
            "Service supervision of order {order_id} is at `{node}`. Please {what}; see \
             GET /v1/orders/{order_id}/supervision."
        ),
    }
}

/// To both parties: supervision is over and the order completed.
pub fn supervision_completed(order_id: &str, by: crate::supervision::Actor) -> Notice {
    Notice {
        kind: "supervision_completed",
        subject: format!("Order {order_id}: service accepted"),
        body: format!(
            "The delivery of order {order_id} was accepted (by the {by}); the order is completed."
        ),
    }
}

/// To the other party and the operators: an appeal froze the flow.
pub fn appeal_opened(order_id: &str, by: crate::supervision::Actor, reason: &str) -> Notice {
    Notice {
        kind: "appeal_opened",
        subject: format!("Order {order_id}: the {by} appealed"),
        body: format!(
            "Reason: {reason}. Supervision is frozen until an operator resolves the appeal."
        ),
    }
}

/// To both parties: an operator resolved the appeal.
pub fn appeal_resolved(order_id: &str, outcome: &str, reason: &str) -> Notice {
    Notice {
        kind: "appeal_resolved",
        subject: format!("Order {order_id}: appeal resolved ({outcome})"),
        body: format!("The operator decided `{outcome}`: {reason}."),
    }
}

/// To the seller: a buyer asks for a negotiated refund.
pub fn refund_requested(order_id: &str, amount: Money, reason: &str) -> Notice {
    Notice {
        kind: "refund_requested",
        subject: format!("Order {order_id}: the buyer asks for a refund of {amount}"),
        body: format!(
            "Reason: {reason}. Approve or reject it with POST /v1/orders/{order_id}/refunds/decision; \
             supervision timers are paused meanwhile."
        ),
    }
}

/// To the seller: a refund request is still waiting for its review (business rules §4.3).
pub fn refund_review_reminder(order_id: &str, timeout_at: time::OffsetDateTime) -> Notice {
    Notice {
        kind: "refund_review_reminder",
        subject: format!("Order {order_id}: a refund request still waits for your review"),
        body: format!(
            "Approve or reject it with POST /v1/orders/{order_id}/refunds/decision before \
             {timeout_at} (UTC); after that the marketplace decides."
        ),
    }
}

/// To the operators: a buyer says hardware goods in transit were not received (§4.3).
pub fn refund_awaits_operator(order_id: &str, amount: Money, reason: &str) -> Notice {
    Notice {
        kind: "refund_awaits_operator",
        subject: format!("Order {order_id}: goods in transit reported not received ({amount})"),
        body: format!(
            "Reason: {reason}. The goods were shipped and not yet accepted: confirm the request \
             with POST /v1/orders/{order_id}/refunds/decision {{\"decision\": \
             \"confirm_in_transit\"}} so the seller reviews it, or decide it yourself."
        ),
    }
}

/// To the buyer and the operators: the seller did not review a refund request in time.
pub fn refund_escalated(order_id: &str) -> Notice {
    Notice {
        kind: "refund_escalated",
        subject: format!("Order {order_id}: refund request escalated to the marketplace"),
        body: "The seller did not review the refund request in time; an operator decides it \
               (POST /v1/orders/{id}/refunds/decision)."
            .replace("{id}", order_id),
    }
}

/// To the operators: an appeal is still open past its SLA.
pub fn appeal_overdue(order_id: &str) -> Notice {
    Notice {
        kind: "appeal_overdue",
        subject: format!("Order {order_id}: appeal open past its SLA"),
        body: format!(
            "The appeal on order {order_id} has waited longer than the marketplace's appeal \
             SLA; resolve it with POST /v1/orders/{order_id}/supervision/actions."
        ),
    }
}

/// To the buyer (and seller): money went back.
pub fn refund_completed(order_id: &str, amount: Money) -> Notice {
    Notice {
        kind: "refund_completed",
        subject: format!("Order {order_id} was refunded"),
        body: if amount.amount_minor == 0 {
            // An order a seller voucher paid in full (§8.2): no cash to return.
            "No cash was paid, so none is returned; the voucher part goes back to the voucher. \
             The instance is released."
                .to_owned()
        } else {
            format!("{amount} was returned to the buyer's balance; the instance is released.")
        },
    }
}

/// To the buyer: the seller rejected the refund request.
pub fn refund_rejected(order_id: &str, opinion: &str) -> Notice {
    Notice {
        kind: "refund_rejected",
        subject: format!("Order {order_id}: refund request rejected"),
        body: format!("The seller's opinion: {opinion}. You may file a new request or appeal."),
    }
}

/// To the seller: an operator decided the review of a product (`approved`) or of a revision of
/// a listed product. `reason` is the rejection's.
pub fn review_decided(
    product_id: &str,
    what: &str,
    approved: bool,
    reason: Option<&str>,
) -> Notice {
    if approved {
        Notice {
            kind: "review_approved",
            subject: format!("Your {what} of product {product_id} was approved"),
            body: format!(
                "The operator approved the {what}; the storefront shows it now. Nothing more to do."
            ),
        }
    } else {
        Notice {
            kind: "review_rejected",
            subject: format!("Your {what} of product {product_id} was rejected"),
            body: format!(
                "Reason: {}. Change the product accordingly and submit it again.",
                reason.unwrap_or("none given")
            ),
        }
    }
}

/// To the buyer: the seller opened the purchase; its credentials (when the delivery has any)
/// can be shown in the buyer center.
pub fn instance_opened(order_id: &str, instance_id: &str, has_credentials: bool) -> Notice {
    if has_credentials {
        Notice {
            kind: "credentials_ready",
            subject: format!("Order {order_id} is open: your credentials are ready"),
            body: format!(
                "Instance {instance_id} is running. Open it in the buyer center and press \
                 \"Show credentials\" to see how to sign in."
            ),
        }
    } else {
        Notice {
            kind: "order_opened",
            subject: format!("Order {order_id} is open"),
            body: format!("Instance {instance_id} is running; see it in the buyer center."),
        }
    }
}

/// To the buyer: a usage package's quota of a billing item ran low or out in its period.
pub fn package_quota(
    package_id: &str,
    item: &str,
    alert: crate::metering::package::QuotaAlert,
    remaining: crate::metering::UsageValue,
    quota: crate::metering::UsageValue,
    stops: bool,
) -> Notice {
    use crate::metering::package::QuotaAlert;
    match alert {
        QuotaAlert::Low => Notice {
            kind: "package_quota_low",
            subject: format!("Usage package {package_id} is running low"),
            body: format!(
                "{remaining} of {quota} units of {item} remain in this period. Buy another \
                 package to keep usage covered; past the quota usage is {}.",
                if stops { "stopped" } else { "billed on demand" }
            ),
        },
        QuotaAlert::Exhausted => Notice {
            kind: "package_quota_exhausted",
            subject: format!("Usage package {package_id} is used up"),
            body: if stops {
                format!(
                    "All {quota} units of {item} are used. The seller was told to stop the \
                     service; buy another package to continue."
                )
            } else {
                format!(
                    "All {quota} units of {item} in this period are used. Further usage is \
                     billed on demand until the quota resets or another package covers it."
                )
            },
        },
    }
}

/// To the buyer: the seller agreed to take the goods back; ship them.
pub fn return_approved(order_id: &str, until: time::OffsetDateTime) -> Notice {
    Notice {
        kind: "refund_return_approved",
        subject: format!("Order {order_id}: ship the goods back"),
        body: format!(
            "The seller agreed to your refund once the goods are back. Ship them and enter the \
             carrier and tracking number (decision `ship_return`) before {until}, or the request \
             lapses."
        ),
    }
}

/// To the seller: the buyer shipped the return.
pub fn return_shipped(order_id: &str, carrier: &str, tracking: &str) -> Notice {
    Notice {
        kind: "refund_return_shipped",
        subject: format!("Order {order_id}: the goods are on their way back"),
        body: format!(
            "Carrier {carrier}, tracking number {tracking}. Confirm the receipt (decision \
             `confirm_receipt`) to complete the refund; without it the refund completes by itself."
        ),
    }
}

/// To the buyer: the return was not shipped in time.
pub fn return_lapsed(order_id: &str) -> Notice {
    Notice {
        kind: "refund_lapsed",
        subject: format!("Order {order_id}: the refund request lapsed"),
        body: "The goods were not shipped back in time. You may file a new request.".to_owned(),
    }
}

/// To the buyer, a day before the system accepts on their behalf (§3.3).
pub fn auto_accept_soon(order_id: &str, at: time::OffsetDateTime) -> Notice {
    Notice {
        kind: "supervision_auto_accept_soon",
        subject: format!("Order {order_id} will be accepted automatically at {at}"),
        body: format!(
            "You have not accepted or rejected the delivery of order {order_id}. Unless you act, \
             the system accepts it at {at}."
        ),
    }
}

/// To both parties, once, when supervision is still open long after payment (§3.3).
pub fn supervision_stale(order_id: &str) -> Notice {
    Notice {
        kind: "supervision_stale",
        subject: format!("Order {order_id} is still under supervision"),
        body: format!(
            "Service supervision of order {order_id} has not completed 180 days after payment. \
             Please finish it (nothing closes by itself)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn notices_name_what_happened_and_what_to_do() {
        let n = order_refunded("ord_1", Money::new(3000, Currency::CNY), "HTTP 500");
        assert_eq!(n.kind, "order_refunded");
        assert!(n.subject.contains("ord_1"));
        assert!(n.body.contains("HTTP 500"));
        let n = call_failed(CallKind::NewInstance, "ins_1", None);
        assert!(n.subject.contains("new_instance") && n.subject.contains("ins_1"));
        assert!(n.body.starts_with("the call failed."));
        let n = call_gave_up(CallKind::ReleaseInstance, "ins_1", "timeout");
        assert!(n.body.contains("press retry"));
    }
}
