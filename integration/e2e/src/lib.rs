//! The end-to-end scenario behind `cargo xtask e2e`: provisions the environment, runs the whole
//! AMP → rules → ETL → S3 → federation → query path, and checks the snapshots.
//!
//! [`scenario::run`] does the work and returns an [`Outcome`]; [`snapshots::check`] compares
//! it with the reviewed snapshots in `integration/e2e/snapshots/`. The `ampfed-e2e` binary and
//! the `tests/e2e` suite both call these two.

pub mod progress;
pub mod scenario;
pub mod snapshots;

use std::path::PathBuf;
use std::time::Duration;

pub use ampfed_allocation::round;
use ampfed_allocation::Row;
use serde::Serialize;
use std::collections::BTreeMap;

/// A fault to inject, to show that the failure is caught and explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// The proxy signs with a secret key that is not the one STS issued.
    WrongSecret,
    /// The STS mock marks the proxy's credentials expired as soon as it issues them.
    ExpiredCredential,
}

/// How to run the scenario.
#[derive(Clone, Debug)]
pub struct Options {
    pub fixtures: PathBuf,
    pub localstack_venv: PathBuf,
    pub prometheus: Option<PathBuf>,
    pub fault: Option<Fault>,
    /// Keep the scenario directory (logs, Prometheus data) after the run.
    pub keep: bool,
    /// Draw spinners and bars (only on a terminal).
    pub show_progress: bool,
}

impl Options {
    /// The defaults: the repository's fixtures and the cache directory's LocalStack venv.
    pub fn from_env() -> Options {
        Options {
            fixtures: ampfed_env::paths::fixtures_dir(),
            localstack_venv: ampfed_env::paths::localstack_venv(),
            prometheus: None,
            fault: None,
            keep: false,
            show_progress: false,
        }
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
    pub steps: Vec<(String, Duration)>,
}

/// One recorded rule series at the end of the range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedSeries {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// What the snapshots cover.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub summary: Summary,
    pub by_namespace: Vec<Row>,
    pub by_cluster: Vec<Row>,
    /// Record name → its series at the end of the range, sorted by labels.
    pub rule_series: BTreeMap<String, Vec<RecordedSeries>>,
    /// The combined allocation set the queries read, as stored in S3.
    pub combined: Option<ampfed_federation::AllocationSet>,
}
