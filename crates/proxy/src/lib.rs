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
//!   It serves only requests that name it in `Host` (or an allowed name) and never one from
//!   a browser (`Origin`), and bounds every wait and size: head, body, upstream exchange,
//!   body size, connections ([`ProxyBuilder`]).
//! - [`tls`]: the upstream may be `https` (the real AMP): rustls on `ring` with the system's
//!   roots and, optionally, one more CA file ([`ProxyBuilder::upstream_ca`]).
//!
//! Every clock is injectable ([`Clock`], the one of `ampfed-common`), so a test can run
//! simulated hours of refreshes in a moment. Nothing here logs a secret key, a session token
//! or a signature.
//!
//! The crate root only declares modules and re-exports; `chain` → `credentials` → `error` and
//! `server` → `tls` → `error` are the only dependencies between modules.

pub mod chain;
pub mod credentials;

mod error;
mod server;
pub mod tls;

pub use ampfed_common::Clock;

pub use crate::credentials::{AssumeRole, AssumeRoleCredentials, WebIdentity, WebIdentityCredentials};
pub use crate::error::ProxyError;
pub use crate::server::{
    ProxyBuilder, ProxyOptions, SigningFault, SigningProxy, DEFAULT_BODY_READ_TIMEOUT,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, DEFAULT_UPSTREAM_TIMEOUT,
};
