//! What the AMP mock keeps: the control plane, what the ruler last did, the SigV4 verifier
//! (against the credential registry STS issues into) and the Prometheus backend serving the
//! data plane. The responder holds it; rulers get the control plane and the history from it.

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
}

impl AmpState {
    pub(crate) fn new(region: &str, backend_url: String, verifier: Verifier) -> AmpState {
        AmpState {
            backend_url,
            verifier,
            control: Arc::new(Mutex::new(ControlPlane::new(region))),
            ruler: Arc::new(Mutex::new(RulerState::default())),
        }
    }

    /// A ruler evaluating this mock's namespaces against its backend, recording into its
    /// history.
    pub(crate) fn ruler(&self) -> Ruler {
        Ruler::new(self.control.clone(), self.ruler.clone(), &self.backend_url)
    }
}
