//! The one retry loop of optimistic concurrency: read, compute, commit if nothing moved; else
//! again, a bounded number of times, after a pause that grows with each conflict and is drawn at
//! random (so that writers who collided do not collide again in step: 64 clients adding members
//! to one group at once, on two replicas, all get through).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How often a change is recomputed when a concurrent change got there first.
pub(crate) const MAX_ATTEMPTS: usize = 64;

/// Runs `attempt` until it returns `Some` (done) or an error; `None` means a concurrent change
/// won and the attempt must be recomputed. After [`MAX_ATTEMPTS`], 503: try again later.
pub(crate) async fn optimistic<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    for n in 0..MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        tokio::time::sleep(pause(n)).await;
    }
    Err(Error::Unavailable(
        "too many concurrent changes to this resource; try again".into(),
    ))
}

/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// The pause after the `n`th conflict (from 0): up to 1 ms, then 2, 4, … at most [`MAX_PAUSE`],
/// drawn uniformly.
fn pause(n: usize) -> Duration {
    let ceiling = Duration::from_micros(1000u64 << n.min(6)).min(MAX_PAUSE);
    let mut bytes = [0u8; 4];
    // Without randomness, the full pause: still a pause.
    let fraction = match getrandom::getrandom(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_while_stale_then_gives_up() {
        let mut calls = 0;
        let done = optimistic(|| {
            calls += 1;
            let n = calls;
            async move { Ok((n == 3).then_some(n)) }
        })
        .await;
        assert_eq!(done.ok(), Some(3));
        let mut calls = 0;
        let never: Result<()> = optimistic(|| {
            calls += 1;
            async { Ok(None) }
        })
        .await;
        assert!(matches!(never, Err(Error::Unavailable(_))));
        assert_eq!(calls, MAX_ATTEMPTS);
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        for n in 0..MAX_ATTEMPTS {
            let p = pause(n);
            assert!(p <= MAX_PAUSE, "{p:?}");
            assert!(p <= Duration::from_micros(1000 << n.min(6)));
        }
        let late: Duration = (0..100).map(|_| pause(10)).sum();
        let early: Duration = (0..100).map(|_| pause(0)).sum();
        assert!(late > early, "later pauses are longer on average");
    }
}
