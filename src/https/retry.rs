//! Retry timing: exponential backoff with jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

/// How often and how patiently to retry a transient failure. The downloader
/// reuses it for failures in the middle of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries, the first included (1 = never retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// No wait is ever longer than this (also caps `Retry-After`).
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 = the first retry): `base * 2^(attempt-1)`,
    /// capped at `max`, with "equal jitter" (a random point in its upper half) so many
    /// clients failing together do not come back together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = full / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        half + jitter
    }

    /// The wait a `Retry-After` header asks for (seconds or an HTTP date), capped at `max`.
    pub fn retry_after(&self, value: &str) -> Option<Duration> {
        let v = value.trim();
        let wait = if let Ok(secs) = v.parse::<u64>() {
            Duration::from_secs(secs)
        } else {
            let when = httpdate::parse_http_date(v).ok()?;
            when.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        };
        Some(wait.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 1..20 {
            let d = p.delay(attempt);
            let full = (Duration::from_millis(100) * 2u32.pow((attempt - 1).min(10))).min(p.max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let p = RetryPolicy::default();
        assert_eq!(p.retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(p.retry_after("3600"), Some(p.max));
        assert_eq!(p.retry_after("soon"), None);
        let past = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH);
        assert_eq!(p.retry_after(&past), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let d = p.retry_after(&future).unwrap();
        assert!(
            d <= Duration::from_secs(10) && d >= Duration::from_secs(8),
            "{d:?}"
        );
    }
}
