//! The kind `Cluster` config (`kind.x-k8s.io/v1alpha4`): one control-plane node and one
//! worker per fixture node, at most [`MAX_WORKERS`]; beyond that, fixture nodes share
//! workers in turn. Each worker carries the labels of the fixture nodes it stands for, so
//! that workloads pinned to fixture nodes (`nodes:` in the fixture) land there, and the
//! labels EKS gives a node: its capacity type (`eks.amazonaws.com/capacityType`), its node
//! group (`eks.amazonaws.com/nodegroup`, the fixture's `pool`) and, with GPUs,
//! `nvidia.com/gpu.count`.
//!
//! kind's config sets labels, not capacity: a worker with GPUs gets them as the extended
//! resource `nvidia.com/gpu` from a node status patch in the plan ([`WorkerGpus`]), so that
//! pods requesting GPUs can be scheduled there (they get no device). Nodes that join or leave
//! during the fixture's day (`start`, `end`) are there from the start and stay.

use std::collections::BTreeMap;

use ampfed_clustersim::fixture::{ClusterFixture, Node};
use serde_yaml::Value;

use crate::versions;
use crate::yaml::{map, s, seq, string_map};

/// Workers per kind cluster: every kind node is a container on one Docker host, and 100+
/// clusters multiply whatever this is.
pub const MAX_WORKERS: usize = 3;

/// The label prefix that marks which fixture nodes a worker stands for:
/// `fixture-node.ampfed/<fixture node name>: "true"`.
pub const FIXTURE_NODE_PREFIX: &str = "fixture-node.ampfed/";

/// The fixture nodes of each worker, in worker order: node `i` goes to worker `i % workers`.
pub fn workers(cluster: &ClusterFixture, max_workers: usize) -> Vec<Vec<&Node>> {
    let count = cluster.nodes.len().clamp(1, max_workers.max(1));
    let mut out = vec![Vec::new(); count];
    for (i, node) in cluster.nodes.iter().enumerate() {
        out[i % count].push(node);
    }
    out
}

/// The extended resource of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The label with a worker's GPU count (the name NVIDIA's GPU feature discovery uses).
pub const GPU_COUNT_LABEL: &str = "nvidia.com/gpu.count";
/// The capacity type label of EKS nodes.
pub const CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
/// The node group label of EKS managed nodes (the fixture's `pool`).
pub const NODE_GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

/// The name kind gives worker `index` (0-based) of cluster `cluster`: `<cluster>-worker`,
/// `<cluster>-worker2`, …
pub fn worker_node_name(cluster: &str, index: usize) -> String {
    match index {
        0 => format!("{cluster}-worker"),
        i => format!("{cluster}-worker{}", i + 1),
    }
}

/// GPUs a worker advertises: the sum of its fixture nodes'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerGpus {
    /// The kind node's name ([`worker_node_name`]).
    pub node: String,
    pub gpus: u32,
}

impl WorkerGpus {
    /// The JSON patch of the node's status that adds the GPUs to its capacity
    /// (`kubectl patch node --subresource=status --type=json`); the kubelet copies it to the
    /// allocatable resources.
    pub fn status_patch(&self) -> String {
        let path = format!("/status/capacity/{}", GPU_RESOURCE.replace('/', "~1"));
        format!(r#"[{{"op":"add","path":"{path}","value":"{}"}}]"#, self.gpus)
    }
}

/// The workers of `cluster` that have GPUs, in worker order.
pub fn gpu_workers(cluster: &ClusterFixture, max_workers: usize) -> Vec<WorkerGpus> {
    workers(cluster, max_workers)
        .iter()
        .enumerate()
        .filter_map(|(i, nodes)| {
            let gpus: u32 = nodes.iter().map(|n| n.gpus).sum();
            (gpus > 0).then(|| WorkerGpus { node: worker_node_name(&cluster.name, i), gpus })
        })
        .collect()
}

/// The label key that marks fixture node `name` on its worker.
pub fn fixture_node_label(name: &str) -> String {
    format!("{FIXTURE_NODE_PREFIX}{name}")
}

/// Labels the kind config must not set: kind and the kubelet set these themselves.
const SET_BY_KIND: &[&str] = &["kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch"];

/// Whether the kubelet may give itself `key` (Kubernetes' NodeRestriction rules): labels
/// under `kubernetes.io` or `k8s.io` only when they are well-known node labels.
fn kubelet_may_set(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else { return true };
    let reserved =
        ["kubernetes.io", "k8s.io"].iter().any(|d| prefix == *d || prefix.ends_with(&format!(".{d}")));
    !reserved
        || matches!(
            key,
            "node.kubernetes.io/instance-type"
                | "topology.kubernetes.io/zone"
                | "topology.kubernetes.io/region"
        )
        || prefix == "node.kubernetes.io"
        || prefix == "kubelet.kubernetes.io"
}

/// The labels of one worker and what was left out (one note per dropped label).
pub fn worker_labels(cluster: &ClusterFixture, nodes: &[&Node]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut labels = BTreeMap::new();
    let mut notes = Vec::new();
    let gpus: u32 = nodes.iter().map(|n| n.gpus).sum();
    if let Some(first) = nodes.first() {
        labels.insert("node.kubernetes.io/instance-type".to_owned(), first.instance_type.clone());
        labels.insert("topology.kubernetes.io/zone".to_owned(), first.zone.clone());
        labels.insert("topology.kubernetes.io/region".to_owned(), cluster.region.clone());
        labels.insert(CAPACITY_TYPE_LABEL.to_owned(), first.capacity_type.eks_label().to_owned());
        if let Some(pool) = &first.pool {
            labels.insert(NODE_GROUP_LABEL.to_owned(), pool.clone());
        }
        if gpus > 0 {
            labels.insert(GPU_COUNT_LABEL.to_owned(), gpus.to_string());
        }
        for (key, value) in &first.labels {
            if SET_BY_KIND.contains(&key.as_str()) || !kubelet_may_set(key) {
                notes.push(format!(
                    "node `{}`: label `{key}` is not set on its kind worker (kind or the kubelet own it)",
                    first.name
                ));
            } else {
                labels.insert(key.clone(), value.clone());
            }
        }
        for other in &nodes[1..] {
            let its_gpus = if other.gpus > 0 { " (its GPUs are added to the worker's)" } else { "" };
            notes.push(format!(
                "node `{}` shares the worker of `{}` (at most {MAX_WORKERS} workers) and takes its labels{its_gpus}",
                other.name, first.name
            ));
        }
    }
    for node in nodes {
        labels.insert(fixture_node_label(&node.name), "true".to_owned());
        if let Some(start) = node.start {
            notes.push(format!(
                "node `{}` joins at {start} in the fixture; its worker is there from the start",
                node.name
            ));
        }
        if let Some(end) = node.end {
            notes.push(format!("node `{}` leaves at {end} in the fixture; its worker stays", node.name));
        }
        if node.gpus > 0 {
            notes.push(format!(
                "node `{}` has {} GPU(s): its worker advertises `{GPU_RESOURCE}` through a node status patch in the plan, with no device behind it",
                node.name, node.gpus
            ));
        }
    }
    (labels, notes)
}

/// The kind config of `cluster`, and notes on what it could not carry over.
pub fn kind_config(cluster: &ClusterFixture, max_workers: usize) -> (Value, Vec<String>) {
    let mut nodes = vec![map([("role", s("control-plane")), ("image", s(versions::NODE_IMAGE))])];
    let mut notes = Vec::new();
    for assigned in workers(cluster, max_workers) {
        let (labels, more) = worker_labels(cluster, &assigned);
        notes.extend(more);
        nodes.push(map([
            ("role", s("worker")),
            ("image", s(versions::NODE_IMAGE)),
            ("labels", string_map(&labels)),
        ]));
    }
    let config = map([
        ("apiVersion", s("kind.x-k8s.io/v1alpha4")),
        ("kind", s("Cluster")),
        ("name", s(cluster.name.clone())),
        ("nodes", seq(nodes)),
    ]);
    (config, notes)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cluster(nodes: usize) -> ClusterFixture {
        let mut text = String::from("name: c\nregion: us-east-1\nnodes:\n");
        for i in 0..nodes {
            text.push_str(&format!(
                "  - {{name: n{i}, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi, \
                 labels: {{kubernetes.io/hostname: x, eks.amazonaws.com/capacityType: SPOT, node-role.kubernetes.io/db: \"\"}}}}\n"
            ));
        }
        text.push_str("namespaces: []\nworkloads: []\n");
        ClusterFixture::from_yaml_str(&text, Path::new("c.yaml")).unwrap()
    }

    #[test]
    fn nodes_beyond_the_cap_share_workers_in_turn() {
        let c = cluster(5);
        let names: Vec<Vec<&str>> =
            workers(&c, 3).iter().map(|w| w.iter().map(|n| n.name.as_str()).collect()).collect();
        assert_eq!(names, [vec!["n0", "n3"], vec!["n1", "n4"], vec!["n2"]]);
        assert_eq!(workers(&cluster(2), 3).len(), 2);
    }

    #[test]
    fn worker_labels_keep_spot_and_drop_what_the_kubelet_may_not_set() {
        let c = cluster(4);
        let assigned = workers(&c, 3);
        let (labels, notes) = worker_labels(&c, &assigned[0]);
        assert_eq!(labels["eks.amazonaws.com/capacityType"], "SPOT");
        assert_eq!(labels["node.kubernetes.io/instance-type"], "m5.large");
        assert_eq!(labels["fixture-node.ampfed/n0"], "true");
        assert_eq!(labels["fixture-node.ampfed/n3"], "true");
        assert!(!labels.contains_key("kubernetes.io/hostname"));
        assert!(!labels.contains_key("node-role.kubernetes.io/db"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[2].contains("`n3` shares the worker of `n0`"), "{notes:?}");
    }

    #[test]
    fn workers_carry_capacity_type_node_group_and_gpus() {
        let text = "name: c\nregion: us-east-1\nnodes:\n  \
            - {name: a, instance_type: g4dn.xlarge, zone: us-east-1a, cpu: 4, memory: 16Gi, gpus: 1, pool: gpu, capacity_type: spot, end: \"16:00\"}\n  \
            - {name: b, instance_type: m5.large, zone: us-east-1b, cpu: 2, memory: 8Gi, start: \"08:00\"}\n  \
            - {name: c, instance_type: g4dn.xlarge, zone: us-east-1a, cpu: 4, memory: 16Gi, gpus: 2}\n\
            namespaces: []\nworkloads: []\n";
        let c = ClusterFixture::from_yaml_str(text, Path::new("c.yaml")).unwrap();
        let assigned = workers(&c, 2);
        let (labels, notes) = worker_labels(&c, &assigned[0]);
        assert_eq!(labels[CAPACITY_TYPE_LABEL], "SPOT");
        assert_eq!(labels[NODE_GROUP_LABEL], "gpu");
        assert_eq!(labels[GPU_COUNT_LABEL], "3", "a and c share the first worker");
        assert!(
            notes.iter().any(|n| n == "node `a` leaves at 16:00:00 in the fixture; its worker stays"),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("its GPUs are added to the worker's")), "{notes:?}");
        let (labels, notes) = worker_labels(&c, &assigned[1]);
        assert_eq!(labels[CAPACITY_TYPE_LABEL], "ON_DEMAND");
        assert!(!labels.contains_key(NODE_GROUP_LABEL) && !labels.contains_key(GPU_COUNT_LABEL));
        assert_eq!(notes, ["node `b` joins at 08:00:00 in the fixture; its worker is there from the start"]);
        let gpus = gpu_workers(&c, 2);
        assert_eq!(gpus, [WorkerGpus { node: "c-worker".into(), gpus: 3 }]);
        assert_eq!(
            gpus[0].status_patch(),
            r#"[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"3"}]"#
        );
        assert_eq!(worker_node_name("c", 2), "c-worker3");
    }

    #[test]
    fn the_config_has_one_control_plane_and_the_workers() {
        let (config, _) = kind_config(&cluster(5), MAX_WORKERS);
        let roles: Vec<&str> =
            config["nodes"].as_sequence().unwrap().iter().map(|n| n["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["control-plane", "worker", "worker", "worker"]);
        assert_eq!(config["apiVersion"].as_str(), Some("kind.x-k8s.io/v1alpha4"));
    }
}
