//! Rate limits: a token bucket per SCIM key, and one per client address for requests that fail
//! authentication (checked before the key lookup). An empty bucket answers 429 with
//! `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most buckets kept; past it, the fullest (idle) ones are forgotten.
const MAX_BUCKETS: usize = 10_000;

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

impl Limiter {
    /// `rate` tokens a second (0 or less disables), at most `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        Limiter {
            rate: if rate.is_finite() { rate } else { 0.0 },
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    /// How long until `key`'s bucket has a token again, if it is empty now (takes nothing).
    pub fn empty_for(&self, key: &str) -> Option<Duration> {
        if self.rate <= 0.0 {
            return None;
        }
        let buckets = self.buckets.lock().ok()?;
        let b = buckets.get(key)?;
        let tokens = (b.tokens + b.at.elapsed().as_secs_f64() * self.rate).min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate))
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
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
}
