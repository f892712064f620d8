//! Snapshots of what the kind provider renders for the repository's cluster fixtures: the
//! kind config, the namespaces and the workloads with the Kubecost stack, per cluster. The
//! output has sorted keys and no timestamps, so the same fixtures give the same bytes.

use std::path::Path;

use ampfed_clustersim::ClusterFixture;
use ampfed_kind::{render, scale, AmpTarget, Options, RenderedCluster};

/// The AMP endpoint as Docker Desktop's kind nodes would reach the host.
const AMP_URL: &str = "http://host.docker.internal:9095";
const WORKSPACE: &str = "ws-ampfed";

fn fixtures() -> Vec<ClusterFixture> {
    ampfed_clustersim::load_clusters_dir(&ampfed_common::paths::fixtures_dir().join("clusters")).unwrap()
}

fn options() -> Options {
    Options::new(AmpTarget::new(AMP_URL, WORKSPACE).unwrap())
}

fn rendered(name: &str) -> RenderedCluster {
    let cluster = fixtures().into_iter().find(|c| c.name == name).unwrap();
    render(&cluster, &options()).unwrap()
}

#[test]
fn cluster_a() {
    let r = rendered("cluster-a");
    insta::assert_snapshot!("cluster_a_kind_config", r.kind_config);
    insta::assert_snapshot!("cluster_a_namespaces", r.namespaces);
    insta::assert_snapshot!("cluster_a_workloads", r.workloads);
}

#[test]
fn cluster_b() {
    let r = rendered("cluster-b");
    insta::assert_snapshot!("cluster_b_kind_config", r.kind_config);
    insta::assert_snapshot!("cluster_b_namespaces", r.namespaces);
    insta::assert_snapshot!("cluster_b_workloads", r.workloads);
}

/// Every feature of the fixture format: node groups, spot and GPU nodes, nodes that join and
/// leave, annotations, limits, claims, claim templates, services, a CronJob, a bare Pod and
/// timed events (in the header, as what to run by hand).
#[test]
fn cluster_c() {
    let r = rendered("cluster-c");
    insta::assert_snapshot!("cluster_c_kind_config", r.kind_config);
    insta::assert_snapshot!("cluster_c_namespaces", r.namespaces);
    insta::assert_snapshot!("cluster_c_workloads", r.workloads);
}

#[test]
fn rendering_is_repeatable() {
    for c in fixtures() {
        let (a, b) = (render(&c, &options()).unwrap(), render(&c, &options()).unwrap());
        assert_eq!((a.kind_config, a.namespaces, a.workloads), (b.kind_config, b.namespaces, b.workloads));
    }
}

#[test]
fn rollouts_cover_every_long_running_controller_in_apply_order() {
    let r = rendered("cluster-a");
    let waited: Vec<String> =
        r.rollouts.iter().map(|r| format!("{}/{}", r.namespace, r.resource())).collect();
    assert_eq!(
        waited,
        [
            "kube-system/daemonset/aws-node",
            "shop/deployment/frontend",
            "shop/deployment/checkout",
            "shop/statefulset/postgres",
            "kubecost/deployment/kube-state-metrics",
            "kubecost/deployment/prometheus-server",
            "kubecost/deployment/cost-analyzer",
        ]
    );
}

#[test]
fn every_stamped_cluster_renders_with_at_most_three_workers() {
    let stamped = scale(&fixtures(), Some(12));
    assert_eq!(stamped.len(), 12);
    for c in &stamped {
        let r = render(c, &options()).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&r.kind_config).unwrap();
        let nodes = config["nodes"].as_sequence().unwrap();
        assert!((2..=4).contains(&nodes.len()), "{}: {} kind nodes", c.name, nodes.len());
        assert_eq!(config["name"].as_str(), Some(c.name.as_str()));
        // Every fixture node is marked on exactly one worker.
        for n in &c.nodes {
            let key = format!("fixture-node.ampfed/{}", n.name);
            let marked = nodes.iter().filter(|k| k["labels"].get(&key).is_some()).count();
            assert_eq!(marked, 1, "{}: node {} is on {marked} workers", c.name, n.name);
        }
    }
}

#[test]
fn a_workload_named_like_a_stack_component_is_refused() {
    let text = std::fs::read_to_string(ampfed_common::paths::fixtures_dir().join("clusters/cluster-b.yaml"))
        .unwrap()
        .replace("name: analytics\n    labels: {team: data}", "name: kubecost")
        .replace(
            "namespace: analytics\n    name: etl-worker",
            "namespace: kubecost\n    name: prometheus-server",
        )
        .replace("namespace: analytics", "namespace: kubecost");
    let cluster = ClusterFixture::from_yaml_str(&text, Path::new("cluster-b.yaml")).unwrap();
    let err = render(&cluster, &options()).unwrap_err().to_string();
    assert!(err.contains("workload `kubecost/prometheus-server` has the name of a component"), "{err}");
}

#[test]
fn a_service_named_like_a_stack_service_is_refused() {
    let text = std::fs::read_to_string(ampfed_common::paths::fixtures_dir().join("clusters/cluster-c.yaml"))
        .unwrap()
        .replace(
            "{namespace: web, name: redis, selector: {app: redis}}",
            "{namespace: kubecost, name: kube-state-metrics, selector: {}}",
        );
    let cluster = ClusterFixture::from_yaml_str(&text, Path::new("cluster-c.yaml")).unwrap();
    let err = render(&cluster, &options()).unwrap_err().to_string();
    assert!(err.contains("service `kubecost/kube-state-metrics` has the name of a Service"), "{err}");
}

#[test]
fn the_gpu_worker_of_cluster_c_is_patched() {
    let r = rendered("cluster-c");
    let gpus: Vec<(&str, u32)> = r.gpu_workers.iter().map(|g| (g.node.as_str(), g.gpus)).collect();
    assert_eq!(gpus, [("cluster-c-worker2", 1)]);
    assert!(rendered("cluster-a").gpu_workers.is_empty());
}
