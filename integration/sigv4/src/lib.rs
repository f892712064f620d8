//! SigV4 verification as AWS front ends do it, and the credential registry shared by the
//! STS and AMP mocks.
//!
//! - [`registry`]: [`CredentialRegistry`], the one store of long-term and temporary keys.
//! - [`verify`]: [`Verifier`], which authenticates a request as received and answers with
//!   AWS's error types and messages ([`AuthError`], [`aws_error_json`]).
//! - [`canonical`]: the canonical request, string to sign and signing key, public for the
//!   AWS test-vector tests.
//!
//! Secrets never appear in `Debug` output or error messages: credentials print redacted,
//! and session tokens are redacted from the canonical request quoted in signature errors.

pub mod canonical;
pub mod error;
pub mod registry;
pub mod verify;

pub use crate::error::{aws_error_json, AuthError, ERROR_TYPE_HEADER};
pub use crate::registry::{Credential, CredentialRegistry, KeyState};
pub use crate::verify::{header_pairs, Caller, Clock, IncomingRequest, Verifier, VerifierSettings};
