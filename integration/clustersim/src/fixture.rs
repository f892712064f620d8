//! Cluster and price fixtures: their YAML shape, loading, and semantic checks.
//!
//! A cluster fixture (`fixtures/clusters/<name>.yaml`) describes one Kubernetes cluster:
//!
//! ```yaml
//! name: cluster-a            # becomes the cluster label (`cluster_id`) on every series
//! region: us-east-1
//! nodes:
//!   - name: ip-10-10-1-21.ec2.internal
//!     instance_type: m5.xlarge   # must be listed in the prices fixture
//!     zone: us-east-1a
//!     cpu: 4                     # capacity: cores, or millicores such as 3920m
//!     memory: 16Gi               # capacity: bytes, or Ki/Mi/Gi/Ti/k/M/G/T
//!     labels: {eks.amazonaws.com/nodegroup: general}   # optional
//! namespaces:
//!   - name: shop
//!     labels: {team: storefront}                        # optional
//! workloads:
//!   - namespace: shop
//!     name: frontend
//!     kind: Deployment           # Deployment | StatefulSet | DaemonSet | Job
//!     replicas: 2                # optional, default 1; not allowed for a DaemonSet
//!     nodes: [ip-10-10-1-21.ec2.internal]   # optional: replicas go round-robin over these
//!                                           # (default: all nodes); a DaemonSet runs on each
//!     labels: {app: frontend}    # optional pod labels
//!     start: "02:00"             # optional offsets from the simulation start (HH:MM[:SS]);
//!     end: "04:30"               # the pods run in [start, end), default the whole run
//!     containers:
//!       - name: app
//!         image: ghcr.io/example/frontend:1.4.2
//!         cpu_request: 250m      # optional
//!         memory_request: 256Mi  # optional
//!         cpu_usage: {base: 120m, amplitude: 60m}      # cores: base ± amplitude over the day
//!         memory_usage: {base: 180Mi, amplitude: 30Mi}
//! ```
//!
//! A prices fixture (`fixtures/prices/<provider>-<region>.yaml`) gives each instance type's
//! on-demand price and its split into a per-core-hour and a per-GiB-hour price, the way the
//! cost model's `node_cpu_hourly_cost` and `node_ram_hourly_cost` report them.
//!
//! Every error names the file; YAML errors also give the line and column and say what to fix;
//! semantic errors name the item (node, namespace, workload, container) and list every problem
//! found, not only the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    #[error("{}: {}", path.display(), list(problems))]
    Invalid { path: PathBuf, problems: Vec<String> },
    /// A cluster fixture and a prices fixture do not fit together.
    #[error("cluster fixture {} and prices fixture {} do not fit: {}", cluster.display(), prices.display(), list(problems))]
    Mismatch { cluster: PathBuf, prices: PathBuf, problems: Vec<String> },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn list(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => {
            let mut out = format!("{} problems:", many.len());
            for p in many {
                let _ = write!(out, "\n  - {p}");
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
    /// The cluster's name, which becomes the value of the cluster label on every series.
    pub name: String,
    /// The cloud region; must match the prices fixture's region.
    pub region: String,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub workloads: Vec<Workload>,
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
    /// Extra node labels; the well-known ones (hostname, os, arch, instance type, region,
    /// zone) are added automatically and may be overridden here.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A namespace and its labels.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The controller kind of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
}

impl WorkloadKind {
    /// The kind's name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
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
    /// Number of pods (default 1); a DaemonSet has one per node instead.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Nodes to place pods on, round-robin (default: every node of the cluster).
    #[serde(default)]
    pub nodes: Option<Vec<String>>,
    /// Pod labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When the pods start, as an offset from the simulation start (default: already running).
    #[serde(default)]
    pub start: Option<Offset>,
    /// When the pods end, as an offset from the simulation start (default: still running).
    #[serde(default)]
    pub end: Option<Offset>,
    pub containers: Vec<Container>,
}

impl Workload {
    /// `namespace/name`, the way errors and logs name a workload.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A container: its requests and how much it uses over the day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub cpu_request: Option<Cores>,
    #[serde(default)]
    pub memory_request: Option<Bytes>,
    pub cpu_usage: Usage<Cores>,
    pub memory_usage: Usage<Bytes>,
}

/// Usage over the day: `base` plus up to ± `amplitude`, following a daily wave (peak in the
/// afternoon UTC) with a little per-sample noise; never below zero.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage<Q: Default> {
    pub base: Q,
    #[serde(default)]
    pub amplitude: Q,
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
    /// Prices per instance type.
    pub instance_types: BTreeMap<String, InstancePrice>,
}

/// One instance type's price, whole and split per resource.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancePrice {
    /// On-demand price of the whole instance per hour.
    pub hourly_cost: f64,
    pub vcpus: f64,
    pub memory_gib: f64,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// Price per core-hour (`node_cpu_hourly_cost`).
    pub cpu_hourly_cost: f64,
    /// Price per GiB-hour (`node_ram_hourly_cost`).
    pub ram_hourly_cost_per_gib: f64,
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
    let mut problems = Vec::new();
    for c in &clusters {
        if let Some(first) = seen.insert(&c.name, &c.source) {
            problems.push(format!(
                "cluster name `{}` is used by {} and {}; give each cluster its own name",
                c.name,
                first.display(),
                c.source.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(clusters)
    } else {
        Err(FixtureError::Invalid { path: dir.to_owned(), problems })
    }
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
        cluster.validate()?;
        Ok(cluster)
    }

    /// Checks what the YAML shape cannot: names, references, windows, capacity.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let mut p = Vec::new();
        check_dns_subdomain(&mut p, "cluster name", &self.name);
        if self.region.trim().is_empty() {
            p.push("`region` is empty; give the cloud region, e.g. us-east-1".to_owned());
        }
        if self.nodes.is_empty() {
            p.push("`nodes` is empty; a cluster needs at least one node".to_owned());
        }

        let mut node_names = BTreeSet::new();
        for n in &self.nodes {
            let item = format!("node `{}`", n.name);
            check_dns_subdomain(&mut p, &item, &n.name);
            if !node_names.insert(n.name.as_str()) {
                p.push(format!("{item} is listed twice; node names must be unique"));
            }
            if n.cpu.0 <= 0.0 {
                p.push(format!("{item}: `cpu` must be more than 0"));
            }
            if n.memory.0 == 0 {
                p.push(format!("{item}: `memory` must be more than 0"));
            }
            if n.instance_type.trim().is_empty() {
                p.push(format!("{item}: `instance_type` is empty"));
            }
            if n.zone.trim().is_empty() {
                p.push(format!("{item}: `zone` is empty"));
            }
            check_labels(&mut p, &item, &n.labels);
        }

        let mut ns_names = BTreeSet::new();
        for ns in &self.namespaces {
            let item = format!("namespace `{}`", ns.name);
            check_dns_label(&mut p, &item, &ns.name);
            if !ns_names.insert(ns.name.as_str()) {
                p.push(format!("{item} is listed twice; namespace names must be unique"));
            }
            check_labels(&mut p, &item, &ns.labels);
        }

        let mut workload_keys = BTreeSet::new();
        // Requests placed on each node, to check them against its capacity.
        let mut placed: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
        for w in &self.workloads {
            let item = format!("workload `{}` ({})", w.key(), w.kind.as_str());
            check_dns_label(&mut p, &item, &w.name);
            if w.name.len() > 40 {
                p.push(format!("{item}: the name is longer than 40 characters; pod names add a suffix"));
            }
            if !ns_names.contains(w.namespace.as_str()) {
                p.push(format!(
                    "{item}: namespace `{}` is not listed under `namespaces`; add it there",
                    w.namespace
                ));
            }
            if !workload_keys.insert((w.namespace.as_str(), w.name.as_str())) {
                p.push(format!("{item}: another workload in this namespace has the same name"));
            }
            match (w.kind, w.replicas) {
                (WorkloadKind::DaemonSet, Some(_)) => p.push(format!(
                    "{item}: a DaemonSet runs one pod per node; remove `replicas` (use `nodes` to limit it)"
                )),
                (_, Some(0)) => {
                    p.push(format!("{item}: `replicas` is 0; use at least 1 or remove the workload"))
                }
                _ => {}
            }
            if let Some(nodes) = &w.nodes {
                if nodes.is_empty() {
                    p.push(format!("{item}: `nodes` is empty; list at least one node or remove the field"));
                }
                let mut seen = BTreeSet::new();
                for n in nodes {
                    if !node_names.contains(n.as_str()) {
                        p.push(format!(
                            "{item}: node `{n}` is not a node of this cluster (nodes: {})",
                            self.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    if !seen.insert(n) {
                        p.push(format!("{item}: node `{n}` is listed twice in `nodes`"));
                    }
                }
            }
            let start = w.start.unwrap_or_default();
            if let Some(end) = w.end {
                if end <= start {
                    p.push(format!(
                        "{item}: `end` ({end}) is not after `start` ({start}); pods run in [start, end)"
                    ));
                }
            }
            check_labels(&mut p, &item, &w.labels);
            if w.containers.is_empty() {
                p.push(format!("{item}: `containers` is empty; a pod needs at least one container"));
            }
            let mut container_names = BTreeSet::new();
            let (mut cpu, mut mem) = (0.0, 0u64);
            for c in &w.containers {
                let citem = format!("{item}, container `{}`", c.name);
                check_dns_label(&mut p, &citem, &c.name);
                if c.name == "POD" {
                    p.push(format!("{citem}: `POD` is the name cAdvisor gives the pause container"));
                }
                if !container_names.insert(c.name.as_str()) {
                    p.push(format!("{citem}: container names must be unique within a pod"));
                }
                if c.image.trim().is_empty() {
                    p.push(format!("{citem}: `image` is empty"));
                }
                cpu += c.cpu_request.unwrap_or_default().0;
                mem += c.memory_request.unwrap_or_default().0;
            }
            for node in placement(self, w) {
                let slot = placed.entry(node).or_default();
                slot.0 += cpu;
                slot.1 += mem;
            }
        }
        for n in &self.nodes {
            let (cpu, mem) = placed.get(n.name.as_str()).copied().unwrap_or_default();
            if cpu > n.cpu.0 + 1e-9 {
                p.push(format!(
                    "node `{}`: its pods request {cpu} cores but it has {}; the scheduler would not place them",
                    n.name, n.cpu.0
                ));
            }
            if mem > n.memory.0 {
                p.push(format!(
                    "node `{}`: its pods request {mem} bytes of memory but it has {}; the scheduler would not place them",
                    n.name, n.memory.0
                ));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(FixtureError::Invalid { path: self.source.clone(), problems: p })
        }
    }

    /// Checks that the price list covers every node's instance type and the cluster's region.
    pub fn check_prices(&self, prices: &Prices) -> Result<(), FixtureError> {
        let mut p = Vec::new();
        if self.region != prices.region {
            p.push(format!(
                "the cluster is in region `{}` but the prices are for `{}`; use the prices fixture of the cluster's region",
                self.region, prices.region
            ));
        }
        for n in &self.nodes {
            if !prices.instance_types.contains_key(&n.instance_type) {
                p.push(format!(
                    "node `{}`: instance type `{}` has no price; add it under `instance_types` (known: {})",
                    n.name,
                    n.instance_type,
                    prices.instance_types.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(FixtureError::Mismatch {
                cluster: self.source.clone(),
                prices: prices.source.clone(),
                problems: p,
            })
        }
    }
}

/// The node of each pod of a workload, in replica order: a DaemonSet gets one pod per node
/// (of `nodes`, or of the cluster); other kinds go round-robin. Unknown node names are kept
/// (validation reports them).
pub(crate) fn placement<'a>(cluster: &'a ClusterFixture, w: &'a Workload) -> Vec<&'a str> {
    let candidates: Vec<&str> = match &w.nodes {
        Some(nodes) => nodes.iter().map(String::as_str).collect(),
        None => cluster.nodes.iter().map(|n| n.name.as_str()).collect(),
    };
    if candidates.is_empty() {
        return Vec::new();
    }
    match w.kind {
        WorkloadKind::DaemonSet => candidates,
        _ => {
            // Start at a name-derived node so that single-replica workloads spread out.
            let first = (crate::det::seed(&[&w.namespace, &w.name]) % candidates.len() as u64) as usize;
            (0..w.replicas.unwrap_or(1) as usize)
                .map(|i| candidates[(first + i) % candidates.len()])
                .collect()
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

    /// Checks that prices are positive and that the split adds up to the instance price.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let mut p = Vec::new();
        if self.provider.trim().is_empty() {
            p.push("`provider` is empty; give the provider, e.g. aws".to_owned());
        }
        if self.region.trim().is_empty() {
            p.push("`region` is empty; give the region, e.g. us-east-1".to_owned());
        }
        if self.instance_types.is_empty() {
            p.push("`instance_types` is empty".to_owned());
        }
        for (name, price) in &self.instance_types {
            let item = format!("instance type `{name}`");
            for (field, value) in [
                ("hourly_cost", price.hourly_cost),
                ("vcpus", price.vcpus),
                ("memory_gib", price.memory_gib),
                ("cpu_hourly_cost", price.cpu_hourly_cost),
                ("ram_hourly_cost_per_gib", price.ram_hourly_cost_per_gib),
            ] {
                if !(value.is_finite() && value > 0.0) {
                    p.push(format!("{item}: `{field}` must be a number above 0, not {value}"));
                }
            }
            if !matches!(price.arch.as_str(), "amd64" | "arm64") {
                p.push(format!("{item}: `arch` is `{}`; use amd64 or arm64", price.arch));
            }
            let split =
                price.cpu_hourly_cost * price.vcpus + price.ram_hourly_cost_per_gib * price.memory_gib;
            if (split - price.hourly_cost).abs() > 0.01 * price.hourly_cost {
                p.push(format!(
                    "{item}: cpu_hourly_cost × vcpus + ram_hourly_cost_per_gib × memory_gib = {split:.6}, \
                     more than 1 % away from hourly_cost {}; fix the split",
                    price.hourly_cost
                ));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(FixtureError::Invalid { path: self.source.clone(), problems: p })
        }
    }
}

/// The `label_<key>` name kube-state-metrics gives a Kubernetes label: every character
/// outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 6);
    out.push_str("label_");
    out.extend(key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

fn check_labels(p: &mut Vec<String>, item: &str, labels: &BTreeMap<String, String>) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for key in labels.keys() {
        if key.trim().is_empty() {
            p.push(format!("{item}: a label has an empty key"));
            continue;
        }
        if let Some(other) = seen.insert(sanitize_label_key(key), key) {
            p.push(format!(
                "{item}: labels `{other}` and `{key}` both become `{}` in kube-state-metrics; rename one",
                sanitize_label_key(key)
            ));
        }
    }
}

fn check_dns_label(p: &mut Vec<String>, item: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok && name != "POD" {
        p.push(format!(
            "{item}: `{name}` is not a valid Kubernetes name; use 1–63 lower-case letters, digits and `-`"
        ));
    }
}

fn check_dns_subdomain(p: &mut Vec<String>, item: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if !ok {
        p.push(format!("{item}: `{name}` is not a valid name; use lower-case letters, digits, `-` and `.`"));
    }
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
        assert_eq!(c.source, path());
    }

    #[test]
    fn unknown_field_names_file_line_and_fix() {
        let text =
            GOOD.replace("        image: nginx:1.27", "        image: nginx:1.27\n        cpu_limit: 1");
        let err = ClusterFixture::from_yaml_str(&text, path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/clusters/test.yaml:15:9: "), "{msg}");
        assert!(msg.contains("unknown field `cpu_limit`"), "{msg}");
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
        let text = GOOD.replace("kind: Deployment", "kind: CronJob");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(msg.contains("test.yaml:11:11"), "{msg}");
        assert!(msg.contains("DaemonSet"), "{msg}");
        assert!(msg.contains("fix: use one of the listed values"), "{msg}");
    }

    #[test]
    fn semantic_problems_are_all_listed() {
        let text = GOOD
            .replace(
                "    kind: Deployment",
                "    kind: Deployment\n    nodes: [n9]\n    start: \"05:00\"\n    end: \"04:00\"",
            )
            .replace("  - name: default", "  - name: default\n  - name: default");
        let err = ClusterFixture::from_yaml_str(&text, path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("fixtures/clusters/test.yaml: 3 problems:"), "{msg}");
        assert!(msg.contains("namespace `default` is listed twice"), "{msg}");
        assert!(
            msg.contains(
                "workload `default/web` (Deployment): node `n9` is not a node of this cluster (nodes: n1)"
            ),
            "{msg}"
        );
        assert!(msg.contains("`end` (04:00:00) is not after `start` (05:00:00)"), "{msg}");
    }

    #[test]
    fn overcommitted_node_is_reported() {
        let text = GOOD.replace("cpu_request: 100m", "cpu_request: 3");
        let msg = ClusterFixture::from_yaml_str(&text, path()).unwrap_err().to_string();
        assert!(msg.contains("node `n1`: its pods request 3 cores but it has 2"), "{msg}");
    }

    #[test]
    fn unknown_instance_type_names_both_files() {
        let c = ClusterFixture::from_yaml_str(GOOD, path()).unwrap();
        let prices = Prices::from_yaml_str(
            "provider: aws\nregion: us-east-1\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.016403, ram_hourly_cost_per_gib: 0.002199}\n",
            Path::new("p.yaml"),
        )
        .unwrap();
        let msg = c.check_prices(&prices).unwrap_err().to_string();
        assert!(msg.contains("fixtures/clusters/test.yaml and prices fixture p.yaml"), "{msg}");
        assert!(msg.contains("node `n1`: instance type `m5.large` has no price"), "{msg}");
    }

    #[test]
    fn inconsistent_price_split_is_reported() {
        let err = Prices::from_yaml_str(
            "provider: aws\nregion: us-east-1\ninstance_types:\n  t3.medium: {hourly_cost: 0.0416, vcpus: 2, memory_gib: 4, arch: amd64, cpu_hourly_cost: 0.03, ram_hourly_cost_per_gib: 0.002199}\n",
            Path::new("p.yaml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("p.yaml: instance type `t3.medium`"), "{err}");
    }

    #[test]
    fn label_keys_are_sanitized_like_ksm() {
        assert_eq!(sanitize_label_key("app.kubernetes.io/name"), "label_app_kubernetes_io_name");
    }
}
