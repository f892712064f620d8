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
//!
//! How it is checked: `tests/aws_test_vectors.rs` runs every case of the AWS suite shipped in
//! the `aws-sigv4` package (found with `cargo metadata`) in both forms; `tests/signed/` has
//! requests signed by `aws-sigv4` that must verify, the rejection matrix (one test per case)
//! and property tests; `fuzz/` is a cargo-fuzz target (`cargo xtask fuzz sigv4 --seconds N`)
//! and `benches/sigv4.rs` prints verify and sign cost per request (`cargo xtask bench sigv4`).

pub mod canonical;
pub mod error;
pub mod registry;
pub mod verify;

pub use crate::error::{aws_error_json, AuthError, ERROR_TYPE_HEADER};
pub use crate::registry::{Credential, CredentialRegistry, KeyState};
pub use crate::verify::{
    header_pairs, redact_signatures, Caller, Clock, IncomingRequest, Verifier, VerifierSettings,
};
