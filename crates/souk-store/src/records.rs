//! What the store takes and gives back: plain records, no behaviour.

use serde::Serialize;
use souk_core::id::{ApiKeyId, AuditId};
use souk_core::party::{PartyId, PartyStatus, Role};
use time::OffsetDateTime;

/// A party to create.
#[derive(Debug, Clone)]
pub struct NewParty {
    pub id: PartyId,
    pub role: Role,
    pub name: String,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    pub id: PartyId,
    pub role: Role,
    pub name: String,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub status: PartyStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A key to store: its hash, never the key itself.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: ApiKeyId,
    pub party_id: PartyId,
    pub label: Option<String>,
    pub display_prefix: String,
    pub hash: String,
    pub created_by: Option<PartyId>,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub party_id: PartyId,
    pub role: Role,
    pub label: Option<String>,
    pub display_prefix: String,
    pub created_at: OffsetDateTime,
    pub created_by: Option<PartyId>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Who is calling: the party behind a live key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub party_id: PartyId,
    pub role: Role,
    pub key_id: ApiKeyId,
}

/// One line of the audit trail: who did what to which subject, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: AuditId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject_id: String,
    pub detail: serde_json::Value,
}
