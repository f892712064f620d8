//! The metric generator: a cluster fixture and a price list in, the series its Prometheus would
//! remote-write out.
//!
//! Series and labels follow `docs/kubecost-model.md`; every series also carries the
//! external cluster label (`cluster_id=<cluster name>` by default). Samples lie on the scrape
//! grid `start + k × interval` for `k` in `0..ceil(duration / interval)`, i.e. the half-open
//! window `[start, start + duration)`. Node and namespace series cover the whole window; pod
//! and container series only the steps on which the pod runs (`[start, end)` of its workload).
//!
//! Emitted per node: `kube_node_info`, `kube_node_status_capacity_cpu_cores`,
//! `kube_node_status_capacity_memory_bytes`, `kube_node_labels`, `node_cpu_hourly_cost`,
//! `node_ram_hourly_cost` (per GiB-hour) and `node_total_hourly_cost`. Per namespace:
//! `kube_namespace_labels`. Per pod: `kube_pod_owner`, `kube_pod_labels`, and the pause
//! container's (`container="POD"`) cAdvisor series. Per container:
//! `container_cpu_usage_seconds_total` and `container_memory_working_set_bytes` in the modern
//! (`container`/`pod`) and, as separate series, the legacy (`container_name`/`pod_name`) label
//! style; `kube_pod_container_resource_requests` (cpu/core, memory/byte; only for requests that
//! are set); `kube_pod_container_status_running`; `container_cpu_allocation` and
//! `container_memory_allocation_bytes`, each sample max(request, usage at that sample).
//!
//! Usage at step `k` is the container's average over the scrape interval that ends there; the
//! CPU counter grows by exactly `usage × interval` per step, so `irate` at a step gives back
//! that step's usage and the allocation sample matches it.

use std::collections::{BTreeMap, BTreeSet};

use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};

use crate::det;
use crate::fixture::{placement, sanitize_label_key, ClusterFixture, FixtureError, Prices, WorkloadKind};

/// How to run a simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// First scrape, in unix seconds (2026-01-01T00:00:00Z by default).
    pub start_unix: i64,
    /// Length of the simulated window in seconds (one day by default).
    pub duration_secs: i64,
    /// Seconds between samples (60 by default).
    pub scrape_interval_secs: i64,
    /// Name of the external label carrying the cluster's name (`cluster_id` by default).
    pub cluster_label: String,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            start_unix: 1_767_225_600,
            duration_secs: 86_400,
            scrape_interval_secs: 60,
            cluster_label: "cluster_id".to_owned(),
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
    /// `kube_pod_owner`'s `owner_kind` (`ReplicaSet` for a Deployment) and `owner_name`.
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
    check_config(cfg)?;
    cluster.validate()?;
    prices.validate()?;
    cluster.check_prices(prices)?;
    let steps =
        usize::try_from((cfg.duration_secs + cfg.scrape_interval_secs - 1) / cfg.scrape_interval_secs)
            .map_err(|_| SimError::Config { field: "duration_secs", problem: "is too large".to_owned() })?;
    let mut b = Builder { cfg, cluster: &cluster.name, steps, series: Vec::new(), first_step: Vec::new() };
    emit_nodes(&mut b, cluster, prices);
    emit_namespaces(&mut b, cluster);
    let pods = plan_pods(cluster, cfg, steps)?;
    for pod in &pods {
        emit_pod(&mut b, cluster, pod);
    }
    Ok(Simulation {
        cluster: cluster.name.clone(),
        start_ms: cfg.start_unix * 1000,
        step_ms: cfg.scrape_interval_secs * 1000,
        steps,
        series: b.series,
        first_step: b.first_step,
        pods: pods.into_iter().map(|p| p.info).collect(),
    })
}

impl Simulation {
    /// The cluster's name (the cluster label's value).
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Every series with all its samples, in a fixed order (nodes, namespaces, then pods).
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
    /// least one), sliced by time: each request carries every series active in a slice of
    /// `max / series` steps, so each series gets many samples per request, and the slices come
    /// in time order, so every series' samples arrive in time order.
    pub fn batches(&self, max_samples_per_request: usize) -> impl Iterator<Item = WriteRequest> + '_ {
        let max = max_samples_per_request.max(1);
        let per_series = (max / self.series.len().max(1)).max(1);
        let slices = if self.series.is_empty() { 0 } else { self.steps.div_ceil(per_series) };
        (0..slices).flat_map(move |s| self.slice(s * per_series, ((s + 1) * per_series).min(self.steps), max))
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
            current.timeseries.push(TimeSeries { labels: ts.labels.clone(), samples });
        }
        if count > 0 {
            out.push(current);
        }
        out
    }
}

/// Label names the simulator itself puts on series; the cluster label must differ from them.
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
];

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
    if OWN_LABELS.contains(&l.as_str()) || l.starts_with("label_") {
        return bad(
            "cluster_label",
            "clashes with a label the exporters set; use e.g. cluster_id or cluster",
        );
    }
    Ok(())
}

struct Builder<'a> {
    cfg: &'a SimConfig,
    cluster: &'a str,
    steps: usize,
    series: Vec<TimeSeries>,
    first_step: Vec<usize>,
}

impl Builder<'_> {
    /// Adds a series whose samples sit on steps `first..first + values.len()`.
    fn push(&mut self, name: &str, mut labels: BTreeMap<String, String>, first: usize, values: Vec<f64>) {
        labels.insert(self.cfg.cluster_label.clone(), self.cluster.to_owned());
        let mut ts = TimeSeries::new(name, &labels);
        let (start_ms, step_ms) = (self.cfg.start_unix * 1000, self.cfg.scrape_interval_secs * 1000);
        ts.samples = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Sample { value, timestamp: start_ms + (first + i) as i64 * step_ms })
            .collect();
        self.series.push(ts);
        self.first_step.push(first);
    }

    /// Adds a series with the same value on steps `from..to`.
    fn constant(&mut self, name: &str, labels: BTreeMap<String, String>, from: usize, to: usize, value: f64) {
        self.push(name, labels, from, vec![value; to - from]);
    }

    /// Unix seconds of grid step `k`.
    fn unix(&self, k: usize) -> i64 {
        self.cfg.start_unix + k as i64 * self.cfg.scrape_interval_secs
    }
}

fn labels<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn with_k8s_labels(
    mut base: BTreeMap<String, String>,
    k8s: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    for (k, v) in k8s {
        base.insert(sanitize_label_key(k), v.clone());
    }
    base
}

fn provider_id(cluster: &ClusterFixture, prices: &Prices, node: &crate::fixture::Node) -> String {
    if prices.provider == "aws" {
        format!(
            "aws:///{}/i-{}",
            node.zone,
            det::hex(det::seed(&["instance-id", &cluster.name, &node.name]), 17)
        )
    } else {
        format!("{}:///{}/{}", prices.provider, node.zone, node.name)
    }
}

fn emit_nodes(b: &mut Builder<'_>, cluster: &ClusterFixture, prices: &Prices) {
    let all = b.steps;
    for node in &cluster.nodes {
        // `check_prices` has run, so the instance type is listed; a miss would be a bug.
        let Some(price) = prices.instance_types.get(&node.instance_type) else { continue };
        let n = node.name.as_str();
        let pid = provider_id(cluster, prices, node);
        b.constant(
            "kube_node_info",
            labels([
                ("node", n),
                ("provider_id", &pid),
                ("kubelet_version", "v1.15.12-eks-31566f"),
                ("container_runtime_version", "docker://18.9.9"),
                ("os_image", "Amazon Linux 2"),
            ]),
            0,
            all,
            1.0,
        );
        b.constant("kube_node_status_capacity_cpu_cores", labels([("node", n)]), 0, all, node.cpu.0);
        b.constant(
            "kube_node_status_capacity_memory_bytes",
            labels([("node", n)]),
            0,
            all,
            node.memory.0 as f64,
        );
        let mut k8s = labels([
            ("kubernetes.io/hostname", n),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", &price.arch),
            ("node.kubernetes.io/instance-type", &node.instance_type),
            ("topology.kubernetes.io/region", &cluster.region),
            ("topology.kubernetes.io/zone", &node.zone),
        ]);
        k8s.extend(node.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        b.constant("kube_node_labels", with_k8s_labels(labels([("node", n)]), &k8s), 0, all, 1.0);
        let cost_labels = labels([
            ("instance", n),
            ("node", n),
            ("instance_type", &node.instance_type),
            ("region", &cluster.region),
            ("provider_id", &pid),
            ("arch", &price.arch),
        ]);
        let total = price.cpu_hourly_cost * node.cpu.0 + price.ram_hourly_cost_per_gib * node.memory.gib();
        b.constant("node_cpu_hourly_cost", cost_labels.clone(), 0, all, price.cpu_hourly_cost);
        b.constant("node_ram_hourly_cost", cost_labels.clone(), 0, all, price.ram_hourly_cost_per_gib);
        b.constant("node_total_hourly_cost", cost_labels, 0, all, total);
    }
}

fn emit_namespaces(b: &mut Builder<'_>, cluster: &ClusterFixture) {
    for ns in &cluster.namespaces {
        let mut k8s = labels([("kubernetes.io/metadata.name", ns.name.as_str())]);
        k8s.extend(ns.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let l = with_k8s_labels(labels([("namespace", &ns.name)]), &k8s);
        b.constant("kube_namespace_labels", l, 0, b.steps, 1.0);
    }
}

/// A pod with what the generator needs beyond its public description.
struct PlannedPod {
    info: Pod,
    workload: usize,
    labels: BTreeMap<String, String>,
    /// Grid steps `from..to` on which the pod runs.
    from: usize,
    to: usize,
    /// Whether the pod was already running before the window (its counters start high).
    preexisting: bool,
}

fn plan_pods(cluster: &ClusterFixture, cfg: &SimConfig, steps: usize) -> Result<Vec<PlannedPod>, SimError> {
    let c = cluster.name.as_str();
    let interval = cfg.scrape_interval_secs;
    let mut pods = Vec::new();
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let (ns, name) = (w.namespace.as_str(), w.name.as_str());
        let start = w.start.map_or(0, |o| o.secs());
        let end = w.end.map_or(cfg.duration_secs, |o| o.secs().min(cfg.duration_secs));
        let from = usize::try_from((start + interval - 1) / interval).unwrap_or(0).min(steps);
        let to = usize::try_from((end + interval - 1) / interval).unwrap_or(0).min(steps);
        if from >= to {
            tracing::debug!(workload = %w.key(), "workload does not run inside the simulated window");
            continue;
        }
        let mut auto = BTreeMap::new();
        let (owner_kind, owner_name) = match w.kind {
            WorkloadKind::Deployment => {
                let hash = det::k8s_suffix(det::seed(&["pod-template-hash", ns, name]), 10);
                auto.insert("pod-template-hash".to_owned(), hash.clone());
                ("ReplicaSet", format!("{name}-{hash}"))
            }
            WorkloadKind::StatefulSet => {
                let rev = det::k8s_suffix(det::seed(&["controller-revision-hash", ns, name]), 10);
                auto.insert("controller-revision-hash".to_owned(), format!("{name}-{rev}"));
                ("StatefulSet", name.to_owned())
            }
            WorkloadKind::DaemonSet => {
                let rev = det::k8s_suffix(det::seed(&["controller-revision-hash", ns, name]), 10);
                auto.insert("controller-revision-hash".to_owned(), rev);
                auto.insert("pod-template-generation".to_owned(), "1".to_owned());
                ("DaemonSet", name.to_owned())
            }
            WorkloadKind::Job => {
                auto.insert("controller-uid".to_owned(), det::uuid(det::seed(&["job-uid", c, ns, name])));
                auto.insert("job-name".to_owned(), name.to_owned());
                ("Job", name.to_owned())
            }
        };
        for (i, node) in placement(cluster, w).into_iter().enumerate() {
            let index = i.to_string();
            let pod_name = match w.kind {
                WorkloadKind::StatefulSet => format!("{name}-{i}"),
                WorkloadKind::Deployment => {
                    format!("{owner_name}-{}", det::k8s_suffix(det::seed(&["pod", c, ns, name, &index]), 5))
                }
                WorkloadKind::DaemonSet => {
                    format!("{name}-{}", det::k8s_suffix(det::seed(&["pod", c, ns, name, node]), 5))
                }
                WorkloadKind::Job => {
                    format!("{name}-{}", det::k8s_suffix(det::seed(&["pod", c, ns, name, &index]), 5))
                }
            };
            let mut pod_labels = auto.clone();
            if w.kind == WorkloadKind::StatefulSet {
                pod_labels.insert("statefulset.kubernetes.io/pod-name".to_owned(), pod_name.clone());
            }
            pod_labels.extend(w.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            pods.push(PlannedPod {
                info: Pod {
                    namespace: ns.to_owned(),
                    uid: det::uuid(det::seed(&["pod-uid", c, ns, &pod_name])),
                    name: pod_name,
                    node: node.to_owned(),
                    workload: name.to_owned(),
                    workload_kind: w.kind,
                    owner_kind: owner_kind.to_owned(),
                    owner_name: owner_name.clone(),
                    containers: w.containers.iter().map(|c| c.name.clone()).collect(),
                    first_sample_ms: (cfg.start_unix + from as i64 * interval) * 1000,
                    last_sample_ms: (cfg.start_unix + (to as i64 - 1) * interval) * 1000,
                },
                workload: wi,
                labels: pod_labels,
                from,
                to,
                preexisting: w.start.is_none(),
            });
        }
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for p in &pods {
        if !seen.insert((p.info.namespace.as_str(), p.info.name.as_str())) {
            problems.push(format!(
                "pod name `{}/{}` comes out twice; rename one of the workloads",
                p.info.namespace, p.info.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(pods)
    } else {
        Err(FixtureError::Invalid { path: cluster.source.clone(), problems }.into())
    }
}

/// Usage of one container: base ± amplitude on a daily wave with a name-derived phase and a
/// little per-step noise.
struct UsageModel {
    base: f64,
    amplitude: f64,
    /// Share of the amplitude that is noise rather than the daily wave.
    noise_share: f64,
    peak_secs: i64,
    seed: u64,
}

impl UsageModel {
    fn at(&self, unix: i64, step: usize) -> f64 {
        let wave = det::daily_wave(unix, self.peak_secs);
        let noise = det::noise(self.seed, step as u64);
        let v = self.base + self.amplitude * ((1.0 - self.noise_share) * wave + self.noise_share * noise);
        v.max(0.0)
    }
}

/// The cAdvisor label set of a container in the modern or the legacy style.
fn cadvisor_labels(
    legacy: bool,
    pod: &Pod,
    container: &str,
    id: &str,
    image: &str,
) -> BTreeMap<String, String> {
    let (c, p) = if legacy { ("container_name", "pod_name") } else { ("container", "pod") };
    labels([
        (c, container),
        (p, &pod.name),
        ("namespace", &pod.namespace),
        ("instance", &pod.node),
        ("id", id),
        ("image", image),
        ("name", &format!("k8s_{container}_{}_{}_{}_0", pod.name, pod.namespace, pod.uid)),
    ])
}

fn emit_pod(b: &mut Builder<'_>, cluster: &ClusterFixture, planned: &PlannedPod) {
    let w = &cluster.workloads[planned.workload];
    let pod = &planned.info;
    let (from, to) = (planned.from, planned.to);
    let (c, ns, pn) = (cluster.name.as_str(), pod.namespace.as_str(), pod.name.as_str());
    let interval = b.cfg.scrape_interval_secs as f64;

    b.constant(
        "kube_pod_owner",
        labels([
            ("namespace", ns),
            ("pod", pn),
            ("owner_kind", &pod.owner_kind),
            ("owner_name", &pod.owner_name),
            ("owner_is_controller", "true"),
        ]),
        from,
        to,
        1.0,
    );
    b.constant(
        "kube_pod_labels",
        with_k8s_labels(labels([("namespace", ns), ("pod", pn)]), &planned.labels),
        from,
        to,
        1.0,
    );

    let has_requests = w.containers.iter().any(|c| c.cpu_request.is_some() || c.memory_request.is_some());
    let qos = if has_requests { "burstable" } else { "besteffort" };
    let pause_image = format!("602401143452.dkr.ecr.{}.amazonaws.com/eks/pause:3.5", cluster.region);

    // The pause container first, then the fixture's containers; the pause container has no
    // requests and no kube-state-metrics or allocation series, only cAdvisor ones.
    let mut containers: Vec<(&str, &str, Option<&crate::fixture::Container>)> =
        vec![("POD", pause_image.as_str(), None)];
    containers.extend(w.containers.iter().map(|ct| (ct.name.as_str(), ct.image.as_str(), Some(ct))));

    for (cname, image, spec) in containers {
        let cid = det::hex(det::seed(&["container-id", c, ns, pn, cname]), 64);
        let id = format!("/kubepods/{qos}/pod{}/{cid}", pod.uid);
        let seed = det::seed(&["usage", c, ns, pn, cname]);
        let peak_secs = 14 * 3600 + (seed % 7201) as i64 - 3600;
        let (cpu, mem) = match spec {
            Some(s) => (
                UsageModel {
                    base: s.cpu_usage.base.0,
                    amplitude: s.cpu_usage.amplitude.0,
                    noise_share: 0.25,
                    peak_secs,
                    seed: det::seed(&["cpu", c, ns, pn, cname]),
                },
                UsageModel {
                    base: s.memory_usage.base.0 as f64,
                    amplitude: s.memory_usage.amplitude.0 as f64,
                    noise_share: 0.15,
                    peak_secs,
                    seed: det::seed(&["memory", c, ns, pn, cname]),
                },
            ),
            None => (
                UsageModel { base: 0.0002, amplitude: 0.0001, noise_share: 0.5, peak_secs, seed },
                UsageModel { base: 460_000.0, amplitude: 40_000.0, noise_share: 0.5, peak_secs, seed: !seed },
            ),
        };
        let cpu_usage: Vec<f64> = (from..to).map(|k| cpu.at(b.unix(k), k)).collect();
        // Working sets are whole pages.
        let mem_usage: Vec<f64> =
            (from..to).map(|k| (mem.at(b.unix(k), k) / 4096.0).round() * 4096.0).collect();
        // A pod that was running before the window has a counter from its earlier uptime.
        let prior = if planned.preexisting { cpu.base * 3600.0 * (6 + seed % 66) as f64 } else { 0.0 };
        let counter: Vec<f64> = cpu_usage
            .iter()
            .scan(prior, |acc, u| {
                *acc += u * interval;
                Some(*acc)
            })
            .collect();
        for legacy in [false, true] {
            let l = cadvisor_labels(legacy, pod, cname, &id, image);
            b.push("container_cpu_usage_seconds_total", l.clone(), from, counter.clone());
            b.push("container_memory_working_set_bytes", l, from, mem_usage.clone());
        }
        let Some(spec) = spec else { continue };

        let ksm = |extra: [(&str, &str); 2]| {
            let mut l = labels([
                ("namespace", ns),
                ("pod", pn),
                ("uid", &pod.uid),
                ("container", cname),
                ("node", &pod.node),
            ]);
            l.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            l
        };
        if let Some(r) = spec.cpu_request {
            b.constant(
                "kube_pod_container_resource_requests",
                ksm([("resource", "cpu"), ("unit", "core")]),
                from,
                to,
                r.0,
            );
        }
        if let Some(r) = spec.memory_request {
            let l = ksm([("resource", "memory"), ("unit", "byte")]);
            b.constant("kube_pod_container_resource_requests", l, from, to, r.0 as f64);
        }
        b.constant(
            "kube_pod_container_status_running",
            labels([("namespace", ns), ("pod", pn), ("uid", &pod.uid), ("container", cname)]),
            from,
            to,
            1.0,
        );
        let alloc_labels = labels([
            ("namespace", ns),
            ("pod", pn),
            ("container", cname),
            ("instance", &pod.node),
            ("node", &pod.node),
        ]);
        let cpu_req = spec.cpu_request.map_or(0.0, |r| r.0);
        let mem_req = spec.memory_request.map_or(0.0, |r| r.0 as f64);
        b.push(
            "container_cpu_allocation",
            alloc_labels.clone(),
            from,
            cpu_usage.iter().map(|u| u.max(cpu_req)).collect(),
        );
        b.push(
            "container_memory_allocation_bytes",
            alloc_labels,
            from,
            mem_usage.iter().map(|m| m.max(mem_req)).collect(),
        );
    }
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
    const PRICES: &str = "provider: aws\nregion: us-east-1\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.016403, ram_hourly_cost_per_gib: 0.002199}\n";

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
