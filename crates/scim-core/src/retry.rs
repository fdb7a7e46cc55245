//! The one retry loop of optimistic concurrency: read, compute, commit if nothing moved; else
//! again, a bounded number of times.

use std::future::Future;

use crate::error::{Error, Result};

/// How often a change is recomputed when a concurrent change got there first.
pub(crate) const MAX_ATTEMPTS: usize = 32;

/// Runs `attempt` until it returns `Some` (done) or an error; `None` means a concurrent change
/// won and the attempt must be recomputed. After [`MAX_ATTEMPTS`], 503: try again later.
pub(crate) async fn optimistic<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    for _ in 0..MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(Error::Unavailable(
        "too many concurrent changes to this resource; try again".into(),
    ))
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
}
