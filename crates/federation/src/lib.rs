//! The federated ETL: what a cluster's cost model ships to the central bucket ([`parquet`];
//! the first format's JSON, [`format`], is still read),
//! where it goes ([`layout`], [`store`]), and the [`federator`] that combines every cluster's
//! objects into `federated/combined/`: incrementally (its [`manifest`]), trusting no object
//! ([`trust`], quarantine), one at a time ([`lease`]) and safe under failure (conditional
//! writes, [`retry`]). [`config`] reads Kubecost's `federated-store.yaml`, which names the
//! bucket. `docs/federation.md` describes the whole design.

pub mod config;
mod direct;
pub mod federator;
pub mod format;
pub mod layout;
pub mod lease;
mod listing;
pub mod manifest;
mod object;
pub mod parquet;
pub mod retry;
pub mod store;
pub mod trust;

pub use federator::{
    federate, federate_with, FederationReport, LeaseOutcome, Mode, Options, QuarantineRecord, SourceConflict,
    WindowReport,
};
pub use format::FORMAT_VERSION;
pub use layout::check_cluster_id;
pub use store::{Store, StoreConfig};

/// How an S3 call failed, which decides what the caller does next: retry, re-read, give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Failure {
    /// No answer, a time-out, an answer cut short, or S3 busy (5xx but 501, 429, 408): worth
    /// another attempt.
    Transient,
    /// A conditional write lost (412, or 409 `ConditionalRequestConflict`): re-read, then decide.
    Precondition,
    /// 404: no such key (or no such bucket).
    NotFound,
    /// 501: the provider does not implement what was asked (LocalStack's conditional delete).
    NotImplemented,
    /// Any other answer of S3 (403, 400, …): asking again changes nothing.
    Refused,
    /// The request was never sent (refused while it was built, or by an interceptor).
    Local,
}

/// Errors of the ETL store and the federator.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("S3 {operation} {target} failed: {message}")]
    S3 { operation: &'static str, target: String, message: String, failure: S3Failure },
    #[error("object {key} is not a readable ETL set: {message}")]
    Format { key: String, message: String },
    #[error("window {window}: allocation {name} comes from more than one cluster object")]
    Duplicate { window: String, name: String },
    #[error("object {key} cannot be filed: {message}")]
    Window { key: String, message: String },
    #[error("cluster id {id:?} is refused: {reason}")]
    ClusterId { id: String, reason: String },
    #[error("S3 unavailable: {what} still failing after {:.1} s (last: {last})", *waited_ms as f64 / 1000.0)]
    Unavailable { what: String, waited_ms: u64, last: String },
    #[error("the federation lease {key} is held by {holder}; gave up after {:.1} s", *waited_ms as f64 / 1000.0)]
    LeaseHeld { key: String, holder: String, waited_ms: u64 },
    #[error("the federation lease {key} was lost ({message}); this federator stopped writing")]
    LeaseLost { key: String, message: String },
    #[error("object {key} is {size} bytes or more, over the {limit} bytes read of it")]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("the manifest {key} cannot be written: {message}")]
    Manifest { key: String, message: String },
    #[error("federation did not settle after {passes} passes: {last}")]
    NotConverged { passes: usize, last: String },
    #[error("federation cancelled: {what}")]
    Cancelled { what: String },
}

impl FederationError {
    /// Whether S3 failed in a way another attempt may mend.
    pub fn is_transient(&self) -> bool {
        matches!(self, FederationError::S3 { failure: S3Failure::Transient, .. })
    }

    /// The S3 failure class, for S3 errors.
    pub fn s3_failure(&self) -> Option<S3Failure> {
        match self {
            FederationError::S3 { failure, .. } => Some(*failure),
            _ => None,
        }
    }
}
