//! Use cases: what a party can do, independent of how it asked (HTTP or `souk admin`).
//!
//! Each one parses its input into domain types, asks the domain whether the action is allowed,
//! and hands the result to one store call (one transaction).

pub mod attachments;
pub mod balance;
pub mod buyer_wire;
pub mod calls;
pub mod catalog;
pub mod console;
pub mod endpoint_test;
pub mod fee_invoices;
pub mod instance_wait;
pub mod invoices;
pub mod licenses;
pub mod mail;
pub mod metering;
pub mod orders;
pub mod packages;
pub mod parties;
pub mod refund_returns;
pub mod refund_reviews;
pub mod refunds;
pub mod reseller_check;
pub mod reseller_statements;
pub mod resellers;
pub mod sales;
pub mod sandbox;
pub mod settlement;
pub mod settlement_check;
pub mod statement_deadlines;
pub mod statement_invoices;
pub mod storefront;
pub mod supervision;
pub mod usage_price;
pub mod vouchers;
