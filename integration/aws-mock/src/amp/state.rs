//! What the AMP mock keeps, shared by its responder and the ruler: the control plane, what the
//! ruler last did, the SigV4 verifier (against the credential registry STS issues into) and
//! the Prometheus backend serving the data plane.

use std::sync::Mutex;

use ampfed_sigv4::Verifier;

use super::control::ControlPlane;
use super::ruler::RulerState;

/// The AMP mock's state.
pub(crate) struct AmpState {
    /// The Prometheus backend serving the data plane (`http://127.0.0.1:<port>`).
    pub(crate) backend_url: String,
    /// Verifies every request for service `aps`.
    pub(crate) verifier: Verifier,
    pub(crate) control: Mutex<ControlPlane>,
    /// What the ruler last did, for `/api/v1/rules` and `/api/v1/alerts`.
    pub(crate) ruler: Mutex<RulerState>,
}

impl AmpState {
    pub(crate) fn new(region: &str, backend_url: String, verifier: Verifier) -> AmpState {
        AmpState {
            backend_url,
            verifier,
            control: Mutex::new(ControlPlane::new(region)),
            ruler: Mutex::new(RulerState::default()),
        }
    }
}
