//! The generator: a cluster fixture and a price list in, the series its Prometheus would
//! remote-write out over the simulated window.
//!
//! Series and labels follow `docs/fixtures.md` (the catalog) and `docs/kubecost-model.md`.
//! Samples lie on the scrape grid `start + k × interval` for `k` in
//! `0..ceil(duration / interval)`, the half-open window `[start, start + duration)`. Each
//! object's series cover its life on the grid: nodes from joining to leaving, pods while they
//! run (see `plan.rs`), claims and volumes from their creation to the end.
//!
//! Usage at step `k` is the container's average over the scrape interval that ends there; the
//! CPU counter grows by exactly `usage × interval` per step, so `irate` at a step gives back
//! that step's usage and the allocation sample matches it. An OOM-killed container comes back
//! as a new container (new `id`, next attempt in `name`) whose counter starts from zero.
//!
//! The cluster label is not on the generated series: like Prometheus's `external_labels`, it
//! is added to remote-written data only ([`Simulation::batches`]).

use ampfed_prom::remote_write::{Label, TimeSeries, WriteRequest};

use crate::emit::{self, Builder};
use crate::fixture::{ClusterFixture, FixtureError, LabelStyle, Prices, WorkloadKind};
use crate::plan::{self, Grid};
use crate::problems::Problems;

/// How to run a simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// First scrape, in unix seconds (2026-01-01T00:00:00Z by default).
    pub start_unix: i64,
    /// Length of the simulated window in seconds (one day by default).
    pub duration_secs: i64,
    /// Seconds between samples (60 by default).
    pub scrape_interval_secs: i64,
    /// Name of the external label carrying the cluster's name (`cluster_id` by default,
    /// Kubecost's `promClusterIDLabel`).
    pub cluster_label: String,
    /// The cAdvisor label style of every cluster, over each fixture's own `label_style`.
    pub label_style: Option<LabelStyle>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            start_unix: 1_767_225_600,
            duration_secs: 86_400,
            scrape_interval_secs: 60,
            cluster_label: "cluster_id".to_owned(),
            label_style: None,
        }
    }
}

/// Why a simulation could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A [`SimConfig`] field is out of range.
    #[error("invalid simulation config: `{field}` {problem}")]
    Config { field: &'static str, problem: String },
    /// The fixtures are invalid or do not fit together.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
}

/// Series and sample counts of a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimStats {
    pub series: usize,
    pub samples: usize,
}

/// A simulated pod, for tests and expectations built from the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub node: String,
    /// The workload that runs the pod, as the fixture names it.
    pub workload: String,
    pub workload_kind: WorkloadKind,
    /// `kube_pod_owner`'s `owner_kind` (`ReplicaSet` for a Deployment, `Job` for a CronJob,
    /// `<none>` for a bare pod) and `owner_name`.
    pub owner_kind: String,
    pub owner_name: String,
    /// The pod's containers (without the pause container).
    pub containers: Vec<String>,
    /// Timestamps (ms) of the pod's first and last samples.
    pub first_sample_ms: i64,
    pub last_sample_ms: i64,
}

/// The generated series of one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    cluster: String,
    /// The external label added to every remote-written series.
    external: Label,
    start_ms: i64,
    step_ms: i64,
    steps: usize,
    series: Vec<TimeSeries>,
    /// Grid step of each series' first sample; a series' samples are contiguous from there.
    first_step: Vec<usize>,
    pods: Vec<Pod>,
}

/// Generates the series of one cluster for the configured window.
pub fn generate(cluster: &ClusterFixture, prices: &Prices, cfg: &SimConfig) -> Result<Simulation, SimError> {
    cfg.check()?;
    cluster.validate()?;
    prices.validate()?;
    cluster.check_prices(prices)?;
    let steps =
        usize::try_from((cfg.duration_secs + cfg.scrape_interval_secs - 1) / cfg.scrape_interval_secs)
            .map_err(|_| SimError::Config { field: "duration_secs", problem: "is too large".to_owned() })?;
    let grid = Grid { start_unix: cfg.start_unix, interval: cfg.scrape_interval_secs, steps };
    let mut problems = Problems::default();
    let plan = plan::plan(cluster, grid, &mut problems);
    plan.check(cluster, grid, &mut problems);
    if !problems.is_empty() {
        if let Ok(text) = std::fs::read_to_string(&cluster.source) {
            problems.locate(&text);
        }
        return Err(FixtureError::Invalid { path: cluster.source.clone(), problems: problems.0 }.into());
    }
    let style = cfg.label_style.or(cluster.label_style).unwrap_or_default();
    let mut b = Builder { grid, series: Vec::new(), first_step: Vec::new() };
    emit::nodes(&mut b, cluster, prices, &plan);
    emit::namespaces(&mut b, cluster);
    emit::cluster_and_services(&mut b, cluster, prices);
    emit::volumes(&mut b, prices, &plan);
    emit::controllers(&mut b, cluster, &plan);
    for pod in &plan.pods {
        emit::pod(&mut b, cluster, style, &plan, pod);
    }
    let start_ms = cfg.start_unix * 1000;
    let step_ms = cfg.scrape_interval_secs * 1000;
    let pods = plan
        .pods
        .iter()
        .filter(|p| p.from < p.to)
        .map(|p| {
            let w = &cluster.workloads[p.workload];
            Pod {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                uid: p.uid.clone(),
                node: cluster.nodes[p.node].name.clone(),
                workload: w.name.clone(),
                workload_kind: w.kind,
                owner_kind: p.owner_kind.clone(),
                owner_name: p.owner_name.clone(),
                containers: w.containers.iter().map(|c| c.name.clone()).collect(),
                first_sample_ms: start_ms + p.from as i64 * step_ms,
                last_sample_ms: start_ms + (p.to as i64 - 1) * step_ms,
            }
        })
        .collect();
    Ok(Simulation {
        cluster: cluster.name.clone(),
        external: Label { name: cfg.cluster_label.clone(), value: cluster.name.clone() },
        start_ms,
        step_ms,
        steps,
        series: b.series,
        first_step: b.first_step,
        pods,
    })
}

impl Simulation {
    /// The cluster's name (the cluster label's value).
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The name of the external label remote-written series carry.
    pub fn cluster_label(&self) -> &str {
        &self.external.name
    }

    /// Every series with all its samples, in a fixed order (nodes, namespaces, cluster,
    /// volumes, controllers, then pods), as the cluster's own Prometheus holds them: without
    /// the external cluster label.
    pub fn series(&self) -> &[TimeSeries] {
        &self.series
    }

    /// The series with the given metric name.
    pub fn series_named<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'s TimeSeries> + use<'s, 'n> {
        self.series.iter().filter(move |ts| ts.label("__name__") == Some(name))
    }

    /// The simulated pods.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// Timestamp (ms) of the first grid step.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// End (ms, exclusive) of the grid: the first step after the window.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.steps as i64 * self.step_ms
    }

    /// Milliseconds between samples.
    pub fn step_ms(&self) -> i64 {
        self.step_ms
    }

    /// Number of series and of samples over all series.
    pub fn stats(&self) -> SimStats {
        SimStats { series: self.series.len(), samples: self.series.iter().map(|ts| ts.samples.len()).sum() }
    }

    /// The series as remote write requests of at most `max_samples_per_request` samples (at
    /// least one), each series with the external cluster label added, sliced by time: each
    /// request carries every series active in a slice of `max / series` steps, so each series
    /// gets many samples per request, and the slices come in time order, so every series'
    /// samples arrive in time order.
    pub fn batches(&self, max_samples_per_request: usize) -> impl Iterator<Item = WriteRequest> + '_ {
        let max = max_samples_per_request.max(1);
        let per_series = (max / self.series.len().max(1)).max(1);
        let slices = if self.series.is_empty() { 0 } else { self.steps.div_ceil(per_series) };
        (0..slices).flat_map(move |s| self.slice(s * per_series, ((s + 1) * per_series).min(self.steps), max))
    }

    /// The grid steps whose timestamps lie in `[from_ms, to_ms)`, as a range of step indexes
    /// (empty when the interval misses the grid).
    fn steps_in(&self, from_ms: i64, to_ms: i64) -> std::ops::Range<usize> {
        let index = |ms: i64| -> usize {
            let steps = (ms - self.start_ms).max(0).div_euclid(self.step_ms.max(1));
            let ceil = if (ms - self.start_ms).max(0) % self.step_ms.max(1) == 0 { steps } else { steps + 1 };
            usize::try_from(ceil).unwrap_or(usize::MAX).min(self.steps)
        };
        let (lo, hi) = (index(from_ms), index(to_ms));
        lo..hi.max(lo)
    }

    /// The samples stamped in `[from_ms, to_ms)` as remote write requests of at most `max`
    /// samples, the external label added, in time order per series: what a cluster's
    /// Prometheus sends during that interval of its day (the wall-clock mode streams the
    /// simulated day this way, a scrape at a time, as the clock reaches it).
    pub fn requests_between(&self, from_ms: i64, to_ms: i64, max: usize) -> Vec<WriteRequest> {
        let steps = self.steps_in(from_ms, to_ms);
        if steps.is_empty() {
            return Vec::new();
        }
        self.slice(steps.start, steps.end, max.max(1))
    }

    /// How many samples [`Simulation::requests_between`] sends for `[from_ms, to_ms)`.
    pub fn samples_between(&self, from_ms: i64, to_ms: i64) -> usize {
        let steps = self.steps_in(from_ms, to_ms);
        self.series
            .iter()
            .zip(&self.first_step)
            .map(|(ts, &first)| {
                let (lo, hi) = (steps.start.max(first), steps.end.min(first + ts.samples.len()));
                hi.saturating_sub(lo)
            })
            .sum()
    }

    /// A series' labels with the external label in its sorted place (it replaces a label of
    /// the same name, as `external_labels` do not: they yield to the series' own label, but
    /// the generator never emits the cluster label itself).
    fn external_labels(&self, ts: &TimeSeries) -> Vec<Label> {
        let mut labels = Vec::with_capacity(ts.labels.len() + 1);
        let at = ts.labels.partition_point(|l| l.name < self.external.name);
        labels.extend_from_slice(&ts.labels[..at]);
        labels.push(self.external.clone());
        let rest = &ts.labels[at..];
        let rest = if rest.first().is_some_and(|l| l.name == self.external.name) { &rest[1..] } else { rest };
        labels.extend_from_slice(rest);
        labels
    }

    fn slice(&self, from: usize, to: usize, max: usize) -> Vec<WriteRequest> {
        let mut out = Vec::new();
        let mut current = WriteRequest::default();
        let mut count = 0;
        for (ts, &first) in self.series.iter().zip(&self.first_step) {
            let lo = from.max(first);
            let hi = to.min(first + ts.samples.len());
            if lo >= hi {
                continue;
            }
            let samples = ts.samples[lo - first..hi - first].to_vec();
            if count > 0 && count + samples.len() > max {
                out.push(std::mem::take(&mut current));
                count = 0;
            }
            count += samples.len();
            current.timeseries.push(TimeSeries { labels: self.external_labels(ts), samples });
        }
        if count > 0 {
            out.push(current);
        }
        out
    }
}

/// Label names the exporters themselves put on series; the cluster label must differ from them.
const OWN_LABELS: &[&str] = &[
    "namespace",
    "pod",
    "container",
    "pod_name",
    "container_name",
    "instance",
    "node",
    "id",
    "image",
    "name",
    "uid",
    "resource",
    "unit",
    "owner_kind",
    "owner_name",
    "owner_is_controller",
    "instance_type",
    "region",
    "provider_id",
    "arch",
    "kubelet_version",
    "container_runtime_version",
    "os_image",
    "kernel_version",
    "persistentvolume",
    "persistentvolumeclaim",
    "volumename",
    "storageclass",
    "phase",
    "service",
    "service_name",
    "ingress_ip",
    "provisioner_name",
    "replicaset",
    "job_name",
    "deployment",
    "statefulSet",
    "reason",
    "created_by_kind",
    "created_by_name",
    "claim_namespace",
    "csi_driver",
    "csi_volume_handle",
];

impl SimConfig {
    /// Checks the settings (window, interval, cluster label) before anything is generated.
    pub fn check(&self) -> Result<(), SimError> {
        check_config(self)
    }
}

fn check_config(cfg: &SimConfig) -> Result<(), SimError> {
    let bad = |field, problem: &str| Err(SimError::Config { field, problem: problem.to_owned() });
    if !(0..=32_503_680_000).contains(&cfg.start_unix) {
        return bad("start_unix", "must be a unix time in seconds between 1970 and 3000");
    }
    if cfg.scrape_interval_secs <= 0 {
        return bad("scrape_interval_secs", "must be above 0");
    }
    if cfg.duration_secs < cfg.scrape_interval_secs {
        return bad("duration_secs", "must be at least one scrape interval");
    }
    if cfg.duration_secs / cfg.scrape_interval_secs > 1_000_000 {
        return bad(
            "duration_secs",
            "gives more than 1,000,000 samples per series; raise the scrape interval",
        );
    }
    let l = &cfg.cluster_label;
    let valid = l.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid || l.starts_with("__") {
        return bad(
            "cluster_label",
            "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)",
        );
    }
    if OWN_LABELS.contains(&l.as_str()) || l.starts_with("label_") || l.starts_with("annotation_") {
        return bad(
            "cluster_label",
            "clashes with a label the exporters set; use e.g. cluster_id or cluster",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CLUSTER: &str = r#"
name: tiny
region: us-east-1
nodes: [{name: n1, instance_type: t3.medium, zone: us-east-1a, cpu: 2, memory: 4Gi}]
namespaces: [{name: default}]
workloads:
  - namespace: default
    name: web
    kind: Deployment
    start: "00:10"
    containers:
      - {name: app, image: nginx, cpu_request: 100m, cpu_usage: {base: 50m}, memory_usage: {base: 1Mi}}
"#;
    const PRICES: &str = "provider: aws\nregion: us-east-1\nspot_discount: 0.7\ncluster_management_hourly_cost: 0.1\nload_balancer_hourly_cost: 0.025\nstorage_classes: {}\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.016403, ram_hourly_cost_per_gib: 0.002199}\n";

    fn inputs() -> (ClusterFixture, Prices) {
        (
            ClusterFixture::from_yaml_str(CLUSTER, Path::new("tiny.yaml")).unwrap(),
            Prices::from_yaml_str(PRICES, Path::new("prices.yaml")).unwrap(),
        )
    }

    #[test]
    fn config_errors_name_the_field() {
        let (c, p) = inputs();
        let cfg = SimConfig { scrape_interval_secs: 0, ..SimConfig::default() };
        let err = generate(&c, &p, &cfg).unwrap_err().to_string();
        assert_eq!(err, "invalid simulation config: `scrape_interval_secs` must be above 0");
        let cfg = SimConfig { cluster_label: "__cluster".to_owned(), ..SimConfig::default() };
        assert!(generate(&c, &p, &cfg).unwrap_err().to_string().contains("`cluster_label`"));
    }

    #[test]
    fn a_late_start_and_an_uneven_duration_stay_on_the_grid() {
        let (c, p) = inputs();
        let cfg = SimConfig { duration_secs: 3630, ..SimConfig::default() };
        let sim = generate(&c, &p, &cfg).unwrap();
        // Steps at 0, 60, …, 3600 s: 61 of them; the pod runs from 00:10 (step 10).
        assert_eq!(sim.end_ms() - sim.start_ms(), 61 * 60_000);
        let pod = &sim.pods()[0];
        assert_eq!(pod.first_sample_ms, sim.start_ms() + 600_000);
        assert_eq!(pod.last_sample_ms, sim.start_ms() + 3_600_000);
        let counter = sim.series_named("container_cpu_usage_seconds_total").next().unwrap();
        assert_eq!(counter.samples.len(), 51);
        // A pod that starts inside the window starts its counter near zero.
        assert!(counter.samples[0].value < 60.0);
        let node_info = sim.series_named("kube_node_info").next().unwrap();
        assert_eq!(node_info.samples.len(), 61);
        // One request per slice of 10 steps when each request holds 10 samples per series.
        let per_request = 10 * sim.stats().series;
        assert_eq!(sim.batches(per_request).count(), 7);
    }
}
