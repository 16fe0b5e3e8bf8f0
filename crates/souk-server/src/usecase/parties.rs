//! Creating parties and managing their API keys.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::api_key;
use souk_core::id::ApiKeyId;
use souk_core::party::{Email, PartyId, PartyName, PartyStatus, Phone, Role};
use souk_store::{ApiKeyRecord, NewKey, NewParty, PartyRecord, RevokeOutcome, Scope};

/// Input for a new seller, buyer or reseller.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateParty {
    /// Display name, 1–200 characters, not blank, no control characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Acme Cloud"
    )]
    pub name: String,
    /// Contact address for notifications.
    #[schema(
        max_length = 254,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f@]+@[^\s\x00-\x1f\x7f-\x9f@.]([^\s\x00-\x1f\x7f-\x9f@]*[^\s\x00-\x1f\x7f-\x9f@.])?\.[^\s\x00-\x1f\x7f-\x9f@.]+$",
        example = "ops@acme.example"
    )]
    pub email: Option<String>,
    /// Mobile phone, international form (`+8613800000000`); sent to sellers whose products
    /// create accounts from it, encrypted.
    #[serde(default)]
    #[schema(pattern = r"^\+?[0-9][0-9 -]{3,24}$", example = "+8613800000000")]
    pub mobile_phone: Option<String>,
}

pub async fn create(
    state: &AppState,
    actor: &PartyId,
    role: Role,
    input: CreateParty,
) -> AppResult<PartyRecord> {
    if role == Role::Operator {
        return Err(AppError::forbidden(
            "operators are created at bootstrap only; use the operator key you were given",
        ));
    }
    let name = PartyName::parse(&input.name).map_err(|m| AppError::invalid_field("name", m))?;
    let email = input
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|m| AppError::invalid_field("email", m))?;
    let mobile_phone = input
        .mobile_phone
        .as_deref()
        .map(Phone::parse)
        .transpose()
        .map_err(|m| AppError::invalid_field("mobile_phone", m))?;
    let now = state.clock.now();
    let party = NewParty {
        id: PartyId::generate(role, now),
        role,
        name: name.as_str().to_owned(),
        email: email.map(|e| e.as_str().to_owned()),
        mobile_phone: mobile_phone.map(|p| p.as_str().to_owned()),
        now,
    };
    Ok(state.store.create_party(party, actor).await?)
}

/// A key just issued: the record, and the secret shown this once.
pub struct IssuedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

pub async fn issue_key(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    party: &PartyId,
    label: Option<String>,
) -> AppResult<IssuedKey> {
    if let Some(l) = &label {
        if l.chars().count() > 100 || l.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                "label",
                "label must be at most 100 printable characters",
            ));
        }
    }
    let role = party.role().ok_or_else(|| AppError::not_found("party"))?;
    let generated = api_key::generate(role);
    let now = state.clock.now();
    let key = NewKey {
        id: ApiKeyId::generate(now),
        party_id: party.clone(),
        label,
        display_prefix: generated.display_prefix.clone(),
        hash: generated.hash.clone(),
        created_by: Some(actor.clone()),
        now,
    };
    let record = state
        .store
        .create_api_key(scope, key)
        .await?
        .ok_or_else(|| AppError::not_found("party"))?;
    Ok(IssuedKey {
        record,
        secret: generated.plaintext,
    })
}

pub async fn revoke_key(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    key: &str,
) -> AppResult<ApiKeyRecord> {
    let id = ApiKeyId::parse(key).ok_or_else(|| AppError::not_found("API key"))?;
    match state
        .store
        .revoke_api_key(scope, &id, actor, state.clock.now())
        .await?
    {
        RevokeOutcome::Revoked(record) => Ok(record),
        RevokeOutcome::NotFound => Err(AppError::not_found("API key")),
        RevokeOutcome::LastOperatorKey => Err(AppError::conflict(
            "last_operator_key",
            "this is the marketplace's last live operator key: issue another operator key \
             first, then revoke this one",
        )),
    }
}

/// Suspends or reactivates a party (operator only): its keys and console logins stop or
/// resume at once, its data stays.
pub async fn set_status(
    state: &AppState,
    actor: &PartyId,
    party: &PartyId,
    status: PartyStatus,
) -> AppResult<PartyRecord> {
    if party == actor {
        return Err(AppError::conflict(
            "cannot_suspend_self",
            "an operator cannot suspend itself",
        ));
    }
    state
        .store
        .set_party_status(party, status, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("party"))
}
