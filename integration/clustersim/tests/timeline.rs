//! The timeline features of the fixture format on `fixtures/clusters/cluster-c.yaml`: owner
//! chains, scaling, rollouts, evictions, nodes joining and leaving, CronJobs, a bare pod,
//! claims, spot and GPU prices, OOM restarts, label styles and multi-day windows. Expected
//! values are worked out by hand from the fixture text (times are offsets from midnight UTC
//! of 2026-01-01, one sample a minute).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ampfed_clustersim::{generate, load_cluster, load_prices, LabelStyle, SimConfig, Simulation};
use ampfed_prom::remote_write::TimeSeries;

const START_MS: i64 = 1_767_225_600_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn simulate_with(cfg: &SimConfig) -> Simulation {
    let c = load_cluster(&fixtures().join("clusters/cluster-c.yaml")).expect("cluster-c loads");
    let p = load_prices(&fixtures().join("prices/aws-us-east-1.yaml")).expect("prices load");
    generate(&c, &p, cfg).expect("generates")
}

fn sim() -> Simulation {
    simulate_with(&SimConfig::default())
}

fn with<'a>(sim: &'a Simulation, metric: &str, want: &[(&str, &str)]) -> Vec<&'a TimeSeries> {
    sim.series_named(metric).filter(|ts| want.iter().all(|(k, v)| ts.label(k) == Some(v))).collect()
}

fn at(ts: &TimeSeries, ms: i64) -> Option<f64> {
    ts.samples.iter().find(|s| s.timestamp == ms).map(|s| s.value)
}

/// Storefront pods (by `kube_pod_owner`) with a sample at `ms`.
fn storefront_at(sim: &Simulation, ms: i64) -> BTreeSet<String> {
    with(sim, "kube_pod_owner", &[("namespace", "web"), ("owner_kind", "ReplicaSet")])
        .into_iter()
        .filter(|ts| ts.label("pod").is_some_and(|p| p.starts_with("storefront-")) && at(ts, ms).is_some())
        .map(|ts| ts.label("pod").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_deployment_scales_up_and_down_and_a_rollout_renames_its_pods() {
    let sim = sim();
    // replicas 3, scale to 5 at 09:00, rollout at 13:00, scale to 3 at 18:00.
    let before = storefront_at(&sim, START_MS + 9 * HOUR_MS - MINUTE_MS);
    let scaled = storefront_at(&sim, START_MS + 9 * HOUR_MS);
    let before_rollout = storefront_at(&sim, START_MS + 13 * HOUR_MS - MINUTE_MS);
    let rolled = storefront_at(&sim, START_MS + 13 * HOUR_MS);
    let evening = storefront_at(&sim, START_MS + 18 * HOUR_MS);
    assert_eq!(before.len(), 3);
    assert_eq!(scaled.len(), 5);
    assert!(before.is_subset(&scaled), "scaling up keeps the running pods");
    // The spot node ip-10-30-1-41 does not leave before 16:00, so nothing moved until 13:00.
    assert_eq!(before_rollout, scaled);
    assert_eq!(rolled.len(), 5);
    assert!(rolled.is_disjoint(&before_rollout), "a rollout gives every pod a new name");
    assert_eq!(evening.len(), 3);

    // Two ReplicaSets of the Deployment: the first from the start, the second from 13:00.
    let sets =
        with(&sim, "kube_replicaset_owner", &[("owner_kind", "Deployment"), ("owner_name", "storefront")]);
    assert_eq!(sets.len(), 2);
    let mut firsts: Vec<i64> = sets.iter().map(|ts| ts.samples[0].timestamp).collect();
    firsts.sort();
    assert_eq!(firsts, [START_MS, START_MS + 13 * HOUR_MS]);
    let prefix = |pods: &BTreeSet<String>| -> BTreeSet<String> {
        pods.iter().map(|p| p.rsplit_once('-').map(|(rs, _)| rs.to_owned()).unwrap_or_default()).collect()
    };
    let names: BTreeSet<String> =
        sets.iter().filter_map(|ts| ts.label("replicaset")).map(str::to_owned).collect();
    assert_eq!(prefix(&before).len(), 1);
    assert_eq!(prefix(&rolled).len(), 1);
    assert!(prefix(&before).is_subset(&names) && prefix(&rolled).is_subset(&names));
    assert_ne!(prefix(&before), prefix(&rolled));
}

#[test]
fn a_node_that_leaves_takes_its_series_and_evicts_its_pods() {
    let sim = sim();
    // ip-10-30-1-41 (spot) leaves at 16:00: its last sample is at 15:59.
    let info = with(&sim, "kube_node_info", &[("node", "ip-10-30-1-41.ec2.internal")]);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].samples.len(), 16 * 60);
    // ip-10-30-2-42 joins at 08:00: 16 hours of samples from there.
    let joined = with(&sim, "kube_node_info", &[("node", "ip-10-30-2-42.ec2.internal")]);
    assert_eq!(joined[0].samples[0].timestamp, START_MS + 8 * HOUR_MS);
    assert_eq!(joined[0].samples.len(), 16 * 60);

    // The DaemonSet follows the nodes.
    let aws_node = |node: &str| {
        sim.pods().iter().filter(|p| p.workload == "aws-node" && p.node == node).cloned().collect::<Vec<_>>()
    };
    let leaving = aws_node("ip-10-30-1-41.ec2.internal");
    assert_eq!(leaving.len(), 1);
    assert_eq!(leaving[0].last_sample_ms, START_MS + 16 * HOUR_MS - MINUTE_MS);
    let joining = aws_node("ip-10-30-2-42.ec2.internal");
    assert_eq!(joining.len(), 1);
    assert_eq!(joining[0].first_sample_ms, START_MS + 8 * HOUR_MS);

    // Every storefront pod on the leaving node ends at 15:59 and is replaced at 16:00
    // elsewhere: five run before and after.
    let on_it: Vec<_> = sim
        .pods()
        .iter()
        .filter(|p| p.workload == "storefront" && p.node == "ip-10-30-1-41.ec2.internal")
        .collect();
    assert!(!on_it.is_empty(), "the rotation puts storefront pods on the spot node");
    for p in &on_it {
        assert!(p.last_sample_ms < START_MS + 16 * HOUR_MS, "{} outlives its node", p.name);
    }
    assert_eq!(storefront_at(&sim, START_MS + 16 * HOUR_MS - MINUTE_MS).len(), 5);
    let after = storefront_at(&sim, START_MS + 16 * HOUR_MS);
    assert_eq!(after.len(), 5);
    for p in sim.pods().iter().filter(|p| after.contains(&p.name)) {
        assert_ne!(p.node, "ip-10-30-1-41.ec2.internal");
    }
}

#[test]
fn an_evicted_statefulset_pod_comes_back_under_its_name_with_its_claim() {
    let sim = sim();
    let redis1: Vec<_> = sim.pods().iter().filter(|p| p.name == "redis-1").collect();
    assert_eq!(redis1.len(), 2, "evicted at 11:00 and recreated");
    assert_eq!(redis1[0].last_sample_ms, START_MS + 11 * HOUR_MS - MINUTE_MS);
    assert_eq!(redis1[1].first_sample_ms, START_MS + 11 * HOUR_MS);
    assert_ne!(redis1[0].uid, redis1[1].uid);
    assert_ne!(redis1[0].node, redis1[1].node, "the replacement avoids the node it was evicted from");
    // One claim per pod name, kept across the eviction: data-redis-0 and data-redis-1, 10Gi.
    for claim in ["data-redis-0", "data-redis-1"] {
        let size = with(
            &sim,
            "kube_persistentvolumeclaim_resource_requests_storage_bytes",
            &[("persistentvolumeclaim", claim)],
        );
        assert_eq!(size.len(), 1, "{claim}");
        assert_eq!(size[0].samples.len(), 1440);
        assert_eq!(size[0].samples[0].value, 10.0 * 1024.0 * 1024.0 * 1024.0);
    }
    let mounts =
        with(&sim, "pod_pvc_allocation", &[("pod", "redis-1"), ("persistentvolumeclaim", "data-redis-1")]);
    // pod_pvc_allocation has no uid: the two pods' mounts make one series with all 1440 minutes.
    assert_eq!(mounts.iter().map(|ts| ts.samples.len()).sum::<usize>(), 1440);
}

#[test]
fn claims_and_volumes_carry_their_class_price_and_mounts() {
    let sim = sim();
    let gib = 1024.0 * 1024.0 * 1024.0;
    let claim =
        |name: &str| with(&sim, "kube_persistentvolumeclaim_info", &[("persistentvolumeclaim", name)]);
    let uploads = claim("uploads");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].label("storageclass"), Some("gp3"));
    let pv = uploads[0].label("volumename").expect("bound").to_owned();
    assert!(pv.starts_with("pvc-"));
    // gp3 is $0.08 per GiB-month of 730 hours: 0.000109589… per GiB-hour.
    let price = with(&sim, "pv_hourly_cost", &[("persistentvolume", &pv)]);
    assert!((price[0].samples[0].value - 0.08 / 730.0).abs() < 1e-15);
    let capacity = with(&sim, "kube_persistentvolume_capacity_bytes", &[("persistentvolume", &pv)]);
    assert_eq!(capacity[0].samples[0].value, 50.0 * gib);
    // Every storefront pod mounts it while it runs; the old backups are mounted by nothing.
    let storefront_pods = sim.pods().iter().filter(|p| p.workload == "storefront").count();
    assert_eq!(
        with(&sim, "pod_pvc_allocation", &[("persistentvolumeclaim", "uploads")]).len(),
        storefront_pods
    );
    assert!(with(&sim, "pod_pvc_allocation", &[("persistentvolumeclaim", "old-backups")]).is_empty());
    let backups = claim("old-backups");
    assert_eq!(backups[0].label("storageclass"), Some("gp2"));
    let bound = with(&sim, "kube_persistentvolume_status_phase", &[("phase", "Bound")]);
    assert_eq!(bound.len(), 4, "uploads, old-backups, data-redis-0, data-redis-1");
    assert!(bound.iter().all(|ts| ts.samples.iter().all(|s| s.value == 1.0)));
}

#[test]
fn spot_and_gpu_nodes_are_priced_and_flagged() {
    let sim = sim();
    let value = |metric: &str, node: &str| with(&sim, metric, &[("node", node)])[0].samples[0].value;
    // c5.xlarge on demand: 0.033515 per core-hour; spot at a 70 % discount: 0.0100545.
    assert!((value("node_cpu_hourly_cost", "ip-10-30-1-41.ec2.internal") - 0.0100545).abs() < 1e-12);
    assert!((value("node_ram_hourly_cost", "ip-10-30-1-41.ec2.internal") - 0.004492 * 0.3).abs() < 1e-12);
    assert_eq!(value("kubecost_node_is_spot", "ip-10-30-1-41.ec2.internal"), 1.0);
    assert_eq!(value("kubecost_node_is_spot", "ip-10-30-1-11.ec2.internal"), 0.0);
    assert_eq!(value("node_cpu_hourly_cost", "ip-10-30-1-11.ec2.internal"), 0.031247);
    // Spot c5.xlarge total: 0.3 × (4 × 0.033515 + 8 × 0.004492) = 0.3 × 0.170 = 0.0510.
    assert!((value("node_total_hourly_cost", "ip-10-30-1-41.ec2.internal") - 0.3 * 0.169996).abs() < 1e-9);
    // g4dn.xlarge: one GPU at 0.334004 per GPU-hour; total 0.124988 + 0.067008 + 0.334004.
    assert_eq!(value("node_gpu_count", "ip-10-30-3-71.ec2.internal"), 1.0);
    assert_eq!(value("node_gpu_hourly_cost", "ip-10-30-3-71.ec2.internal"), 0.334004);
    assert!((value("node_total_hourly_cost", "ip-10-30-3-71.ec2.internal") - 0.526).abs() < 1e-9);
    assert_eq!(value("node_gpu_count", "ip-10-30-1-11.ec2.internal"), 0.0);
    let labels = with(&sim, "kube_node_labels", &[("node", "ip-10-30-1-41.ec2.internal")]);
    assert_eq!(labels[0].label("label_eks_amazonaws_com_capacityType"), Some("SPOT"));
    assert_eq!(labels[0].label("label_eks_amazonaws_com_nodegroup"), Some("spot"));
    let gpu = with(&sim, "container_gpu_allocation", &[("container", "train")]);
    assert_eq!(gpu.len(), 1);
    assert_eq!(gpu[0].samples[0].value, 1.0);
    let gpu_req = with(&sim, "kube_pod_container_resource_requests", &[("resource", "nvidia_com_gpu")]);
    assert_eq!(gpu_req.len(), 1);
    assert_eq!(gpu_req[0].label("unit"), Some("integer"));
    // Allocatable below capacity: 4 cores less 60m + 10m + 2 × 5m = 3.92.
    let alloc =
        with(&sim, "kube_node_status_allocatable_cpu_cores", &[("node", "ip-10-30-1-11.ec2.internal")]);
    assert!((alloc[0].samples[0].value - 3.92).abs() < 1e-12);
    // The EKS control plane: $0.10 an hour, all day.
    let mgmt = with(&sim, "kubecost_cluster_management_cost", &[("provisioner_name", "EKS")]);
    assert_eq!(mgmt[0].samples.len(), 1440);
    assert_eq!(mgmt[0].samples[0].value, 0.10);
    let lb =
        with(&sim, "kubecost_load_balancer_cost", &[("namespace", "web"), ("service_name", "storefront")]);
    assert_eq!(lb.len(), 1);
    assert_eq!(lb[0].samples[0].value, 0.025);
    assert_eq!(
        with(&sim, "service_selector_labels", &[("service", "storefront")])[0].label("label_app"),
        Some("storefront")
    );
}

#[test]
fn a_cronjob_runs_a_job_per_schedule_time_and_owns_it() {
    let sim = sim();
    // "0 */6 * * *": 00:00, 06:00, 12:00 and 18:00, each Job named after its minute.
    let minute0 = 1_767_225_600 / 60;
    let want: BTreeSet<String> = (0..4).map(|i| format!("db-backup-{}", minute0 + i * 360)).collect();
    let jobs = with(&sim, "kube_job_owner", &[("owner_kind", "CronJob"), ("owner_name", "db-backup")]);
    let got: BTreeSet<String> =
        jobs.iter().filter_map(|ts| ts.label("job_name")).map(str::to_owned).collect();
    assert_eq!(got, want);
    let pods: Vec<_> = sim.pods().iter().filter(|p| p.workload == "db-backup").collect();
    assert_eq!(pods.len(), 4);
    for (i, p) in pods.iter().enumerate() {
        assert_eq!(p.owner_kind, "Job");
        assert!(want.contains(&p.owner_name));
        assert!(p.name.starts_with(&format!("{}-", p.owner_name)));
        // job_duration 00:20: twenty samples from the scheduled minute.
        assert_eq!(p.first_sample_ms, START_MS + i as i64 * 6 * HOUR_MS);
        assert_eq!(p.last_sample_ms, p.first_sample_ms + 19 * MINUTE_MS);
    }
    // A plain Job owns itself: no CronJob above it (cluster-a's nightly report).
    let c = load_cluster(&fixtures().join("clusters/cluster-a.yaml")).unwrap();
    let p = load_prices(&fixtures().join("prices/aws-us-east-1.yaml")).unwrap();
    let a = generate(&c, &p, &SimConfig::default()).unwrap();
    let own = with(&a, "kube_job_owner", &[("job_name", "nightly-report")]);
    assert_eq!(own[0].label("owner_kind"), Some("<none>"));
}

#[test]
fn a_bare_pod_has_no_owner() {
    let sim = sim();
    let owner = with(&sim, "kube_pod_owner", &[("pod", "debug-shell")]);
    assert_eq!(owner.len(), 1);
    for l in ["owner_kind", "owner_name", "owner_is_controller"] {
        assert_eq!(owner[0].label(l), Some("<none>"));
    }
    // 10:00 to 12:00: 120 samples.
    assert_eq!(owner[0].samples.len(), 120);
    assert_eq!(owner[0].samples[0].timestamp, START_MS + 10 * HOUR_MS);
    // No requests: only usage, and allocation equal to usage.
    assert!(with(&sim, "kube_pod_container_resource_requests", &[("pod", "debug-shell")]).is_empty());
}

#[test]
fn an_oom_killed_container_restarts_with_fresh_counters() {
    let sim = sim();
    // period 04:00: killed at 04:00, 08:00, …, 20:00; six attempts a day.
    let mem = with(&sim, "container_memory_working_set_bytes", &[("container", "train")]);
    assert_eq!(mem.len(), 6);
    let limit = 6.0 * 1024.0 * 1024.0 * 1024.0;
    for (i, ts) in mem.iter().enumerate() {
        assert_eq!(ts.samples.len(), 240);
        assert_eq!(ts.samples[0].timestamp, START_MS + i as i64 * 4 * HOUR_MS);
        assert!(ts.samples.iter().all(|s| s.value < limit));
        // From 3Gi towards the limit: the last sample is within 1 % of it.
        assert!(ts.samples[239].value > 0.99 * limit);
        assert!(ts.label("name").is_some_and(|n| n.ends_with(&format!("_{i}"))));
    }
    let cpu = with(&sim, "container_cpu_usage_seconds_total", &[("container", "train")]);
    assert_eq!(cpu.len(), 6);
    let ids: BTreeSet<&str> = cpu.iter().filter_map(|ts| ts.label("id")).collect();
    assert_eq!(ids.len(), 6, "each restart is a new container");
    // A restarted container's counter starts from zero: its first sample is one minute of
    // usage (1.5–2.0 cores ramping, plus noise) × 60 s.
    for ts in &cpu[1..] {
        assert!(ts.samples[0].value < 2.1 * 60.0, "{}", ts.samples[0].value);
    }
    let restarts = with(&sim, "kube_pod_container_status_restarts_total", &[("container", "train")]);
    assert_eq!(restarts[0].samples.last().map(|s| s.value), Some(5.0));
    assert_eq!(at(restarts[0], START_MS + 4 * HOUR_MS - MINUTE_MS), Some(0.0));
    assert_eq!(at(restarts[0], START_MS + 4 * HOUR_MS), Some(1.0));
    let reason = with(&sim, "kube_pod_container_status_last_terminated_reason", &[("reason", "OOMKilled")]);
    assert_eq!(reason.len(), 1);
    assert_eq!(reason[0].samples[0].timestamp, START_MS + 4 * HOUR_MS);
}

#[test]
fn labels_and_annotations_of_namespaces_and_pods_are_exported() {
    let sim = sim();
    let ns = with(&sim, "kube_namespace_annotations", &[("namespace", "web")]);
    assert_eq!(ns[0].label("annotation_owner"), Some("storefront@example.com"));
    assert_eq!(ns[0].label("annotation_cost_center"), Some("cc-1042"));
    let pod = sim.pods().iter().find(|p| p.workload == "storefront").unwrap();
    let ann = with(&sim, "kube_pod_annotations", &[("pod", &pod.name)]);
    assert_eq!(ann[0].label("annotation_prometheus_io_scrape"), Some("true"));
    let labels = with(&sim, "kube_pod_labels", &[("pod", &pod.name)]);
    assert_eq!(labels[0].label("label_tier"), Some("frontend"));
    assert_eq!(labels[0].label("uid"), Some(pod.uid.as_str()));
    let dep = with(&sim, "deployment_match_labels", &[("deployment", "storefront")]);
    assert_eq!(dep[0].label("label_app"), Some("storefront"));
    assert_eq!(dep[0].label("label_tier"), None, "match labels default to `app` only");
    assert_eq!(with(&sim, "statefulSet_match_labels", &[("statefulSet", "redis")]).len(), 1);
}

#[test]
fn the_label_style_is_the_fixtures_unless_the_config_overrides_it() {
    let modern = sim();
    let cadvisor =
        |s: &Simulation| s.series_named("container_cpu_usage_seconds_total").cloned().collect::<Vec<_>>();
    assert!(cadvisor(&modern)
        .iter()
        .all(|ts| ts.label("container").is_some() && ts.label("container_name").is_none()));
    let legacy = simulate_with(&SimConfig { label_style: Some(LabelStyle::Legacy), ..SimConfig::default() });
    assert!(cadvisor(&legacy).iter().all(|ts| ts.label("container").is_none() && ts.label("pod").is_none()));
    assert!(cadvisor(&legacy)
        .iter()
        .all(|ts| ts.label("container_name").is_some() && ts.label("pod_name").is_some()));
    let both = simulate_with(&SimConfig { label_style: Some(LabelStyle::Both), ..SimConfig::default() });
    assert!(cadvisor(&both).iter().all(|ts| ts.label("container") == ts.label("container_name")));
    // Only the cAdvisor series change: the others are the same in every style.
    assert_eq!(modern.stats(), legacy.stats());
}

#[test]
fn several_days_run_the_schedule_every_day_and_keep_nodes_up_across_midnight() {
    let sim = simulate_with(&SimConfig { duration_secs: 2 * 86_400, ..SimConfig::default() });
    let jobs = with(&sim, "kube_job_owner", &[("owner_kind", "CronJob")]);
    assert_eq!(jobs.len(), 8);
    let info = with(&sim, "kube_node_info", &[("node", "ip-10-30-1-11.ec2.internal")]);
    assert_eq!(info[0].samples.len(), 2 * 1440);
    // Events are offsets from the start: they happen on the first day only.
    assert_eq!(storefront_at(&sim, START_MS + 86_400_000 + 10 * HOUR_MS).len(), 3);
    // The OOM saw tooth goes on: 12 attempts in two days.
    assert_eq!(with(&sim, "container_memory_working_set_bytes", &[("container", "train")]).len(), 12);
}
