//! The clock type every component takes, so tests and the virtual-clock scenario can run
//! simulated hours in a moment: signature verification, credential expiry and the ruler all
//! read the time through a [`Clock`].

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// What time it is now, injectable.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// `clock`'s time as a [`std::time::SystemTime`] (what the AWS SDK's credentials carry).
pub fn system_time(clock: &Clock) -> std::time::SystemTime {
    std::time::SystemTime::from(clock())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_moves_and_converts() {
        let clock = system_clock();
        let a = clock();
        let b = system_time(&clock);
        let back: DateTime<Utc> = b.into();
        assert!(back >= a);
    }
}
