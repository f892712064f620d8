//! Every image and tool version the kind provider pins, in one place (`docs/kind.md` lists
//! them with the reasons).

/// The kind release the configs are written for (`kind.x-k8s.io/v1alpha4`, node `labels`).
pub const KIND: &str = "v0.24.0";
/// The node image of every kind node: the Kubernetes release kind v0.24.0 defaults to.
pub const NODE_IMAGE: &str = "kindest/node:v1.31.0";
/// The Kubernetes version the manifests are validated against (the node image's).
pub const KUBERNETES: &str = "1.31.0";
/// The container of every long-running fixture workload: it sleeps forever and uses
/// next to nothing, so only the fixture's requests count.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.9";
/// The container of fixture Jobs, which must end: `sleep <seconds>`, then exit 0.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.36.1";
/// kube-state-metrics, from the upstream registry.
pub const KUBE_STATE_METRICS_IMAGE: &str = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0";
/// Prometheus: agent mode needs 2.32 or later, `remote_write.sigv4` 2.26 or later; 2.53 is
/// the long-term-support line.
pub const PROMETHEUS_IMAGE: &str = "docker.io/prom/prometheus:v2.53.2";
/// awslabs' SigV4 proxy, the sidecar Kubecost's chart runs next to the cost model.
pub const SIGV4_PROXY_IMAGE: &str = "public.ecr.aws/aws-observability/aws-sigv4-proxy:1.8";
/// Kubecost's cost model, the version the fixtures name.
pub const COST_MODEL_IMAGE: &str = "gcr.io/kubecost1/cost-model:prod-1.108.1";
