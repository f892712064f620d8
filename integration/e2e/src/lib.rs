//! The end-to-end harness behind `cargo xtask e2e`: the environment as a value ([`env::Env`]:
//! every process, the AWS mocks and the signing proxy, stopped in reverse order), the steps
//! of the AMP → rules → ETL → S3 → federation → query path as functions over it
//! ([`steps`]), their progress ([`progress`]), the path that runs them in order
//! ([`path::run`]), and the reviewed snapshots ([`snapshots`]).
//!
//! The `ampfed-e2e` binary and the `tests/e2e` suite both call [`path::run`] and then
//! [`snapshots::compare`] or [`snapshots::check`].

pub mod aws_target;
pub mod diagnose;
pub mod env;
pub mod failure;
pub mod outcome;
pub mod path;
pub mod progress;
pub mod providers;
pub mod report;
pub mod rules_cmd;
pub mod sim;
pub mod snapshots;
pub mod steps;
pub mod up;

pub use env::{EnvConfig, Fault};
pub use failure::{classify, Failure};
pub use outcome::{Outcome, RecordedSeries, Summary};
pub use path::{run, Options};
pub use providers::{Backend, BackendKind, Providers, S3Provider};
