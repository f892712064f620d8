//! What a run of the path produced: the counts and step times of the [`Summary`], and the
//! [`Outcome`] the snapshots cover.

use std::collections::BTreeMap;
use std::time::Duration;

use ampfed_allocation::{Allocation, AllocationSet, Balance, ClusterAssetTotals, Row};
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
    pub asset_objects: Vec<String>,
    pub combined_objects: Vec<String>,
    pub combined_asset_objects: Vec<String>,
    pub rows_queried: usize,
    pub steps: Vec<(StepName, Duration)>,
}

/// One recorded rule series at the end of the range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordedSeries {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One entry of a complete cost answer, as the snapshots show it: the cost fields of
/// Kubecost's allocation JSON, rounded to five decimals.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostRow {
    pub name: String,
    pub minutes: f64,
    pub cpu_core_hours: f64,
    pub ram_byte_hours: f64,
    pub gpu_hours: f64,
    pub cpu_cost: f64,
    pub gpu_cost: f64,
    pub ram_cost: f64,
    pub pv_cost: f64,
    pub load_balancer_cost: f64,
    pub shared_cost: f64,
    pub total_cost: f64,
}

impl From<&Allocation> for CostRow {
    fn from(a: &Allocation) -> CostRow {
        let a = a.rounded(5);
        CostRow {
            name: a.name,
            minutes: a.minutes,
            cpu_core_hours: a.cpu_core_hours,
            ram_byte_hours: a.ram_byte_hours,
            gpu_hours: a.gpu_hours,
            cpu_cost: a.cpu_cost,
            gpu_cost: a.gpu_cost,
            ram_cost: a.ram_cost,
            pv_cost: a.pv_cost,
            load_balancer_cost: a.load_balancer_cost,
            shared_cost: a.shared_cost,
            total_cost: a.total_cost,
        }
    }
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
    /// Complete costs (idle, volumes, load balancers, shared tenancy costs) by cluster, with
    /// each cluster's `__idle__`, and by namespace.
    pub cost_by_cluster: Vec<CostRow>,
    pub cost_by_namespace: Vec<CostRow>,
    /// Each cluster's assets over the window.
    pub assets_by_cluster: BTreeMap<String, ClusterAssetTotals>,
    /// Allocated + idle against node cost per cluster (checked within 0.1 %).
    pub balances: Vec<Balance>,
}
