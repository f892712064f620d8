//! One cluster fixture in, its files out: the kind config (`kind.yaml`), the namespaces
//! (`namespaces.yaml`, applied first so the credentials Secret can go in before the pods
//! start) and everything else (`workloads.yaml`: the claims, the services, the workloads and
//! the Kubecost stack, in that order), each with a header saying where it came from and what
//! could not be carried over (the timed events among it). Also [`scale`]: `--clusters N`
//! clusters from the fixtures, stamped the way the simulator stamps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ampfed_clustersim::fixture::ClusterFixture;
use serde_yaml::Value;

use crate::config::{self, WorkerGpus};
use crate::events;
use crate::services;
use crate::stack;
use crate::storage;
use crate::target::AmpTarget;
use crate::workloads::{self, Rollout};
use crate::yaml::{file, map, metadata, s};

/// The file names inside a cluster's directory.
pub const KIND_CONFIG_FILE: &str = "kind.yaml";
pub const NAMESPACES_FILE: &str = "namespaces.yaml";
pub const WORKLOADS_FILE: &str = "workloads.yaml";

/// Seeds the stamping of `--clusters N`: the simulator's default, so that both providers
/// stamp the same clusters.
pub const STAMP_SEED: u64 = ampfed_clustersim::stamp::DEFAULT_SEED;

/// Workloads kind runs itself: a fixture workload of the same namespace and name is not
/// rendered (applying it would replace kind's own, e.g. break cluster DNS).
pub const KIND_OWNED: &[(&str, &str)] = &[
    ("kube-system", "coredns"),
    ("kube-system", "kindnet"),
    ("kube-system", "kube-proxy"),
    ("local-path-storage", "local-path-provisioner"),
];

/// Why a fixture could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cluster `{cluster}`: workload `{workload}` has the name of a component the kind provider deploys; rename it in the fixture")]
    Collision { cluster: String, workload: String },
    #[error("cluster `{cluster}`: service `{service}` has the name of a Service the kind provider deploys; rename it in the fixture")]
    ServiceCollision { cluster: String, service: String },
    #[error("cluster `{cluster}`: node `{node}` is longer than 63 characters, which a label name cannot be; shorten it")]
    NodeName { cluster: String, node: String },
    #[error("the cluster label `{label}` is not a Prometheus label name: expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __, e.g. cluster_id")]
    ClusterLabel { label: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What rendering takes besides the fixture.
#[derive(Debug, Clone)]
pub struct Options {
    pub amp: AmpTarget,
    /// At most this many workers per cluster ([`config::MAX_WORKERS`] by default).
    pub max_workers: usize,
    /// The name of the external label that carries the cluster's name on remote-written
    /// samples, and that the cost model filters by ([`stack::DEFAULT_CLUSTER_LABEL`],
    /// `cluster_id`, by default).
    pub cluster_label: String,
}

impl Options {
    pub fn new(amp: AmpTarget) -> Options {
        Options {
            amp,
            max_workers: config::MAX_WORKERS,
            cluster_label: stack::DEFAULT_CLUSTER_LABEL.to_owned(),
        }
    }
}

/// Whether `label` is a label name Prometheus accepts for an external label.
fn is_label_name(label: &str) -> bool {
    let b = label.as_bytes();
    b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !label.starts_with("__")
}

/// One cluster's files, and what to wait for once they are applied.
#[derive(Debug, Clone)]
pub struct RenderedCluster {
    pub name: String,
    pub kind_config: String,
    pub namespaces: String,
    pub workloads: String,
    /// The controllers `kubectl rollout status` waits for, in apply order.
    pub rollouts: Vec<Rollout>,
    /// The workers whose status the plan patches with GPUs, before the workloads are applied.
    pub gpu_workers: Vec<WorkerGpus>,
}

/// Where [`RenderedCluster::write`] put the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFiles {
    pub kind_config: PathBuf,
    pub namespaces: PathBuf,
    pub workloads: PathBuf,
}

impl ClusterFiles {
    /// The files of cluster `name` under `dir` (one directory per cluster).
    pub fn under(dir: &Path, name: &str) -> ClusterFiles {
        let d = dir.join(name);
        ClusterFiles {
            kind_config: d.join(KIND_CONFIG_FILE),
            namespaces: d.join(NAMESPACES_FILE),
            workloads: d.join(WORKLOADS_FILE),
        }
    }
}

impl RenderedCluster {
    /// Writes the three files to `<dir>/<cluster>/`.
    pub fn write(&self, dir: &Path) -> Result<ClusterFiles, RenderError> {
        let files = ClusterFiles::under(dir, &self.name);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| RenderError::Write { path, source }
        };
        let parent = dir.join(&self.name);
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        for (path, text) in [
            (&files.kind_config, &self.kind_config),
            (&files.namespaces, &self.namespaces),
            (&files.workloads, &self.workloads),
        ] {
            std::fs::write(path, text).map_err(io(path))?;
        }
        Ok(files)
    }
}

/// `count` clusters from `fixtures`: the fixtures themselves without a count, else stamped
/// (`<fixture>-001`, …) as the simulator's `--clusters` stamps them.
pub fn scale(fixtures: &[ClusterFixture], count: Option<usize>) -> Vec<ClusterFixture> {
    match count {
        None => fixtures.to_vec(),
        Some(n) => ampfed_clustersim::stamp(fixtures, n, STAMP_SEED),
    }
}

fn header(cluster: &ClusterFixture, what: &str, notes: &[String]) -> Vec<String> {
    let source = cluster.source.file_name().map(|f| f.to_string_lossy().into_owned());
    let mut lines = vec![
        format!("{what} of cluster `{}`, rendered by ampfed-kind", cluster.name),
        format!(
            "from the fixture {} (see docs/kind.md); regenerate instead of editing.",
            source.as_deref().unwrap_or("built in code")
        ),
    ];
    if !notes.is_empty() {
        lines.push(String::new());
        lines.push("Where this differs from the fixture:".to_owned());
        lines.extend(notes.iter().map(|n| format!("- {n}")));
    }
    lines
}

/// Renders `cluster`.
pub fn render(cluster: &ClusterFixture, options: &Options) -> Result<RenderedCluster, RenderError> {
    if !is_label_name(&options.cluster_label) {
        return Err(RenderError::ClusterLabel { label: options.cluster_label.clone() });
    }
    for n in &cluster.nodes {
        if n.name.len() > 63 {
            return Err(RenderError::NodeName { cluster: cluster.name.clone(), node: n.name.clone() });
        }
    }
    if let Some(w) = cluster.workloads.iter().find(|w| stack::collides(w)) {
        return Err(RenderError::Collision { cluster: cluster.name.clone(), workload: w.key() });
    }
    if let Some(svc) = cluster.services.iter().find(|s| stack::service_collides(&s.namespace, &s.name)) {
        return Err(RenderError::ServiceCollision {
            cluster: cluster.name.clone(),
            service: format!("{}/{}", svc.namespace, svc.name),
        });
    }
    let (kind_config, config_notes) = config::kind_config(cluster, options.max_workers);

    let mut namespaces: Vec<Value> = Vec::new();
    let mut seen = false;
    for ns in &cluster.namespaces {
        seen |= ns.name == stack::NAMESPACE;
        namespaces.push(namespace(&ns.name, &ns.labels, &ns.annotations));
    }
    let mut ns_notes = Vec::new();
    if !seen {
        namespaces.push(namespace(stack::NAMESPACE, &BTreeMap::new(), &BTreeMap::new()));
        ns_notes.push(format!(
            "namespace `{}` is not in the fixture; added for the Kubecost stack",
            stack::NAMESPACE
        ));
    }

    let (mut documents, mut notes) = storage::claims(cluster);
    let (service_documents, service_notes) = services::services(cluster);
    documents.extend(service_documents);
    notes.extend(service_notes);
    let mut rollouts = Vec::new();
    for w in &cluster.workloads {
        if KIND_OWNED.contains(&(w.namespace.as_str(), w.name.as_str())) {
            notes.push(format!("{} ({}): not rendered; kind runs its own", w.key(), w.kind.as_str()));
            continue;
        }
        if stack::is_cost_analyzer(w) {
            continue;
        }
        let objects = workloads::objects(w, cluster);
        documents.extend(objects.documents);
        rollouts.extend(objects.rollout);
        notes.extend(objects.notes);
    }
    notes.extend(events::notes(cluster));
    let stack = stack::stack(cluster, &options.amp, &options.cluster_label);
    documents.extend(stack.documents);
    rollouts.extend(stack.rollouts);
    notes.extend(stack.notes);

    Ok(RenderedCluster {
        name: cluster.name.clone(),
        kind_config: file(&header(cluster, "kind config", &config_notes), &[kind_config]),
        namespaces: file(&header(cluster, "Namespaces", &ns_notes), &namespaces),
        workloads: file(&header(cluster, "Workloads and the Kubecost stack", &notes), &documents),
        rollouts,
        gpu_workers: config::gpu_workers(cluster, options.max_workers),
    })
}

fn namespace(name: &str, labels: &BTreeMap<String, String>, annotations: &BTreeMap<String, String>) -> Value {
    map([
        ("apiVersion", s("v1")),
        ("kind", s("Namespace")),
        ("metadata", metadata(name, None, labels, annotations)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_labels_must_be_prometheus_label_names() {
        for ok in ["cluster_id", "cluster", "_c", "C1"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "1c", "cluster-id", "__cluster", "cluster.id"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }
}
