//! Souk's domain: the marketplace's vocabulary and rules as plain types and pure functions.
//!
//! Nothing in this crate performs I/O. Time comes in through [`clock::Clock`], randomness through
//! the caller (or `rand::thread_rng` for identifiers, which is not observable behaviour), and every
//! decision is a function of its inputs so that it can be tested without a database or a network.
//!
//! - [`id`]: prefixed, time-ordered identifiers (`sel_…`, `key_…`).
//! - [`money`]: integer minor units plus an ISO 4217 currency.
//! - [`clock`]: the injectable UTC clock (real in production, settable in tests and the sandbox).
//! - [`endpoint`]: seller endpoint URLs and the SSRF rule.
//! - [`party`]: the four roles (operator, seller, buyer, reseller) and who may do what.
//! - [`api_key`]: API key format, generation and hashing.
//! - [`catalog`]: products, attributes and SKUs, prices, the publishing workflow.
//! - [`order`], [`instance`], [`ledger`], [`provisioning`]: the commerce spine: order and instance
//!   state machines and timers, the balance ledger, and how calls to sellers are retried.
//! - [`transition`]: the [`transition::StateMachine`] every aggregate's states implement: the
//!   core decides each state change, the store persists it with a compare-and-set on the old
//!   state. [`outbox`]: what a seller call's outcome does (a pure plan of effects).
//!   [`call_payload`]: what a seller call needs beyond its instance and order, one shape per call kind.
//! - [`snapshot`]: the typed copy an order keeps of what was bought and who bought it.
//! - [`text`]: what makes a name or label displayable (visible, no direction overrides).
//! - [`license`]: Souk-issued license codes: states, heartbeat status, floating seats.
//! - [`metering`]: usage amounts, usage-record checks, collection times and rating (Fixed/Step/Tier).
//! - [`invoice`]: invoices a seller issues its buyers: request, states, amount, refund interlock.
//! - [`settlement`]: periods, the platform fee and rebate, statements and their workflow.
//! - [`search`]: catalog search terms (Chinese and English) shared by both engines.
//! - [`console`]: the web console's accounts: passwords, sessions, login throttling.

pub mod api_key;
pub mod calendar;
pub mod call_payload;
pub mod catalog;
pub mod clock;
pub mod console;
pub mod endpoint;
pub mod fee_invoice;
pub mod id;
pub mod instance;
pub mod invoice;
pub mod ledger;
pub mod license;
pub mod metering;
pub mod money;
pub mod notice;
pub mod order;
pub mod outbox;
pub mod party;
pub mod provisioning;
pub mod refund;
pub mod refund_review;
pub mod search;
pub mod settlement;
pub mod snapshot;
pub mod supervision;
pub mod text;
pub mod transition;
pub mod voucher;
