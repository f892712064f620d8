//! The fixture's timed `events:` (scale, rollout, evict at an offset) cannot be written into
//! static manifests, and the plan runs its steps one after the other with no clock, so they
//! are not applied. Each becomes a note in the header of `workloads.yaml` with the `kubectl`
//! command that does the same by hand at that offset after the cluster is up.

use ampfed_clustersim::fixture::{ClusterFixture, Event, WorkloadKind};

use crate::workloads::WORKLOAD_LABEL;

/// The `kubectl` resource name of a workload kind (`deployment`, …).
fn resource(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
        WorkloadKind::Job => "job",
        WorkloadKind::CronJob => "cronjob",
        WorkloadKind::Pod => "pod",
    }
}

/// What to do by hand for event `e`, or `None` when it names no workload of the fixture (the
/// fixture's validation refuses that).
fn by_hand(cluster: &ClusterFixture, e: &Event) -> Option<String> {
    let target = e
        .scale
        .as_ref()
        .map(|s| &s.workload)
        .or(e.rollout.as_ref())
        .or(e.evict.as_ref().map(|v| &v.workload))?;
    let w = cluster.workloads.iter().find(|w| &w.key() == target)?;
    let (ns, name, kind) = (&w.namespace, &w.name, resource(w.kind));
    let kubectl = format!("kubectl --namespace {ns}");
    Some(if let Some(s) = &e.scale {
        format!("`{kubectl} scale {kind}/{name} --replicas={}`", s.replicas)
    } else if e.rollout.is_some() {
        format!("`{kubectl} rollout restart {kind}/{name}`")
    } else {
        let replica = e.evict.as_ref().map_or(0, |v| v.replica);
        match w.kind {
            WorkloadKind::StatefulSet => format!("`{kubectl} delete pod {name}-{replica}`"),
            WorkloadKind::Pod => format!("`{kubectl} delete pod {name}`"),
            _ => format!(
                "delete one pod of {kind}/{name} (replica {replica} has no stable name on kind): `{kubectl} get pods -l {WORKLOAD_LABEL}={name}`, then `{kubectl} delete pod <pod>`"
            ),
        }
    })
}

/// One header note per event, in fixture order.
pub fn notes(cluster: &ClusterFixture) -> Vec<String> {
    cluster
        .events
        .iter()
        .filter_map(|e| {
            let action = by_hand(cluster, e)?;
            Some(format!(
                "event at {} is not applied (manifests have no clock); by hand at that offset: {action}",
                e.at
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn every_event_becomes_its_kubectl_command() {
        let c = ClusterFixture::from_yaml_str(
            r#"
name: t
region: us-east-1
nodes:
  - {name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi}
namespaces: [{name: web}]
events:
  - {at: "09:00", scale: {workload: web/front, replicas: 3}}
  - {at: "10:00", rollout: web/front}
  - {at: "11:00", evict: {workload: web/db, replica: 1}}
  - {at: "12:00", evict: {workload: web/front}}
workloads:
  - namespace: web
    name: front
    kind: Deployment
    replicas: 2
    containers: [{name: a, image: x, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}]
  - namespace: web
    name: db
    kind: StatefulSet
    replicas: 2
    containers: [{name: a, image: x, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}]
"#,
            Path::new("t.yaml"),
        )
        .unwrap();
        let n = notes(&c);
        assert_eq!(n.len(), 4);
        assert_eq!(
            n[0],
            "event at 09:00:00 is not applied (manifests have no clock); by hand at that offset: `kubectl --namespace web scale deployment/front --replicas=3`"
        );
        assert!(n[1].ends_with("`kubectl --namespace web rollout restart deployment/front`"), "{n:?}");
        assert!(n[2].ends_with("`kubectl --namespace web delete pod db-1`"), "{n:?}");
        assert!(n[3].contains("delete one pod of deployment/front (replica 0 has no stable name"), "{n:?}");
    }
}
