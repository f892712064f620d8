//! Cluster and price fixtures: their YAML shape and loading. The format, field by field, is
//! documented in `docs/fixtures.md`; the checks beyond the shape are in `validate.rs`.
//!
//! A cluster fixture (`fixtures/clusters/<name>.yaml`) describes one Kubernetes cluster: nodes
//! (capacity, GPUs, spot or on-demand, node group, when they join and leave), namespaces
//! (labels, annotations), workloads (Deployment, StatefulSet, DaemonSet, Job, CronJob or a bare
//! Pod; replicas, placement, labels, annotations, claims, containers with requests, limits and
//! usage profiles), persistent volume claims, services, and timed events (scale, rollout,
//! evict). A prices fixture (`fixtures/prices/<provider>-<region>.yaml`) gives each instance
//! type's on-demand price split per resource, the spot discount, storage, load balancer and
//! control plane prices.
//!
//! Every error names the file; YAML errors give the line and column and say what to fix;
//! checks beyond the shape name the line, the field (`workloads[2].replicas`) and what was
//! expected, and list every problem found, not only the first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::problems::{locate, FieldPath, Problem, Seg};
pub use crate::quantity::{Bytes, Cores, Offset};

/// Why a fixture could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file (or directory) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("{}{}: {message}\n  fix: {hint}", path.display(), at(*line, *column))]
    Parse {
        path: PathBuf,
        /// 1-based line, when the YAML parser knows it.
        line: Option<usize>,
        /// 1-based column, when the YAML parser knows it.
        column: Option<usize>,
        message: String,
        hint: String,
    },
    /// The file parsed but describes something impossible; one line per problem.
    #[error("{}", list(path, problems))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
    /// A cluster fixture and a prices fixture do not fit together (the problems are in the
    /// cluster fixture).
    #[error("cluster fixture {} does not fit prices fixture {}: {}", cluster.display(), prices.display(), list(cluster, problems))]
    Mismatch { cluster: PathBuf, prices: PathBuf, problems: Vec<Problem> },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// `file:line:column: `field`: message`, one problem a line.
fn list(path: &Path, problems: &[Problem]) -> String {
    let one =
        |p: &Problem| format!("{}{}: `{}`: {}", path.display(), at(p.line, p.column), p.field, p.message);
    match problems {
        [p] => one(p),
        many => {
            let mut out = format!("{}: {} problems:", path.display(), many.len());
            for p in many {
                let _ = write!(out, "\n  - {}", one(p));
            }
            out
        }
    }
}

/// One simulated cluster.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFixture {
    /// The file this fixture came from (empty when built in code); errors name it.
    #[serde(skip)]
    pub source: PathBuf,
    /// The cluster's name, which becomes the value of the cluster label on remote-written data.
    pub name: String,
    /// The cloud region; must match the prices fixture's region.
    pub region: String,
    /// How cAdvisor spells the container and pod labels on this cluster (default `both`);
    /// [`crate::SimConfig::label_style`] overrides it for every cluster.
    #[serde(default)]
    pub label_style: Option<LabelStyle>,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub workloads: Vec<Workload>,
    /// Persistent volume claims that workloads mount by name (`claims:` of a workload), or
    /// that nothing mounts (their volumes are `__unmounted__` in the cost model).
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// Services: their selectors, and a load balancer's hourly cost for `LoadBalancer` ones.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Timed changes to workloads: scaling, rollouts and evictions.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// The label names cAdvisor uses for a container's name and its pod's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelStyle {
    /// `container`, `pod` (Kubernetes 1.16 and later).
    Modern,
    /// `container_name`, `pod_name` (before Kubernetes 1.14).
    Legacy,
    /// Both pairs on the same series (Kubernetes 1.14 and 1.15).
    #[default]
    Both,
}

impl LabelStyle {
    /// The style's name as fixtures and flags write it.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelStyle::Modern => "modern",
            LabelStyle::Legacy => "legacy",
            LabelStyle::Both => "both",
        }
    }
}

impl std::str::FromStr for LabelStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<LabelStyle, String> {
        match s {
            "modern" => Ok(LabelStyle::Modern),
            "legacy" => Ok(LabelStyle::Legacy),
            "both" => Ok(LabelStyle::Both),
            other => Err(format!("unknown label style `{other}`; use modern, legacy or both")),
        }
    }
}

/// Whether a node is billed on demand or as spot capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityType {
    #[default]
    OnDemand,
    Spot,
}

impl CapacityType {
    /// The value of the `eks.amazonaws.com/capacityType` node label.
    pub fn eks_label(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "ON_DEMAND",
            CapacityType::Spot => "SPOT",
        }
    }
}

/// A node with its capacity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub instance_type: String,
    pub zone: String,
    /// CPU capacity.
    pub cpu: Cores,
    /// Memory capacity.
    pub memory: Bytes,
    /// GPUs (`nvidia.com/gpu`), default 0.
    #[serde(default)]
    pub gpus: u32,
    /// `on-demand` (default) or `spot`; spot nodes are priced with the prices fixture's spot
    /// discount and labelled `eks.amazonaws.com/capacityType: SPOT`.
    #[serde(default)]
    pub capacity_type: CapacityType,
    /// The node group (`eks.amazonaws.com/nodegroup`) the node belongs to.
    #[serde(default)]
    pub pool: Option<String>,
    /// What pods may request; default: capacity minus the kubelet's reservation.
    #[serde(default)]
    pub allocatable: Option<Allocatable>,
    /// When the node joins, as an offset from the simulation start (default: already there).
    #[serde(default)]
    pub start: Option<Offset>,
    /// When the node leaves; its pods are evicted and rescheduled (default: stays).
    #[serde(default)]
    pub end: Option<Offset>,
    /// Extra node labels; the well-known ones (hostname, os, arch, instance type, region,
    /// zone, capacity type, node group) are added automatically and may be overridden here.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A node's allocatable resources.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocatable {
    pub cpu: Cores,
    pub memory: Bytes,
}

/// A namespace and its labels and annotations.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The controller kind of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum WorkloadKind {
    /// Deployment → ReplicaSet → Pod.
    Deployment,
    StatefulSet,
    DaemonSet,
    /// A Job run once in `[start, end)`.
    Job,
    /// CronJob → Job → Pod, one Job per `schedule` time.
    CronJob,
    /// A bare pod, owned by no controller: evicted, it is gone.
    Pod,
}

impl WorkloadKind {
    /// The kind's name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::Pod => "Pod",
        }
    }
}

/// A workload: a controller and the pods it runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub kind: WorkloadKind,
    /// Number of pods (default 1); a DaemonSet has one per node instead; for a Job or a
    /// CronJob's Jobs, the pods each run has (its parallelism).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Nodes to place pods on, round-robin (default: every node of the cluster).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
    /// Pod labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pod annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The controller's `matchLabels` (default: `app` from `labels`, or all of `labels`).
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
    /// When the pods start, as an offset from the simulation start (default: already running).
    #[serde(default)]
    pub start: Option<Offset>,
    /// When the pods end, as an offset from the simulation start (default: still running).
    #[serde(default)]
    pub end: Option<Offset>,
    /// A CronJob's schedule, five cron fields in UTC (`30 2 * * *`, `*/15 * * * *`); only
    /// minute and hour may be other than `*`.
    #[serde(default)]
    pub schedule: Option<crate::cron::Schedule>,
    /// How long each of a CronJob's Jobs runs (`HH:MM[:SS]`).
    #[serde(default)]
    pub job_duration: Option<Offset>,
    /// Claims (of `claims:` in this namespace) that every pod of the workload mounts.
    #[serde(default)]
    pub claims: Vec<String>,
    /// A StatefulSet's volume claim templates: one claim per pod, `<name>-<pod>`, kept when the
    /// pod goes away.
    #[serde(default)]
    pub volume_claim_templates: Vec<ClaimTemplate>,
    pub containers: Vec<Container>,
}

impl Workload {
    /// `namespace/name`, the way errors, logs and events name a workload.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The controller's match labels: `selector`, else `app` from the pod labels, else all of
    /// them.
    pub fn match_labels(&self) -> BTreeMap<String, String> {
        if let Some(s) = &self.selector {
            return s.clone();
        }
        match self.labels.get("app") {
            Some(app) => BTreeMap::from([("app".to_owned(), app.clone())]),
            None => self.labels.clone(),
        }
    }
}

/// A container: its requests and limits and how much it uses over the day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub cpu_request: Option<Cores>,
    #[serde(default)]
    pub memory_request: Option<Bytes>,
    #[serde(default)]
    pub cpu_limit: Option<Cores>,
    /// Needed by the `oom` memory profile: the container is killed when it reaches it.
    #[serde(default)]
    pub memory_limit: Option<Bytes>,
    /// GPUs requested (`nvidia.com/gpu`, requests equal limits for GPUs).
    #[serde(default)]
    pub gpu_request: Option<u32>,
    pub cpu_usage: Usage<Cores>,
    pub memory_usage: Usage<Bytes>,
}

/// How usage moves over time; every profile adds a little per-sample noise except `constant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Exactly `base`.
    Constant,
    /// `base` ± `amplitude` on a daily wave peaking in the afternoon UTC (the default).
    #[default]
    Diurnal,
    /// `base`, with bursts of up to `amplitude` on about one sample in twenty.
    Spiky,
    /// From `base` to `base + amplitude`, linearly over the pod's life.
    Ramp,
    /// Memory only: grows from `base` to the container's `memory_limit` over `period`, then the
    /// container is OOM-killed and restarted (its counters start again from zero).
    Oom,
}

/// Usage over time: see [`Profile`]; never below zero.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage<Q: Default> {
    #[serde(default)]
    pub profile: Profile,
    pub base: Q,
    #[serde(default)]
    pub amplitude: Q,
    /// The `oom` profile's time from a (re)start to the kill.
    #[serde(default)]
    pub period: Option<Offset>,
}

/// A persistent volume claim, bound to a dynamically provisioned volume of its size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    /// Must be priced under `storage_classes` in the prices fixture.
    pub storage_class: String,
    pub size: Bytes,
}

/// A StatefulSet's volume claim template.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTemplate {
    pub name: String,
    pub storage_class: String,
    pub size: Bytes,
}

/// A Kubernetes service type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    /// Provisions a cloud load balancer, billed per hour.
    LoadBalancer,
}

/// A service and its selector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    #[serde(default, rename = "type")]
    pub service_type: ServiceType,
    pub selector: BTreeMap<String, String>,
}

/// A timed change; exactly one of `scale`, `rollout` and `evict` is given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When, as an offset from the simulation start.
    pub at: Offset,
    /// Sets a Deployment's, StatefulSet's or Job's replicas.
    #[serde(default)]
    pub scale: Option<Scale>,
    /// Replaces every pod of a workload (`namespace/name`) with a new revision: Deployments
    /// get a new ReplicaSet, so their pods get new names.
    #[serde(default)]
    pub rollout: Option<String>,
    /// Evicts one pod; its controller starts a replacement on another node.
    #[serde(default)]
    pub evict: Option<Evict>,
}

/// A scale event's target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// `namespace/name`.
    pub workload: String,
    pub replicas: u32,
}

/// An eviction's target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evict {
    /// `namespace/name`.
    pub workload: String,
    /// Which pod: the replica index (0-based; for a DaemonSet, the index of its node among
    /// the workload's nodes).
    #[serde(default)]
    pub replica: u32,
}

/// A price list for one provider and region.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// The file this price list came from (empty when built in code).
    #[serde(skip)]
    pub source: PathBuf,
    /// The provider, e.g. `aws`; shapes the nodes' `provider_id`.
    pub provider: String,
    pub region: String,
    /// Spot price = on-demand price × (1 − `spot_discount`), for every resource.
    pub spot_discount: f64,
    /// The managed control plane's price per hour (EKS: 0.10).
    pub cluster_management_hourly_cost: f64,
    /// A load balancer's price per hour.
    pub load_balancer_hourly_cost: f64,
    /// Prices per instance type.
    pub instance_types: BTreeMap<String, InstancePrice>,
    /// Block storage prices per storage class.
    pub storage_classes: BTreeMap<String, StoragePrice>,
}

/// One instance type's on-demand price, whole and split per resource.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancePrice {
    /// On-demand price of the whole instance per hour.
    pub hourly_cost: f64,
    pub vcpus: f64,
    pub memory_gib: f64,
    #[serde(default)]
    pub gpus: u32,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// Price per core-hour (`node_cpu_hourly_cost`).
    pub cpu_hourly_cost: f64,
    /// Price per GiB-hour (`node_ram_hourly_cost`).
    pub ram_hourly_cost_per_gib: f64,
    /// Price per GPU-hour (`node_gpu_hourly_cost`), 0 without GPUs.
    #[serde(default)]
    pub gpu_hourly_cost: f64,
}

/// A storage class's price.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoragePrice {
    /// USD per GiB-month (AWS bills a month as 730 hours).
    pub gib_month_cost: f64,
    /// The CSI driver that provisions it, e.g. `ebs.csi.aws.com`.
    pub provisioner: String,
}

/// Hours in the month AWS bills storage by.
pub const HOURS_PER_MONTH: f64 = 730.0;

impl StoragePrice {
    /// USD per GiB-hour (`pv_hourly_cost`).
    pub fn gib_hourly_cost(&self) -> f64 {
        self.gib_month_cost / HOURS_PER_MONTH
    }
}

/// Loads and checks a cluster fixture.
pub fn load_cluster(path: &Path) -> Result<ClusterFixture, FixtureError> {
    let text = read(path)?;
    ClusterFixture::from_yaml_str(&text, path)
}

/// Loads and checks a prices fixture.
pub fn load_prices(path: &Path) -> Result<Prices, FixtureError> {
    let text = read(path)?;
    Prices::from_yaml_str(&text, path)
}

/// Loads every `*.yaml` cluster fixture in a directory, sorted by file name, and checks that
/// cluster names are unique across them.
pub fn load_clusters_dir(dir: &Path) -> Result<Vec<ClusterFixture>, FixtureError> {
    let io = |source| FixtureError::Io { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            paths.push(path);
        }
    }
    paths.sort();
    let clusters = paths.iter().map(|p| load_cluster(p)).collect::<Result<Vec<_>, _>>()?;
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for c in &clusters {
        if let Some(first) = seen.insert(&c.name, &c.source) {
            let mut p = crate::problems::Problems::default();
            p.push(
                FieldPath::root().key("name"),
                format!(
                    "cluster name `{}` is also used by {}; expected each cluster to have its own name",
                    c.name,
                    first.display()
                ),
            );
            if let Ok(text) = std::fs::read_to_string(&c.source) {
                p.locate(&text);
            }
            return Err(FixtureError::Invalid { path: c.source.clone(), problems: p.0 });
        }
    }
    Ok(clusters)
}

fn read(path: &Path) -> Result<String, FixtureError> {
    std::fs::read_to_string(path).map_err(|source| FixtureError::Io { path: path.to_owned(), source })
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, path: &Path) -> Result<T, FixtureError> {
    serde_yaml::from_str(text).map_err(|e| {
        let location = e.location();
        let line = location.as_ref().map(|l| l.line());
        let column = location.as_ref().map(|l| l.column());
        let mut message = e.to_string();
        if let Some(l) = &location {
            // serde_yaml ends its message with the position, which the error already gives.
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            }
        }
        let hint = hint_for(&message).to_owned();
        FixtureError::Parse { path: path.to_owned(), line, column, message, hint }
    })
}

fn hint_for(message: &str) -> &'static str {
    if message.contains("unknown field") {
        "remove the field or correct its spelling (the allowed fields are listed above)"
    } else if message.contains("missing field") {
        "add the missing field at this level"
    } else if message.contains("unknown variant") {
        "use one of the listed values"
    } else if message.contains("duplicate") {
        "remove or rename the duplicate key"
    } else if message.contains("quantity") || message.contains("offset") {
        "correct the value as described"
    } else if message.contains("invalid type") {
        "give a value of the expected type"
    } else {
        "check the YAML at this position (indentation, `key: value` pairs, quoting)"
    }
}

impl ClusterFixture {
    /// Parses and checks a cluster fixture; `path` is only used to name the file in errors.
    pub fn from_yaml_str(text: &str, path: &Path) -> Result<ClusterFixture, FixtureError> {
        let mut cluster: ClusterFixture = parse(text, path)?;
        cluster.source = path.to_owned();
        let mut problems = cluster.problems();
        if problems.is_empty() {
            Ok(cluster)
        } else {
            problems.locate(text);
            Err(FixtureError::Invalid { path: path.to_owned(), problems: problems.0 })
        }
    }
}

impl Prices {
    /// Parses and checks a prices fixture; `path` is only used to name the file in errors.
    pub fn from_yaml_str(text: &str, path: &Path) -> Result<Prices, FixtureError> {
        let mut prices: Prices = parse(text, path)?;
        prices.source = path.to_owned();
        prices.validate()?;
        Ok(prices)
    }
}

/// What pods may request of a node: `allocatable` when given, else capacity minus the
/// kubelet's reservation as EKS's bootstrap computes it for CPU (6 % of the first core, 1 %
/// of the second, 0.5 % of the next two, 0.25 % of the rest) and as GKE documents it for
/// memory (25 % of the first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 % of the next
/// 112, 2 % of the rest), plus a 100 MiB eviction threshold.
impl Node {
    /// What pods may request of the node; see [`allocatable`].
    pub fn allocatable(&self) -> Allocatable {
        allocatable(self)
    }
}

fn allocatable(node: &Node) -> Allocatable {
    if let Some(a) = node.allocatable {
        return a;
    }
    let cores = node.cpu.0;
    let tiers_cpu = [(1.0, 0.06), (1.0, 0.01), (2.0, 0.005), (f64::INFINITY, 0.0025)];
    let gib = node.memory.gib();
    let tiers_mem = [(4.0, 0.25), (4.0, 0.20), (8.0, 0.10), (112.0, 0.06), (f64::INFINITY, 0.02)];
    let reserve = |total: f64, tiers: &[(f64, f64)]| {
        let (mut left, mut r) = (total, 0.0);
        for &(size, share) in tiers {
            let part = left.min(size);
            r += part * share;
            left -= part;
            if left <= 0.0 {
                break;
            }
        }
        r
    };
    // Millicores and whole MiB, as the kubelet reports them.
    let cpu_reserved = (reserve(cores, &tiers_cpu) * 1000.0).ceil() / 1000.0;
    let mem_reserved_mib = (reserve(gib, &tiers_mem) * 1024.0).ceil() as u64 + 100;
    Allocatable {
        cpu: Cores((cores - cpu_reserved).max(0.0)),
        memory: Bytes(node.memory.0.saturating_sub(mem_reserved_mib << 20)),
    }
}

/// The `<prefix><key>` name kube-state-metrics gives a Kubernetes label or annotation: every
/// character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_key(prefix: &str, key: &str) -> String {
    let mut out = String::with_capacity(key.len() + prefix.len());
    out.push_str(prefix);
    out.extend(key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: test
region: us-east-1
nodes:
  - {name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi}
namespaces:
  - name: default
workloads:
  - namespace: default
    name: web
    kind: Deployment
    containers:
      - name: app
        image: nginx:1.27
        cpu_request: 100m
        cpu_usage: {base: 50m}
        memory_usage: {base: 64Mi, amplitude: 8Mi}
"#;

    fn path() -> &'static Path {
        Path::new("fixtures/clusters/test.yaml")
    }

    #[test]
    fn parses_a_good_fixture() {
        let c = ClusterFixture::from_yaml_str(GOOD, path()).unwrap();
        assert_eq!(c.workloads[0].containers[0].cpu_request, Some(Cores(0.1)));
        assert_eq!(c.workloads[0].containers[0].memory_usage.amplitude, Bytes(8 << 20));
        assert_eq!(c.workloads[0].containers[0].memory_usage.profile, Profile::Diurnal);
        assert_eq!(c.nodes[0].capacity_type, CapacityType::OnDemand);
        assert_eq!(c.source, path());
    }

    #[test]
    fn unknown_field_names_file_line_and_fix() {
        let text =
            GOOD.replace("        image: nginx:1.27", "        image: nginx:1.27\n        cpu_limits: 1");
        let err = ClusterFixture::from_yaml_str(&text, path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/clusters/test.yaml:15:9: "), "{msg}");
        assert!(msg.contains("unknown field `cpu_limits`"), "{msg}");
        assert!(msg.contains("fix: remove the field"), "{msg}");
        assert!(matches!(err, FixtureError::Parse { line: Some(15), .. }));
    }

    #[test]
    fn bad_quantity_names_line() {
        let text = GOOD.replace("cpu_request: 100m", "cpu_request: 100x");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(msg.contains("test.yaml:15:22:"), "{msg}");
        assert!(msg.contains("millicores"), "{msg}");
    }

    #[test]
    fn bad_kind_lists_the_kinds() {
        let text = GOOD.replace("kind: Deployment", "kind: ReplicationController");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(msg.contains("test.yaml:11:11"), "{msg}");
        assert!(msg.contains("CronJob"), "{msg}");
        assert!(msg.contains("fix: use one of the listed values"), "{msg}");
    }

    #[test]
    fn semantic_problems_name_line_field_and_expected_form() {
        let text = GOOD
            .replace(
                "    kind: Deployment",
                "    kind: Deployment\n    nodes: [n9]\n    start: \"05:00\"\n    end: \"04:00\"",
            )
            .replace("  - name: default", "  - name: default\n  - name: default");
        let err = ClusterFixture::from_yaml_str(&text, path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/clusters/test.yaml: 3 problems:"), "{msg}");
        // Lines worked out from the text above: `- name: default` twice on lines 7 and 8, the
        // workload's `nodes` item on line 13 (column 13), its `end` on line 15.
        assert!(
            msg.contains("\n  - fixtures/clusters/test.yaml:8:5: `namespaces[1].name`: namespace `default` is listed twice"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "test.yaml:13:13: `workloads[0].nodes[0]`: workload `default/web` (Deployment): node `n9` is not a node of this cluster; expected one of: n1"
            ),
            "{msg}"
        );
        assert!(msg.contains("test.yaml:15:5: `workloads[0].end`: "), "{msg}");
        assert!(msg.contains("`end` (04:00:00) is not after `start` (05:00:00)"), "{msg}");
    }

    #[test]
    fn a_missing_field_points_at_its_parent() {
        let text = GOOD.replace("    kind: Deployment", "    kind: CronJob");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        // `schedule` is not written: the problem points at the workload (line 9, column 5).
        assert!(msg.contains("test.yaml:9:5: `workloads[0].schedule`: "), "{msg}");
        assert!(msg.contains("a CronJob needs `schedule`, e.g. \"30 2 * * *\""), "{msg}");
        assert!(msg.contains("`workloads[0].job_duration`"), "{msg}");
    }

    #[test]
    fn overcommitted_node_is_reported_with_the_moment() {
        // 2 cores less the kubelet's reservation (60m + 10m) leave 1.93 allocatable; with 1.9
        // requested the pod fits.
        let text = GOOD.replace("cpu_request: 100m", "cpu_request: 1900m");
        assert!(ClusterFixture::from_yaml_str(&text, path()).is_ok());
        let text = GOOD.replace("cpu_request: 100m", "cpu_request: 1950m");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(
            msg.contains("`nodes[0].cpu`: node `n1`: at 00:00:00 its pods request 1.950 cores but 1.93 are allocatable"),
            "{msg}"
        );
    }

    #[test]
    fn a_scale_up_that_overcommits_is_reported_at_its_time() {
        let text =
            format!("{GOOD}events:\n  - {{at: \"06:30\", scale: {{workload: default/web, replicas: 30}}}}\n")
                .replace("cpu_request: 100m", "cpu_request: 500m");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(msg.contains("at 06:30:00 its pods request 15.000 cores"), "{msg}");
    }

    #[test]
    fn events_must_name_a_workload_and_one_action() {
        let text =
            format!("{GOOD}events:\n  - {{at: \"01:00\", rollout: default/nope}}\n  - {{at: \"02:00\"}}\n");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(
            msg.contains("test.yaml:19:19: `events[0].rollout`: workload `default/nope` is not in this fixture; expected `namespace/name` of one of: default/web"),
            "{msg}"
        );
        assert!(msg.contains("test.yaml:20:5: `events[1]`: expected exactly one of"), "{msg}");
    }

    #[test]
    fn unknown_instance_type_names_both_files() {
        let c = ClusterFixture::from_yaml_str(GOOD, path()).unwrap();
        let prices = Prices::from_yaml_str(
            "provider: aws\nregion: us-east-1\nspot_discount: 0.7\ncluster_management_hourly_cost: 0.1\nload_balancer_hourly_cost: 0.025\nstorage_classes: {}\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.016403, ram_hourly_cost_per_gib: 0.002199}\n",
            Path::new("p.yaml"),
        )
        .unwrap();
        let msg = c.check_prices(&prices).unwrap_err().to_string();
        assert!(
            msg.contains("cluster fixture fixtures/clusters/test.yaml does not fit prices fixture p.yaml"),
            "{msg}"
        );
        assert!(
            msg.contains("`nodes[0].instance_type`: node `n1`: instance type `m5.large` has no price"),
            "{msg}"
        );
    }

    #[test]
    fn inconsistent_price_split_is_reported() {
        let err = Prices::from_yaml_str(
            "provider: aws\nregion: us-east-1\nspot_discount: 1.5\ncluster_management_hourly_cost: 0.1\nload_balancer_hourly_cost: 0.025\nstorage_classes: {}\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.03, ram_hourly_cost_per_gib: 0.002199}\n",
            Path::new("p.yaml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`spot_discount`: is 1.5; expected a fraction in [0, 1)"), "{msg}");
        assert!(
            msg.contains(r#"`instance_types["t3.medium"].hourly_cost`: instance type `t3.medium`"#),
            "{msg}"
        );
    }

    #[test]
    fn label_keys_are_sanitized_like_ksm() {
        assert_eq!(sanitize_key("label_", "app.kubernetes.io/name"), "label_app_kubernetes_io_name");
        assert_eq!(sanitize_key("annotation_", "prometheus.io/scrape"), "annotation_prometheus_io_scrape");
    }
}
