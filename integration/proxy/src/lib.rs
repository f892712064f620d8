//! The SigV4 signing proxy Kubecost runs as a sidecar: plain HTTP in from local clients,
//! signed for `aps` (or another service) and forwarded to its one configured upstream.
//!
//! - [`credentials`]: temporary credentials from STS, cached and refreshed before they
//!   expire: [`WebIdentityCredentials`] (token file + role, the password-less way) and
//!   [`AssumeRoleCredentials`] (a role assumed with other credentials).
//! - [`chain`]: the standard credential chain by hand (environment keys, web identity, shared
//!   credentials file), for the `ampfed-sigv4-proxy` binary.
//! - [`SigningProxy`]: the hyper server. It strips incoming auth headers, keeps hop-by-hop
//!   headers out of the signature, and passes the upstream status and body back unchanged.
//!
//! Every clock is injectable ([`Clock`]), so a test can run simulated hours of refreshes in a
//! moment. Nothing here logs a secret key, a session token or a signature.

pub mod chain;
pub mod credentials;

mod server;

use std::sync::Arc;
use std::time::SystemTime;

pub use credentials::{AssumeRole, AssumeRoleCredentials, WebIdentity, WebIdentityCredentials};
pub use server::{error_chain, ProxyBuilder, ProxyOptions, SigningProxy};

/// The time as the proxy and its credential caches see it.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot read the web identity token file {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
    #[error("STS {action} for {role_arn} failed: {message}")]
    Sts { action: &'static str, role_arn: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("bad upstream {upstream:?}: {reason}")]
    Upstream { upstream: String, reason: String },
    #[error("cannot sign the request: {0}")]
    Sign(String),
    #[error("bad header name {0:?}")]
    HeaderName(String),
}

/// Fault injection for the harness's negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningFault {
    /// Sign with a secret key that differs from the one STS issued.
    WrongSecret,
}
