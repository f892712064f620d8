//! What a server's accept loop does when `accept` fails. The errors that reach it are the
//! ones only time clears (the process or the system out of file descriptors, a connection
//! reset before it was taken); retried at once, they make the loop spin on one core. Every
//! accept loop of ampfed's servers pauses [`PAUSE`] after one, then accepts again.

use std::time::Duration;

/// How long an accept loop waits after a failed accept.
pub const PAUSE: Duration = Duration::from_millis(50);

/// Waits [`PAUSE`] (on tokio's timer).
pub async fn pause() {
    tokio::time::sleep(PAUSE).await;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_pause_lasts_its_time() {
        let started = std::time::Instant::now();
        super::pause().await;
        assert!(started.elapsed() >= super::PAUSE);
    }
}
