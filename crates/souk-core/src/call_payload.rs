//! What a call to a seller needs beyond its instance and order, stored with its job
//! (`jobs.payload`, JSON).
//!
//! Each call kind has one shape, and a job is read with its kind's shape: a field the kind needs
//! that is missing (or a field it does not know) is an error naming the field, never a silent
//! default. The stored JSON is flat and unchanged from the untyped payloads it replaces, so rows
//! written before and `GET /v1/calls/{id}` read the same:
//!
//! | call kinds | stored payload |
//! |---|---|
//! | new, upgrade, freeze, unfreeze, getLicense, a timer's or refund's release | `{}` |
//! | refreshInstance | `{"expire_at_ms": 1767225600000 or null, "trial_to_formal": false}` |
//! | a renewal period's refund (退续费) | `{"expire_at_ms": 1767225600000}` (the expiry moved back to) |
//! | refreshLicenseCode | `{"license": "…", "expire_at_ms": …, "trial_to_formal": …}` |
//! | a renewal period's refund, per code | `{"license": "…", "expire_at_ms": 1767225600000}` |
//! | updateLicenseCodeStatus, releaseLicenseCode | `{"license": "…"}` |
//! | the release after giving up on an opening | `{"after_giving_up": "new_instance", "first_business_id": "…" or null}` |

use crate::provisioning::CallKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The new term a renewal or a trial → formal conversion tells the seller about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalTerm {
    /// The new expiry, milliseconds since the Unix epoch; `null` for a term without one. The
    /// key itself is required.
    #[serde(deserialize_with = "Option::deserialize")]
    pub expire_at_ms: Option<i64>,
    /// A trial turned into a paid term (V2 scene `TRIALTOFORMAL`, V1 `trialToFormal=1`).
    pub trial_to_formal: bool,
}

/// What a License 2.0 call about one code changes of its term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChange {
    /// refreshLicenseCode for a renewal or conversion.
    Renewal(RenewalTerm),
    /// refreshLicenseCode `UNSUBSCRIBE_RENEWAL_PERIOD`: the expiry moved back to (ms).
    RenewalRefund { expire_at_ms: i64 },
}

/// What one call needs beyond its instance and order; see the module docs for the stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallPayload {
    /// Nothing more (the instance and order say it all).
    Nothing,
    /// refreshInstance.
    Renewal(RenewalTerm),
    /// A renewal period's refund: the expiry the instance goes back to (ms).
    RenewalRefund { expire_at_ms: i64 },
    /// A License 2.0 call about one Souk-issued code; `change` for the refreshLicenseCode kinds.
    LicenseCode {
        license: String,
        change: Option<CodeChange>,
    },
    /// The releaseInstance sent after Souk gave up on an opening: the seller never told Souk
    /// its instanceId, so the call names the instance by the first businessId of the opening
    /// (what the protocol advises sellers to use), if one was sent.
    ReleaseAfterGivingUp {
        after_giving_up: CallKind,
        first_business_id: Option<String>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseOnly {
    license: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseRefresh {
    license: String,
    #[serde(deserialize_with = "Option::deserialize")]
    expire_at_ms: Option<i64>,
    trial_to_formal: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpiryBack {
    expire_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseExpiryBack {
    license: String,
    expire_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GivenUp {
    after_giving_up: CallKind,
    #[serde(deserialize_with = "Option::deserialize")]
    first_business_id: Option<String>,
}

/// A release: after giving up on an opening, or plain (timer, refund).
#[derive(Deserialize)]
#[serde(untagged)]
enum Release {
    GivenUp(GivenUp),
    Plain(Empty),
}

impl CallPayload {
    /// Reads a stored payload with the shape of `kind` (see the module docs).
    pub fn deserialize_for<'de, D: Deserializer<'de>>(
        kind: CallKind,
        stored: D,
    ) -> Result<CallPayload, D::Error> {
        use CallKind::*;
        Ok(match kind {
            NewInstance | UpgradeInstance | FreezeInstance | UnfreezeInstance | GetLicense => {
                Empty::deserialize(stored)?;
                CallPayload::Nothing
            }
            RefreshInstance => CallPayload::Renewal(RenewalTerm::deserialize(stored)?),
            RefundRenewalPeriod => CallPayload::RenewalRefund {
                expire_at_ms: ExpiryBack::deserialize(stored)?.expire_at_ms,
            },
            RefreshLicenseCode => {
                let p = LicenseRefresh::deserialize(stored)?;
                CallPayload::LicenseCode {
                    license: p.license,
                    change: Some(CodeChange::Renewal(RenewalTerm {
                        expire_at_ms: p.expire_at_ms,
                        trial_to_formal: p.trial_to_formal,
                    })),
                }
            }
            RefundRenewalLicenseCode => {
                let p = LicenseExpiryBack::deserialize(stored)?;
                CallPayload::LicenseCode {
                    license: p.license,
                    change: Some(CodeChange::RenewalRefund {
                        expire_at_ms: p.expire_at_ms,
                    }),
                }
            }
            FreezeLicenseCode | UnfreezeLicenseCode | ReleaseLicenseCode => {
                CallPayload::LicenseCode {
                    license: LicenseOnly::deserialize(stored)?.license,
                    change: None,
                }
            }
            ReleaseInstance => match Release::deserialize(stored).map_err(|_| {
                serde::de::Error::custom(
                    "a releaseInstance payload is {} or \
                     {\"after_giving_up\": <call kind>, \"first_business_id\": <text or null>}",
                )
            })? {
                Release::GivenUp(g) => CallPayload::ReleaseAfterGivingUp {
                    after_giving_up: g.after_giving_up,
                    first_business_id: g.first_business_id,
                },
                Release::Plain(_) => CallPayload::Nothing,
            },
        })
    }

    /// Whether a job of `kind` can carry this payload (what [`Self::deserialize_for`] reads).
    pub fn fits(&self, kind: CallKind) -> bool {
        use CallKind::*;
        match self {
            CallPayload::Nothing => matches!(
                kind,
                NewInstance
                    | UpgradeInstance
                    | FreezeInstance
                    | UnfreezeInstance
                    | GetLicense
                    | ReleaseInstance
            ),
            CallPayload::Renewal(_) => kind == RefreshInstance,
            CallPayload::RenewalRefund { .. } => kind == RefundRenewalPeriod,
            CallPayload::LicenseCode { change, .. } => match change {
                Some(CodeChange::Renewal(_)) => kind == RefreshLicenseCode,
                Some(CodeChange::RenewalRefund { .. }) => kind == RefundRenewalLicenseCode,
                None => matches!(
                    kind,
                    FreezeLicenseCode | UnfreezeLicenseCode | ReleaseLicenseCode
                ),
            },
            CallPayload::ReleaseAfterGivingUp { .. } => kind == ReleaseInstance,
        }
    }

    /// The payload of a License 2.0 call about `license`: what it changes of the code's term
    /// (the refreshLicenseCode kinds), nothing more for the others.
    pub fn for_license_code(license: String, change: Option<CodeChange>) -> CallPayload {
        CallPayload::LicenseCode { license, change }
    }

    /// The new term, for the calls that carry one.
    pub fn renewal(&self) -> Option<&RenewalTerm> {
        match self {
            CallPayload::Renewal(r)
            | CallPayload::LicenseCode {
                change: Some(CodeChange::Renewal(r)),
                ..
            } => Some(r),
            _ => None,
        }
    }

    /// The expiry this call tells the seller (ms), for the calls that carry one: a renewal's new
    /// expiry (which may be none), or the expiry a refunded renewal period moves back to.
    pub fn expire_at_ms(&self) -> Option<i64> {
        match self {
            CallPayload::RenewalRefund { expire_at_ms }
            | CallPayload::LicenseCode {
                change: Some(CodeChange::RenewalRefund { expire_at_ms }),
                ..
            } => Some(*expire_at_ms),
            _ => self.renewal().and_then(|r| r.expire_at_ms),
        }
    }

    /// The Souk-issued code a License 2.0 call is about.
    pub fn license(&self) -> Option<&str> {
        match self {
            CallPayload::LicenseCode { license, .. } => Some(license),
            _ => None,
        }
    }

    /// The first businessId of a given-up opening, for the release that follows it.
    pub fn first_business_id(&self) -> Option<&str> {
        match self {
            CallPayload::ReleaseAfterGivingUp {
                first_business_id, ..
            } => first_business_id.as_deref(),
            _ => None,
        }
    }
}

impl Serialize for CallPayload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CallPayload::Nothing => Empty {}.serialize(s),
            CallPayload::Renewal(r) => r.serialize(s),
            CallPayload::RenewalRefund { expire_at_ms } => ExpiryBack {
                expire_at_ms: *expire_at_ms,
            }
            .serialize(s),
            CallPayload::LicenseCode {
                license,
                change: Some(CodeChange::Renewal(r)),
            } => LicenseRefresh {
                license: license.clone(),
                expire_at_ms: r.expire_at_ms,
                trial_to_formal: r.trial_to_formal,
            }
            .serialize(s),
            CallPayload::LicenseCode {
                license,
                change: Some(CodeChange::RenewalRefund { expire_at_ms }),
            } => LicenseExpiryBack {
                license: license.clone(),
                expire_at_ms: *expire_at_ms,
            }
            .serialize(s),
            CallPayload::LicenseCode {
                license,
                change: None,
            } => LicenseOnly {
                license: license.clone(),
            }
            .serialize(s),
            CallPayload::ReleaseAfterGivingUp {
                after_giving_up,
                first_business_id,
            } => GivenUp {
                after_giving_up: *after_giving_up,
                first_business_id: first_business_id.clone(),
            }
            .serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(kind: CallKind, v: serde_json::Value) -> Result<CallPayload, String> {
        CallPayload::deserialize_for(kind, &v).map_err(|e| e.to_string())
    }

    #[test]
    fn every_shape_round_trips_through_its_stored_json() {
        let renewal = RenewalTerm {
            expire_at_ms: Some(1_767_225_600_000),
            trial_to_formal: true,
        };
        let cases = [
            (CallKind::NewInstance, CallPayload::Nothing, json!({})),
            (
                CallKind::RefreshInstance,
                CallPayload::Renewal(renewal),
                json!({"expire_at_ms": 1_767_225_600_000_i64, "trial_to_formal": true}),
            ),
            (
                CallKind::RefreshLicenseCode,
                CallPayload::for_license_code("SOUK-1".into(), Some(CodeChange::Renewal(renewal))),
                json!({"license": "SOUK-1", "expire_at_ms": 1_767_225_600_000_i64, "trial_to_formal": true}),
            ),
            (
                CallKind::RefundRenewalPeriod,
                CallPayload::RenewalRefund {
                    expire_at_ms: 1_767_225_600_000,
                },
                json!({"expire_at_ms": 1_767_225_600_000_i64}),
            ),
            (
                CallKind::RefundRenewalLicenseCode,
                CallPayload::for_license_code(
                    "SOUK-1".into(),
                    Some(CodeChange::RenewalRefund {
                        expire_at_ms: 1_767_225_600_000,
                    }),
                ),
                json!({"license": "SOUK-1", "expire_at_ms": 1_767_225_600_000_i64}),
            ),
            (
                CallKind::FreezeLicenseCode,
                CallPayload::for_license_code("SOUK-1".into(), None),
                json!({"license": "SOUK-1"}),
            ),
            (
                CallKind::ReleaseInstance,
                CallPayload::ReleaseAfterGivingUp {
                    after_giving_up: CallKind::NewInstance,
                    first_business_id: None,
                },
                json!({"after_giving_up": "new_instance", "first_business_id": null}),
            ),
            (CallKind::ReleaseInstance, CallPayload::Nothing, json!({})),
        ];
        for (kind, payload, stored) in cases {
            assert!(payload.fits(kind), "{payload:?} fits {kind}");
            assert_eq!(serde_json::to_value(&payload).unwrap(), stored);
            assert_eq!(read(kind, stored).unwrap(), payload);
        }
    }

    #[test]
    fn a_missing_or_unknown_field_is_an_error_not_a_default() {
        let err = read(CallKind::RefreshInstance, json!({"trial_to_formal": false})).unwrap_err();
        assert!(err.contains("missing field `expire_at_ms`"), "{err}");
        let err = read(CallKind::RefreshInstance, json!({"expire_at_ms": null})).unwrap_err();
        assert!(err.contains("missing field `trial_to_formal`"), "{err}");
        let err = read(CallKind::FreezeLicenseCode, json!({})).unwrap_err();
        assert!(err.contains("missing field `license`"), "{err}");
        let err = read(CallKind::NewInstance, json!({"expire_at": 1})).unwrap_err();
        assert!(err.contains("unknown field `expire_at`"), "{err}");
        assert!(read(
            CallKind::ReleaseInstance,
            json!({"after_giving_up": "new_instance"})
        )
        .is_err());
        // A renewal without an expiry (a term that has none) is explicit, not missing.
        assert_eq!(
            read(
                CallKind::RefreshInstance,
                json!({"expire_at_ms": null, "trial_to_formal": false})
            )
            .unwrap()
            .renewal()
            .unwrap()
            .expire_at_ms,
            None
        );
    }

    #[test]
    fn payloads_only_fit_their_kinds() {
        assert!(!CallPayload::Nothing.fits(CallKind::RefreshInstance));
        assert!(!CallPayload::for_license_code("x".into(), None).fits(CallKind::RefreshLicenseCode));
        assert!(!CallPayload::Nothing.fits(CallKind::RefundRenewalPeriod));
        assert!(!CallPayload::Renewal(RenewalTerm {
            expire_at_ms: None,
            trial_to_formal: false
        })
        .fits(CallKind::RefreshLicenseCode));
    }
}
