//! What the AMP mock keeps: the control plane, what the ruler last did, the SigV4 verifier
//! (against the credential registry STS issues into) and the Prometheus backend serving the
//! data plane. The responder holds it; rulers get the control plane and the history from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ampfed_sigv4::Verifier;

use super::control::ControlPlane;
use super::ruler::{Ruler, RulerState};

/// The AMP mock's state.
pub(crate) struct AmpState {
    /// The Prometheus backend serving the data plane (`http://127.0.0.1:<port>`).
    pub(crate) backend_url: String,
    /// Verifies every request for service `aps`.
    pub(crate) verifier: Verifier,
    pub(crate) control: Arc<Mutex<ControlPlane>>,
    /// What the ruler last did, for `/api/v1/rules` and `/api/v1/alerts`.
    pub(crate) ruler: Arc<Mutex<RulerState>>,
    /// Remote writes refused on purpose (fault injection), if set.
    pub(crate) write_faults: Mutex<Option<WriteFaults>>,
}

/// Fault injection: a seeded share of remote writes is answered 429 (`Retry-After: 0`) or
/// 503 before anything else happens to them.
pub(crate) struct WriteFaults {
    /// The share of writes refused, in `[0, 1]`.
    fraction: f64,
    seed: u64,
    /// Writes seen so far: the n-th write's fate is a function of `(seed, n)`.
    seen: AtomicU64,
}

impl WriteFaults {
    pub(crate) fn new(fraction: f64, seed: u64) -> WriteFaults {
        WriteFaults { fraction: fraction.clamp(0.0, 1.0), seed, seen: AtomicU64::new(0) }
    }

    /// The status to refuse the next write with, if it is one of the refused ones.
    pub(crate) fn next(&self) -> Option<u16> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        let mut z = self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        (unit < self.fraction).then_some(if z & 1 == 0 { 429 } else { 503 })
    }
}

impl AmpState {
    pub(crate) fn new(region: &str, backend_url: String, verifier: Verifier) -> AmpState {
        AmpState {
            backend_url,
            verifier,
            control: Arc::new(Mutex::new(ControlPlane::new(region))),
            ruler: Arc::new(Mutex::new(RulerState::default())),
            write_faults: Mutex::new(None),
        }
    }

    /// A ruler evaluating this mock's namespaces against its backend, recording into its
    /// history.
    pub(crate) fn ruler(&self) -> Ruler {
        Ruler::new(self.control.clone(), self.ruler.clone(), &self.backend_url)
    }
}

#[cfg(test)]
mod tests {
    use super::WriteFaults;

    #[test]
    fn write_faults_refuse_a_seeded_share_with_429_or_503() {
        let fates = |seed| {
            let faults = WriteFaults::new(0.2, seed);
            (0..10_000).map(|_| faults.next()).collect::<Vec<_>>()
        };
        let a = fates(3);
        assert_eq!(a, fates(3), "the same seed refuses the same writes");
        assert_ne!(a, fates(4));
        let refused = a.iter().flatten().count();
        assert!((1_800..=2_200).contains(&refused), "{refused} of 10000 refused");
        assert!(a.contains(&Some(429)) && a.contains(&Some(503)));
        assert!(a.iter().flatten().all(|s| [429, 503].contains(s)));
        let none = WriteFaults::new(0.0, 3);
        assert!((0..1000).all(|_| none.next().is_none()));
    }
}
