//! Licenses: sellers' AK/SK pairs, the License open API (activate, heartbeat), license
//! policies, machines, License 2.0 calls to sellers, and signed offline license files.
//!
//! The open API's answers are KooGallery's (`error_code` 9202xxxx, see `docs/licenses.md`);
//! these functions return an [`Outcome`] that the HTTP layer renders. Heartbeats are answered
//! from [`crate::license_cache::LicenseCache`]; everything else goes to the store.

use crate::error::{AppError, AppResult};
use crate::license_cache::CodeEntry;
use crate::AppState;
use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};
use souk_core::call_payload::{CallPayload, CodeChange};
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::instance::InstanceState;
use souk_core::license::{
    heartbeat_status, ActivationRefusal, CodeState, LicensePolicy, LicenseStatus, MAX_CODE,
    MAX_FINGERPRINT,
};
use souk_core::party::PartyId;
use souk_core::provisioning::CallKind;
use souk_protocol::apig::{ApigError, ParsedAuth, RequestParts, DEFAULT_MAX_SKEW};
pub use souk_protocol::license_api::LicenseRequest;
use souk_protocol::license_api::{LicenseCodeInfo, LicenseInfo};
use souk_protocol::license_file::{
    self, KeySet, LicenseFile, LicensePayload, PublicJwk, SigningKey,
};
use souk_protocol::timestamp::TimestampFormat;
use souk_protocol::{LicenseErrorCode, SecretKey};
use souk_store::Principal;
use souk_store::{
    AccessKeyRecord, ActivateResult, InstanceRecord, LicenseCodeDetail, LicenseCodeRecord,
    NewAccessKey, NewJob, Scope, SigningKeyRecord, StoreResult,
};
use std::sync::Arc;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// AK/SK pairs

const AK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SK_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

fn sk_context(access_key: &str) -> String {
    format!("seller_sk:{access_key}")
}

/// Issues an AK/SK pair to a seller; returns the record and the SK, shown this once.
pub async fn create_access_key(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    seller_id: &str,
    label: Option<String>,
) -> AppResult<(AccessKeyRecord, String)> {
    let seller = PartyId::parse_as(seller_id, souk_core::party::Role::Seller)
        .ok_or_else(|| AppError::not_found("seller"))?;
    if let Some(l) = &label {
        if l.chars().count() > 100 {
            return Err(AppError::invalid_field(
                "label",
                "a label is at most 100 characters",
            ));
        }
    }
    let now = state.clock.now();
    // Huawei AKs are 20 upper-case letters and digits, SKs 40 characters.
    let access_key = random_text(AK_ALPHABET, 20);
    let secret = random_text(SK_ALPHABET, 40);
    let key = NewAccessKey {
        id: souk_core::id::generate("aks", now),
        seller_id: seller,
        secret_sealed: state.master_key.seal(&sk_context(&access_key), &secret),
        access_key,
        label,
        created_by: actor.clone(),
        now,
    };
    let rec = state
        .store
        .create_access_key(scope, key)
        .await?
        .ok_or_else(|| AppError::not_found("seller"))?;
    Ok((rec, secret))
}

pub async fn list_access_keys(
    state: &AppState,
    scope: &Scope,
    seller_id: &str,
) -> AppResult<Vec<AccessKeyRecord>> {
    let seller = PartyId::parse_as(seller_id, souk_core::party::Role::Seller)
        .ok_or_else(|| AppError::not_found("seller"))?;
    state
        .store
        .list_access_keys(scope, &seller)
        .await?
        .ok_or_else(|| AppError::not_found("seller"))
}

pub async fn revoke_access_key(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    id: &str,
) -> AppResult<AccessKeyRecord> {
    let rec = state
        .store
        .revoke_access_key(scope, id, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("access key"))?;
    state.licenses.invalidate_access_key(&rec.access_key);
    Ok(rec)
}

/// Why an open-API request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    Apig(ApigError),
    UnknownAccessKey,
}

impl AuthFailure {
    /// Stable, snake_case (`souk_reason` in the answer).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::UnknownAccessKey => "unknown_access_key",
            AuthFailure::Apig(e) => match e {
                ApigError::MissingAuthorization => "missing_authorization",
                ApigError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
                ApigError::MalformedAuthorization(_) => "malformed_authorization",
                ApigError::MissingDate => "missing_date",
                ApigError::InvalidDate(_) => "invalid_date",
                ApigError::UnsignedRequiredHeader(_) => "unsigned_required_header",
                ApigError::SignedHeaderMissing(_) => "signed_header_missing",
                ApigError::ClockSkew { .. } => "clock_skew",
                ApigError::SignatureMismatch => "signature_mismatch",
            },
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthFailure::UnknownAccessKey => {
                "the access key (AK) is unknown or revoked, or its seller is suspended".into()
            }
            AuthFailure::Apig(e) => e.to_string(),
        }
    }
}

/// Checks an APIG `SDK-HMAC-SHA256` signature: one canonicalisation, one HMAC, the SK from
/// memory after the first request of an AK. Returns the seller.
pub async fn authenticate(
    state: &AppState,
    req: &RequestParts<'_>,
) -> Result<PartyId, AuthFailure> {
    let parsed = ParsedAuth::parse(req).map_err(AuthFailure::Apig)?;
    let entry = match state.licenses.access_key(&parsed.access_key) {
        Some(e) => e,
        None => {
            let generation = state.licenses.generation();
            let (rec, sealed) = state
                .store
                .access_key_secret(&parsed.access_key)
                .await
                .ok()
                .flatten()
                .ok_or(AuthFailure::UnknownAccessKey)?;
            let sk = state
                .master_key
                .open(&sk_context(&rec.access_key), &sealed)
                .map_err(|_| AuthFailure::UnknownAccessKey)?;
            state.licenses.insert_access_key(
                &rec.access_key,
                rec.seller_id,
                SecretKey::new(sk),
                generation,
            )
        }
    };
    // Protocol time is real: the caller's X-Sdk-Date comes from its own clock, whatever the
    // sandbox clock says.
    parsed
        .verify(&entry.secret, OffsetDateTime::now_utc(), DEFAULT_MAX_SKEW)
        .map_err(AuthFailure::Apig)?;
    Ok(entry.seller_id.clone())
}

// ---------------------------------------------------------------------------------------------
// The open API

/// One answer of the License open API.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: LicenseErrorCode,
    pub message: String,
    /// Boxed: an error outcome (most of them) stays small.
    pub data: Option<Box<LicenseInfo>>,
}

impl Outcome {
    fn error(code: LicenseErrorCode, message: impl Into<String>) -> Outcome {
        Outcome {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn success(data: LicenseInfo) -> Outcome {
        Outcome {
            code: LicenseErrorCode::Success,
            message: "success".into(),
            data: Some(Box::new(data)),
        }
    }
}

/// Checks a request's values before anything is looked up.
fn check(req: &LicenseRequest) -> Result<(), Outcome> {
    let invalid = |m: &str| Err(Outcome::error(LicenseErrorCode::InvalidParameter, m));
    if req.license.trim().is_empty() || req.license.len() > MAX_CODE {
        return invalid("license must be 1 to 64 characters");
    }
    if let Some(f) = &req.machine_fingerprint {
        if f.is_empty() || f.chars().count() > MAX_FINGERPRINT {
            return invalid("machine_fingerprint must be 1 to 1024 characters");
        }
    }
    Ok(())
}

fn wire_time(t: OffsetDateTime) -> String {
    TimestampFormat::Seconds.format(t)
}

/// What KooGallery calls LicenseInfo, plus Souk's fields.
fn license_info(rec: &LicenseCodeRecord, status: LicenseStatus, machines: usize) -> LicenseInfo {
    LicenseInfo {
        license_code: rec.code.clone(),
        status: status.as_wire().to_owned(),
        activate_time: rec.activated_at.map(wire_time).unwrap_or_default(),
        effective_time: rec.effective_at.map(wire_time).unwrap_or_default(),
        expire_time: rec.expire_at.map(wire_time).unwrap_or_default(),
        product_id: rec.product_id.clone(),
        sku_id: rec.sku_id.clone(),
        order_id: rec.order_id.to_string(),
        instance_id: rec.instance_id.to_string(),
        amount: rec.quantity.to_string(),
        seats: rec.policy.seats,
        machines_in_use: machines as u64,
        souk_state: rec.instance_state.as_str().to_owned(),
        license_code_info: None,
    }
}

fn status_of(state: &AppState, rec: &LicenseCodeRecord, now: OffsetDateTime) -> LicenseStatus {
    heartbeat_status(
        rec.instance_state,
        rec.expire_at,
        state.config.lifecycle.grace.0,
        state.config.lifecycle.retention.0,
        now,
    )
}

fn not_exist() -> Outcome {
    Outcome::error(
        LicenseErrorCode::LicenseNotExist,
        "license code does not exist",
    )
}

/// Activates one code for `seller` (whose AK signed the request).
pub async fn activate(
    state: &AppState,
    seller: &PartyId,
    req: &LicenseRequest,
) -> AppResult<Outcome> {
    if let Err(o) = check(req) {
        return Ok(o);
    }
    let effective_at = match &req.real_effect_time {
        None => None,
        Some(t) => match TimestampFormat::Seconds.parse(t) {
            Ok(t) => Some(t),
            Err(_) => {
                return Ok(Outcome::error(
                    LicenseErrorCode::InvalidParameter,
                    "real_effect_time must be yyyyMMddHHmmss (UTC)",
                ))
            }
        },
    };
    // Seats are counted in the database: write the heartbeats still in memory first.
    state
        .licenses
        .flush(&*state.store)
        .await
        .map_err(AppError::from)?;
    let now = state.clock.now();
    let result = state
        .store
        .activate_license_code(
            seller,
            &req.license,
            req.machine_fingerprint.as_deref(),
            effective_at,
            state.config.lifecycle.grace.0,
            state.config.lifecycle.retention.0,
            now,
        )
        .await?;
    Ok(match result {
        ActivateResult::NotFound => not_exist(),
        ActivateResult::Refused(r) => match r {
            ActivationRefusal::AlreadyActivated => Outcome::error(
                LicenseErrorCode::IllegalState,
                "illegal state: the license code is activated already (on this machine)",
            ),
            ActivationRefusal::NotUsable => Outcome::error(
                LicenseErrorCode::IllegalState,
                "illegal state: the license code is expired or released",
            ),
            ActivationRefusal::SeatsExhausted => Outcome::error(
                LicenseErrorCode::SeatLimitReached,
                "every seat of this license code is in use by a live machine; deactivate one or wait until a machine misses its heartbeats",
            ),
            ActivationRefusal::RateLimited => Outcome::error(
                LicenseErrorCode::ActivationRateLimited,
                "too many activation attempts for this license code in the last hour",
            ),
        },
        ActivateResult::Activated(_, detail) => {
            state.licenses.invalidate_code(&req.license);
            // License code flow (§3.2): the activation passes the supervision node and starts
            // the period; the answer shows the expiry that follows from it.
            crate::usecase::supervision::code_activated(
                state,
                &detail.code.order_id,
                &req.license,
                now,
            )
            .await?;
            let detail = match state.store.find_license_code(&req.license).await? {
                Some(d) => Box::new(d),
                None => detail,
            };
            let rec = &detail.code;
            let status = status_of(state, rec, now);
            let live = live_machines(&detail, now).len();
            let info = LicenseCodeInfo {
                status: status.as_wire().to_owned(),
                expire_time: rec.expire_at.map(wire_time).unwrap_or_default(),
                product_id: rec.product_id.clone(),
                order_id: rec.order_id.to_string(),
                amount: rec.quantity.to_string(),
            };
            Outcome::success(LicenseInfo {
                license_code_info: Some(info.to_text()),
                ..license_info(rec, status, live)
            })
        }
    })
}

fn live_machines(
    detail: &LicenseCodeDetail,
    now: OffsetDateTime,
) -> Vec<&souk_store::MachineRecord> {
    detail
        .machines
        .iter()
        .filter(|m| m.deactivated_at.is_none() && detail.code.policy.is_live(m.last_seen_at, now))
        .collect()
}

/// The cached code, loading it on a miss. `None`: no such code.
async fn cached_code(state: &AppState, code: &str) -> AppResult<Option<Arc<CodeEntry>>> {
    if let Some(e) = state.licenses.code(code) {
        return Ok(Some(e));
    }
    let generation = state.licenses.generation();
    let Some(detail) = state.store.find_license_code(code).await? else {
        return Ok(None);
    };
    Ok(Some(state.licenses.insert_code(
        detail.code,
        &detail.machines,
        generation,
    )))
}

/// Answers a heartbeat from memory.
pub async fn heartbeat(
    state: &AppState,
    seller: &PartyId,
    req: &LicenseRequest,
) -> AppResult<Outcome> {
    if let Err(o) = check(req) {
        return Ok(o);
    }
    let Some(entry) = cached_code(state, &req.license).await? else {
        return Ok(not_exist());
    };
    let rec = &entry.record;
    // Another seller's code does not exist for this AK.
    if &rec.seller_id != seller {
        return Ok(not_exist());
    }
    if rec.state == CodeState::Issued {
        return Ok(Outcome::error(
            LicenseErrorCode::NotActivated,
            "license code not activated",
        ));
    }
    let now = state.clock.now();
    let now_ms = to_unix_ms(now);
    let status = status_of(state, rec, now);
    let window = rec.policy.heartbeat_window.whole_milliseconds() as i64;
    let machines = {
        let mut m = entry.machines.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(fp), LicenseStatus::Alive) = (&req.machine_fingerprint, status) {
            match m.get_mut(fp) {
                Some(seen) if now_ms - *seen < window => *seen = (*seen).max(now_ms),
                _ => {
                    return Ok(Outcome::error(
                        LicenseErrorCode::MachineNotActivated,
                        "this machine holds no seat of the license code (never activated, culled after missing heartbeats, or deactivated): activate it again",
                    ))
                }
            }
        }
        m.values().filter(|seen| now_ms - **seen < window).count()
    };
    state
        .licenses
        .mark_seen(&rec.code, req.machine_fingerprint.as_deref(), now_ms);
    Ok(Outcome::success(license_info(rec, status, machines)))
}

// ---------------------------------------------------------------------------------------------
// Policies, codes, machines

/// The policy of a License product the caller can see (as `GET /v1/products/{id}` decides):
/// another seller's product, a product that does not exist and a product of another delivery
/// type are all the same 404.
pub async fn policy_of(
    state: &AppState,
    caller: &Principal,
    product_id: &str,
) -> AppResult<LicensePolicy> {
    let product = super::catalog::get(state, caller, product_id).await?;
    if product.spec.delivery_type != souk_core::catalog::DeliveryType::License {
        return Err(AppError::not_found("License product"));
    }
    Ok(state
        .store
        .license_policy(product.id.as_str())
        .await?
        .unwrap_or_default())
}

pub async fn set_policy(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    product_id: &str,
    seats: u32,
    window_seconds: u32,
    activations_per_hour: u32,
) -> AppResult<LicensePolicy> {
    let policy = LicensePolicy::parse(
        seats,
        time::Duration::seconds(window_seconds as i64),
        activations_per_hour,
    )
    .map_err(|(f, m)| AppError::invalid_field(f, m))?;
    state
        .store
        .set_license_policy(scope, product_id, policy, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("License product"))
}

/// The codes of an instance (its buyer, its seller or the operator).
pub async fn codes_of_instance(
    state: &AppState,
    scope: &Scope,
    instance_id: &str,
) -> AppResult<Vec<LicenseCodeRecord>> {
    let instance_id = &crate::usecase::orders::instance_id(instance_id)?;
    state
        .store
        .find_instance(scope, instance_id)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    Ok(state
        .store
        .license_codes_of_instance(scope, instance_id)
        .await?)
}

/// One code with its machines, if `scope` may see it.
pub async fn code_detail(
    state: &AppState,
    scope: &Scope,
    code: &str,
) -> AppResult<LicenseCodeDetail> {
    state.licenses.flush(&*state.store).await?;
    let detail = state
        .store
        .find_license_code(code)
        .await?
        .filter(|d| match scope.tenant() {
            None => true,
            Some(t) => d.code.buyer_id.as_str() == t || d.code.seller_id.as_str() == t,
        })
        .ok_or_else(|| AppError::not_found("license code"))?;
    Ok(detail)
}

/// Frees a machine's seat (seller or operator).
pub async fn deactivate_machine(
    state: &AppState,
    scope: &Scope,
    actor: &PartyId,
    code: &str,
    fingerprint: &str,
) -> AppResult<bool> {
    state.licenses.flush(&*state.store).await?;
    let done = state
        .store
        .deactivate_machine(scope, code, fingerprint, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("license code"))?;
    state.licenses.invalidate_code(code);
    Ok(done)
}

/// The computed status of a code now.
pub fn status_now(state: &AppState, rec: &LicenseCodeRecord) -> LicenseStatus {
    status_of(state, rec, state.clock.now())
}

/// New codes for an order of a License product with Souk-issued codes: one per unit.
pub async fn new_codes(
    state: &AppState,
    product_id: &str,
    quantity: u32,
) -> AppResult<Vec<souk_store::NewLicenseCode>> {
    let policy = state
        .store
        .license_policy(product_id)
        .await?
        .unwrap_or_default();
    Ok((1..=quantity.max(1))
        .map(|ordinal| souk_store::NewLicenseCode {
            code: souk_core::license::generate_code(),
            ordinal,
            policy,
        })
        .collect())
}

/// License 2.0 calls for an instance with Souk-issued codes: one `kind` job per activated
/// code (the seller's software learnt of those codes when it activated them). `None` when the
/// instance has no Souk-issued codes (call the seller's instance interfaces instead).
pub async fn code_jobs(
    state: &AppState,
    instance: &InstanceRecord,
    kind: CallKind,
    order_id: &OrderId,
    change: Option<CodeChange>,
) -> StoreResult<Option<Vec<NewJob>>> {
    if instance.delivery_type != "license" {
        return Ok(None);
    }
    let codes = state
        .store
        .license_codes_of_instance(&Scope::Everything, &instance.id)
        .await?;
    if codes.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        codes
            .iter()
            .filter(|c| c.state == CodeState::Activated)
            .map(|c| NewJob {
                kind,
                instance_id: instance.id.clone(),
                order_id: order_id.clone(),
                seller_id: instance.seller_id.clone(),
                product_id: instance.product_id.clone(),
                payload: CallPayload::for_license_code(c.code.clone(), change),
            })
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Signed offline license files

fn signing_context(key_id: &str) -> String {
    format!("license_signing_key:{key_id}")
}

fn new_signing_key(state: &AppState) -> SigningKeyRecord {
    let now = state.clock.now();
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let key = SigningKey::from_bytes(&seed);
    let b64 = base64::engine::general_purpose::STANDARD;
    let key_id = souk_core::id::generate("lk", now);
    SigningKeyRecord {
        public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(key.verifying_key().as_bytes()),
        private_sealed: state
            .master_key
            .seal(&signing_context(&key_id), &b64.encode(seed)),
        key_id,
        created_at: now,
        retired_at: None,
    }
}

/// The current signing key, created on first use.
async fn current_signing_key(state: &AppState) -> AppResult<(String, SigningKey)> {
    let keys = state.store.signing_keys().await?;
    let rec = match keys.into_iter().find(|k| k.retired_at.is_none()) {
        Some(k) => k,
        None => {
            let k = new_signing_key(state);
            state.store.add_signing_key(k.clone()).await?;
            k
        }
    };
    let seed = state
        .master_key
        .open(&signing_context(&rec.key_id), &rec.private_sealed)
        .map_err(AppError::internal)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(seed)
        .map_err(AppError::internal)?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| AppError::internal(anyhow::anyhow!("signing key has the wrong length")))?;
    Ok((rec.key_id, SigningKey::from_bytes(&bytes)))
}

/// Every public key (current and retired), as a JWKS. Creates the first key if none exists.
pub async fn key_set(state: &AppState) -> AppResult<KeySet> {
    let mut keys = state.store.signing_keys().await?;
    if keys.is_empty() {
        current_signing_key(state).await?;
        keys = state.store.signing_keys().await?;
    }
    Ok(KeySet {
        keys: keys
            .iter()
            .map(|k| PublicJwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                alg: Some("EdDSA".into()),
                use_: Some("sig".into()),
                kid: k.key_id.clone(),
                x: k.public_key.clone(),
            })
            .collect(),
    })
}

/// Starts signing with a new key; the old ones stay published.
pub async fn rotate_signing_key(state: &AppState) -> AppResult<KeySet> {
    state.store.add_signing_key(new_signing_key(state)).await?;
    key_set(state).await
}

/// Signs an offline license file for a code visible in `scope`.
pub async fn license_file(
    state: &AppState,
    scope: &Scope,
    code: &str,
    machine_fingerprint: Option<String>,
    ttl_days: Option<u32>,
) -> AppResult<LicenseFile> {
    let ttl = ttl_days.unwrap_or(30);
    if !(1..=366).contains(&ttl) {
        return Err(AppError::invalid_field(
            "ttl_days",
            "ttl_days must be between 1 and 366",
        ));
    }
    if machine_fingerprint
        .as_ref()
        .is_some_and(|f| f.is_empty() || f.chars().count() > MAX_FINGERPRINT)
    {
        return Err(AppError::invalid_field(
            "machine_fingerprint",
            "machine_fingerprint must be 1 to 1024 characters",
        ));
    }
    let detail = code_detail(state, scope, code).await?;
    let rec = &detail.code;
    if status_now(state, rec) != LicenseStatus::Alive
        || matches!(
            rec.instance_state,
            InstanceState::Released | InstanceState::Failed
        )
    {
        return Err(AppError::conflict(
            "license_not_usable",
            "the license is expired or released; renew the instance first",
        ));
    }
    let order = state
        .store
        .find_order(&Scope::Everything, &rec.order_id)
        .await?;
    let now = state.clock.now();
    let (key_id, key) = current_signing_key(state).await?;
    let payload = LicensePayload {
        format: String::new(),
        key_id: String::new(),
        issuer: "souk".into(),
        license_code: rec.code.clone(),
        product_id: rec.product_id.clone(),
        sku_id: rec.sku_id.clone(),
        sku_code: order.as_ref().map(|o| o.snapshot.sku_code.clone()),
        buyer_id: rec.buyer_id.to_string(),
        instance_id: rec.instance_id.to_string(),
        machine_fingerprint,
        entitlements: json!({
            "seats": rec.policy.seats,
            "quantity": rec.quantity,
            "attributes": order.as_ref().map(|o| json!(o.snapshot.attributes)).unwrap_or(json!({})),
            "product_name": order.as_ref().map(|o| json!(o.snapshot.product_name)).unwrap_or(Value::Null),
        }),
        issued_at: license_file::format_time(now),
        license_expires_at: rec.expire_at.map(license_file::format_time),
        file_expires_at: license_file::format_time(now + time::Duration::days(ttl as i64)),
    };
    Ok(license_file::sign(payload, &key_id, &key))
}

/// For views: an instant from the store as RFC 3339.
pub fn ms_time(ms: i64) -> OffsetDateTime {
    from_unix_ms(ms)
}
