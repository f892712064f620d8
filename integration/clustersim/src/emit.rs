//! The series of a planned cluster: what its exporters (cAdvisor, kube-state-metrics v2 and
//! the cost model's own exporter) would show, with their names, labels and types, over the
//! life of each object. `docs/fixtures.md` lists every series.

use std::collections::BTreeMap;

use ampfed_prom::remote_write::{Sample, TimeSeries};

use crate::det;
use crate::fixture::sanitize_key;
use crate::fixture::{
    CapacityType, ClusterFixture, Container, LabelStyle, Prices, Profile, ServiceType, WorkloadKind,
};
use crate::plan::{Grid, Plan, PlannedPod};
use crate::profile::UsageModel;

/// Collects series; every series' samples are contiguous grid steps from its first one.
pub(crate) struct Builder {
    pub(crate) grid: Grid,
    pub(crate) series: Vec<TimeSeries>,
    pub(crate) first_step: Vec<usize>,
}

impl Builder {
    /// Adds a series whose samples sit on steps `first..first + values.len()`.
    fn push(&mut self, name: &str, labels: BTreeMap<String, String>, first: usize, values: Vec<f64>) {
        if values.is_empty() {
            return;
        }
        let mut ts = TimeSeries::new(name, &labels);
        let (start_ms, step_ms) = (self.grid.start_unix * 1000, self.grid.interval * 1000);
        ts.samples = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Sample { value, timestamp: start_ms + (first + i) as i64 * step_ms })
            .collect();
        self.series.push(ts);
        self.first_step.push(first);
    }

    /// Adds a series with the same value on steps `from..to`.
    fn constant(&mut self, name: &str, labels: BTreeMap<String, String>, from: usize, to: usize, value: f64) {
        self.push(name, labels, from, vec![value; to.saturating_sub(from)]);
    }

    /// Unix seconds of grid step `k`.
    fn unix(&self, k: usize) -> i64 {
        self.grid.start_unix + self.grid.offset(k)
    }
}

fn labels<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// `base` plus one `<prefix><sanitised key>` label per Kubernetes label or annotation.
fn with_keys(
    mut base: BTreeMap<String, String>,
    prefix: &str,
    k8s: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    for (k, v) in k8s {
        base.insert(sanitize_key(prefix, k), v.clone());
    }
    base
}

/// The node's cloud id, as `provider_id` labels carry it.
pub(crate) fn provider_id(cluster: &ClusterFixture, prices: &Prices, node: usize) -> String {
    let n = &cluster.nodes[node];
    if prices.provider == "aws" {
        format!("aws:///{}/i-{}", n.zone, det::hex(det::seed(&["instance-id", &cluster.name, &n.name]), 17))
    } else {
        format!("{}:///{}/{}", prices.provider, n.zone, n.name)
    }
}

/// A node's prices per core-hour, GiB-hour and GPU-hour as the exporter reports them: spot
/// nodes at the spot discount.
pub(crate) fn node_prices(cluster: &ClusterFixture, prices: &Prices, node: usize) -> Option<(f64, f64, f64)> {
    let n = &cluster.nodes[node];
    let p = prices.instance_types.get(&n.instance_type)?;
    let factor = match n.capacity_type {
        CapacityType::OnDemand => 1.0,
        CapacityType::Spot => 1.0 - prices.spot_discount,
    };
    Some((p.cpu_hourly_cost * factor, p.ram_hourly_cost_per_gib * factor, p.gpu_hourly_cost * factor))
}

pub(crate) fn nodes(b: &mut Builder, cluster: &ClusterFixture, prices: &Prices, plan: &Plan) {
    for (i, node) in cluster.nodes.iter().enumerate() {
        let (from, to) = plan.nodes[i];
        // `check_prices` has run, so the instance type is listed; a miss would be a bug.
        let (Some(price), Some((cpu_price, ram_price, gpu_price))) =
            (prices.instance_types.get(&node.instance_type), node_prices(cluster, prices, i))
        else {
            continue;
        };
        let n = node.name.as_str();
        let pid = provider_id(cluster, prices, i);
        b.constant(
            "kube_node_info",
            labels([
                ("node", n),
                ("provider_id", &pid),
                ("kubelet_version", "v1.30.4-eks-a737599"),
                ("container_runtime_version", "containerd://1.7.20"),
                ("os_image", "Amazon Linux 2"),
                ("kernel_version", "5.10.223-212.873.amzn2.x86_64"),
            ]),
            from,
            to,
            1.0,
        );
        let alloc = node.allocatable();
        let gpus = f64::from(node.gpus);
        b.constant("kube_node_status_capacity_cpu_cores", labels([("node", n)]), from, to, node.cpu.0);
        b.constant(
            "kube_node_status_capacity_memory_bytes",
            labels([("node", n)]),
            from,
            to,
            node.memory.0 as f64,
        );
        b.constant("kube_node_status_allocatable_cpu_cores", labels([("node", n)]), from, to, alloc.cpu.0);
        let mem = alloc.memory.0 as f64;
        b.constant("kube_node_status_allocatable_memory_bytes", labels([("node", n)]), from, to, mem);
        for (metric, cpu, memory) in [
            ("kube_node_status_capacity", node.cpu.0, node.memory.0 as f64),
            ("kube_node_status_allocatable", alloc.cpu.0, alloc.memory.0 as f64),
        ] {
            let res = |r: &str, u: &str| labels([("node", n), ("resource", r), ("unit", u)]);
            b.constant(metric, res("cpu", "core"), from, to, cpu);
            b.constant(metric, res("memory", "byte"), from, to, memory);
            b.constant(metric, res("pods", "integer"), from, to, 110.0);
            if node.gpus > 0 {
                b.constant(metric, res("nvidia_com_gpu", "integer"), from, to, gpus);
            }
        }
        let mut k8s = labels([
            ("kubernetes.io/hostname", n),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", &price.arch),
            ("node.kubernetes.io/instance-type", &node.instance_type),
            ("topology.kubernetes.io/region", &cluster.region),
            ("topology.kubernetes.io/zone", &node.zone),
            ("eks.amazonaws.com/capacityType", node.capacity_type.eks_label()),
        ]);
        if let Some(pool) = &node.pool {
            k8s.insert("eks.amazonaws.com/nodegroup".to_owned(), pool.clone());
        }
        k8s.extend(node.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        b.constant("kube_node_labels", with_keys(labels([("node", n)]), "label_", &k8s), from, to, 1.0);
        let cost_labels = labels([
            ("instance", n),
            ("node", n),
            ("instance_type", &node.instance_type),
            ("region", &cluster.region),
            ("provider_id", &pid),
            ("arch", &price.arch),
        ]);
        let total = cpu_price * node.cpu.0 + ram_price * node.memory.gib() + gpu_price * gpus;
        let spot = f64::from(u8::from(node.capacity_type == CapacityType::Spot));
        for (metric, value) in [
            ("node_cpu_hourly_cost", cpu_price),
            ("node_ram_hourly_cost", ram_price),
            ("node_gpu_hourly_cost", gpu_price),
            ("node_total_hourly_cost", total),
            ("node_gpu_count", gpus),
            ("kubecost_node_is_spot", spot),
        ] {
            b.constant(metric, cost_labels.clone(), from, to, value);
        }
    }
}

pub(crate) fn namespaces(b: &mut Builder, cluster: &ClusterFixture) {
    let all = b.grid.steps;
    for ns in &cluster.namespaces {
        let mut k8s = labels([("kubernetes.io/metadata.name", ns.name.as_str())]);
        k8s.extend(ns.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let base = labels([("namespace", &ns.name)]);
        b.constant("kube_namespace_labels", with_keys(base.clone(), "label_", &k8s), 0, all, 1.0);
        b.constant(
            "kube_namespace_annotations",
            with_keys(base, "annotation_", &ns.annotations),
            0,
            all,
            1.0,
        );
    }
}

/// The control plane's cost and the services' selectors and load balancers.
pub(crate) fn cluster_and_services(b: &mut Builder, cluster: &ClusterFixture, prices: &Prices) {
    let all = b.grid.steps;
    let provisioner = if prices.provider == "aws" { "EKS" } else { "managed" };
    b.constant(
        "kubecost_cluster_management_cost",
        labels([("provisioner_name", provisioner)]),
        0,
        all,
        prices.cluster_management_hourly_cost,
    );
    for s in &cluster.services {
        let base = labels([("namespace", &s.namespace), ("service", &s.name)]);
        b.constant("service_selector_labels", with_keys(base, "label_", &s.selector), 0, all, 1.0);
        if s.service_type == ServiceType::LoadBalancer {
            let seed = det::seed(&["elb", &cluster.name, &s.namespace, &s.name]);
            let host = format!(
                "a{}-{}.{}.elb.amazonaws.com",
                det::hex(seed, 32),
                seed % 1_000_000_000,
                cluster.region
            );
            b.constant(
                "kubecost_load_balancer_cost",
                labels([("namespace", &s.namespace), ("service_name", &s.name), ("ingress_ip", &host)]),
                0,
                all,
                prices.load_balancer_hourly_cost,
            );
        }
    }
}

/// Claims and the volumes bound to them; pods' mounts are emitted with the pods.
pub(crate) fn volumes(b: &mut Builder, prices: &Prices, plan: &Plan) {
    let all = b.grid.steps;
    for c in &plan.claims {
        let from = c.from;
        let (ns, claim, pv) = (c.namespace.as_str(), c.name.as_str(), c.volume.as_str());
        let size = c.size as f64;
        let class = c.storage_class.as_str();
        let price = prices.storage_classes.get(class);
        let driver = price.map_or("", |p| p.provisioner.as_str());
        b.constant(
            "kube_persistentvolumeclaim_info",
            labels([
                ("namespace", ns),
                ("persistentvolumeclaim", claim),
                ("storageclass", class),
                ("volumename", pv),
            ]),
            from,
            all,
            1.0,
        );
        b.constant(
            "kube_persistentvolumeclaim_resource_requests_storage_bytes",
            labels([("namespace", ns), ("persistentvolumeclaim", claim)]),
            from,
            all,
            size,
        );
        for phase in ["Bound", "Lost", "Pending"] {
            b.constant(
                "kube_persistentvolumeclaim_status_phase",
                labels([("namespace", ns), ("persistentvolumeclaim", claim), ("phase", phase)]),
                from,
                all,
                f64::from(u8::from(phase == "Bound")),
            );
        }
        b.constant(
            "kube_persistentvolume_capacity_bytes",
            labels([("persistentvolume", pv)]),
            from,
            all,
            size,
        );
        b.constant(
            "kube_persistentvolume_info",
            labels([
                ("persistentvolume", pv),
                ("storageclass", class),
                ("csi_driver", driver),
                ("csi_volume_handle", &c.volume_handle),
            ]),
            from,
            all,
            1.0,
        );
        for phase in ["Available", "Bound", "Failed", "Pending", "Released"] {
            b.constant(
                "kube_persistentvolume_status_phase",
                labels([("persistentvolume", pv), ("phase", phase)]),
                from,
                all,
                f64::from(u8::from(phase == "Bound")),
            );
        }
        b.constant(
            "kube_persistentvolume_claim_ref",
            labels([("persistentvolume", pv), ("name", claim), ("claim_namespace", ns)]),
            from,
            all,
            1.0,
        );
        b.constant(
            "kubecost_pv_info",
            labels([("persistentvolume", pv), ("storageclass", class), ("provider_id", &c.volume_handle)]),
            from,
            all,
            1.0,
        );
        b.constant(
            "pv_hourly_cost",
            labels([("persistentvolume", pv), ("volumename", pv), ("provider_id", &c.volume_handle)]),
            from,
            all,
            price.map_or(0.0, |p| p.gib_hourly_cost()),
        );
    }
}

/// ReplicaSets, Jobs and the controllers' match labels.
pub(crate) fn controllers(b: &mut Builder, cluster: &ClusterFixture, plan: &Plan) {
    for rs in &plan.replicasets {
        b.constant(
            "kube_replicaset_owner",
            labels([
                ("namespace", &rs.namespace),
                ("replicaset", &rs.name),
                ("owner_kind", &rs.owner_kind),
                ("owner_name", &rs.owner_name),
                ("owner_is_controller", "true"),
            ]),
            rs.from,
            rs.to,
            1.0,
        );
    }
    for job in &plan.jobs {
        b.constant(
            "kube_job_owner",
            labels([
                ("namespace", &job.namespace),
                ("job_name", &job.name),
                ("owner_kind", &job.owner_kind),
                ("owner_name", &job.owner_name),
                ("owner_is_controller", "true"),
            ]),
            job.from,
            job.to,
            1.0,
        );
    }
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let lives = plan.pods.iter().filter(|p| p.workload == wi && p.from < p.to);
        let Some((from, to)) = lives.fold(None, |acc: Option<(usize, usize)>, p| {
            Some(acc.map_or((p.from, p.to), |(f, t)| (f.min(p.from), t.max(p.to))))
        }) else {
            continue;
        };
        let base = |kind: &str| labels([("namespace", w.namespace.as_str()), (kind, w.name.as_str())]);
        match w.kind {
            WorkloadKind::Deployment => {
                let l = with_keys(base("deployment"), "label_", &w.match_labels());
                b.constant("deployment_match_labels", l, from, to, 1.0);
            }
            WorkloadKind::StatefulSet => {
                let l = with_keys(base("statefulSet"), "label_", &w.match_labels());
                b.constant("statefulSet_match_labels", l, from, to, 1.0);
            }
            WorkloadKind::Job => {
                b.constant(
                    "kube_job_owner",
                    labels([
                        ("namespace", &w.namespace),
                        ("job_name", &w.name),
                        ("owner_kind", "<none>"),
                        ("owner_name", "<none>"),
                        ("owner_is_controller", "<none>"),
                    ]),
                    from,
                    to,
                    1.0,
                );
            }
            WorkloadKind::DaemonSet | WorkloadKind::CronJob | WorkloadKind::Pod => {}
        }
    }
}

/// The cAdvisor label set of a container attempt in the given style.
fn cadvisor_labels(
    style: LabelStyle,
    pod: &PlannedPod,
    node: &str,
    container: &str,
    id: &str,
    image: &str,
    attempt: usize,
) -> BTreeMap<String, String> {
    let mut l = labels([
        ("namespace", &pod.namespace),
        ("instance", node),
        ("id", id),
        ("image", image),
        ("name", &format!("k8s_{container}_{}_{}_{}_{attempt}", pod.name, pod.namespace, pod.uid)),
    ]);
    if style != LabelStyle::Legacy {
        l.insert("container".to_owned(), container.to_owned());
        l.insert("pod".to_owned(), pod.name.clone());
    }
    if style != LabelStyle::Modern {
        l.insert("container_name".to_owned(), container.to_owned());
        l.insert("pod_name".to_owned(), pod.name.clone());
    }
    l
}

/// One pod's series.
pub(crate) fn pod(
    b: &mut Builder,
    cluster: &ClusterFixture,
    style: LabelStyle,
    plan: &Plan,
    pod: &PlannedPod,
) {
    let w = &cluster.workloads[pod.workload];
    let (from, to) = (pod.from, pod.to);
    if from >= to {
        return;
    }
    let (c, ns, pn) = (cluster.name.as_str(), pod.namespace.as_str(), pod.name.as_str());
    let node = cluster.nodes[pod.node].name.as_str();
    let interval = b.grid.interval as f64;
    let none = pod.owner_kind == "<none>";
    b.constant(
        "kube_pod_owner",
        labels([
            ("namespace", ns),
            ("pod", pn),
            ("owner_kind", &pod.owner_kind),
            ("owner_name", &pod.owner_name),
            ("owner_is_controller", if none { "<none>" } else { "true" }),
        ]),
        from,
        to,
        1.0,
    );
    b.constant(
        "kube_pod_info",
        labels([
            ("namespace", ns),
            ("pod", pn),
            ("uid", &pod.uid),
            ("node", node),
            ("created_by_kind", &pod.owner_kind),
            ("created_by_name", &pod.owner_name),
        ]),
        from,
        to,
        1.0,
    );
    let mut pod_labels = pod.controller_labels.clone();
    pod_labels.extend(w.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let base = labels([("namespace", ns), ("pod", pn), ("uid", &pod.uid)]);
    b.constant("kube_pod_labels", with_keys(base.clone(), "label_", &pod_labels), from, to, 1.0);
    b.constant("kube_pod_annotations", with_keys(base, "annotation_", &w.annotations), from, to, 1.0);
    for &ci in &pod.claims {
        let claim = &plan.claims[ci];
        b.constant(
            "pod_pvc_allocation",
            labels([
                ("namespace", ns),
                ("pod", pn),
                ("persistentvolumeclaim", &claim.name),
                ("persistentvolume", &claim.volume),
            ]),
            from,
            to,
            claim.size as f64,
        );
    }

    let has_requests = w.containers.iter().any(|c| c.cpu_request.is_some() || c.memory_request.is_some());
    let qos = if has_requests { "burstable" } else { "besteffort" };
    let pause_image = format!("602401143452.dkr.ecr.{}.amazonaws.com/eks/pause:3.5", cluster.region);

    // The pause container first, then the fixture's containers; the pause container has no
    // requests and no kube-state-metrics or allocation series, only cAdvisor ones.
    let mut containers: Vec<(&str, &str, Option<&Container>)> = vec![("POD", pause_image.as_str(), None)];
    containers.extend(w.containers.iter().map(|ct| (ct.name.as_str(), ct.image.as_str(), Some(ct))));

    for (cname, image, spec) in containers {
        let seed = det::seed(&["usage", c, ns, pn, cname]);
        let peak_secs = 14 * 3600 + (seed % 7201) as i64 - 3600;
        let life = (from, to);
        let (cpu, mem) = match spec {
            Some(s) => (
                UsageModel {
                    profile: s.cpu_usage.profile,
                    base: s.cpu_usage.base.0,
                    amplitude: s.cpu_usage.amplitude.0,
                    noise_share: 0.25,
                    peak_secs,
                    seed: det::seed(&["cpu", c, ns, pn, cname]),
                    life,
                },
                UsageModel {
                    profile: s.memory_usage.profile,
                    base: s.memory_usage.base.0 as f64,
                    amplitude: s.memory_usage.amplitude.0 as f64,
                    noise_share: 0.15,
                    peak_secs,
                    seed: det::seed(&["memory", c, ns, pn, cname]),
                    life,
                },
            ),
            None => (
                UsageModel {
                    profile: Profile::Diurnal,
                    base: 0.0002,
                    amplitude: 0.0001,
                    noise_share: 0.5,
                    peak_secs,
                    seed,
                    life,
                },
                UsageModel {
                    profile: Profile::Diurnal,
                    base: 460_000.0,
                    amplitude: 40_000.0,
                    noise_share: 0.5,
                    peak_secs,
                    seed: !seed,
                    life,
                },
            ),
        };
        // Restarts: an OOM-killed container starts again at once, `period` after its start.
        let oom = spec.filter(|s| s.memory_usage.profile == Profile::Oom);
        let period = oom
            .and_then(|s| s.memory_usage.period)
            .map_or(usize::MAX, |p| (p.secs() / b.grid.interval).max(1) as usize);
        let attempts: Vec<usize> = (0..)
            .map(|j: usize| from.saturating_add(j.saturating_mul(period)))
            .take_while(|&s| s < to)
            .collect();
        let cpu_usage: Vec<f64> = (from..to).map(|k| cpu.at(b.unix(k), k)).collect();
        let limit = oom.and_then(|s| s.memory_limit).map_or(0.0, |l| l.0 as f64);
        let mem_usage: Vec<f64> = (from..to)
            .map(|k| {
                let v = match oom {
                    // A saw tooth from `base` up to the limit, killed on reaching it.
                    Some(_) => {
                        let since = (k - from) % period;
                        let t = (since + 1) as f64 / period as f64;
                        mem.base + (limit - mem.base) * t.min(1.0) * 0.999
                    }
                    None => mem.at(b.unix(k), k),
                };
                // Working sets are whole pages.
                (v / 4096.0).round() * 4096.0
            })
            .collect();
        // A pod that was running before the window has a counter from its earlier uptime.
        let prior = if pod.preexisting { cpu.base * 3600.0 * (6 + seed % 66) as f64 } else { 0.0 };
        for (a, &start) in attempts.iter().enumerate() {
            let end = attempts.get(a + 1).copied().unwrap_or(to);
            let id_seed = if a == 0 {
                det::seed(&["container-id", c, ns, pn, cname])
            } else {
                det::seed(&["container-id", c, ns, pn, cname, &a.to_string()])
            };
            let id = format!("/kubepods/{qos}/pod{}/{}", pod.uid, det::hex(id_seed, 64));
            let mut acc = if a == 0 { prior } else { 0.0 };
            let counter: Vec<f64> = cpu_usage[start - from..end - from]
                .iter()
                .map(|u| {
                    acc += u * interval;
                    acc
                })
                .collect();
            let l = cadvisor_labels(style, pod, node, cname, &id, image, a);
            b.push("container_cpu_usage_seconds_total", l.clone(), start, counter);
            b.push(
                "container_memory_working_set_bytes",
                l,
                start,
                mem_usage[start - from..end - from].to_vec(),
            );
        }
        let Some(spec) = spec else { continue };

        let ksm = |extra: [(&str, &str); 2]| {
            let mut l = labels([
                ("namespace", ns),
                ("pod", pn),
                ("uid", &pod.uid),
                ("container", cname),
                ("node", node),
            ]);
            l.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            l
        };
        let gpus = spec.gpu_request.map(f64::from);
        for (metric, cpu_q, mem_q) in [
            ("kube_pod_container_resource_requests", spec.cpu_request, spec.memory_request),
            ("kube_pod_container_resource_limits", spec.cpu_limit, spec.memory_limit),
        ] {
            if let Some(r) = cpu_q {
                b.constant(metric, ksm([("resource", "cpu"), ("unit", "core")]), from, to, r.0);
            }
            if let Some(r) = mem_q {
                b.constant(metric, ksm([("resource", "memory"), ("unit", "byte")]), from, to, r.0 as f64);
            }
            if let Some(g) = gpus {
                b.constant(metric, ksm([("resource", "nvidia_com_gpu"), ("unit", "integer")]), from, to, g);
            }
        }
        let status = labels([("namespace", ns), ("pod", pn), ("uid", &pod.uid), ("container", cname)]);
        b.constant("kube_pod_container_status_running", status.clone(), from, to, 1.0);
        let restarts: Vec<f64> =
            (from..to).map(|k| attempts.iter().filter(|&&s| s <= k).count() as f64 - 1.0).collect();
        b.push("kube_pod_container_status_restarts_total", status.clone(), from, restarts);
        if let Some(&second) = attempts.get(1) {
            let mut l = status;
            l.insert("reason".to_owned(), "OOMKilled".to_owned());
            b.constant("kube_pod_container_status_last_terminated_reason", l, second, to, 1.0);
        }
        let alloc_labels = labels([
            ("namespace", ns),
            ("pod", pn),
            ("container", cname),
            ("instance", node),
            ("node", node),
        ]);
        let cpu_req = spec.cpu_request.map_or(0.0, |r| r.0);
        let mem_req = spec.memory_request.map_or(0.0, |r| r.0 as f64);
        b.push(
            "container_cpu_allocation",
            alloc_labels.clone(),
            from,
            cpu_usage.iter().map(|u| u.max(cpu_req)).collect(),
        );
        b.push(
            "container_memory_allocation_bytes",
            alloc_labels.clone(),
            from,
            mem_usage.iter().map(|m| m.max(mem_req)).collect(),
        );
        if let Some(g) = gpus {
            b.constant("container_gpu_allocation", alloc_labels, from, to, g);
        }
    }
}
