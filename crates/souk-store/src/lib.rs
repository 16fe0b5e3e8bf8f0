//! Souk's storage.
//!
//! One trait, [`Store`], whose methods are named after use cases ("create a party and record who
//! did it", "authenticate this key"), so that every method is exactly one transaction and the
//! server never strings several writes together outside one. Callers pass a [`Scope`]: the
//! operator sees everything, every other party only its own tenant, and the scope is applied in
//! the SQL itself, never filtered afterwards.
//!
//! [`SqlStore`] implements it for both SQLite (the embedded default) and PostgreSQL through
//! sqlx's `Any` driver: the statements are written once in the SQL both understand (`$1`
//! placeholders, `RETURNING`, integer milliseconds for instants, text ids), and the few places
//! where the dialects differ branch on [`Backend`]. Each backend has its own migrations folder
//! (`migrations/sqlite`, `migrations/postgres`), embedded in the binary.
//!
//! On SQLite all writes go through a single pooled connection: SQLite admits one writer at a
//! time anyway, and queueing writers in the pool instead of in SQLite's busy handler avoids
//! `SQLITE_BUSY` under load. Reads use a separate pool and, thanks to WAL, never wait for writes.

mod aftersale;
mod cache;
mod catalog;
mod commerce;
mod console;
mod console_mail;
mod console_ops;
mod console_sales;
mod constraint;
mod exec;
mod fee_invoices;
mod invoices;
mod licenses;
mod metering;
mod ops;
mod records;
mod resellers;
mod search;
mod settlement;
mod sql;
mod vouchers;

pub use aftersale::*;
pub use catalog::*;
pub use commerce::*;
pub use console::*;
pub use console_mail::{MailBacklog, NewMail, OutboxMail, MESSAGES_PATH, RESETS_PER_HOUR};
pub use console_ops::*;
pub use console_sales::DaySalesRow;
pub use constraint::{constraint_names, ConstraintKind};
pub use fee_invoices::*;
pub use invoices::*;
pub use licenses::*;
pub use metering::*;
pub use ops::*;
pub use records::*;
pub use resellers::*;
pub use search::{ProductSearch, SearchHit, SearchSort};
pub use settlement::*;
pub use sql::{redact_url as sql_redact_url, Backend, SqlStore};
pub use vouchers::{VoucherMismatch, VoucherRecord, VoucherStore};

use async_trait::async_trait;
use souk_core::id::ApiKeyId;
use souk_core::party::{PartyId, Role};
use time::OffsetDateTime;

/// What can go wrong in storage, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused the change: a unique, foreign-key or check constraint was violated.
    /// `constraint` names it the same way on both backends for unique rules (see
    /// [`constraint_names`] for the ones that mean something to a client). Every `sqlx::Error`
    /// is sorted into this or [`StoreError::Database`] by one conversion (`constraint.rs`).
    #[error("{kind:?} constraint {constraint} violated")]
    Conflict {
        constraint: String,
        kind: ConstraintKind,
    },
    /// The database is unreachable or failed: not the client's fault.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Running the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A compare-and-set found the row no longer in the state the change was decided from:
    /// someone else moved it first. Nothing was changed; read it again and decide again.
    #[error("{what} {id} is no longer {expected}")]
    LostRace {
        /// The aggregate ("order", "instance", "job").
        what: &'static str,
        id: String,
        /// The state the change was decided from.
        expected: &'static str,
    },
    /// A stored value could not be read back (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What revoking a key did.
#[derive(Debug, Clone, PartialEq)]
pub enum RevokeOutcome {
    NotFound,
    /// Revoked now, or already revoked before.
    Revoked(ApiKeyRecord),
    /// Refused: no live operator key would remain.
    LastOperatorKey,
}

/// Whose data a call may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The operator: every tenant.
    Everything,
    /// One party's own tenant.
    Party(PartyId),
}

impl Scope {
    /// The tenant to filter on, or `None` for everything.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Scope::Everything => None,
            Scope::Party(p) => Some(p.as_str()),
        }
    }
}

/// Cursor pagination: items with an id greater than `after`, in id (= creation) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<String>,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

/// Everything Souk stores, as one trait object (`Arc<dyn Store>`). Each area of the marketplace
/// has its own use-case trait in its own module; `Store` is all of them together.
pub trait Store:
    PartyStore
    + CatalogStore
    + CommerceStore
    + LicenseStore
    + MeteringStore
    + PackageStore
    + OpsStore
    + SettlementStore
    + ResellerStore
    + ConsoleStore
    + ConsoleOpsStore
    + AftersaleStore
    + InvoiceStore
    + VoucherStore
    + FeeInvoiceStore
{
}

impl<T> Store for T where
    T: PartyStore
        + CatalogStore
        + CommerceStore
        + LicenseStore
        + MeteringStore
        + PackageStore
        + OpsStore
        + SettlementStore
        + ResellerStore
        + ConsoleStore
        + ConsoleOpsStore
        + AftersaleStore
        + InvoiceStore
        + VoucherStore
        + FeeInvoiceStore
{
}

/// Parties, API keys, the audit trail, and the database itself.
#[async_trait]
pub trait PartyStore: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Runs the embedded migrations for this backend. Running them again is a no-op.
    async fn migrate(&self) -> StoreResult<()>;

    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates the first operator and its key unless an operator already exists.
    /// Returns `false` when there was one already (the key was not stored).
    async fn bootstrap_operator(&self, party: NewParty, key: NewKey) -> StoreResult<bool>;

    /// Creates a party, recording who did it.
    async fn create_party(&self, party: NewParty, actor: &PartyId) -> StoreResult<PartyRecord>;

    async fn find_party(&self, scope: &Scope, id: &PartyId) -> StoreResult<Option<PartyRecord>>;

    /// Suspends or reactivates a party (its keys stop or resume working at once).
    async fn set_party_status(
        &self,
        id: &PartyId,
        status: souk_core::party::PartyStatus,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PartyRecord>>;

    async fn list_parties(
        &self,
        scope: &Scope,
        role: Role,
        page: &Page,
    ) -> StoreResult<Vec<PartyRecord>>;

    /// Issues a key for a party visible in `scope`; `None` when it is not.
    async fn create_api_key(&self, scope: &Scope, key: NewKey)
        -> StoreResult<Option<ApiKeyRecord>>;

    /// The keys of a party visible in `scope` (revoked ones included); `None` when it is not.
    async fn list_api_keys(
        &self,
        scope: &Scope,
        party: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<ApiKeyRecord>>>;

    /// Revokes a key visible in `scope`. Revoking twice keeps the first revocation time.
    /// Revokes a key visible in `scope`, unless it is the marketplace's last live operator key
    /// (nobody could then run the marketplace; checked under lock, so two racing revocations
    /// cannot both pass).
    async fn revoke_api_key(
        &self,
        scope: &Scope,
        key: &ApiKeyId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<RevokeOutcome>;

    /// Finds the active party behind a key hash, if the key is live.
    async fn authenticate(
        &self,
        key_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Principal>>;

    /// The audit trail of one subject, oldest first.
    async fn audit_trail(&self, scope: &Scope, subject: &str) -> StoreResult<Vec<AuditEvent>>;

    /// A stable textual description of the schema, to compare migrated databases in tests.
    async fn schema_dump(&self) -> StoreResult<Vec<String>>;
}

/// The store traits, to call their methods on an `Arc<dyn Store>`: `use souk_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AftersaleStore, CatalogStore, CommerceStore, ConsoleStore, InvoiceStore, LicenseStore,
        OpsStore, PartyStore, Store, VoucherStore,
    };
}
