//! The federators' lease, `federated/combined/etl/.lease`: one federator works at a time, the
//! others wait for it (or give up after their `wait`). It is built only from conditional
//! PutObject, which LocalStack 4.9 and S3 both honour (`docs/federation.md`):
//!
//! - **take**: a missing lease is created with `If-None-Match: *`; a released one, or one this
//!   holder left behind (a restart after a crash, same holder id), is replaced with
//!   `If-Match: <etag read>`;
//! - **steal**: a lease held by someone else is taken (`If-Match`) only after its ETag stayed
//!   unchanged for its whole TTL *as measured on this federator's own monotonic clock*, so no
//!   two clocks need to agree;
//! - **renew** ([`Lease::keep`], before every write): once a third of the TTL has passed, with
//!   `If-Match` on the holder's own ETag; a lost condition is [`FederationError::LeaseLost`]
//!   and the federator stops writing;
//! - **release**: replaced (`If-Match`) by a released lease, never deleted (LocalStack answers
//!   a conditional delete with 501).
//!
//! Every taking is read back: a store that ignored the condition (two creators both "won")
//! shows the other holder and the taker backs off. Even then nothing is lost: the lease only
//! saves duplicate work; the combined objects stay right through deterministic outputs and
//! conditional writes (`crate::federator`).

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ampfed_common::wait::{Poll, Wait, WaitError};
use serde::{Deserialize, Serialize};

use crate::layout::LEASE_KEY;
use crate::retry::Retry;
use crate::store::{Condition, Fetched, Put, Store};
use crate::{FederationError, S3Failure};

const CONTENT_TYPE: &str = "application/json";

/// How a federator takes the lease.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Who takes it: stable across restarts of one federator (its pod name), different for
    /// two federators.
    pub holder: String,
    /// How long a lease not renewed stays its holder's.
    pub ttl: Duration,
    /// How long to wait for a lease someone else holds before giving up.
    pub wait: Duration,
}

/// The lease object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    holder: String,
    /// Bumped by every taking.
    term: u64,
    /// Bumped by every renewal (so that the ETag changes).
    renewal: u64,
    ttl_ms: u64,
    released: bool,
}

impl Body {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
        bytes.push(b'\n');
        bytes
    }
}

/// How the lease was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// There was none, or it was released.
    Fresh,
    /// This holder's own, left behind by an earlier run that did not release it.
    Resumed,
    /// Someone else's, not renewed for its TTL.
    TakenOver { from: String },
}

/// A held lease.
#[derive(Debug)]
pub struct Lease {
    body: Body,
    etag: String,
    ttl: Duration,
    /// When the last successful write of the lease was sent.
    renewed_at: Instant,
    /// How it was taken.
    pub taken: Taken,
    /// How long taking it waited.
    pub waited: Duration,
}

/// What one look at the lease decided.
enum Seen {
    Missing,
    Ours { etag: String, term: u64, released: bool },
    Theirs { etag: String, holder: String, term: u64, ttl: Duration },
}

fn read_body(fetched: &Fetched) -> Option<Body> {
    serde_json::from_slice(&fetched.bytes).ok()
}

impl Lease {
    /// Takes the lease, waiting at most `config.wait` for another holder to release it or to
    /// stop renewing it.
    pub async fn acquire(
        store: &Store,
        config: &LeaseConfig,
        retry: &Retry,
        retried: &AtomicUsize,
    ) -> Result<Lease, FederationError> {
        let started = Instant::now();
        // (ETag, first seen at) of someone else's lease: stolen once unchanged for its TTL.
        let observed: Mutex<Option<(String, Instant)>> = Mutex::new(None);
        let last_holder: Mutex<String> = Mutex::new(String::new());
        let first = (config.ttl / 20).clamp(Duration::from_millis(20), Duration::from_millis(500));
        let max = (config.ttl / 4).clamp(first, Duration::from_secs(5));
        let mut wait =
            Wait::new(format!("the federation lease {LEASE_KEY}"), config.wait).backoff(first, max);
        if let Some(cancel) = &retry.cancel {
            wait = wait.cancelled_by(cancel);
        }
        let got = wait
            .until(|| async {
                let seen = Lease::look(store, config, retry, retried).await?;
                let (condition, term, taken) = match seen {
                    Seen::Missing => (Condition::IfAbsent, 1, Taken::Fresh),
                    Seen::Ours { etag, term, released } => {
                        let taken = if released { Taken::Fresh } else { Taken::Resumed };
                        (Condition::IfMatch(etag), term + 1, taken)
                    }
                    Seen::Theirs { etag, holder, term, ttl } => {
                        let now = Instant::now();
                        let since = {
                            let mut observed = observed.lock().unwrap_or_else(|p| p.into_inner());
                            match &*observed {
                                Some((seen, since)) if *seen == etag => *since,
                                _ => {
                                    *observed = Some((etag.clone(), now));
                                    now
                                }
                            }
                        };
                        *last_holder.lock().unwrap_or_else(|p| p.into_inner()) = holder.clone();
                        let unchanged = now.duration_since(since);
                        if unchanged < ttl {
                            return Ok(Poll::Pending(format!(
                                "held by {holder}, unchanged for {:.1} s of its {:.1} s TTL",
                                unchanged.as_secs_f64(),
                                ttl.as_secs_f64()
                            )));
                        }
                        (Condition::IfMatch(etag), term + 1, Taken::TakenOver { from: holder })
                    }
                };
                let body = Body {
                    holder: config.holder.clone(),
                    term,
                    renewal: 0,
                    ttl_ms: config.ttl.as_millis() as u64,
                    released: false,
                };
                let sent = Instant::now();
                let put = retry
                    .call("PutObject (take the lease)", retried, || {
                        store.put_if(LEASE_KEY, body.to_bytes(), CONTENT_TYPE, &condition)
                    })
                    .await?;
                let Put::Written(etag) = put else {
                    return Ok(Poll::Pending("another federator took the lease first".into()));
                };
                // Read back: a store that ignores conditions would let two takers both "win".
                let back =
                    retry.call("GetObject (the lease taken)", retried, || store.fetch(LEASE_KEY)).await?;
                if read_body(&back).as_ref() != Some(&body) {
                    return Ok(Poll::Pending(
                        "the lease changed right after it was taken (another taker; does the store \
                         honour conditional writes?)"
                            .into(),
                    ));
                }
                Ok(Poll::Ready((body, etag, sent, taken)))
            })
            .await;
        match got {
            Ok((body, etag, renewed_at, taken)) => {
                tracing::info!(holder = %body.holder, term = body.term, ?taken, "took the federation lease");
                Ok(Lease { body, etag, ttl: config.ttl, renewed_at, taken, waited: started.elapsed() })
            }
            Err(WaitError::Failed(e)) => Err(e),
            Err(WaitError::TimedOut { waited, .. }) => Err(FederationError::LeaseHeld {
                key: LEASE_KEY.into(),
                holder: last_holder.into_inner().unwrap_or_else(|p| p.into_inner()),
                waited_ms: waited.as_millis() as u64,
            }),
            Err(WaitError::Cancelled { what }) => Err(FederationError::Cancelled { what }),
        }
    }

    async fn look(
        store: &Store,
        config: &LeaseConfig,
        retry: &Retry,
        retried: &AtomicUsize,
    ) -> Result<Seen, FederationError> {
        let fetched = match retry.call("GetObject (the lease)", retried, || store.fetch(LEASE_KEY)).await {
            Ok(fetched) => fetched,
            Err(e) if e.s3_failure() == Some(S3Failure::NotFound) => return Ok(Seen::Missing),
            Err(e) => return Err(e),
        };
        Ok(match read_body(&fetched) {
            Some(body) if body.holder == config.holder || body.released => {
                Seen::Ours { etag: fetched.etag, term: body.term, released: body.released }
            }
            Some(body) => Seen::Theirs {
                etag: fetched.etag,
                holder: body.holder,
                term: body.term,
                ttl: Duration::from_millis(body.ttl_ms),
            },
            // Not a lease (damaged, or another tool's): stolen like an abandoned one.
            None => Seen::Theirs {
                etag: fetched.etag,
                holder: "(unreadable lease)".into(),
                term: 0,
                ttl: config.ttl,
            },
        })
    }

    /// The holder's id.
    pub fn holder(&self) -> &str {
        &self.body.holder
    }

    /// Renews the lease when a third of its TTL has passed since the last renewal; call it
    /// before every write. Fails with [`FederationError::LeaseLost`] when someone else holds
    /// it now: the caller must stop writing.
    pub async fn keep(
        &mut self,
        store: &Store,
        retry: &Retry,
        retried: &AtomicUsize,
    ) -> Result<(), FederationError> {
        if self.renewed_at.elapsed() < self.ttl / 3 {
            return Ok(());
        }
        let mut body = self.body.clone();
        body.renewal += 1;
        let sent = Instant::now();
        let condition = Condition::IfMatch(self.etag.clone());
        let put = retry
            .call("PutObject (renew the lease)", retried, || {
                store.put_if(LEASE_KEY, body.to_bytes(), CONTENT_TYPE, &condition)
            })
            .await?;
        match put {
            Put::Written(etag) => {
                self.body = body;
                self.etag = etag;
                self.renewed_at = sent;
                Ok(())
            }
            Put::Lost => Err(FederationError::LeaseLost {
                key: LEASE_KEY.into(),
                message: format!(
                    "not renewed for {:.1} s of its {:.1} s TTL and taken by another federator",
                    self.renewed_at.elapsed().as_secs_f64(),
                    self.ttl.as_secs_f64()
                ),
            }),
        }
    }

    /// Releases the lease (best effort: a lease that cannot be released expires after its TTL).
    pub async fn release(self, store: &Store, retry: &Retry, retried: &AtomicUsize) {
        let mut body = self.body.clone();
        body.renewal += 1;
        body.released = true;
        let condition = Condition::IfMatch(self.etag.clone());
        let put = retry
            .call("PutObject (release the lease)", retried, || {
                store.put_if(LEASE_KEY, body.to_bytes(), CONTENT_TYPE, &condition)
            })
            .await;
        match put {
            Ok(Put::Written(_)) => tracing::info!(holder = %body.holder, "released the federation lease"),
            Ok(Put::Lost) => {
                tracing::warn!(holder = %body.holder, "the federation lease was taken before release")
            }
            Err(e) => {
                tracing::warn!(holder = %body.holder, error = %e, "could not release the federation lease")
            }
        }
    }
}
