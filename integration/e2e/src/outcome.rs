//! What a run of the path produced: the counts and step times of the [`Summary`], and the
//! [`Outcome`] the snapshots cover.

use std::collections::BTreeMap;
use std::time::Duration;

use ampfed_allocation::{AllocationSet, Row};
use serde::Serialize;

use crate::progress::StepName;

/// Counts and timings of one run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub clusters: Vec<String>,
    pub series_written: usize,
    pub samples_written: usize,
    /// Samples AMP holds for the clusters, counted by query after the writes.
    pub samples_stored: usize,
    /// Remote write requests sent again after a 429 or 5xx.
    pub write_retries: u64,
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
