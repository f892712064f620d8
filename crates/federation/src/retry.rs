//! Bounded retries of S3 calls on top of the SDK's own: an S3 that resets connections, times
//! out or answers 5xx for longer than the SDK's three attempts is asked again, with a growing
//! pause, until a deadline, through the workspace's one waiting primitive
//! (`ampfed_common::wait`). Only [`S3Failure::Transient`](crate::S3Failure::Transient) failures
//! are retried; any other error ends the call at once. Past the deadline the call fails with
//! [`FederationError::Unavailable`], naming what was tried and the last failure.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ampfed_common::wait::{Cancel, Poll, Wait, WaitError};

use crate::FederationError;

/// The first pause after a failed attempt; it doubles up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause between two attempts.
pub const MAX_PAUSE: Duration = Duration::from_secs(2);

/// How long to keep trying, and what ends it early.
#[derive(Clone, Debug)]
pub struct Retry {
    /// How long one call may keep failing transiently before it gives up.
    pub deadline: Duration,
    /// Set to give up at the next pause.
    pub cancel: Option<Cancel>,
}

impl Retry {
    /// Calls `op` until it succeeds, fails in a way retrying cannot mend, or `deadline`
    /// passes; every transient failure retried is counted in `retried`.
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        retried: &AtomicUsize,
        mut op: F,
    ) -> Result<T, FederationError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, FederationError>>,
    {
        let mut wait = Wait::new(what, self.deadline).backoff(FIRST_PAUSE, MAX_PAUSE);
        if let Some(cancel) = &self.cancel {
            wait = wait.cancelled_by(cancel);
        }
        let outcome = wait
            .until(|| {
                let attempt = op();
                async move {
                    match attempt.await {
                        Ok(value) => Ok(Poll::Ready(value)),
                        Err(e) if e.is_transient() => {
                            retried.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(error = %e, "transient S3 failure, retrying");
                            Ok(Poll::Pending(e.to_string()))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await;
        outcome.map_err(|e| match e {
            WaitError::Failed(e) => e,
            WaitError::TimedOut { what, waited, last } => {
                FederationError::Unavailable { what, waited_ms: waited.as_millis() as u64, last }
            }
            WaitError::Cancelled { what } => FederationError::Cancelled { what },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::S3Failure;

    fn failure(failure: S3Failure) -> FederationError {
        FederationError::S3 { operation: "GetObject", target: "k".into(), message: "boom".into(), failure }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn transient_failures_are_retried_and_others_are_not() {
        let retry = Retry { deadline: Duration::from_secs(5), cancel: None };
        let retried = AtomicUsize::new(0);
        let mut attempts = 0;
        let got = block_on(retry.call("GetObject k", &retried, || {
            attempts += 1;
            let n = attempts;
            async move {
                if n < 3 {
                    Err(failure(S3Failure::Transient))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(got.unwrap(), 3);
        assert_eq!(retried.load(Ordering::Relaxed), 2);

        let mut attempts = 0;
        let got: Result<(), _> = block_on(retry.call("GetObject k", &retried, || {
            attempts += 1;
            async { Err(failure(S3Failure::Refused)) }
        }));
        assert!(matches!(got, Err(FederationError::S3 { failure: S3Failure::Refused, .. })));
        assert_eq!(attempts, 1);
    }

    #[test]
    fn past_the_deadline_the_call_is_unavailable_with_the_last_failure() {
        let retry = Retry { deadline: Duration::from_millis(120), cancel: None };
        let got: Result<(), _> =
            block_on(retry.call("ListObjectsV2 federated/", &AtomicUsize::new(0), || async {
                Err(failure(S3Failure::Transient))
            }));
        let text = got.unwrap_err().to_string();
        assert!(
            text.starts_with("S3 unavailable: ListObjectsV2 federated/ still failing after 0."),
            "{text}"
        );
        assert!(text.ends_with("(last: S3 GetObject k failed: boom)"), "{text}");
    }
}
