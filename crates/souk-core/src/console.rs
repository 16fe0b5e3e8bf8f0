//! The web console's accounts: who may log in, for how long, and how often they may try.
//!
//! A console user is a person (an e-mail and a password) acting for one party with that
//! party's role. Passwords are hashed with argon2 by the server; this module holds the rules
//! that are plain decisions: what a password must be, how long a session lives, when login
//! attempts are throttled, and the random tokens sessions and forms carry.

use rand::RngCore;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// Shortest password accepted (NIST SP 800-63B's minimum for user-chosen secrets).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted: argon2 takes any length, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// A session ends this long after it was last used.
pub const SESSION_IDLE: Duration = Duration::hours(12);
/// Failed logins for one e-mail address counted over this window…
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// …of which this many lock further attempts until the oldest falls out of the window.
pub const THROTTLE_MAX_FAILURES: usize = 5;

/// A password-reset link works this long after it was mailed (and once).
pub const RESET_VALIDITY: Duration = Duration::hours(1);

/// When to try a mail again after `attempts` failed attempts (1 after the first): `first`
/// doubled per attempt, capped at an hour; `None` once `max_attempts` are used up.
pub fn mail_retry_delay(attempts: u32, max_attempts: u32, first: Duration) -> Option<Duration> {
    if attempts >= max_attempts {
        return None;
    }
    let doubled = first * 2_i32.saturating_pow(attempts.saturating_sub(1).min(20));
    Some(doubled.min(Duration::hours(1)))
}

/// Why a password is refused (message shown to the person choosing it).
pub fn password_problem(p: &str) -> Option<String> {
    let n = p.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Some(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Some(format!(
            "the password must have at most {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if p.chars().all(|c| c.is_whitespace()) {
        return Some("the password must not be blank".to_owned());
    }
    None
}

/// When the next login attempt for an address is allowed, given the times of its recent
/// failures (any order): `None` means now.
pub fn throttled_until(failures: &[OffsetDateTime], now: OffsetDateTime) -> Option<OffsetDateTime> {
    let mut recent: Vec<OffsetDateTime> = failures
        .iter()
        .copied()
        .filter(|t| *t > now - THROTTLE_WINDOW)
        .collect();
    if recent.len() < THROTTLE_MAX_FAILURES {
        return None;
    }
    recent.sort();
    // Attempts resume when enough failures have aged out to leave one attempt.
    let nth = recent[recent.len() - THROTTLE_MAX_FAILURES];
    Some(nth + THROTTLE_WINDOW)
}

/// A fresh random token (256 bits, hex) for a session cookie or a form.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What is stored for a session token: its SHA-256, so a copy of the database opens no session.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a session last used at `last_seen` is still open at `now`.
pub fn session_alive(last_seen: OffsetDateTime, now: OffsetDateTime) -> bool {
    now - last_seen < SESSION_IDLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_retries_double_up_to_an_hour_then_stop() {
        let m = Duration::minutes(1);
        assert_eq!(mail_retry_delay(1, 8, m), Some(Duration::minutes(1)));
        assert_eq!(mail_retry_delay(2, 8, m), Some(Duration::minutes(2)));
        assert_eq!(mail_retry_delay(7, 8, m), Some(Duration::hours(1)));
        assert_eq!(mail_retry_delay(8, 8, m), None);
    }
    use time::macros::datetime;

    #[test]
    fn passwords_need_eight_visible_characters_and_are_bounded() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("        ").is_some());
        assert!(password_problem(&"x".repeat(129)).is_some());
        assert_eq!(password_problem("密码是八个字符吗"), None);
    }

    #[test]
    fn the_fifth_failure_in_fifteen_minutes_locks_until_the_first_ages_out() {
        let now = datetime!(2026-01-01 12:00 UTC);
        let f = |m: i64| now - Duration::minutes(m);
        assert_eq!(throttled_until(&[f(1), f(2), f(3), f(4)], now), None);
        let five = [f(10), f(1), f(2), f(3), f(4)];
        assert_eq!(throttled_until(&five, now), Some(f(10) + THROTTLE_WINDOW));
        // Failures older than the window do not count.
        assert_eq!(throttled_until(&[f(16), f(1), f(2), f(3), f(4)], now), None);
    }

    #[test]
    fn sessions_close_after_twelve_idle_hours_and_tokens_are_hashed() {
        let t = datetime!(2026-01-01 00:00 UTC);
        assert!(session_alive(t, t + Duration::hours(11)));
        assert!(!session_alive(t, t + Duration::hours(12)));
        let tok = new_token();
        assert_eq!(tok.len(), 64);
        assert_ne!(token_hash(&tok), tok);
        assert_ne!(new_token(), tok);
    }
}
