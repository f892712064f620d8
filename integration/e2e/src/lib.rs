//! The end-to-end harness behind `cargo xtask e2e`: the environment as a value ([`env::Env`]:
//! every process, the AWS mocks and the signing proxy, stopped in reverse order), the steps
//! of the AMP → rules → ETL → S3 → federation → query path as functions over it
//! ([`steps`]), their progress ([`progress`]), the path that runs them in order
//! ([`path::run`]), and the reviewed snapshots ([`snapshots`]).
//!
//! The `ampfed-e2e` binary and the `tests/e2e` suite both call [`path::run`] and then
//! [`snapshots::compare`] or [`snapshots::check`].

pub mod env;
pub mod path;
pub mod progress;
pub mod sim;
pub mod snapshots;
pub mod steps;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ampfed_allocation::{AllocationSet, Row};
use serde::Serialize;

use crate::env::EnvConfig;
use crate::progress::StepName;

/// A fault to inject, to show that the failure is caught and explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// The proxy signs with a secret key that is not the one STS issued.
    WrongSecret,
    /// The STS mock marks the proxy's credentials expired as soon as it issues them.
    ExpiredCredential,
}

/// How to run the path.
#[derive(Clone, Debug)]
pub struct Options {
    /// What the environment is made of.
    pub env: EnvConfig,
    /// The fixtures: `clusters/`, `prices/`, `rules/`.
    pub fixtures: PathBuf,
    /// Draw spinners and bars (only on a terminal).
    pub show_progress: bool,
}

impl Options {
    /// The defaults: the repository's fixtures, the default environment, no drawing.
    pub fn from_env() -> Options {
        Options { env: EnvConfig::from_env(), fixtures: ampfed_common::paths::fixtures_dir(), show_progress: false }
    }
}

/// Counts and timings of one run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub clusters: Vec<String>,
    pub series_written: usize,
    pub samples_written: usize,
    pub rule_namespaces: usize,
    pub rules_installed: usize,
    pub rule_series_recorded: usize,
    pub etl_objects: Vec<String>,
    pub combined_objects: Vec<String>,
    pub rows_queried: usize,
    pub steps: Vec<(StepName, Duration)>,
}

/// One recorded rule series at the end of the range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedSeries {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// What the snapshots cover.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub by_namespace: Vec<Row>,
    pub by_cluster: Vec<Row>,
    /// Record name → its series at the end of the range, sorted by labels.
    pub rule_series: BTreeMap<String, Vec<RecordedSeries>>,
    /// The combined allocation set the queries read, as stored in S3.
    pub combined: AllocationSet,
}
