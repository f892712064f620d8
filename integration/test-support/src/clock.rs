//! A clock that only moves when told to, to be shared by every component of a test (the
//! mocks' verifiers, the proxy's credential cache, the ruler).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ampfed_common::Clock;
use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the epoch, moved by [`ManualClock::advance`].
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at `at`.
    pub fn at(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(at.timestamp_millis())))
    }

    /// Starts at the real time now (so nothing is absurdly far from the system clock).
    pub fn starting_now() -> ManualClock {
        ManualClock::at(Utc::now())
    }

    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    /// Jumps to `at`, forwards or back.
    pub fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0.load(Ordering::SeqCst)).single().unwrap_or_default()
    }

    /// The [`Clock`] every component takes.
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_told() {
        let manual = ManualClock::at(Utc.timestamp_opt(1_000, 0).unwrap());
        let clock = manual.clock();
        assert_eq!(clock().timestamp(), 1_000);
        manual.advance(Duration::from_secs(90));
        assert_eq!(clock().timestamp(), 1_090);
        manual.set(Utc.timestamp_opt(500, 0).unwrap());
        assert_eq!(clock().timestamp(), 500);
    }
}
