//! Rate limits: a token bucket per SCIM key, and one per client address for requests that fail
//! authentication (checked before the key lookup). An empty bucket answers 429 with
//! `Retry-After`: the time until its next token, rounded up to whole seconds
//! ([`retry_after_secs`]). docs/operations.md says why the per-key limit is off by default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most buckets kept; past it, the fullest (idle) ones are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// With a burst of 0, a bucket holds this many seconds' worth of its rate.
const AUTO_BURST_SECS: f64 = 2.0;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    /// Tokens added per second; 0 disables the limiter.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// `Retry-After` for a wait: whole seconds (RFC 9110 §10.2.3 has no fractions), rounded up so
/// that a client that waits exactly that long finds a token; at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let secs = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    secs.max(1)
}

/// The time `missing` tokens take to arrive at `rate` a second (saturating, never a panic).
fn time_for(missing: f64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(missing.max(0.0) / rate).unwrap_or(Duration::MAX)
}

impl Limiter {
    /// `rate` tokens a second (0 or less disables), at most `burst` at once (0: two seconds'
    /// worth of the rate, at least 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        let rate = if rate.is_finite() { rate } else { 0.0 };
        let burst = match burst {
            0 => (rate * AUTO_BURST_SECS).ceil().max(1.0),
            n => f64::from(n),
        };
        Limiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    /// How long until `key`'s bucket has a token again, if it is empty now (takes nothing).
    pub fn empty_for(&self, key: &str) -> Option<Duration> {
        self.empty_at(key, Instant::now())
    }

    fn empty_at(&self, key: &str, now: Instant) -> Option<Duration> {
        if self.rate <= 0.0 {
            return None;
        }
        let buckets = self.buckets.lock().ok()?;
        let tokens = self.tokens_at(buckets.get(key)?, now);
        (tokens < 1.0).then(|| time_for(1.0 - tokens, self.rate))
    }

    /// The bucket's tokens at `now`, refilled since it was last touched.
    fn tokens_at(&self, b: &Bucket, now: Instant) -> f64 {
        (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate).min(self.burst)
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| self.tokens_at(b, now) < self.burst);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens = self.tokens_at(b, now);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(time_for(1.0 - b.tokens, self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = Limiter::new(10.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take_at("k", t0).is_ok());
        }
        let wait = l.take_at("k", t0).expect_err("empty");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(l.take_at("other", t0).is_ok(), "buckets are per key");
        assert!(
            l.take_at("k", t0 + Duration::from_millis(100)).is_ok(),
            "refilled one token"
        );
        assert!(Limiter::new(0.0, 0).take_at("k", t0).is_ok(), "0 disables");
    }

    #[test]
    fn retry_after_is_the_time_until_a_token_rounded_up() {
        // 0.4 tokens a second: an empty bucket has its next token 2.5 s later.
        let l = Limiter::new(0.4, 1);
        let t0 = Instant::now();
        assert!(l.take_at("k", t0).is_ok());
        let wait = l.take_at("k", t0).expect_err("empty");
        assert_eq!(wait, Duration::from_millis(2500));
        assert_eq!(retry_after_secs(wait), 3, "2.5 s rounds up, not down");
        // A second later the token is 1.5 s away; refused requests take nothing.
        let later = t0 + Duration::from_secs(1);
        let wait = l.take_at("k", later).expect_err("still empty");
        assert_eq!(retry_after_secs(wait), 2);
        assert_eq!(
            l.empty_at("k", later).map(retry_after_secs),
            Some(2),
            "the per-address check says the same"
        );
        // A client that waits what Retry-After said finds its token.
        assert!(l.take_at("k", later + Duration::from_secs(2)).is_ok());
        // Whole seconds stay whole; a fast refill still says 1 (the least HTTP can say).
        assert_eq!(retry_after_secs(Duration::from_secs(4)), 4);
        assert_eq!(retry_after_secs(Duration::from_millis(5)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn a_tiny_rate_saturates_instead_of_panicking() {
        let l = Limiter::new(1e-30, 1);
        let t0 = Instant::now();
        assert!(l.take_at("k", t0).is_ok());
        let wait = l.take_at("k", t0).expect_err("empty");
        assert_eq!(wait, Duration::MAX);
        assert_eq!(retry_after_secs(wait), u64::MAX);
    }

    #[test]
    fn a_burst_of_zero_holds_two_seconds_of_the_rate() {
        let l = Limiter::new(5.0, 0);
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(l.take_at("k", t0).is_ok(), "token {i}");
        }
        assert!(l.take_at("k", t0).is_err(), "the eleventh waits");
    }
}
