//! Fixture workloads as Kubernetes objects. Each kind of the fixture format has its own:
//! Deployment → `apps/v1` Deployment, StatefulSet → `apps/v1` StatefulSet (with its
//! `volumeClaimTemplates`) plus the headless Service it names, DaemonSet → `apps/v1`
//! DaemonSet, Job → `batch/v1` Job, CronJob → `batch/v1` CronJob whose `jobTemplate` is the
//! Job mapping, Pod → a bare `v1` Pod. The `match` in [`objects`] lists every kind, so a new
//! one does not compile until it is mapped.
//!
//! Pods carry the fixture's labels and annotations; controllers select them by the fixture's
//! match labels plus [`WORKLOAD_LABEL`]. Containers keep their names, requests and limits
//! (`nvidia.com/gpu` as both); their images are replaced, since the fixtures' images are
//! examples: long-running pods run [`versions::PAUSE_IMAGE`], pods that end (Jobs, a
//! CronJob's Jobs, a bare Pod with `end`) run [`versions::BUSYBOX_IMAGE`] `sleep <seconds>`
//! for the fixture's run time. The fixture's image is kept in the annotation
//! `images.ampfed/<container>`. The usage profiles are not reproduced: on kind only requests
//! and limits count. A Job or a bare Pod starts when it is applied, not at its fixture offset,
//! which the annotation `ampfed/start` keeps.

use std::collections::BTreeMap;

use ampfed_clustersim::fixture::{ClusterFixture, Container, Workload, WorkloadKind};
use serde_yaml::Value;

use crate::config::{fixture_node_label, GPU_RESOURCE};
use crate::quantity;
use crate::services;
use crate::storage;
use crate::versions;
use crate::yaml::{int, map, metadata, s, seq, string_map, strings};

/// The selector label of every rendered workload: `ampfed/workload: <name>`.
pub const WORKLOAD_LABEL: &str = "ampfed/workload";

/// How long a Job without `end` runs: to the end of the simulated day.
const DAY_SECS: i64 = 24 * 3600;

/// How much longer than `job_duration` a CronJob's Job may take before it is stopped
/// (`activeDeadlineSeconds`): the time to pull the image and start the pod.
pub const JOB_START_GRACE_SECS: i64 = 120;

/// The time zone of CronJob schedules: the fixture's are in UTC.
const CRON_TIME_ZONE: &str = "Etc/UTC";

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

/// The objects of one workload, the rollout to wait for (none for a Job, a CronJob or a bare
/// Pod) and notes on what differs from the fixture.
#[derive(Debug, Clone)]
pub struct Objects {
    pub documents: Vec<Value>,
    pub rollout: Option<Rollout>,
    pub notes: Vec<String>,
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

/// A container's `resources` as the fixture gives them: CPU and memory requests and limits,
/// and its GPUs as both a request and a limit (Kubernetes wants them equal); `None` without
/// any.
pub(crate) fn container_resources(c: &Container) -> Option<Value> {
    let gpu = c.gpu_request.map(|g| (GPU_RESOURCE, s(g.to_string())));
    let mut requests = Vec::new();
    requests.extend(c.cpu_request.map(|q| ("cpu", s(quantity::cpu(q)))));
    requests.extend(c.memory_request.map(|q| ("memory", s(quantity::memory(q)))));
    requests.extend(gpu.clone());
    let mut limits = Vec::new();
    limits.extend(c.cpu_limit.map(|q| ("cpu", s(quantity::cpu(q)))));
    limits.extend(c.memory_limit.map(|q| ("memory", s(quantity::memory(q)))));
    limits.extend(gpu);
    let mut pairs = Vec::new();
    if !requests.is_empty() {
        pairs.push(("requests", map(requests)));
    }
    if !limits.is_empty() {
        pairs.push(("limits", map(limits)));
    }
    (!pairs.is_empty()).then(|| map(pairs))
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

/// `selector: {matchLabels: …}`: the fixture's match labels (`selector`, else `app`, else all
/// pod labels; empty for the stack's own components) and `ampfed/workload: <name>`, which
/// keeps two controllers from selecting each other's pods.
pub(crate) fn selector(name: &str, fixture: &BTreeMap<String, String>) -> Value {
    map([("matchLabels", string_map(&pod_labels(name, fixture)))])
}

/// `2h00m00s`: an offset as an annotation value (`02:00:00` unquoted is a base-60 integer to
/// YAML 1.1 readers).
fn offset_text(secs: i64) -> String {
    format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// How long a Job (or a bare Pod with `end`) runs, in seconds: `end - start`, or to the end
/// of the day.
fn job_seconds(w: &Workload) -> i64 {
    let start = w.start.map(|o| o.secs()).unwrap_or(0);
    let end = w.end.map(|o| o.secs()).unwrap_or(DAY_SECS.max(start + 60));
    (end - start).max(1)
}

/// What the containers of `w`'s pods do: run until stopped, or sleep for some seconds and end.
fn run_seconds(w: &Workload) -> Option<i64> {
    match w.kind {
        WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => None,
        WorkloadKind::Job => Some(job_seconds(w)),
        WorkloadKind::CronJob => Some(w.job_duration.map_or(DAY_SECS, |d| d.secs()).max(1)),
        WorkloadKind::Pod => w.end.is_some().then(|| job_seconds(w)),
    }
}

fn container(c: &Container, seconds: Option<i64>, mounts: &[Value]) -> Value {
    let mut pairs = vec![("name", s(c.name.clone()))];
    match seconds {
        Some(secs) => {
            pairs.push(("image", s(versions::BUSYBOX_IMAGE)));
            pairs.push(("command", strings(["sleep".to_owned(), secs.to_string()])));
        }
        None => pairs.push(("image", s(versions::PAUSE_IMAGE))),
    }
    if let Some(r) = container_resources(c) {
        pairs.push(("resources", r));
    }
    if !mounts.is_empty() {
        pairs.push(("volumeMounts", seq(mounts.iter().cloned())));
    }
    map(pairs)
}

/// The pod annotations of `w`: the fixture's, the fixture's images and, for pods that start
/// at an offset, `ampfed/start`.
fn pod_annotations(w: &Workload) -> BTreeMap<String, String> {
    let mut annotations = w.annotations.clone();
    for c in &w.containers {
        annotations.insert(format!("images.ampfed/{}", c.name), c.image.clone());
    }
    let timed = matches!(w.kind, WorkloadKind::Job | WorkloadKind::CronJob | WorkloadKind::Pod);
    if let (true, Some(start)) = (timed, w.start) {
        annotations.insert("ampfed/start".to_owned(), offset_text(start.secs()));
    }
    annotations
}

/// The pod `spec` of `w`.
fn pod_spec(w: &Workload) -> Value {
    let seconds = run_seconds(w);
    let (volumes, mounts) = storage::pod_volumes(w);
    let mut spec = vec![("containers", seq(w.containers.iter().map(|c| container(c, seconds, &mounts))))];
    if let Some(nodes) = &w.nodes {
        spec.push(("affinity", affinity(nodes)));
    }
    if seconds.is_some() {
        spec.push(("restartPolicy", s("Never")));
    }
    if !volumes.is_empty() {
        spec.push(("volumes", seq(volumes)));
    }
    map(spec)
}

/// The objects of fixture workload `w` of `cluster`.
pub fn objects(w: &Workload, cluster: &ClusterFixture) -> Objects {
    let labels = pod_labels(&w.name, &w.labels);
    let annotations = pod_annotations(w);
    let template = map([
        ("metadata", map([("labels", string_map(&labels)), ("annotations", string_map(&annotations))])),
        ("spec", pod_spec(w)),
    ]);
    let meta = metadata(&w.name, Some(&w.namespace), &w.labels, &BTreeMap::new());
    let replicas = int(u64::from(w.replicas.unwrap_or(1)));
    let selector = selector(&w.name, &w.match_labels());
    let mut notes = Vec::new();
    let rollout = |kind| Some(Rollout { namespace: w.namespace.clone(), kind, name: w.name.clone() });
    let (documents, rollout) = match w.kind {
        WorkloadKind::Deployment => (
            vec![controller(
                "apps/v1",
                "Deployment",
                meta,
                vec![("replicas", replicas), ("selector", selector), ("template", template)],
            )],
            rollout("deployment"),
        ),
        WorkloadKind::StatefulSet => {
            let mut documents = Vec::new();
            if services::declared(cluster, &w.namespace, &w.name) {
                notes.push(format!(
                    "{} (StatefulSet): its `serviceName` is the fixture's Service of the same name, rendered as the fixture has it rather than headless",
                    w.key()
                ));
            } else {
                documents.push(map([
                    ("apiVersion", s("v1")),
                    ("kind", s("Service")),
                    ("metadata", metadata(&w.name, Some(&w.namespace), &w.labels, &BTreeMap::new())),
                    (
                        "spec",
                        map([
                            ("clusterIP", s("None")),
                            ("selector", map([(WORKLOAD_LABEL, s(w.name.clone()))])),
                        ]),
                    ),
                ]));
            }
            let mut spec = vec![
                ("replicas", replicas),
                ("selector", selector),
                ("serviceName", s(w.name.clone())),
                ("template", template),
            ];
            if !w.volume_claim_templates.is_empty() {
                spec.push((
                    "volumeClaimTemplates",
                    seq(w.volume_claim_templates.iter().map(storage::template)),
                ));
            }
            documents.push(controller("apps/v1", "StatefulSet", meta, spec));
            (documents, rollout("statefulset"))
        }
        WorkloadKind::DaemonSet => (
            vec![controller(
                "apps/v1",
                "DaemonSet",
                meta,
                vec![("selector", selector), ("template", template)],
            )],
            rollout("daemonset"),
        ),
        WorkloadKind::Job => {
            (vec![controller("batch/v1", "Job", meta, job_spec(&replicas, template, None))], None)
        }
        WorkloadKind::CronJob => {
            let deadline = run_seconds(w).unwrap_or(DAY_SECS) + JOB_START_GRACE_SECS;
            let mut job_template = vec![("spec", map(job_spec(&replicas, template, Some(deadline))))];
            if !w.labels.is_empty() {
                job_template.push(("metadata", map([("labels", string_map(&w.labels))])));
            }
            let schedule = w.schedule.as_ref().map(ToString::to_string).unwrap_or_default();
            if w.start.is_some() || w.end.is_some() {
                notes.push(format!(
                    "{} (CronJob): runs on its schedule from when it is applied, not only between its fixture `start` and `end`",
                    w.key()
                ));
            }
            (
                vec![controller(
                    "batch/v1",
                    "CronJob",
                    meta,
                    vec![
                        ("schedule", s(schedule)),
                        ("timeZone", s(CRON_TIME_ZONE)),
                        ("jobTemplate", map(job_template)),
                    ],
                )],
                None,
            )
        }
        WorkloadKind::Pod => {
            let meta = metadata(&w.name, Some(&w.namespace), &labels, &annotations);
            (
                vec![map([
                    ("apiVersion", s("v1")),
                    ("kind", s("Pod")),
                    ("metadata", meta),
                    ("spec", pod_spec(w)),
                ])],
                None,
            )
        }
    };
    Objects { documents, rollout, notes }
}

/// A Job's `spec`: `replicas` pods at once, each to complete once, none retried; with a
/// deadline for a CronJob's Jobs.
fn job_spec(replicas: &Value, template: Value, deadline: Option<i64>) -> Vec<(&'static str, Value)> {
    let mut spec = vec![
        ("backoffLimit", int(0)),
        ("completions", replicas.clone()),
        ("parallelism", replicas.clone()),
        ("template", template),
    ];
    if let Some(secs) = deadline {
        spec.push(("activeDeadlineSeconds", int(secs.max(1).unsigned_abs())));
    }
    spec
}

fn controller(api: &str, kind: &str, meta: Value, spec: Vec<(&str, Value)>) -> Value {
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
  - {name: n1, instance_type: m5.large, zone: us-east-1a, cpu: 8, memory: 32Gi, gpus: 4}
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
  - namespace: batch
    name: backup
    kind: CronJob
    schedule: "*/15 2 * * *"
    job_duration: "00:20"
    replicas: 2
    labels: {app: backup}
    annotations: {owner: ops}
    containers:
      - {name: b, image: example/b:1, cpu_request: 500m, cpu_limit: "1", memory_limit: 1Gi, gpu_request: 1, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
  - namespace: batch
    name: shell
    kind: Pod
    start: "10:00"
    end: "12:00"
    labels: {run: shell}
    containers:
      - {name: sh, image: busybox, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
  - namespace: batch
    name: idle
    kind: Pod
    containers:
      - {name: sh, image: busybox, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
  - namespace: batch
    name: cache
    kind: StatefulSet
    replicas: 2
    labels: {app: cache, tier: db}
    selector: {tier: db}
    claims: [shared]
    volume_claim_templates:
      - {name: data, storage_class: gp3, size: 10Gi}
    containers:
      - {name: c, image: example/c:1, cpu_usage: {base: 1m}, memory_usage: {base: 1Mi}}
claims:
  - {namespace: batch, name: shared, storage_class: gp2, size: 5Gi}
services:
  - {namespace: batch, name: cache, selector: {app: cache}}
"#;

    fn fixture() -> ClusterFixture {
        ClusterFixture::from_yaml_str(FIXTURE, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn a_job_sleeps_for_its_window_and_is_pinned() {
        let c = fixture();
        let o = objects(&c.workloads[0], &c);
        assert_eq!(o.rollout, None);
        let job = &o.documents[0];
        let pod = &job["spec"]["template"];
        assert_eq!(pod["spec"]["containers"][0]["command"][1].as_str(), Some("9000"));
        assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"]["memory"].as_str(), Some("1Gi"));
        assert_eq!(pod["spec"]["restartPolicy"].as_str(), Some("Never"));
        assert_eq!(pod["metadata"]["annotations"]["ampfed/start"].as_str(), Some("2h00m00s"));
        assert_eq!(job["spec"]["parallelism"].as_u64(), Some(1));
        assert_eq!(job["spec"]["completions"].as_u64(), Some(1));
        assert!(job["spec"].get("activeDeadlineSeconds").is_none());
        let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0];
        assert_eq!(term["matchExpressions"][0]["key"].as_str(), Some("fixture-node.ampfed/n1"));
    }

    #[test]
    fn a_deployment_keeps_replicas_labels_and_omits_missing_requests() {
        let c = fixture();
        let o = objects(&c.workloads[1], &c);
        assert_eq!(o.rollout.unwrap().resource(), "deployment/web");
        let d = &o.documents[0];
        assert_eq!(d["spec"]["replicas"].as_u64(), Some(3));
        let selected = &d["spec"]["selector"]["matchLabels"];
        assert_eq!(selected["app"].as_str(), Some("web"));
        assert_eq!(selected["ampfed/workload"].as_str(), Some("web"));
        let pod = &d["spec"]["template"];
        assert_eq!(pod["metadata"]["labels"]["app"].as_str(), Some("web"));
        assert_eq!(pod["metadata"]["labels"]["ampfed/workload"].as_str(), Some("web"));
        assert_eq!(pod["metadata"]["annotations"]["images.ampfed/app"].as_str(), Some("example/web:1"));
        assert!(pod["spec"]["containers"][0].get("resources").is_none());
        assert!(pod["spec"].get("affinity").is_none());
        assert_eq!(pod["spec"]["containers"][0]["image"].as_str(), Some(versions::PAUSE_IMAGE));
    }

    #[test]
    fn a_cronjob_keeps_its_schedule_and_runs_its_jobs_for_their_duration() {
        let c = fixture();
        let o = objects(&c.workloads[2], &c);
        assert_eq!(o.rollout, None);
        let cron = &o.documents[0];
        assert_eq!(cron["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(cron["kind"].as_str(), Some("CronJob"));
        assert_eq!(cron["spec"]["schedule"].as_str(), Some("*/15 2 * * *"));
        assert_eq!(cron["spec"]["timeZone"].as_str(), Some("Etc/UTC"));
        let job = &cron["spec"]["jobTemplate"];
        assert_eq!(job["metadata"]["labels"]["app"].as_str(), Some("backup"));
        assert_eq!(job["spec"]["parallelism"].as_u64(), Some(2));
        assert_eq!(job["spec"]["completions"].as_u64(), Some(2));
        assert_eq!(job["spec"]["activeDeadlineSeconds"].as_i64(), Some(1200 + JOB_START_GRACE_SECS));
        let pod = &job["spec"]["template"];
        assert_eq!(pod["metadata"]["annotations"]["owner"].as_str(), Some("ops"));
        assert_eq!(pod["spec"]["restartPolicy"].as_str(), Some("Never"));
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"].as_str(), Some(versions::BUSYBOX_IMAGE));
        assert_eq!(container["command"][1].as_str(), Some("1200"));
        let r = &container["resources"];
        assert_eq!(r["requests"]["cpu"].as_str(), Some("500m"));
        assert_eq!(r["requests"]["nvidia.com/gpu"].as_str(), Some("1"));
        assert_eq!(r["limits"]["nvidia.com/gpu"].as_str(), Some("1"));
        assert_eq!(r["limits"]["cpu"].as_str(), Some("1"));
        assert_eq!(r["limits"]["memory"].as_str(), Some("1Gi"));
        assert!(r["requests"].get("memory").is_none());
    }

    #[test]
    fn a_bare_pod_is_a_pod_that_ends_when_the_fixture_s_does() {
        let c = fixture();
        let o = objects(&c.workloads[3], &c);
        assert_eq!(o.rollout, None);
        let pod = &o.documents[0];
        assert_eq!((pod["apiVersion"].as_str(), pod["kind"].as_str()), (Some("v1"), Some("Pod")));
        assert_eq!(pod["metadata"]["labels"]["run"].as_str(), Some("shell"));
        assert_eq!(pod["metadata"]["labels"]["ampfed/workload"].as_str(), Some("shell"));
        assert_eq!(pod["metadata"]["annotations"]["ampfed/start"].as_str(), Some("10h00m00s"));
        assert_eq!(pod["spec"]["containers"][0]["command"][1].as_str(), Some("7200"));
        assert_eq!(pod["spec"]["restartPolicy"].as_str(), Some("Never"));
        // Without `end` it runs until deleted.
        let idle = &objects(&c.workloads[4], &c).documents[0];
        assert_eq!(idle["spec"]["containers"][0]["image"].as_str(), Some(versions::PAUSE_IMAGE));
        assert!(idle["spec"].get("restartPolicy").is_none());
    }

    #[test]
    fn a_statefulset_mounts_its_claims_and_templates_and_reuses_the_fixture_s_service() {
        let c = fixture();
        let o = objects(&c.workloads[5], &c);
        assert_eq!(o.documents.len(), 1, "no headless Service next to the fixture's own");
        assert!(o.notes[0].contains("`serviceName` is the fixture's Service"), "{:?}", o.notes);
        let set = &o.documents[0];
        assert_eq!(set["spec"]["serviceName"].as_str(), Some("cache"));
        let selected = set["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
        assert_eq!(selected.len(), 2, "the fixture's selector and the workload label: {selected:?}");
        assert_eq!(set["spec"]["selector"]["matchLabels"]["tier"].as_str(), Some("db"));
        let template = &set["spec"]["volumeClaimTemplates"][0];
        assert_eq!(template["metadata"]["name"].as_str(), Some("data"));
        assert_eq!(template["spec"]["storageClassName"].as_str(), Some("standard"));
        assert_eq!(template["metadata"]["annotations"]["ampfed/storage-class"].as_str(), Some("gp3"));
        let pod = &set["spec"]["template"]["spec"];
        assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str(), Some("shared"));
        let mounts: Vec<&str> = pod["containers"][0]["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(mounts, ["shared", "data"]);
    }
}
