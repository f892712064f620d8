//! Readiness probes: polled with bounded backoff, never a fixed sleep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Makes every readiness wait in progress or to come give up at once (on Ctrl-C), so that a
/// service being started is stopped by its scenario instead of outliving the run.
pub fn cancel_waits() {
    CANCELLED.store(true, Ordering::SeqCst);
}

/// What "ready" means for a service.
#[derive(Clone, Debug)]
pub enum Probe {
    /// An HTTP GET that must answer `status` with a body containing `body_contains`.
    Http { url: String, status: u16, body_contains: String },
}

impl Probe {
    /// One attempt; `Err` holds what was seen instead.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Probe::Http { url, status, body_contains } => {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
                let (got, body) = match agent.get(url).call() {
                    Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
                    Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
                    Err(e) => return Err(format!("GET {url}: {e}")),
                };
                if got != *status {
                    return Err(format!("GET {url}: HTTP {got}"));
                }
                if !body.contains(body_contains.as_str()) {
                    return Err(format!("GET {url}: body lacks {body_contains:?}"));
                }
                Ok(())
            }
        }
    }
}

/// Polls `probe` until it passes or `timeout` runs out, backing off from 50 ms to 1 s.
/// `alive` runs between attempts so a crashed process fails fast. Returns the last failure.
pub fn wait_until<E>(
    probe: &Probe,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<(), E>,
) -> Result<Result<(), String>, E> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(50);
    loop {
        if CANCELLED.load(Ordering::SeqCst) {
            return Ok(Err("interrupted".into()));
        }
        let last = probe.check();
        if last.is_ok() || Instant::now() >= deadline {
            return Ok(last);
        }
        alive()?;
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}
