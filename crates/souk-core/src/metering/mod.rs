//! Metering (business rules §6.4, §7): usage amounts, the checks on pushed usage records, the
//! collection schedule and rating. Pure functions; the store applies their results with the
//! ledger, the server's timer pass runs the collection.

pub mod rating;
pub mod record;
pub mod usage;

pub use rating::{Band, PriceError, PriceMode};
pub use record::{
    accumulation_period, check_times, collection_cutoff, MeteredInstance, RecordError, RecordTimes,
};
pub use usage::{UsageError, UsageValue};

/// The memo of a usage charge's ledger line (the buyer reads it in the ledger).
pub fn charge_memo(instance_id: &str, records: i64, usage: UsageValue, period: &str) -> String {
    format!("Usage of {instance_id}: {records} record(s), {usage} units, rated toward {period}")
}
