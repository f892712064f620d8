//! The AWS side of the harness: an STS mock on wiremock that hands out temporary credentials
//! for web identities and assumed roles, and an AMP mock, behind a hyper front door of its
//! own, whose every request must carry a valid SigV4 signature from those credentials. Each mock keeps its own state; all they share
//! is the credential registry (STS issues into it, AMP verifies against it) and the clock.
//! [`AwsMock`] starts and wires both.
//!
//! Modules (all private but [`rules`]; the public items are re-exported here):
//!
//! - `sts`: the STS mock, its state and responder;
//! - `front_door`: the AMP mock's HTTP server (hyper): body limits and timeouts, a cap on
//!   connections, handlers run concurrently on the blocking pool;
//! - `exchange`: the request view and answer type the AMP handlers use on either server;
//! - `fuzzing` (hidden): entry points for the cargo-fuzz targets in `fuzz/`;
//! - `amp`: the AMP mock:
//!   - `amp::routing`: SigV4 on every request, then routing by method and path;
//!   - `amp::control/`: the control plane: `plane` (the store, status transitions),
//!     `status` (the status enum), `resources` (workspaces, namespaces), `messages` (request
//!     bodies, answers), `workspaces`, `namespaces`, `tags` (the operations), `validate`,
//!     `pagination`, `idempotency` and `quotas` ([`AmpLimits`]);
//!   - `amp::data_plane`: remote write and the Prometheus API, served by one Prometheus
//!     backend shared by workspaces kept apart by a tenant label (`amp::tenancy`);
//!   - `amp::rules`: rules files as AMP accepts them (re-exported as [`rules`]);
//!   - `amp::ruler/`: the [`Ruler`]: `eval` (over a time range), `wall_clock` ([`WallClock`]),
//!     `history` (what it last did) and `api` (`/api/v1/rules` and `/api/v1/alerts`);
//!   - `amp::state`: the AMP mock's state (control plane, ruler history, verifier, backend);
//! - shared helpers: `aws_error` (AWS JSON error answers), `http` (JSON answers,
//!   percent-decoding, parameters, bodies), `request` (SigV4 verification of a request,
//!   from either server), `names` (metric, label and resource name rules), `sync` (poison-tolerant
//!   locking) and `account` (the mocked account id).
//!
//! The STS mock is one `MockServer` with request recording off and one responder that routes
//! by method and path (wiremock runs its synchronous responders one at a time on the
//! server's thread, plenty for STS). The AMP mock
//! is served by `front_door` instead: wiremock would buffer any body whole, with no limit,
//! and serialise the data plane.

mod account;
mod amp;
mod aws_error;
mod exchange;
mod front_door;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod names;
mod request;
mod sts;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use ampfed_sigv4::{Clock, CredentialRegistry, Verifier, VerifierSettings};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

pub use amp::control::AmpLimits;
pub use amp::ruler::{Ruler, RulerError, RulerReport, WallClock};
pub use amp::rules;

use amp::state::AmpState;
use front_door::FrontDoor;
use sts::{StsResponder, StsService};
use sync::lock;

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

/// The running STS and AMP mocks.
pub struct AwsMock {
    sts: MockServer,
    aps: FrontDoor,
    region: String,
    /// Shared by both mocks: STS issues into it, AMP verifies against it.
    registry: CredentialRegistry,
    /// Shared by both mocks: the servers' time.
    clock: Clock,
    sts_service: Arc<StsService>,
    amp: Arc<AmpState>,
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

    /// The AMP endpoint for both planes (`http://127.0.0.1:<port>`), the front door.
    pub fn aps_url(&self) -> String {
        self.aps.url()
    }

    /// The region the mock signs and verifies for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The credential registry STS issues into and AMP verifies against.
    pub fn registry(&self) -> &CredentialRegistry {
        &self.registry
    }

    /// Lets the holder of web identity `token` assume `role_arn` (the IRSA trust policy).
    pub fn trust_web_identity(&self, token: &str, role_arn: &str) {
        self.sts_service.state().trust_web_identity(token, role_arn);
    }

    /// Fault injection: every credential issued for `role_arn` from now on is already expired
    /// on the server side, while its `Expiration` tells the client it is fresh.
    pub fn expire_credentials_on_issue(&self, role_arn: &str) {
        self.sts_service.state().expire_credentials_on_issue(role_arn);
    }

    /// The ruler evaluating every ACTIVE namespace against the backend.
    pub fn ruler(&self) -> Ruler {
        self.amp.ruler()
    }

    /// Starts both mock servers on 127.0.0.1 with `clock` as the servers' time: it dates the
    /// credentials STS issues and is what both verifiers check signatures and expiry against,
    /// so a test can run simulated hours in a moment.
    pub async fn start_with_clock(options: AwsMockOptions, clock: Clock) -> AwsMock {
        let AwsMockOptions { region, backend_url, credential_lifetime } = options;
        let registry = CredentialRegistry::new();
        let verifier =
            Verifier::new(VerifierSettings::aps(region.clone()), registry.clone()).with_clock(clock.clone());
        let amp = Arc::new(AmpState::new(&region, backend_url, verifier));
        let sts_service =
            Arc::new(StsService::new(&region, credential_lifetime, registry.clone(), clock.clone()));
        let sts = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(StsResponder::new(sts_service.clone())).mount(&sts).await;
        let aps = FrontDoor::start(amp.clone())
            .unwrap_or_else(|e| panic!("the AMP front door cannot start on 127.0.0.1: {e}"));
        AwsMock { sts, aps, region, registry, clock, sts_service, amp }
    }

    /// Lets `principal_arn` call `sts:AssumeRole` on `role_arn` (the role's trust policy).
    /// `principal_arn` is a user ARN, a role ARN (any session of that role), or `*` for any
    /// authenticated caller.
    pub fn trust_assume_role(&self, principal_arn: &str, role_arn: &str) {
        self.sts_service.state().trust_assume_role(principal_arn, role_arn);
    }

    /// Fault injection: web identity `token` is expired from now on (`ExpiredTokenException`).
    pub fn expire_web_identity_token(&self, token: &str) {
        self.sts_service.state().expire_token(token);
    }

    /// How many `action` requests (e.g. `AssumeRoleWithWebIdentity`) STS answered with success.
    pub fn sts_calls(&self, action: &str) -> usize {
        self.sts_service.state().calls(action)
    }

    /// The servers' time now (the clock given to [`AwsMock::start_with_clock`]).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }

    /// Fault injection: from now on a seeded `fraction` (0 to 1) of remote writes is answered
    /// 429 with `Retry-After: 0` or 503, before validation, quotas or the backend see it, so a
    /// sender that retries loses nothing. `fraction` 0 turns it off.
    pub fn inject_write_faults(&self, fraction: f64, seed: u64) {
        *lock(&self.amp.write_faults) =
            (fraction > 0.0).then(|| amp::state::WriteFaults::new(fraction, seed));
    }

    /// Replaces the AMP quotas the control plane enforces (default: [`AmpLimits::default`]).
    pub fn set_amp_limits(&self, limits: AmpLimits) {
        lock(&self.amp.control).set_limits(limits);
    }
}
