//! The federated ETL: what a cluster's cost model ships to the central bucket ([`format`]),
//! where it goes ([`store`]), and the [`federator`] that combines every cluster's objects into
//! `federated/combined/`.

pub mod federator;
pub mod format;
pub mod store;

pub use federator::{federate, FederationReport};
pub use format::FORMAT_VERSION;
pub use store::{Store, StoreConfig};

/// Errors of the ETL store and the federator.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("S3 {operation} {target} failed: {message}")]
    S3 { operation: &'static str, target: String, message: String },
    #[error("object {key} is not a readable ETL set: {message}")]
    Format { key: String, message: String },
    #[error("window {window}: allocation {name} comes from more than one cluster object")]
    Duplicate { window: String, name: String },
    #[error("object {key} cannot be filed: {message}")]
    Window { key: String, message: String },
}
