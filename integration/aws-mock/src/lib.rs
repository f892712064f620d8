//! The AWS side of the harness on wiremock: an STS mock ([`sts`]) that hands out temporary
//! credentials for web identities and assumed roles, and an AMP mock ([`amp`]) whose every request must carry a
//! valid SigV4 signature from those credentials. Its control plane ([`control`]) stores
//! workspaces and rule groups namespaces ([`rules`] validates them), its data plane
//! ([`data_plane`]) is served by one Prometheus backend shared by workspaces kept apart by a
//! tenant label ([`tenancy`]), and its [`ruler`] evaluates the rules on a virtual or wall clock.
//!
//! Each mock is one `MockServer` with request recording off and one responder that routes by
//! method and path: wiremock serves requests one at a time, which is plenty at this scale.

pub mod amp;
pub mod control;
pub mod data_plane;
pub mod ruler;
pub mod rules;
pub mod sts;
pub mod tenancy;

mod aws_error;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ampfed_sigv4::{Clock, CredentialRegistry, Verifier, VerifierSettings};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

pub use aws_error::AwsError;
pub use control::AmpLimits;
pub use ruler::{Ruler, RulerError, RulerReport, WallClock};

/// The account every mocked ARN lives in.
pub const ACCOUNT_ID: &str = "123456789012";

/// Settings of the mock.
#[derive(Clone, Debug)]
pub struct AwsMockOptions {
    /// The region the endpoints pretend to be in; signatures must be scoped to it.
    pub region: String,
    /// The Prometheus backend serving the data plane (`http://127.0.0.1:<port>`).
    pub backend_url: String,
    /// Lifetime of credentials STS issues.
    pub credential_lifetime: Duration,
}

/// The running STS and AMP mocks and the state they share.
pub struct AwsMock {
    sts: MockServer,
    aps: MockServer,
    shared: Arc<Shared>,
}

/// State shared by the STS and AMP responders.
pub(crate) struct Shared {
    pub(crate) options: AwsMockOptions,
    pub(crate) registry: CredentialRegistry,
    pub(crate) verifier: Verifier,
    /// Web identity token → the role it may assume.
    pub(crate) trust: Mutex<BTreeMap<String, String>>,
    /// Roles whose credentials the STS mock marks expired as soon as it issues them.
    pub(crate) expire_on_issue: Mutex<Vec<String>>,
    pub(crate) amp: Mutex<amp::ControlPlane>,
    /// What the ruler last did, for `/api/v1/rules` and `/api/v1/alerts`.
    pub(crate) ruler_state: Mutex<ruler::RulerState>,
    /// What the STS mock keeps: role trust policies, expired tokens, call counts.
    pub(crate) sts: Mutex<sts::StsState>,
}

impl AwsMock {
    /// Starts both mock servers on 127.0.0.1, with the system clock.
    pub async fn start(options: AwsMockOptions) -> AwsMock {
        AwsMock::start_with_clock(options, Arc::new(chrono::Utc::now)).await
    }

    /// The STS endpoint (`http://127.0.0.1:<port>`).
    pub fn sts_url(&self) -> String {
        self.sts.uri()
    }

    /// The AMP endpoint for both planes (`http://127.0.0.1:<port>`).
    pub fn aps_url(&self) -> String {
        self.aps.uri()
    }

    /// The region the mock signs and verifies for.
    pub fn region(&self) -> &str {
        &self.shared.options.region
    }

    /// The credential registry STS issues into and AMP verifies against.
    pub fn registry(&self) -> &CredentialRegistry {
        &self.shared.registry
    }

    /// Lets the holder of web identity `token` assume `role_arn` (the IRSA trust policy).
    pub fn trust_web_identity(&self, token: &str, role_arn: &str) {
        lock(&self.shared.trust).insert(token.to_owned(), role_arn.to_owned());
    }

    /// Fault injection: every credential issued for `role_arn` from now on is already expired
    /// on the server side, while its `Expiration` tells the client it is fresh.
    pub fn expire_credentials_on_issue(&self, role_arn: &str) {
        lock(&self.shared.expire_on_issue).push(role_arn.to_owned());
    }

    /// The ruler evaluating every ACTIVE namespace against the backend.
    pub fn ruler(&self) -> Ruler {
        Ruler::new(self.shared.clone())
    }

    /// Starts both mock servers on 127.0.0.1 with `clock` as the servers' time: it dates the
    /// credentials STS issues and is what both verifiers check signatures and expiry against,
    /// so a test can run simulated hours in a moment.
    pub async fn start_with_clock(options: AwsMockOptions, clock: Clock) -> AwsMock {
        let registry = CredentialRegistry::new();
        let verifier =
            Verifier::new(VerifierSettings::aps(options.region.clone()), registry.clone()).with_clock(clock);
        let shared = Arc::new(Shared {
            amp: Mutex::new(amp::ControlPlane::new(&options.region)),
            ruler_state: Mutex::new(ruler::RulerState::default()),
            options,
            registry,
            verifier,
            trust: Mutex::new(BTreeMap::new()),
            expire_on_issue: Mutex::new(Vec::new()),
            sts: Mutex::new(sts::StsState::default()),
        });
        let sts = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(sts::StsResponder::new(shared.clone())).mount(&sts).await;
        let aps = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(amp::AmpResponder::new(shared.clone())).mount(&aps).await;
        AwsMock { sts, aps, shared }
    }

    /// Lets `principal_arn` call `sts:AssumeRole` on `role_arn` (the role's trust policy).
    /// `principal_arn` is a user ARN, a role ARN (any session of that role), or `*` for any
    /// authenticated caller.
    pub fn trust_assume_role(&self, principal_arn: &str, role_arn: &str) {
        lock(&self.shared.sts).trust_assume_role(principal_arn, role_arn);
    }

    /// Fault injection: web identity `token` is expired from now on (`ExpiredTokenException`).
    pub fn expire_web_identity_token(&self, token: &str) {
        lock(&self.shared.sts).expire_token(token);
    }

    /// How many `action` requests (e.g. `AssumeRoleWithWebIdentity`) STS answered with success.
    pub fn sts_calls(&self, action: &str) -> usize {
        lock(&self.shared.sts).calls(action)
    }

    /// The servers' time now (the clock given to [`AwsMock::start_with_clock`]).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.shared.verifier.now()
    }
}

/// Verifies a request as wiremock received it.
pub(crate) fn verify_request(
    verifier: &ampfed_sigv4::Verifier,
    request: &wiremock::Request,
) -> Result<ampfed_sigv4::Caller, ampfed_sigv4::AuthError> {
    let headers = ampfed_sigv4::header_pairs(&request.headers);
    verifier.verify(&ampfed_sigv4::IncomingRequest {
        method: request.method.as_str(),
        path: request.url.path(),
        query: request.url.query().unwrap_or(""),
        headers: &headers,
        body: &request.body,
    })
}

/// Locks a mutex, recovering the data if a responder panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
