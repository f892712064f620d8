//! What Kubecost's AMP guide runs on every cluster, in the namespace `kubecost`:
//!
//! - **kube-state-metrics** (Deployment, Service, ServiceAccount, read-only ClusterRole and
//!   its binding), exporting the labels of pods, namespaces, nodes and controllers;
//! - **prometheus-server**: Prometheus in agent mode, scraping cAdvisor (the kubelets),
//!   kube-state-metrics and the cost model, and remote-writing to AMP with a `sigv4:` block
//!   (Kubecost's `global.amp.sigv4`) and `external_labels: {<cluster label>: <cluster>}`
//!   (the label is `cluster_id` unless the options name another); its AWS credentials come
//!   from the Secret [`SECRET`] as environment variables;
//! - **cost-analyzer**: Kubecost's cost model, which queries AMP at
//!   `http://localhost:8005/workspaces/<id>` (`global.amp.prometheusServerEndpoint`), and
//!   awslabs' `aws-sigv4-proxy` sidecar listening on port 8005, which signs those queries
//!   with the same Secret's credentials. A fixture workload `kubecost/cost-analyzer` (the
//!   simulator's view of the same pod) gives it its labels, annotations, replicas, claims and
//!   the cost-model container's requests and limits.
//!
//! The ServiceAccounts keep the guide's names (`kubecost-prometheus-server-amp`,
//! `kubecost-cost-analyzer-amp`); on EKS they would carry the IRSA role annotation instead of
//! the Secret.

use std::collections::BTreeMap;

use ampfed_clustersim::fixture::{ClusterFixture, Workload};
use serde_yaml::Value;

use crate::storage;
use crate::target::AmpTarget;
use crate::versions;
use crate::workloads::{container_resources, pod_labels, requests, selector, Rollout};
use crate::yaml::{int, map, s, seq, string_map, strings, to_text};

/// `metadata` with labels and no annotations.
fn metadata(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    crate::yaml::metadata(name, namespace, labels, &BTreeMap::new())
}

/// The namespace of the stack.
pub const NAMESPACE: &str = "kubecost";
/// The Secret with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
/// `AWS_SESSION_TOKEN`, created by `cargo xtask kind up` from its `--credentials` file.
pub const SECRET: &str = "amp-credentials";
/// The cost-analyzer Deployment (and the fixture workload it stands for).
pub const COST_ANALYZER: &str = "cost-analyzer";
pub const KUBE_STATE_METRICS: &str = "kube-state-metrics";
pub const PROMETHEUS: &str = "prometheus-server";
/// The external label naming the cluster unless the options name another: Kubecost's default
/// (`cluster_id`).
pub const DEFAULT_CLUSTER_LABEL: &str = "cluster_id";
/// The sidecar's port, as Kubecost's chart has it.
pub const PROXY_PORT: u64 = 8005;
/// The cost model's API and metrics port.
const COST_MODEL_PORT: u64 = 9003;
const KSM_PORT: u64 = 8080;
const KSM_TELEMETRY_PORT: u64 = 8081;

/// The stack's objects, its rollouts and notes on what was carried over from the fixture.
#[derive(Debug, Clone)]
pub struct Stack {
    pub documents: Vec<Value>,
    pub rollouts: Vec<Rollout>,
    pub notes: Vec<String>,
}

/// Whether `w` is the fixture's view of the stack's cost-analyzer.
pub fn is_cost_analyzer(w: &Workload) -> bool {
    w.namespace == NAMESPACE && w.name == COST_ANALYZER
}

/// Whether `w` would collide with one of the stack's own controllers.
pub fn collides(w: &Workload) -> bool {
    w.namespace == NAMESPACE && (w.name == KUBE_STATE_METRICS || w.name == PROMETHEUS)
}

/// Whether a fixture Service `namespace/name` would collide with one of the stack's Services.
pub fn service_collides(namespace: &str, name: &str) -> bool {
    namespace == NAMESPACE && (name == KUBE_STATE_METRICS || name == COST_ANALYZER)
}

/// The stack of `cluster`, writing to and querying `amp`, naming the cluster by the external
/// label `cluster_label`.
pub fn stack(cluster: &ClusterFixture, amp: &AmpTarget, cluster_label: &str) -> Stack {
    let mut documents = Vec::new();
    documents.extend(kube_state_metrics());
    documents.extend(prometheus(cluster, amp, cluster_label));
    let fixture = cluster.workloads.iter().find(|w| is_cost_analyzer(w));
    let (cost_analyzer, notes) = cost_analyzer(cluster, amp, cluster_label, fixture);
    documents.extend(cost_analyzer);
    let rollouts = [KUBE_STATE_METRICS, PROMETHEUS, COST_ANALYZER]
        .into_iter()
        .map(|name| Rollout { namespace: NAMESPACE.to_owned(), kind: "deployment", name: name.to_owned() })
        .collect();
    Stack { documents, rollouts, notes }
}

fn component_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), name.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), "kubecost".to_owned()),
    ])
}

fn object(api: &str, kind: &str, meta: Value, body: Vec<(&str, Value)>) -> Value {
    let mut pairs = vec![("apiVersion", s(api)), ("kind", s(kind)), ("metadata", meta)];
    pairs.extend(body);
    map(pairs)
}

fn service_account(name: &str, component: &str) -> Value {
    object("v1", "ServiceAccount", metadata(name, Some(NAMESPACE), &component_labels(component)), vec![])
}

/// A rule: `verbs` on `resources` of API group `group`.
fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> Value {
    map([("apiGroups", strings([group])), ("resources", strings(resources)), ("verbs", strings(verbs))])
}

/// A ClusterRole `kubecost-<component>` with `rules`, and its binding to `account`.
fn cluster_role(component: &str, account: &str, rules: Vec<Value>) -> [Value; 2] {
    let name = format!("kubecost-{component}");
    let labels = component_labels(component);
    let role = object(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        metadata(&name, None, &labels),
        vec![("rules", seq(rules))],
    );
    let binding = object(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        metadata(&name, None, &labels),
        vec![
            (
                "roleRef",
                map([
                    ("apiGroup", s("rbac.authorization.k8s.io")),
                    ("kind", s("ClusterRole")),
                    ("name", s(&*name)),
                ]),
            ),
            (
                "subjects",
                seq([map([
                    ("kind", s("ServiceAccount")),
                    ("name", s(account)),
                    ("namespace", s(NAMESPACE)),
                ])]),
            ),
        ],
    );
    [role, binding]
}

fn service(name: &str, port_name: &str, port: u64) -> Value {
    object(
        "v1",
        "Service",
        metadata(name, Some(NAMESPACE), &component_labels(name)),
        vec![(
            "spec",
            map([
                (
                    "ports",
                    seq([map([
                        ("name", s(port_name)),
                        ("port", int(port)),
                        ("protocol", s("TCP")),
                        ("targetPort", int(port)),
                    ])]),
                ),
                ("selector", map([(crate::workloads::WORKLOAD_LABEL, s(name))])),
            ]),
        )],
    )
}

fn port(name: &str, number: u64) -> Value {
    map([("containerPort", int(number)), ("name", s(name)), ("protocol", s("TCP"))])
}

fn env(pairs: &[(&str, String)]) -> Value {
    seq(pairs.iter().map(|(k, v)| map([("name", s(*k)), ("value", s(v.clone()))])))
}

fn credentials_from_secret() -> Value {
    seq([map([("secretRef", map([("name", s(SECRET))]))])])
}

/// What a Deployment of the stack takes from the fixture: its pods' labels (besides the
/// selector label) and annotations, and the labels it selects its pods by.
#[derive(Default)]
struct PodMeta {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    match_labels: BTreeMap<String, String>,
}

/// A Deployment of the stack.
fn deployment(
    name: &str,
    meta: &PodMeta,
    replicas: u64,
    pod: Vec<(&str, Value)>,
    extra: Vec<(&str, Value)>,
) -> Value {
    let mut pod_meta = vec![("labels", string_map(&pod_labels(name, &meta.labels)))];
    if !meta.annotations.is_empty() {
        pod_meta.push(("annotations", string_map(&meta.annotations)));
    }
    let template = map([("metadata", map(pod_meta)), ("spec", map(pod))]);
    let labels = &meta.labels;
    let mut spec = vec![
        ("replicas", int(replicas)),
        ("selector", selector(name, &meta.match_labels)),
        ("template", template),
    ];
    spec.extend(extra);
    object("apps/v1", "Deployment", metadata(name, Some(NAMESPACE), labels), vec![("spec", map(spec))])
}

/// What kube-state-metrics lists, and what it is allowed to list and watch.
const KSM_RESOURCES: &[(&str, &[&str])] = &[
    ("", &["namespaces", "nodes", "persistentvolumeclaims", "persistentvolumes", "pods", "services"]),
    ("apps", &["daemonsets", "deployments", "replicasets", "statefulsets"]),
    ("batch", &["cronjobs", "jobs"]),
];

fn kube_state_metrics() -> Vec<Value> {
    let name = KUBE_STATE_METRICS;
    let rules =
        KSM_RESOURCES.iter().map(|(group, resources)| rule(group, resources, &["list", "watch"])).collect();
    let mut resources: Vec<&str> = KSM_RESOURCES.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    resources.sort_unstable();
    let container = map([
        ("name", s(name)),
        ("image", s(versions::KUBE_STATE_METRICS_IMAGE)),
        (
            "args",
            strings([
                format!("--port={KSM_PORT}"),
                format!("--telemetry-port={KSM_TELEMETRY_PORT}"),
                format!("--resources={}", resources.join(",")),
                // Kubecost allocates by these labels and annotations (kube_pod_labels,
                // kube_namespace_annotations, …); kube-state-metrics 2 exports none unless allowed.
                "--metric-labels-allowlist=pods=[*],namespaces=[*],nodes=[*],deployments=[*],statefulsets=[*],daemonsets=[*],jobs=[*],cronjobs=[*]"
                    .to_owned(),
                "--metric-annotations-allowlist=pods=[*],namespaces=[*]".to_owned(),
            ]),
        ),
        ("ports", seq([port("http-metrics", KSM_PORT), port("telemetry", KSM_TELEMETRY_PORT)])),
        (
            "readinessProbe",
            map([("httpGet", map([("path", s("/healthz")), ("port", s("http-metrics"))]))]),
        ),
        ("resources", requests(Some("10m".into()), Some("64Mi".into())).unwrap_or_default()),
    ]);
    let [role, binding] = cluster_role(name, name, rules);
    vec![
        service_account(name, name),
        role,
        binding,
        service(name, "http-metrics", KSM_PORT),
        deployment(
            name,
            &PodMeta { labels: component_labels(name), ..PodMeta::default() },
            1,
            vec![("serviceAccountName", s(name)), ("containers", seq([container]))],
            vec![],
        ),
    ]
}

/// The agent's `prometheus.yml`: scrape jobs, the cluster label `cluster_label`, and signed
/// remote write.
pub fn prometheus_config(cluster: &ClusterFixture, amp: &AmpTarget, cluster_label: &str) -> Value {
    let token = "/var/run/secrets/kubernetes.io/serviceaccount";
    let static_job = |job: &str, target: String| {
        map([
            ("job_name", s(job)),
            ("honor_labels", Value::Bool(true)),
            ("static_configs", seq([map([("targets", strings([target]))])])),
        ])
    };
    map([
        (
            "global",
            map([
                ("scrape_interval", s("1m")),
                ("external_labels", map([(cluster_label, s(cluster.name.clone()))])),
            ]),
        ),
        (
            "scrape_configs",
            seq([
                map([
                    ("job_name", s("kubernetes-nodes-cadvisor")),
                    ("kubernetes_sd_configs", seq([map([("role", s("node"))])])),
                    ("scheme", s("https")),
                    ("metrics_path", s("/metrics/cadvisor")),
                    ("authorization", map([("credentials_file", s(format!("{token}/token")))])),
                    // kind's kubelets serve self-signed certificates.
                    (
                        "tls_config",
                        map([
                            ("ca_file", s(format!("{token}/ca.crt"))),
                            ("insecure_skip_verify", Value::Bool(true)),
                        ]),
                    ),
                ]),
                static_job("kube-state-metrics", format!("{KUBE_STATE_METRICS}.{NAMESPACE}.svc:{KSM_PORT}")),
                static_job("kubecost", format!("{COST_ANALYZER}.{NAMESPACE}.svc:{COST_MODEL_PORT}")),
            ]),
        ),
        (
            "remote_write",
            seq([map([
                ("url", s(amp.remote_write_url())),
                // Region only: the keys come from the environment (the Secret), as IRSA's
                // would on EKS.
                ("sigv4", map([("region", s(cluster.region.clone()))])),
            ])]),
        ),
    ])
}

fn prometheus(cluster: &ClusterFixture, amp: &AmpTarget, cluster_label: &str) -> Vec<Value> {
    let name = PROMETHEUS;
    let account = "kubecost-prometheus-server-amp";
    let rules = vec![
        rule("", &["endpoints", "nodes", "nodes/metrics", "pods", "services"], &["get", "list", "watch"]),
        map([("nonResourceURLs", strings(["/metrics", "/metrics/cadvisor"])), ("verbs", strings(["get"]))]),
    ];
    let config = object(
        "v1",
        "ConfigMap",
        metadata(name, Some(NAMESPACE), &component_labels(name)),
        vec![(
            "data",
            map([("prometheus.yml", s(to_text(&prometheus_config(cluster, amp, cluster_label))))]),
        )],
    );
    let container = map([
        ("name", s(name)),
        ("image", s(versions::PROMETHEUS_IMAGE)),
        (
            "args",
            strings([
                "--enable-feature=agent",
                "--config.file=/etc/config/prometheus.yml",
                "--storage.agent.path=/data",
                // Nothing connects to the agent; its API stays inside the pod.
                "--web.listen-address=127.0.0.1:9090",
            ]),
        ),
        ("envFrom", credentials_from_secret()),
        (
            "readinessProbe",
            map([(
                "exec",
                map([(
                    "command",
                    strings(["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready"]),
                )]),
            )]),
        ),
        ("resources", requests(Some("100m".into()), Some("256Mi".into())).unwrap_or_default()),
        (
            "volumeMounts",
            seq([
                map([
                    ("mountPath", s("/etc/config")),
                    ("name", s("config")),
                    ("readOnly", Value::Bool(true)),
                ]),
                map([("mountPath", s("/data")), ("name", s("data"))]),
            ]),
        ),
    ]);
    let volumes = seq([
        map([("configMap", map([("name", s(name))])), ("name", s("config"))]),
        map([("emptyDir", map::<&str>([])), ("name", s("data"))]),
    ]);
    let [role, binding] = cluster_role(name, account, rules);
    vec![
        service_account(account, name),
        role,
        binding,
        config,
        deployment(
            name,
            &PodMeta { labels: component_labels(name), ..PodMeta::default() },
            1,
            vec![("serviceAccountName", s(account)), ("containers", seq([container])), ("volumes", volumes)],
            vec![("strategy", map([("type", s("Recreate"))]))],
        ),
    ]
}

fn cost_analyzer(
    cluster: &ClusterFixture,
    amp: &AmpTarget,
    cluster_label: &str,
    fixture: Option<&Workload>,
) -> (Vec<Value>, Vec<String>) {
    let name = COST_ANALYZER;
    let account = "kubecost-cost-analyzer-amp";
    let mut notes = Vec::new();
    let mut meta = PodMeta { labels: component_labels(name), ..PodMeta::default() };
    let mut replicas = 1;
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    // Kubecost's chart requests 200m CPU and 55Mi for the cost model.
    let mut model_requests = requests(Some("200m".into()), Some("55Mi".into()));
    match fixture {
        Some(w) => {
            meta.labels.extend(w.labels.clone());
            meta.annotations = w.annotations.clone();
            meta.match_labels = w.match_labels();
            replicas = u64::from(w.replicas.unwrap_or(1));
            (volumes, mounts) = storage::pod_volumes(w);
            let model = w.containers.iter().find(|c| c.name == "cost-model").or(w.containers.first());
            if let Some(c) = model {
                model_requests = container_resources(c);
            }
            for c in &w.containers {
                if Some(c) != model {
                    notes.push(format!(
                        "{NAMESPACE}/{name}: the fixture's container `{}` is not rendered; the pod runs the cost model and the SigV4 proxy",
                        c.name
                    ));
                }
            }
            notes.push(format!(
                "{NAMESPACE}/{name}: rendered as Kubecost's cost-analyzer (cost model + SigV4 proxy sidecar) with the fixture's labels, annotations, replicas, claims and cost-model resources"
            ));
        }
        None => notes.push(format!(
            "{NAMESPACE}/{name}: the fixture has no such workload; rendered with Kubecost's default requests"
        )),
    }
    let mut model = vec![
        ("name", s("cost-model")),
        ("image", s(versions::COST_MODEL_IMAGE)),
        (
            "env",
            env(&[
                ("CLUSTER_ID", cluster.name.clone()),
                ("PROMETHEUS_SERVER_ENDPOINT", amp.query_endpoint_via_sidecar()),
                ("PROM_CLUSTER_ID_LABEL", cluster_label.to_owned()),
                ("CURRENT_CLUSTER_ID_FILTER_ENABLED", "true".to_owned()),
            ]),
        ),
        ("ports", seq([port("tcp-model", COST_MODEL_PORT)])),
    ];
    if let Some(r) = model_requests {
        model.push(("resources", r));
    }
    if !mounts.is_empty() {
        model.push(("volumeMounts", seq(mounts)));
    }
    let proxy = map([
        ("name", s("sigv4-proxy")),
        ("image", s(versions::SIGV4_PROXY_IMAGE)),
        (
            "args",
            strings([
                "--name".to_owned(),
                "aps".to_owned(),
                "--region".to_owned(),
                cluster.region.clone(),
                "--host".to_owned(),
                amp.authority().to_owned(),
                "--port".to_owned(),
                format!(":{PROXY_PORT}"),
                "--upstream-url-scheme".to_owned(),
                amp.scheme().to_owned(),
            ]),
        ),
        ("envFrom", credentials_from_secret()),
        ("ports", seq([port("sigv4-proxy", PROXY_PORT)])),
    ]);
    let rules = vec![
        rule(
            "",
            &[
                "configmaps",
                "namespaces",
                "nodes",
                "persistentvolumeclaims",
                "persistentvolumes",
                "pods",
                "services",
            ],
            &["get", "list", "watch"],
        ),
        rule(
            "apps",
            &["daemonsets", "deployments", "replicasets", "statefulsets"],
            &["get", "list", "watch"],
        ),
        rule("batch", &["cronjobs", "jobs"], &["get", "list", "watch"]),
        rule("storage.k8s.io", &["storageclasses"], &["get", "list", "watch"]),
    ];
    let [role, binding] = cluster_role(name, account, rules);
    let mut pod = vec![("serviceAccountName", s(account)), ("containers", seq([map(model), proxy]))];
    if !volumes.is_empty() {
        pod.push(("volumes", seq(volumes)));
    }
    let docs = vec![
        service_account(account, name),
        role,
        binding,
        service(name, "tcp-model", COST_MODEL_PORT),
        deployment(name, &meta, replicas, pod, vec![]),
    ];
    (docs, notes)
}
