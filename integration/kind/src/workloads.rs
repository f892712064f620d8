//! Fixture workloads as Kubernetes objects. Each controller kind of the fixture format has
//! its own: Deployment → `apps/v1` Deployment, StatefulSet → `apps/v1` StatefulSet plus the
//! headless Service it names, DaemonSet → `apps/v1` DaemonSet, Job → `batch/v1` Job. The
//! fixture format has no CronJob yet; when it gets one, the `match` in [`objects`] stops
//! compiling until it is mapped (a `batch/v1` CronJob whose `jobTemplate` is the Job's).
//!
//! Containers keep their names and requests; their images are replaced, since the fixtures'
//! images are examples: long-running pods run [`versions::PAUSE_IMAGE`], Jobs run
//! [`versions::BUSYBOX_IMAGE`] `sleep <seconds>` for the fixture's run time. The fixture's
//! image is kept in the annotation `images.ampfed/<container>`. The usage profiles are not
//! reproduced: on kind only requests count. A Job starts when it is applied, not at its
//! fixture offset, which the annotation `ampfed/start` keeps.

use std::collections::BTreeMap;

use ampfed_clustersim::fixture::{Container, Workload, WorkloadKind};
use serde_yaml::Value;

use crate::config::fixture_node_label;
use crate::quantity;
use crate::versions;
use crate::yaml::{int, map, s, seq, string_map, strings};

/// The selector label of every rendered workload: `ampfed/workload: <name>`.
pub const WORKLOAD_LABEL: &str = "ampfed/workload";

/// How long a Job without `end` runs: to the end of the simulated day.
const DAY_SECS: i64 = 24 * 3600;

/// A controller `kubectl rollout status` can wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub namespace: String,
    /// `deployment`, `statefulset` or `daemonset`.
    pub kind: &'static str,
    pub name: String,
}

impl Rollout {
    /// `deployment/<name>`, as `kubectl rollout status` takes it.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The objects of one workload, and the rollout to wait for (none for a Job).
#[derive(Debug, Clone)]
pub struct Objects {
    pub documents: Vec<Value>,
    pub rollout: Option<Rollout>,
}

/// `metadata` with a name, a namespace and labels.
pub(crate) fn metadata(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    let mut pairs = vec![("name", s(name))];
    if let Some(ns) = namespace {
        pairs.push(("namespace", s(ns)));
    }
    if !labels.is_empty() {
        pairs.push(("labels", string_map(labels)));
    }
    map(pairs)
}

/// `resources: {requests: …}` from optional CPU and memory requests; `None` without either.
pub(crate) fn requests(cpu: Option<String>, memory: Option<String>) -> Option<Value> {
    let mut pairs = Vec::new();
    if let Some(c) = cpu {
        pairs.push(("cpu", s(c)));
    }
    if let Some(m) = memory {
        pairs.push(("memory", s(m)));
    }
    (!pairs.is_empty()).then(|| map([("requests", map(pairs))]))
}

/// A container's requests, as the fixture gives them.
pub(crate) fn container_requests(c: &Container) -> Option<Value> {
    requests(c.cpu_request.map(quantity::cpu), c.memory_request.map(quantity::memory))
}

/// Required node affinity to the workers that stand for `nodes` (any of them).
pub(crate) fn affinity(nodes: &[String]) -> Value {
    let terms = nodes.iter().map(|n| {
        map([(
            "matchExpressions",
            seq([map([("key", s(fixture_node_label(n))), ("operator", s("Exists"))])]),
        )])
    });
    map([(
        "nodeAffinity",
        map([("requiredDuringSchedulingIgnoredDuringExecution", map([("nodeSelectorTerms", seq(terms))]))]),
    )])
}

/// The pod labels of workload `name`: the fixture's, and the selector label.
pub(crate) fn pod_labels(name: &str, fixture: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = fixture.clone();
    labels.insert(WORKLOAD_LABEL.to_owned(), name.to_owned());
    labels
}

/// `selector: {matchLabels: {ampfed/workload: <name>}}`.
pub(crate) fn selector(name: &str) -> Value {
    map([("matchLabels", map([(WORKLOAD_LABEL, s(name))]))])
}

/// How long a Job runs, in seconds: `end - start`, or to the end of the day.
fn job_seconds(w: &Workload) -> i64 {
    let start = w.start.map(|o| o.secs()).unwrap_or(0);
    let end = w.end.map(|o| o.secs()).unwrap_or(DAY_SECS.max(start + 60));
    (end - start).max(1)
}

fn container(c: &Container, kind: WorkloadKind, seconds: i64) -> Value {
    let mut pairs = vec![("name", s(c.name.clone()))];
    match kind {
        WorkloadKind::Job => {
            pairs.push(("image", s(versions::BUSYBOX_IMAGE)));
            pairs.push(("command", strings(["sleep".to_owned(), seconds.to_string()])));
        }
        WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            pairs.push(("image", s(versions::PAUSE_IMAGE)));
        }
    }
    if let Some(r) = container_requests(c) {
        pairs.push(("resources", r));
    }
    map(pairs)
}

/// The objects of fixture workload `w`.
pub fn objects(w: &Workload) -> Objects {
    let labels = pod_labels(&w.name, &w.labels);
    let seconds = job_seconds(w);
    let mut annotations: BTreeMap<String, String> =
        w.containers.iter().map(|c| (format!("images.ampfed/{}", c.name), c.image.clone())).collect();
    if let (WorkloadKind::Job, Some(start)) = (w.kind, w.start) {
        // As `2h00m00s`: `02:00:00` unquoted is a base-60 integer to YAML 1.1 readers.
        let secs = start.secs();
        annotations.insert(
            "ampfed/start".to_owned(),
            format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60),
        );
    }
    let mut spec = vec![("containers", seq(w.containers.iter().map(|c| container(c, w.kind, seconds))))];
    if let Some(nodes) = &w.nodes {
        spec.push(("affinity", affinity(nodes)));
    }
    if w.kind == WorkloadKind::Job {
        spec.push(("restartPolicy", s("Never")));
    }
    let template = map([
        ("metadata", map([("labels", string_map(&labels)), ("annotations", string_map(&annotations))])),
        ("spec", map(spec)),
    ]);
    let meta = metadata(&w.name, Some(&w.namespace), &w.labels);
    let replicas = int(u64::from(w.replicas.unwrap_or(1)));
    let rollout = |kind| Some(Rollout { namespace: w.namespace.clone(), kind, name: w.name.clone() });
    match w.kind {
        WorkloadKind::Deployment => Objects {
            documents: vec![controller(
                "apps/v1",
                "Deployment",
                meta,
                [("replicas", replicas), ("selector", selector(&w.name)), ("template", template)],
            )],
            rollout: rollout("deployment"),
        },
        WorkloadKind::StatefulSet => {
            let service = map([
                ("apiVersion", s("v1")),
                ("kind", s("Service")),
                ("metadata", metadata(&w.name, Some(&w.namespace), &w.labels)),
                (
                    "spec",
                    map([("clusterIP", s("None")), ("selector", map([(WORKLOAD_LABEL, s(w.name.clone()))]))]),
                ),
            ]);
            let set = controller(
                "apps/v1",
                "StatefulSet",
                meta,
                [
                    ("replicas", replicas),
                    ("selector", selector(&w.name)),
                    ("serviceName", s(w.name.clone())),
                    ("template", template),
                ],
            );
            Objects { documents: vec![service, set], rollout: rollout("statefulset") }
        }
        WorkloadKind::DaemonSet => Objects {
            documents: vec![controller(
                "apps/v1",
                "DaemonSet",
                meta,
                [("selector", selector(&w.name)), ("template", template)],
            )],
            rollout: rollout("daemonset"),
        },
        WorkloadKind::Job => Objects {
            documents: vec![controller(
                "batch/v1",
                "Job",
                meta,
                [("backoffLimit", int(0)), ("completions", int(1)), ("template", template)],
            )],
            rollout: None,
        },
    }
}

fn controller<const N: usize>(api: &str, kind: &str, meta: Value, spec: [(&str, Value); N]) -> Value {
    map([("apiVersion", s(api)), ("kind", s(kind)), ("metadata", meta), ("spec", map(spec))])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ampfed_clustersim::fixture::ClusterFixture;

    use super::*;

    const FIXTURE: &str = r#"
name: t
region: us-east-1
nodes:
  - {name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 2, memory: 8Gi}
namespaces: [{name: batch}]
workloads:
  - namespace: batch
    name: report
    kind: Job
    nodes: [n1]
    start: "02:00"
    end: "04:30"
    containers:
      - {name: r, image: example/r:1, cpu_request: "1", memory_request: 1Gi, cpu_usage: {base: 1}, memory_usage: {base: 1Mi}}
  - namespace: batch
    name: web
    kind: Deployment
    replicas: 3
    labels: {app: web}
    containers:
      - {name: app, image: example/web:1, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
"#;

    fn fixture() -> ClusterFixture {
        ClusterFixture::from_yaml_str(FIXTURE, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn a_job_sleeps_for_its_window_and_is_pinned() {
        let c = fixture();
        let o = objects(&c.workloads[0]);
        assert_eq!(o.rollout, None);
        let job = &o.documents[0];
        let pod = &job["spec"]["template"];
        assert_eq!(pod["spec"]["containers"][0]["command"][1].as_str(), Some("9000"));
        assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"]["memory"].as_str(), Some("1Gi"));
        assert_eq!(pod["spec"]["restartPolicy"].as_str(), Some("Never"));
        assert_eq!(pod["metadata"]["annotations"]["ampfed/start"].as_str(), Some("2h00m00s"));
        let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0];
        assert_eq!(term["matchExpressions"][0]["key"].as_str(), Some("fixture-node.ampfed/n1"));
    }

    #[test]
    fn a_deployment_keeps_replicas_labels_and_omits_missing_requests() {
        let c = fixture();
        let o = objects(&c.workloads[1]);
        assert_eq!(o.rollout.unwrap().resource(), "deployment/web");
        let d = &o.documents[0];
        assert_eq!(d["spec"]["replicas"].as_u64(), Some(3));
        let pod = &d["spec"]["template"];
        assert_eq!(pod["metadata"]["labels"]["app"].as_str(), Some("web"));
        assert_eq!(pod["metadata"]["labels"]["ampfed/workload"].as_str(), Some("web"));
        assert_eq!(pod["metadata"]["annotations"]["images.ampfed/app"].as_str(), Some("example/web:1"));
        assert!(pod["spec"]["containers"][0].get("resources").is_none());
        assert!(pod["spec"].get("affinity").is_none());
        assert_eq!(pod["spec"]["containers"][0]["image"].as_str(), Some(versions::PAUSE_IMAGE));
    }
}
