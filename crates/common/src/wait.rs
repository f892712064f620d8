//! The one waiting primitive: look at an observable state until it is ready or a deadline
//! passes, backing off between looks, and give up at once when the run is cancelled. The
//! error names what was awaited and what was last seen, never "N polls".
//!
//! ```
//! use std::time::Duration;
//! use ampfed_common::wait::{Poll, Wait};
//! let mut n = 0;
//! let got: Result<u32, ampfed_common::WaitError<std::convert::Infallible>> =
//!     Wait::new("the counter to reach 3", Duration::from_secs(5)).blocking(|| {
//!         n += 1;
//!         Ok(if n >= 3 { Poll::Ready(n) } else { Poll::Pending(format!("counter is {n}")) })
//!     });
//! assert_eq!(got.unwrap(), 3);
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cancellation flag shared by the waits of one run: once set (Ctrl-C), every wait that
/// holds it gives up at its next look.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Makes every wait holding this flag give up.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What one look at the awaited state saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll<T> {
    /// The state is reached; the wait returns this.
    Ready(T),
    /// Not yet: what was seen instead (shown if the deadline passes).
    Pending(String),
}

/// Why a wait ended without the state being reached.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    #[error("{what}: not reached after {:.1} s (last seen: {last})", waited.as_secs_f64())]
    TimedOut { what: String, waited: Duration, last: String },
    #[error("{what}: interrupted")]
    Cancelled { what: String },
    /// A look failed in a way that waiting cannot mend (the process died, a request was refused).
    #[error(transparent)]
    Failed(E),
}

impl<E: std::fmt::Display> WaitError<E> {
    /// The failed look's own error, or this wait's message (deadline, interrupt) made into an
    /// `E`: for error types such as `anyhow::Error` that are not `std::error::Error`.
    pub fn into_error(self, from_message: impl FnOnce(String) -> E) -> E {
        match self {
            WaitError::Failed(e) => e,
            other => from_message(other.to_string()),
        }
    }
}

/// How to wait for one thing.
#[derive(Clone, Debug)]
pub struct Wait {
    what: String,
    timeout: Duration,
    first_delay: Duration,
    max_delay: Duration,
    cancel: Option<Cancel>,
}

impl Wait {
    /// Waits for `what` (named in errors) at most `timeout`, looking again after 50 ms, then
    /// backing off to at most 1 s between looks.
    pub fn new(what: impl Into<String>, timeout: Duration) -> Wait {
        Wait {
            what: what.into(),
            timeout,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            cancel: None,
        }
    }

    /// Another backoff: `first` after the first look, doubling up to `max`.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Wait {
        self.first_delay = first;
        self.max_delay = max.max(first);
        self
    }

    /// Gives up as soon as `cancel` is set.
    pub fn cancelled_by(mut self, cancel: &Cancel) -> Wait {
        self.cancel = Some(cancel.clone());
        self
    }

    /// What is awaited.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The longest this wait takes.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(Cancel::is_cancelled)
    }

    /// Looks with `look` on this thread until it is ready, fails, the deadline passes or the
    /// wait is cancelled. For threads that may block; async code uses [`Wait::until`].
    pub fn blocking<T, E>(&self, mut look: impl FnMut() -> Result<Poll<T>, E>) -> Result<T, WaitError<E>> {
        let mut pacer = Pacer::new(self);
        loop {
            if self.cancelled() {
                return Err(WaitError::Cancelled { what: self.what.clone() });
            }
            let last = match look().map_err(WaitError::Failed)? {
                Poll::Ready(v) => return Ok(v),
                Poll::Pending(seen) => seen,
            };
            std::thread::sleep(pacer.next(self, last)?);
        }
    }

    /// The async form of [`Wait::blocking`]: `look` is awaited, the pause is tokio's timer.
    /// Dropping the future (a `select!` on Ctrl-C) ends the wait too.
    #[cfg(feature = "async")]
    pub async fn until<T, E, F, Fut>(&self, mut look: F) -> Result<T, WaitError<E>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T>, E>>,
    {
        let mut pacer = Pacer::new(self);
        loop {
            if self.cancelled() {
                return Err(WaitError::Cancelled { what: self.what.clone() });
            }
            let last = match look().await.map_err(WaitError::Failed)? {
                Poll::Ready(v) => return Ok(v),
                Poll::Pending(seen) => seen,
            };
            let pause = pacer.next(self, last)?;
            tokio::time::sleep(pause).await;
        }
    }
}

/// The deadline and the growing pause between looks.
struct Pacer {
    started: Instant,
    delay: Duration,
}

impl Pacer {
    fn new(wait: &Wait) -> Pacer {
        Pacer { started: Instant::now(), delay: wait.first_delay }
    }

    /// The pause before the next look, or the time-out once the deadline has passed.
    fn next<E>(&mut self, wait: &Wait, last: String) -> Result<Duration, WaitError<E>> {
        let waited = self.started.elapsed();
        if waited >= wait.timeout {
            return Err(WaitError::TimedOut { what: wait.what.clone(), waited, last });
        }
        let pause = self.delay.min(wait.timeout - waited);
        self.delay = (self.delay * 2).min(wait.max_delay);
        Ok(pause)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    #[test]
    fn a_deadline_names_what_was_awaited_and_the_last_look() {
        let started = Instant::now();
        let err = Wait::new("the bucket to exist", Duration::from_millis(120))
            .blocking(|| Ok::<Poll<()>, Infallible>(Poll::Pending("NoSuchBucket".into())))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let text = err.to_string();
        assert!(text.starts_with("the bucket to exist: not reached after 0."), "{text}");
        assert!(text.ends_with("(last seen: NoSuchBucket)"), "{text}");
    }

    #[test]
    fn cancelling_ends_every_wait_holding_the_flag() {
        let cancel = Cancel::new();
        let wait = Wait::new("forever", Duration::from_secs(3600)).cancelled_by(&cancel);
        let mut looks = 0;
        let err = wait
            .blocking(|| {
                looks += 1;
                if looks == 2 {
                    cancel.cancel();
                }
                Ok::<Poll<()>, Infallible>(Poll::Pending("still waiting".into()))
            })
            .unwrap_err();
        assert!(matches!(err, WaitError::Cancelled { .. }), "{err}");
        assert_eq!(looks, 2);
    }

    #[test]
    fn a_failed_look_ends_the_wait_with_its_error() {
        let err = Wait::new("a process", Duration::from_secs(60))
            .blocking(|| Err::<Poll<()>, _>("exited with status 3"))
            .unwrap_err();
        assert_eq!(err.to_string(), "exited with status 3");
    }

    #[test]
    fn into_error_keeps_a_failure_and_words_a_deadline() {
        let failed: WaitError<String> = WaitError::Failed("refused".into());
        assert_eq!(failed.into_error(|m| format!("wrapped {m}")), "refused");
        let cancelled: WaitError<String> = WaitError::Cancelled { what: "x".into() };
        assert_eq!(cancelled.into_error(|m| format!("wrapped {m}")), "wrapped x: interrupted");
    }

    #[test]
    fn pauses_double_up_to_the_maximum_and_stop_at_the_deadline() {
        let wait = Wait::new("x", Duration::from_secs(10))
            .backoff(Duration::from_millis(100), Duration::from_millis(300));
        let mut pacer = Pacer::new(&wait);
        let pauses: Vec<u128> =
            (0..4).map(|_| pacer.next::<Infallible>(&wait, String::new()).unwrap().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 300, 300]);
    }

    #[cfg(feature = "async")]
    #[test]
    fn the_async_form_waits_on_the_timer() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut n = 0;
        let got = rt.block_on(Wait::new("three looks", Duration::from_secs(5)).until(|| {
            n += 1;
            let seen = n;
            async move {
                Ok::<_, Infallible>(if seen >= 3 {
                    Poll::Ready(seen)
                } else {
                    Poll::Pending(seen.to_string())
                })
            }
        }));
        assert_eq!(got.unwrap(), 3);
    }
}
