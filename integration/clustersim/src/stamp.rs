//! Stamping: many clusters from a few fixtures, for runs at scale. Cluster `k` of a template
//! is named `<template>-<k:03>` and varies from its template by a seeded hash of that name:
//! zero to two extra nodes (copies of the template's nodes, in turn) and one more replica for
//! some Deployments and StatefulSets. The same fixtures, count and seed give the same clusters.

use crate::det;

/// The seed of `--clusters N` when `--seed` is not given, for the simulator and kind alike
/// (both providers stamp the same clusters).
pub const DEFAULT_SEED: u64 = 2026;
use crate::fixture::{ClusterFixture, Node, WorkloadKind};

/// `count` clusters stamped from `templates` in turn (the first template gets the extra one
/// when `count` does not divide evenly), sorted by name. A variation that would break the
/// template's checks (capacity, names) is left out, so every stamped cluster validates when
/// its template does.
pub fn stamp(templates: &[ClusterFixture], count: usize, seed: u64) -> Vec<ClusterFixture> {
    let mut out = Vec::with_capacity(count);
    if templates.is_empty() {
        return out;
    }
    for (t, template) in templates.iter().enumerate() {
        let copies = count / templates.len() + usize::from(t < count % templates.len());
        for k in 1..=copies {
            out.push(stamp_one(template, k, seed));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn stamp_one(template: &ClusterFixture, k: usize, seed: u64) -> ClusterFixture {
    let name = format!("{}-{k:03}", template.name);
    let hash = det::seed(&["stamp", &seed.to_string(), &name]);
    let mut cluster = template.clone();
    cluster.name = name.clone();
    for i in 0..(hash % 3) as usize {
        let model = &template.nodes[i % template.nodes.len()];
        cluster
            .nodes
            .push(Node { name: format!("stamp-{i}.{}.compute.internal", template.region), ..model.clone() });
    }
    let mut varied = cluster.clone();
    for (w, workload) in varied.workloads.iter_mut().enumerate() {
        let scalable = matches!(workload.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet);
        if scalable && det::seed(&["replicas", &name, &w.to_string()]).is_multiple_of(3) {
            workload.replicas = Some(workload.replicas.unwrap_or(1) + 1);
        }
    }
    if varied.validate().is_ok() {
        return varied;
    }
    if cluster.validate().is_ok() {
        return cluster;
    }
    ClusterFixture { name, ..template.clone() }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fixture::ClusterFixture;

    const CLUSTER: &str = r#"
name: tiny
region: us-east-1
nodes: [{name: n1, instance_type: t3.medium, zone: us-east-1a, cpu: 2, memory: 4Gi}]
namespaces: [{name: default}]
workloads:
  - namespace: default
    name: web
    kind: Deployment
    replicas: 2
    containers:
      - {name: app, image: nginx, cpu_request: 100m, cpu_usage: {base: 50m}, memory_usage: {base: 1Mi}}
  - namespace: default
    name: agent
    kind: DaemonSet
    containers:
      - {name: a, image: busybox, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
"#;

    fn templates() -> Vec<ClusterFixture> {
        let a = ClusterFixture::from_yaml_str(CLUSTER, Path::new("tiny.yaml")).unwrap();
        let b = ClusterFixture { name: "other".into(), ..a.clone() };
        vec![a, b]
    }

    #[test]
    fn stamps_are_named_sorted_and_deterministic() {
        let stamped = stamp(&templates(), 5, 1);
        let names: Vec<&str> = stamped.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["other-001", "other-002", "tiny-001", "tiny-002", "tiny-003"]);
        assert_eq!(stamped, stamp(&templates(), 5, 1));
        assert!(stamp(&[], 5, 1).is_empty());
        assert_eq!(stamp(&templates(), 100, 1).len(), 100);
    }

    #[test]
    fn another_seed_stamps_other_node_counts_under_the_same_names() {
        let nodes = |seed| stamp(&templates(), 30, seed).iter().map(|c| c.nodes.len()).collect::<Vec<_>>();
        let names = |seed| stamp(&templates(), 30, seed).into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(1), names(2));
        assert_ne!(nodes(1), nodes(2), "30 clusters with 0–2 extra nodes each cannot all agree");
        assert_eq!(nodes(DEFAULT_SEED), nodes(DEFAULT_SEED));
    }

    #[test]
    fn stamps_vary_by_seeded_hash_and_stay_valid() {
        let stamped = stamp(&templates(), 60, 9);
        for c in &stamped {
            c.validate().unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!((1..=3).contains(&c.nodes.len()), "{}: {} nodes", c.name, c.nodes.len());
            let daemonset = c.workloads.iter().find(|w| w.kind == WorkloadKind::DaemonSet).unwrap();
            assert_eq!(daemonset.replicas, None);
        }
        let node_counts: std::collections::BTreeSet<usize> = stamped.iter().map(|c| c.nodes.len()).collect();
        assert_eq!(node_counts.len(), 3, "node counts vary: {node_counts:?}");
        let replicas: std::collections::BTreeSet<Option<u32>> =
            stamped.iter().map(|c| c.workloads[0].replicas).collect();
        assert_eq!(replicas, [Some(2), Some(3)].into(), "replicas vary");
        assert_ne!(stamp(&templates(), 60, 9), stamp(&templates(), 60, 10), "the seed matters");
    }
}
