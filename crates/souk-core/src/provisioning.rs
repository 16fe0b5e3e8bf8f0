//! Calls to sellers as durable jobs: what each call is, how long it is retried, and how an
//! answer is judged (protocol spec §7).

use crate::order::string_enum;
use crate::transition::{event_enum, StateMachine};
use time::{Duration, OffsetDateTime};

string_enum!(
    /// One logical call to a seller's production endpoint. Retries of it reuse the same orderId
    /// (and orderLineId) with a fresh businessId, so a correct seller does the work once.
    CallKind {
        NewInstance = "new_instance",
        /// Renewal or trial → formal conversion.
        RefreshInstance = "refresh_instance",
        UpgradeInstance = "upgrade_instance",
        /// V1 expireInstance / V2 updateInstanceStatus FREEZE.
        FreezeInstance = "freeze_instance",
        /// V2 updateInstanceStatus UNFREEZE (V1: the refresh itself reactivates).
        UnfreezeInstance = "unfreeze_instance",
        ReleaseInstance = "release_instance",
        /// License products: V1 getLicense / V2 getLicenseAsync.
        GetLicense = "get_license",
        /// License 2.0 (Souk-issued codes): refreshLicenseCode, one job per activated code.
        RefreshLicenseCode = "refresh_license_code",
        /// License 2.0: updateLicenseCodeStatus FREEZE.
        FreezeLicenseCode = "freeze_license_code",
        /// License 2.0: updateLicenseCodeStatus UNFREEZE.
        UnfreezeLicenseCode = "unfreeze_license_code",
        /// License 2.0: releaseLicenseCode.
        ReleaseLicenseCode = "release_license_code",
        /// 退续费 (§4.4): V1 refreshInstance with the shortened expiry and a negative
        /// orderAmount, V2 refreshInstance scene UNSUBSCRIBE_RENEWAL_PERIOD.
        RefundRenewalPeriod = "refund_renewal_period",
        /// 退续费 of Souk-issued codes: refreshLicenseCode scene UNSUBSCRIBE_RENEWAL_PERIOD,
        /// one per activated code.
        RefundRenewalLicenseCode = "refund_renewal_license_code",
    }
);

string_enum!(
    JobState {
        /// Waiting for `next_attempt_at`.
        Pending = "pending",
        /// Claimed by a worker holding a lease.
        Running = "running",
        Succeeded = "succeeded",
        /// Gave up at the end of its retry window.
        Failed = "failed",
    }
);

event_enum!(
    /// Something that happens to a job.
    JobEvent {
        /// A worker takes it with a lease (a `running` job whose lease ran out is taken again).
        Claim = "claimed",
        /// The seller's answer completed the call.
        Succeed = "completed",
        /// Not done yet: retry later, or poll a seller that answered 000004.
        Wait = "rescheduled",
        /// Its retry window ended.
        GiveUp = "given up",
        /// The seller asked for an attempt now.
        RetryNow = "retried",
    }
);

impl StateMachine for JobState {
    type Event = JobEvent;
    const WHAT: &'static str = "a call";
    const STATES: &'static [Self] = JobState::ALL;
    const START: Self = JobState::Pending;

    /// The job state machine. Anything not listed is refused.
    fn next(self, event: JobEvent) -> Option<JobState> {
        use JobEvent::*;
        use JobState::*;
        match (self, event) {
            (Pending | Running, Claim) => Some(Running),
            (Running, Succeed) => Some(Succeeded),
            (Running, Wait) => Some(Pending),
            (Running, GiveUp) => Some(Failed),
            (Pending | Failed, RetryNow) => Some(Pending),
            _ => None,
        }
    }
}

/// The outcome recorded for a call that was in flight when its Souk process stopped.
pub const OUTCOME_INTERRUPTED: &str = "interrupted";

/// What the interface messages say of such a call.
pub const INTERRUPTED_NOTE: &str = "Souk stopped while this call was in flight, so whether it \
    reached you is unknown; it is sent again with the same orderId (answer idempotently)";

impl CallKind {
    /// The License 2.0 seller interfaces (spec §9.4), retried 60 × every 2 minutes.
    pub fn is_license_code(self) -> bool {
        matches!(
            self,
            CallKind::RefreshLicenseCode
                | CallKind::FreezeLicenseCode
                | CallKind::UnfreezeLicenseCode
                | CallKind::ReleaseLicenseCode
                | CallKind::RefundRenewalLicenseCode
        )
    }

    /// The call sent after Souk gives up on this one, with the same orderId: a seller that was
    /// slow rather than down may have created the instance after all, and the buyer has been
    /// refunded, so the seller is told to release it (KooGallery does the same).
    pub fn after_giving_up(self) -> Option<CallKind> {
        match self {
            CallKind::NewInstance | CallKind::GetLicense => Some(CallKind::ReleaseInstance),
            _ => None,
        }
    }

    /// Whether this call opens its instance (the instance waits in `opening` for it).
    pub fn opens_instance(self) -> bool {
        matches!(self, CallKind::NewInstance | CallKind::GetLicense)
    }

    /// Whether a signed "instance not found" (`000003`) completes this call: there is nothing
    /// to release (the seller never created it, or already deleted it), which is what a
    /// release asks for.
    pub fn done_when_not_found(self) -> bool {
        matches!(self, CallKind::ReleaseInstance)
    }

    /// Whether failure of this call fails the order that needed it (and refunds it).
    pub fn fails_order(self) -> bool {
        matches!(
            self,
            CallKind::NewInstance | CallKind::UpgradeInstance | CallKind::GetLicense
        )
    }
}

/// How long and how often a call is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Give up when the next attempt would start later than this after the first one.
    pub window: Duration,
    /// Delay before the second attempt; doubles each time…
    pub first_delay: Duration,
    /// …up to this.
    pub max_delay: Duration,
    /// ± this fraction of random spread, so that a seller coming back up is not hit by every
    /// queued call in the same second.
    pub jitter: f64,
}

impl RetryPolicy {
    /// newInstance, upgrade, getLicense: up to 3 h (spec §7).
    pub const OPENING: RetryPolicy = RetryPolicy {
        window: Duration::hours(3),
        first_delay: Duration::seconds(10),
        max_delay: Duration::minutes(15),
        jitter: 0.2,
    };
    /// expire (freeze), unfreeze, release, refresh: 1 h (spec §7).
    pub const STATUS: RetryPolicy = RetryPolicy {
        window: Duration::hours(1),
        first_delay: Duration::seconds(10),
        max_delay: Duration::minutes(10),
        jitter: 0.2,
    };
    /// License 2.0 seller calls: 60 attempts, every 2 minutes (spec §7).
    pub const LICENSE_CODE: RetryPolicy = RetryPolicy {
        window: Duration::minutes(118),
        first_delay: Duration::minutes(2),
        max_delay: Duration::minutes(2),
        jitter: 0.0,
    };

    pub fn for_call(kind: CallKind) -> RetryPolicy {
        if kind.is_license_code() {
            RetryPolicy::LICENSE_CODE
        } else if kind.fails_order() {
            RetryPolicy::OPENING
        } else {
            RetryPolicy::STATUS
        }
    }

    /// When to try again after `attempts` failed attempts of a job first tried at `first`,
    /// or `None` to give up. `random` is uniform in [0, 1) (injected for tests).
    pub fn next_attempt(
        &self,
        first: OffsetDateTime,
        attempts: u32,
        now: OffsetDateTime,
        random: f64,
    ) -> Option<OffsetDateTime> {
        let exp = attempts.saturating_sub(1).min(30);
        let base = self
            .first_delay
            .checked_mul(1i32 << exp.min(20))
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let spread = 1.0 + self.jitter * (2.0 * random - 1.0);
        let delay = Duration::seconds_f64((base.as_seconds_f64() * spread).max(0.0));
        let next = now + delay;
        (next <= first + self.window).then_some(next)
    }
}

/// How an answer from a seller is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// HTTP 200, JSON, valid Body-Sign, `000000`.
    Success,
    /// `000004`: accepted, still working; poll queryInstance.
    Accepted,
    /// Anything else, with the reason shown to the seller.
    Failure(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn delays_double_up_to_the_cap_with_bounded_jitter() {
        let p = RetryPolicy::OPENING;
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let mid = |n| p.next_attempt(t0, n, t0, 0.5).unwrap() - t0;
        assert_eq!(mid(1), Duration::seconds(10));
        assert_eq!(mid(2), Duration::seconds(20));
        assert_eq!(mid(3), Duration::seconds(40));
        assert_eq!(mid(12), Duration::minutes(15));
        let low = p.next_attempt(t0, 1, t0, 0.0).unwrap() - t0;
        let high = p.next_attempt(t0, 1, t0, 0.999).unwrap() - t0;
        assert_eq!(low, Duration::seconds(8));
        assert!(high < Duration::seconds(12) && high > Duration::seconds(11));
    }

    #[test]
    fn retries_stop_at_the_end_of_the_window() {
        let p = RetryPolicy::OPENING;
        let t0 = datetime!(2026-01-01 0:00 UTC);
        assert!(p
            .next_attempt(t0, 5, t0 + Duration::minutes(179), 0.5)
            .is_none());
        assert!(p
            .next_attempt(t0, 5, t0 + Duration::minutes(100), 0.5)
            .is_some());
        let s = RetryPolicy::STATUS;
        assert!(s
            .next_attempt(t0, 5, t0 + Duration::minutes(59), 0.5)
            .is_none());
    }

    #[test]
    fn license_code_calls_retry_sixty_times_two_minutes_apart() {
        let p = RetryPolicy::LICENSE_CODE;
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let mut now = t0;
        let mut attempts = 1;
        while let Some(next) = p.next_attempt(t0, attempts, now, 0.3) {
            assert_eq!(next - now, Duration::minutes(2));
            now = next;
            attempts += 1;
        }
        assert_eq!(attempts, 60);
    }

    #[test]
    fn the_job_state_machine_allows_only_the_documented_paths() {
        use JobEvent::*;
        use JobState::*;
        assert_eq!(Pending.apply(Claim), Ok(Running));
        assert_eq!(Running.apply(Claim), Ok(Running), "an expired lease");
        assert_eq!(Running.apply(Succeed), Ok(Succeeded));
        assert_eq!(Running.apply(Wait), Ok(Pending));
        assert_eq!(Running.apply(GiveUp), Ok(Failed));
        assert_eq!(Failed.apply(RetryNow), Ok(Pending));
        assert_eq!(Pending.apply(RetryNow), Ok(Pending));
        assert!(Succeeded.apply(RetryNow).is_err(), "a done call stays done");
        assert!(
            Pending.apply(Succeed).is_err(),
            "only a claimed call completes"
        );
        assert_eq!(
            Succeeded.apply(Claim).unwrap_err().to_string(),
            "a call that is succeeded cannot be claimed"
        );
    }

    #[test]
    fn only_opening_calls_fail_orders() {
        assert!(CallKind::NewInstance.fails_order());
        assert!(!CallKind::ReleaseInstance.fails_order());
        assert_eq!(
            RetryPolicy::for_call(CallKind::FreezeInstance),
            RetryPolicy::STATUS
        );
        assert_eq!(
            RetryPolicy::for_call(CallKind::ReleaseLicenseCode),
            RetryPolicy::LICENSE_CODE
        );
        assert!(!CallKind::RefreshLicenseCode.fails_order());
    }
}
