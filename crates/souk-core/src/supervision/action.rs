//! What the parties send: actions, evidence items and appeal resolutions.

use super::Node;
use crate::order::string_enum;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One item of delivery evidence 交付验收件 (§3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// e.g. `acceptance_report`, `screenshot`, `remote_delivery_record`.
    #[schema(example = "acceptance_report")]
    pub kind: String,
    /// What the item shows.
    pub description: String,
    /// Who signed it (seller, platform, buyer).
    #[serde(default)]
    pub signed_by: Vec<String>,
    /// Delivered remotely (records replace screenshots).
    #[serde(default)]
    pub remote: bool,
    /// Ids of the order's attachments that hold this item.
    #[serde(default)]
    pub attachments: Vec<String>,
}

string_enum!(
    /// How an operator resolves an appeal (§3.4). `force_refund` lives with refunds.
    Resolution {
        /// Accept on the buyer's behalf; supervision completes.
        ForceAccept = "force_accept",
        /// Send the flow back to the node named in `node`.
        ReturnTo = "return_to",
        /// Nothing changes; the flow resumes where it was, its timer with the time it had left.
        Dismiss = "dismiss",
        /// Refund `amount` (0 < amount ≤ paid) to the buyer; supervision ends.
        ForceRefund = "force_refund",
    }
);

/// Something a party does in supervision (request body of
/// `POST /v1/orders/{id}/supervision/actions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Buyer, at `submit_requirement`; `attachments` are ids of the order's attachments.
    SubmitRequirement {
        requirement: String,
        #[serde(default)]
        attachments: Vec<String>,
    },
    /// Buyer, at `submit_identifier` (License 识别码): the hardware identifier the license is
    /// bound to; leave it out and Souk generates a system identifier.
    SubmitIdentifier {
        #[serde(default)]
        hardware_id: Option<String>,
        /// Filled by Souk when `hardware_id` is left out (shown in the log); never sent.
        #[serde(default, skip_deserializing)]
        #[schema(read_only)]
        system_id: Option<String>,
    },
    /// Seller, at `confirm_requirement`.
    ConfirmRequirement,
    /// Seller, at `confirm_requirement`: back to the buyer.
    RejectRequirement { reason: String },
    /// Seller, at `implement`. Hardware: carrier and tracking number are required. Online
    /// License: `license` delivers the license by hand when getLicense did not.
    Implement {
        #[serde(default)]
        carrier: Option<String>,
        #[serde(default)]
        tracking_number: Option<String>,
        #[serde(default)]
        license: Option<String>,
    },
    /// Seller, at `deliver_proof`: at least one evidence item; the actual start time must lie
    /// between payment and now.
    DeliverProof {
        evidence: Vec<Evidence>,
        #[serde(default, with = "time::serde::rfc3339::option")]
        #[schema(value_type = Option<String>)]
        actual_start: Option<OffsetDateTime>,
    },
    /// Operator, at `platform_review`.
    PassReview,
    /// Operator, at `platform_review`: back to the seller with a comment.
    ReturnReview { reason: String },
    /// Buyer, at `buyer_accept` (the system too, when the timer runs out).
    Accept,
    /// Buyer, at `buyer_accept`: back to implementation.
    RejectDelivery { reason: String },
    /// System only, at `activate_code`: the seller's software activated one of the order's
    /// codes through the License open API (parties get `409 out_of_turn`).
    ActivateCode {
        license: String,
        #[serde(with = "time::serde::rfc3339")]
        #[schema(value_type = String)]
        activated_at: OffsetDateTime,
    },
    /// Buyer any time; seller past the thresholds. Freezes the flow.
    Appeal { reason: String, demand: String },
    /// Operator, on an open appeal.
    ResolveAppeal {
        outcome: Resolution,
        /// For `return_to`: the node to return to.
        #[serde(default)]
        node: Option<Node>,
        /// For `force_refund`: how much goes back to the buyer.
        #[serde(default)]
        amount: Option<crate::money::Money>,
        reason: String,
    },
}

impl Action {
    /// The stable name written in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SubmitRequirement { .. } => "submit_requirement",
            Action::SubmitIdentifier { .. } => "submit_identifier",
            Action::ConfirmRequirement => "confirm_requirement",
            Action::RejectRequirement { .. } => "reject_requirement",
            Action::Implement { .. } => "implement",
            Action::DeliverProof { .. } => "deliver_proof",
            Action::PassReview => "pass_review",
            Action::ReturnReview { .. } => "return_review",
            Action::Accept => "accept",
            Action::RejectDelivery { .. } => "reject_delivery",
            Action::ActivateCode { .. } => "activate_code",
            Action::Appeal { .. } => "appeal",
            Action::ResolveAppeal { .. } => "resolve_appeal",
        }
    }

    /// The reason a party gave, for the log.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Action::RejectRequirement { reason }
            | Action::ReturnReview { reason }
            | Action::RejectDelivery { reason }
            | Action::Appeal { reason, .. }
            | Action::ResolveAppeal { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
