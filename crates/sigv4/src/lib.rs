//! SigV4 verification as AWS front ends do it, and the credential registry shared by the
//! STS and AMP mocks.
//!
//! - [`registry`]: [`CredentialRegistry`], the one store of long-term and temporary keys.
//! - [`verify`]: [`Verifier`], which authenticates a request as received and answers with
//!   AWS's error types and messages ([`AuthError`], [`aws_error_json`]).
//! - [`request`]: [`IncomingRequest`], a request exactly as received, and [`header_pairs`].
//! - [`canonical`]: the canonical request, string to sign and signing key, public for the
//!   AWS test-vector tests (with the `x-amz-date` helpers of the private `date` module).
//! - [`error`]: [`AuthError`], worded as AWS words it.
//!
//! Modules depend on each other in one direction only: `verify` → `canonical`, `error`,
//! `registry`, `request`, `date`; `canonical` → `request`, `date`; `error` → `date`.
//! The clock is [`Clock`], the one of `ampfed-common`.
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
pub mod date;
pub mod error;
pub mod registry;
pub mod request;
pub mod verify;

pub use ampfed_common::Clock;

pub use crate::error::{aws_error_json, AuthError, ERROR_TYPE_HEADER};
pub use crate::registry::{Credential, CredentialRegistry, KeyState};
pub use crate::request::{header_pairs, IncomingRequest};
pub use crate::verify::{redact_signatures, Caller, Verifier, VerifierSettings};
