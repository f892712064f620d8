//! The SigV4 signing proxy Kubecost runs as a sidecar: plain HTTP in from local clients,
//! signed for `aps` and forwarded to its one configured upstream.
//!
//! Credentials come the password-less way ([`credentials`]): a web identity token file and a
//! role ARN, exchanged at STS for temporary credentials that are cached and refreshed before
//! they expire. The proxy strips incoming auth headers, keeps hop-by-hop headers out of the
//! signature, and passes the upstream status and body back unchanged.

pub mod credentials;

mod server;

pub use credentials::{WebIdentity, WebIdentityCredentials};
pub use server::{ProxyOptions, SigningProxy};

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot read the web identity token file {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
    #[error("STS AssumeRoleWithWebIdentity for {role_arn} failed: {message}")]
    Sts { role_arn: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("cannot sign the request: {0}")]
    Sign(String),
}

/// Fault injection for the harness's negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningFault {
    /// Sign with a secret key that differs from the one STS issued.
    WrongSecret,
}
