//! License codes issued by Souk (License 2.0, 授权码): their states, what a heartbeat reports,
//! floating seats and the activation rate limit. Pure: every rule is a function of its inputs
//! and `now`. See `docs/licenses.md` for the model and the decisions taken here.
//!
//! ```text
//! code:     issued ──activate──▶ activated        (activating twice → illegal state)
//! status:   follows the instance: active, grace → ALIVE; frozen → EXPIRED; released → RELEASED
//! machines: a code holds at most `seats` live machines; a machine is live while it has been
//!           seen within `heartbeat_window`; a stale machine's seat is free again (culled)
//! ```

use crate::instance::InstanceState;
use crate::order::string_enum;
use rand::Rng;
use time::{Duration, OffsetDateTime};

string_enum!(
    /// Where a code is in its own life (the instance's life is separate).
    CodeState {
        /// Delivered to the buyer, never activated.
        Issued = "issued",
        /// Activated by the seller's software: service started.
        Activated = "activated",
    }
);

/// The `status` a heartbeat reports (KooGallery's three values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseStatus {
    Alive,
    Expired,
    Released,
}

impl LicenseStatus {
    pub fn as_wire(self) -> &'static str {
        match self {
            LicenseStatus::Alive => "ALIVE",
            LicenseStatus::Expired => "EXPIRED",
            LicenseStatus::Released => "RELEASED",
        }
    }
}

/// What a heartbeat says about a code of an instance.
///
/// The instance's state decides, and time decides too, so the answer is right even before the
/// timers have moved the instance: past the end of grace a code is `EXPIRED`, past retention
/// `RELEASED`. Grace keeps a code `ALIVE` (the buyer may still use it, business rules §5).
pub fn heartbeat_status(
    instance: InstanceState,
    expire_at: Option<OffsetDateTime>,
    grace: Duration,
    retention: Duration,
    now: OffsetDateTime,
) -> LicenseStatus {
    match instance {
        InstanceState::Released | InstanceState::Failed => return LicenseStatus::Released,
        InstanceState::Frozen => {
            return match expire_at {
                Some(e) if now >= e + grace + retention => LicenseStatus::Released,
                _ => LicenseStatus::Expired,
            }
        }
        _ => {}
    }
    match expire_at {
        Some(e) if now >= e + grace + retention => LicenseStatus::Released,
        Some(e) if now >= e + grace => LicenseStatus::Expired,
        _ => LicenseStatus::Alive,
    }
}

/// The floating-seat and abuse rules of a product's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicensePolicy {
    /// Machines that may use one code at once (≥ 1).
    pub seats: u32,
    /// A machine not heard from for this long is culled and its seat freed.
    pub heartbeat_window: Duration,
    /// Activation attempts allowed per code per rolling hour.
    pub activations_per_hour: u32,
}

impl Default for LicensePolicy {
    fn default() -> Self {
        LicensePolicy {
            seats: 1,
            heartbeat_window: Duration::minutes(10),
            activations_per_hour: 20,
        }
    }
}

/// Limits that keep a policy sensible.
pub const MAX_SEATS: u32 = 10_000;
pub const MIN_WINDOW: Duration = Duration::minutes(1);
pub const MAX_WINDOW: Duration = Duration::days(30);
pub const MAX_ACTIVATIONS_PER_HOUR: u32 = 10_000;

impl LicensePolicy {
    /// Checks the bounds; the error names the field.
    pub fn parse(
        seats: u32,
        window: Duration,
        activations_per_hour: u32,
    ) -> Result<LicensePolicy, (&'static str, String)> {
        if !(1..=MAX_SEATS).contains(&seats) {
            return Err(("seats", format!("seats must be between 1 and {MAX_SEATS}")));
        }
        if window < MIN_WINDOW || window > MAX_WINDOW {
            return Err((
                "heartbeat_window_seconds",
                "the heartbeat window must be between 60 seconds and 30 days".into(),
            ));
        }
        if !(1..=MAX_ACTIVATIONS_PER_HOUR).contains(&activations_per_hour) {
            return Err((
                "activations_per_hour",
                format!("activations_per_hour must be between 1 and {MAX_ACTIVATIONS_PER_HOUR}"),
            ));
        }
        Ok(LicensePolicy {
            seats,
            heartbeat_window: window,
            activations_per_hour,
        })
    }

    /// Whether a machine last seen at `last_seen` still holds its seat at `now`.
    pub fn is_live(&self, last_seen: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - last_seen < self.heartbeat_window
    }
}

/// Why an activation is refused (each maps to one `error_code`, see `docs/licenses.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationRefusal {
    /// Activated already (the same machine, or no machine given): 92020003.
    AlreadyActivated,
    /// The instance is frozen, released or failed: 92020003.
    NotUsable,
    /// Every seat is taken by a live machine: Souk's 92029001.
    SeatsExhausted,
    /// Too many activation attempts on this code in the last hour: Souk's 92029002.
    RateLimited,
}

/// What an accepted activation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// First activation of the code (binds the machine, if one was given).
    First,
    /// The code was active; a new machine takes a free seat.
    NewSeat,
}

/// Decides an activation.
///
/// `machine_known` is whether `fingerprint` already holds a live seat; `live_machines` counts
/// live seats (the caller has already dropped stale ones); `attempts_last_hour` counts earlier
/// attempts on this code, this one excluded.
#[allow(clippy::too_many_arguments)]
pub fn decide_activation(
    code: CodeState,
    instance: LicenseStatus,
    policy: &LicensePolicy,
    fingerprint: Option<&str>,
    machine_known: bool,
    live_machines: u32,
    attempts_last_hour: u32,
) -> Result<Activation, ActivationRefusal> {
    if attempts_last_hour >= policy.activations_per_hour {
        return Err(ActivationRefusal::RateLimited);
    }
    if instance != LicenseStatus::Alive {
        return Err(ActivationRefusal::NotUsable);
    }
    match code {
        CodeState::Issued => Ok(Activation::First),
        CodeState::Activated => match fingerprint {
            None => Err(ActivationRefusal::AlreadyActivated),
            Some(_) if machine_known => Err(ActivationRefusal::AlreadyActivated),
            Some(_) if live_machines >= policy.seats => Err(ActivationRefusal::SeatsExhausted),
            Some(_) => Ok(Activation::NewSeat),
        },
    }
}

/// Longest accepted machine fingerprint (the spec's `deviceFingerprint` allows 1024).
pub const MAX_FINGERPRINT: usize = 1024;
/// Longest license code on the wire (spec §9.3: M64).
pub const MAX_CODE: usize = 64;

const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new license code: `SOUK-` and five groups of five Crockford base32 characters (125 random
/// bits), easy to read aloud and to type, 34 characters.
pub fn generate_code() -> String {
    let mut rng = rand::thread_rng();
    let mut out = String::from("SOUK");
    for _ in 0..5 {
        out.push('-');
        for _ in 0..5 {
            out.push(CODE_ALPHABET[rng.gen_range(0..32)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const G: Duration = Duration::days(7);

    #[test]
    fn status_follows_the_instance_and_the_clock() {
        let e = Some(datetime!(2026-02-01 0:00 UTC));
        let at = |s, t| heartbeat_status(s, e, G, G, t);
        use InstanceState::*;
        assert_eq!(
            at(Active, datetime!(2026-01-15 0:00 UTC)),
            LicenseStatus::Alive
        );
        assert_eq!(
            at(Grace, datetime!(2026-02-03 0:00 UTC)),
            LicenseStatus::Alive
        );
        // The timers have not run yet: time alone says expired.
        assert_eq!(
            at(Grace, datetime!(2026-02-08 0:00 UTC)),
            LicenseStatus::Expired
        );
        assert_eq!(
            at(Frozen, datetime!(2026-02-08 0:00 UTC)),
            LicenseStatus::Expired
        );
        assert_eq!(
            at(Frozen, datetime!(2026-02-15 0:00 UTC)),
            LicenseStatus::Released
        );
        assert_eq!(
            at(Released, datetime!(2026-01-01 0:00 UTC)),
            LicenseStatus::Released
        );
        assert_eq!(
            heartbeat_status(Active, None, G, G, datetime!(2099-01-01 0:00 UTC)),
            LicenseStatus::Alive
        );
    }

    #[test]
    fn activation_rules() {
        let p = LicensePolicy {
            seats: 2,
            ..Default::default()
        };
        let alive = LicenseStatus::Alive;
        use ActivationRefusal::*;
        use CodeState::*;
        assert_eq!(
            decide_activation(Issued, alive, &p, None, false, 0, 0),
            Ok(Activation::First)
        );
        assert_eq!(
            decide_activation(Activated, alive, &p, None, false, 1, 0),
            Err(AlreadyActivated)
        );
        assert_eq!(
            decide_activation(Activated, alive, &p, Some("m1"), true, 1, 0),
            Err(AlreadyActivated)
        );
        assert_eq!(
            decide_activation(Activated, alive, &p, Some("m2"), false, 1, 0),
            Ok(Activation::NewSeat)
        );
        assert_eq!(
            decide_activation(Activated, alive, &p, Some("m3"), false, 2, 0),
            Err(SeatsExhausted)
        );
        assert_eq!(
            decide_activation(Issued, LicenseStatus::Expired, &p, None, false, 0, 0),
            Err(NotUsable)
        );
        assert_eq!(
            decide_activation(Issued, alive, &p, None, false, 0, 20),
            Err(RateLimited)
        );
    }

    #[test]
    fn codes_look_right() {
        let c = generate_code();
        assert_eq!(c.len(), 34);
        assert!(c.starts_with("SOUK-"));
        assert_ne!(c, generate_code());
    }

    #[test]
    fn policy_bounds() {
        assert!(LicensePolicy::parse(0, Duration::minutes(10), 5).is_err());
        assert!(LicensePolicy::parse(1, Duration::seconds(5), 5).is_err());
        assert!(LicensePolicy::parse(3, Duration::minutes(10), 5).is_ok());
        let p = LicensePolicy::default();
        let t = datetime!(2026-01-01 0:00 UTC);
        assert!(p.is_live(t, t + Duration::minutes(9)));
        assert!(!p.is_live(t, t + Duration::minutes(10)));
    }
}
