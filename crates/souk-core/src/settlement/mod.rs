//! Settlement (business rules §8, §9): what a seller is owed for a month, as pure functions.
//!
//! - [`period`]: the natural-month period `YYYYMM` in the business zone, and which period is due
//!   for its run on a given day.
//! - [`fee`]: rates in basis points, the platform fee, the joint-product seller share and the
//!   tiered incremental rebate (§8.1), in exact sub-minor units.
//! - [`statement`]: a seller's statement for a period computed from its attributed items
//!   (openings, supervision completions, renewals taking effect, on-demand consumption, refunds,
//!   operator adjustments) with the one rounding rule.
//! - [`reseller`]: the §11 commission formulas, offer and authorisation rules, and the
//!   reseller's monthly statement.
//! - [`workflow`]: the statement states of §9 and who moves a statement between them.
//! - [`reseller_workflow`]: the reseller statement's invoice and payment steps (§10 row 5).
//!
//! ## The rounding rule (the only one)
//!
//! Every per-line figure that involves a rate (platform fee, rebate, reseller commission) is
//! kept exact, in ten-thousandths of a minor unit ([`fee::Exact`]): an amount in minor units
//! times a rate in basis points is an integer there, so nothing is lost. A statement total is
//! the exact sum of its lines, rounded **once** to the minor unit, half away from zero
//! ([`fee::Exact::round`]); §11 says to round only the monthly total. So a statement's figures
//! never depend on the order its lines were added in, and recomputing them from the order
//! history gives the same result to the minor unit.

pub mod fee;
pub mod notice;
pub mod period;
pub mod reseller;
pub mod reseller_workflow;
pub mod statement;
pub mod workflow;

pub use fee::{Exact, FeePolicy, FeePolicyError, Rate, Tier};
pub use period::{Period, PeriodError};
pub use statement::{
    attribution, compute, Item, Line, LineKind, OrderCommission, SettlementError, Statement,
    StatementInput, Totals,
};
pub use workflow::{Deadlines, StatementAction, StatementState, WorkflowError};
