//! The query results one detailed computation reads ([`QueryResults`], one field per query of
//! `Queries`, filled by `CostModel::compute_detailed` or by hand in tests), and the helpers
//! that read them: label lookups, `label_*`/`annotation_*` maps, and OpenCost's
//! `calculateStartAndEnd`.

use std::collections::BTreeMap;

use ampfed_allocation::Window;
use ampfed_prom::{InstantSample, RangeSeries};

/// Every result the detailed model uses; empty vectors for series a cluster does not have.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResults {
    /// `Queries::running`.
    pub running: Vec<RangeSeries>,
    pub cpu_alloc: Vec<InstantSample>,
    pub cpu_request: Vec<InstantSample>,
    pub cpu_usage: Vec<InstantSample>,
    pub ram_alloc: Vec<InstantSample>,
    pub ram_request: Vec<InstantSample>,
    pub ram_usage: Vec<InstantSample>,
    pub gpu_request: Vec<InstantSample>,
    pub gpu_alloc: Vec<InstantSample>,
    /// `Queries::node_price` of `node_cpu_hourly_cost`, `node_ram_hourly_cost`,
    /// `node_gpu_hourly_cost`.
    pub cpu_price: Vec<InstantSample>,
    pub ram_price: Vec<InstantSample>,
    pub gpu_price: Vec<InstantSample>,
    pub node_is_spot: Vec<InstantSample>,
    pub node_cpu_capacity: Vec<InstantSample>,
    pub node_ram_capacity: Vec<InstantSample>,
    pub node_cpu_allocatable: Vec<InstantSample>,
    pub node_ram_allocatable: Vec<InstantSample>,
    pub node_gpu_count: Vec<InstantSample>,
    pub node_active: Vec<RangeSeries>,
    pub node_labels: Vec<InstantSample>,
    pub namespace_labels: Vec<InstantSample>,
    pub namespace_annotations: Vec<InstantSample>,
    pub pod_labels: Vec<InstantSample>,
    pub pod_annotations: Vec<InstantSample>,
    pub service_labels: Vec<InstantSample>,
    pub deployment_labels: Vec<InstantSample>,
    pub statefulset_labels: Vec<InstantSample>,
    pub pod_owners: Vec<InstantSample>,
    pub replicaset_owners: Vec<InstantSample>,
    pub job_owners: Vec<InstantSample>,
    pub pvc_info: Vec<RangeSeries>,
    pub pod_pvc_allocation: Vec<InstantSample>,
    pub pvc_bytes_requested: Vec<InstantSample>,
    pub pv_active: Vec<RangeSeries>,
    pub pv_bytes: Vec<InstantSample>,
    pub pv_cost: Vec<InstantSample>,
    pub pv_meta: Vec<InstantSample>,
    pub lb_cost: Vec<InstantSample>,
    pub lb_active: Vec<RangeSeries>,
    pub cluster_management_cost: Vec<InstantSample>,
    pub cluster_management_active: Vec<RangeSeries>,
}

/// The first of `names` the labels have with a non-empty value, or `""`.
pub(crate) fn get<'a>(labels: &'a BTreeMap<String, String>, names: &[&str]) -> &'a str {
    names.iter().filter_map(|n| labels.get(*n)).find(|v| !v.is_empty()).map(String::as_str).unwrap_or("")
}

/// The labels with `prefix` (`label_`, `annotation_`), the prefix removed (OpenCost's
/// `GetLabels` and `GetAnnotations`).
pub(crate) fn prefixed(labels: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    labels.iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_owned(), v.clone()))).collect()
}

/// `(namespace, pod)` of a result, `pod_name` standing in for `pod`; `None` without both.
pub(crate) fn pod_key(labels: &BTreeMap<String, String>) -> Option<(String, String)> {
    let ns = get(labels, &["namespace"]);
    let pod = get(labels, &["pod", "pod_name"]);
    (!ns.is_empty() && !pod.is_empty()).then(|| (ns.to_owned(), pod.to_owned()))
}

/// OpenCost's `calculateStartAndEnd`: the first and last timestamps of a subquery series; a
/// lone sample counts as ± half a resolution step around it; both clamped to the window.
/// `None` for a series without points.
pub(crate) fn start_end(series: &RangeSeries, window: Window, resolution: i64) -> Option<(i64, i64)> {
    let (first, last) = (series.points.first()?, series.points.last()?);
    let (mut s, mut e) = (first.0.round() as i64, last.0.round() as i64);
    if s == e {
        s = s.saturating_sub(resolution / 2);
        e = e.saturating_add(resolution / 2);
    }
    Some((s.max(window.start), e.min(window.end)))
}

/// `value` when finite, for the sums the model makes (OpenCost turns NaN into 0 at the end;
/// ampfed leaves such samples out from the start).
pub(crate) fn finite(s: &InstantSample) -> Option<f64> {
    s.value.is_finite().then_some(s.value)
}
