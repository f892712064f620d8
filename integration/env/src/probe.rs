//! Readiness probes: what "ready" means for a service, checked by one attempt. The scenario
//! polls them with `ampfed_common::wait` (bounded backoff, cancellable), never a fixed sleep.

use std::time::Duration;

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
