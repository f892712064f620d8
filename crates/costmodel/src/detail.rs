//! The detailed allocations of one window, as OpenCost's `computeAllocation` builds them
//! (`docs/kubecost-model.md`): pods from the running subquery, one allocation per container
//! that any CPU, RAM or GPU result names (usage-only containers included, at zero cost, as
//! `appendContainer` does), OpenCost's CPU sanity limit, labels and annotations merged node →
//! namespace → pod, controllers from the owner chains, services from selectors, PV cost on the
//! pods that mount the claims (the rest on `__unmounted__` entries), load balancer cost on the
//! services' pods, and CPU, RAM and GPU cost at each node's resolved, discounted prices.

use std::collections::{BTreeMap, BTreeSet};

use ampfed_allocation::{pv_key, sanitize, Allocation, Properties, Window, UNMOUNTED};
use ampfed_prom::InstantSample;

use crate::catalog::{self, NodeInfo, GIB};
use crate::config::Config;
use crate::results::{finite, get, pod_key, prefixed, start_end, QueryResults};

/// OpenCost's `CPU_SANITY_LIMIT`: CPU allocations and usage above this many cores are taken as
/// cAdvisor garbage (allocation and usage set to 0; a request that large is kept).
pub const CPU_SANITY_LIMIT: f64 = 512.0;

type PodKey = (String, String);

/// One pod: when it ran, its node, and its containers' allocations (by container name).
struct Pod {
    start: i64,
    end: i64,
    node: String,
    containers: BTreeMap<String, Allocation>,
}

impl Pod {
    fn container(&mut self, cluster: &str, key: &PodKey, name: &str) -> &mut Allocation {
        let (start, end) = (self.start, self.end);
        self.containers.entry(name.to_owned()).or_insert_with(|| Allocation {
            properties: Properties {
                cluster: cluster.to_owned(),
                namespace: key.0.clone(),
                pod: key.1.clone(),
                container: name.to_owned(),
                ..Properties::default()
            },
            start,
            end,
            minutes: end.saturating_sub(start) as f64 / 60.0,
            ..Allocation::default()
        })
    }
}

fn per_hour(x: f64, hours: f64) -> f64 {
    if hours > 0.0 {
        x / hours
    } else {
        0.0
    }
}

/// Calls `f` on the container each usable sample names, creating the container if needed.
fn apply(
    cluster: &str,
    pods: &mut BTreeMap<PodKey, Pod>,
    samples: &[InstantSample],
    container_labels: &[&str],
    mut f: impl FnMut(&mut Allocation, f64, &InstantSample) -> Option<String>,
) {
    for s in samples {
        let (Some(value), Some(key)) = (finite(s), pod_key(&s.labels)) else { continue };
        let container = get(&s.labels, container_labels);
        if container.is_empty() {
            continue;
        }
        let Some(pod) = pods.get_mut(&key) else { continue };
        let alloc = pod.container(cluster, &key, container);
        if let Some(node) = f(alloc, value, s) {
            alloc.properties.node = node.clone();
            pod.node = node;
        }
    }
}

fn node_of(s: &InstantSample) -> Option<String> {
    let n = get(&s.labels, &["node"]);
    (!n.is_empty()).then(|| n.to_owned())
}

/// The pods of the running subquery, by `(namespace, pod)`.
fn pods(r: &QueryResults, window: Window, config: &Config) -> BTreeMap<PodKey, Pod> {
    let mut out: BTreeMap<PodKey, Pod> = BTreeMap::new();
    for s in &r.running {
        let (Some(key), Some((start, end))) =
            (pod_key(&s.labels), start_end(s, window, config.resolution_secs))
        else {
            continue;
        };
        let pod =
            out.entry(key).or_insert(Pod { start, end, node: String::new(), containers: BTreeMap::new() });
        pod.start = pod.start.min(start);
        pod.end = pod.end.max(end);
    }
    out
}

/// CPU, RAM and GPU hours, requests and usage, in OpenCost's order (allocation before
/// request, so the request can only raise the hours).
fn apply_resources(cluster: &str, pods: &mut BTreeMap<PodKey, Pod>, r: &QueryResults) {
    let c = &["container"];
    apply(cluster, pods, &r.cpu_alloc, c, |a, v, s| {
        let cores = if v > CPU_SANITY_LIMIT { 0.0 } else { v };
        a.cpu_core_hours = cores * a.hours();
        node_of(s)
    });
    apply(cluster, pods, &r.cpu_request, c, |a, v, s| {
        let hours = a.hours();
        a.cpu_core_request_average = v;
        if per_hour(a.cpu_core_hours, hours) < v {
            a.cpu_core_hours = v * hours;
        }
        if per_hour(a.cpu_core_hours, hours) > CPU_SANITY_LIMIT {
            a.cpu_core_hours = v * hours;
        }
        node_of(s)
    });
    let usage = &["container", "container_name"];
    apply(cluster, pods, &r.cpu_usage, usage, |a, v, _| {
        a.cpu_core_usage_average = if v > CPU_SANITY_LIMIT { 0.0 } else { v };
        None
    });
    apply(cluster, pods, &r.ram_alloc, c, |a, v, s| {
        a.ram_byte_hours = v * a.hours();
        node_of(s)
    });
    apply(cluster, pods, &r.ram_request, c, |a, v, s| {
        let hours = a.hours();
        a.ram_byte_request_average = v;
        if per_hour(a.ram_byte_hours, hours) < v {
            a.ram_byte_hours = v * hours;
        }
        node_of(s)
    });
    apply(cluster, pods, &r.ram_usage, usage, |a, v, _| {
        a.ram_byte_usage_average = v;
        None
    });
    // The allocation metric when the window has it, else requests; a GPU is requested whole,
    // so request = allocation.
    let gpus = if r.gpu_alloc.is_empty() { &r.gpu_request } else { &r.gpu_alloc };
    apply(cluster, pods, gpus, c, |a, v, _| {
        a.gpu_hours = v * a.hours();
        a.gpu_request_average = v;
        None
    });
}

/// `label_*` maps by key, merged over the key's series.
fn label_maps<K: Ord>(
    samples: &[InstantSample],
    prefix: &str,
    key: impl Fn(&InstantSample) -> Option<K>,
) -> BTreeMap<K, BTreeMap<String, String>> {
    let mut out: BTreeMap<K, BTreeMap<String, String>> = BTreeMap::new();
    for s in samples {
        if let Some(k) = key(s) {
            out.entry(k).or_default().extend(prefixed(&s.labels, prefix));
        }
    }
    out
}

fn by_label(name: &'static str) -> impl Fn(&InstantSample) -> Option<String> {
    move |s| {
        let v = get(&s.labels, &[name]);
        (!v.is_empty()).then(|| v.to_owned())
    }
}

fn by_namespaced(name: &'static str) -> impl Fn(&InstantSample) -> Option<PodKey> {
    move |s| {
        let (ns, v) = (get(&s.labels, &["namespace"]), get(&s.labels, &[name]));
        (!ns.is_empty() && !v.is_empty()).then(|| (ns.to_owned(), v.to_owned()))
    }
}

/// Kubernetes selector semantics of a label set: every pair present in the pod's labels.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A CronJob's Job name is `<cronjob>-<8 or 10 digits>` (OpenCost's `isCron`); the CronJob
/// name, or `None`.
fn cronjob_of(job: &str) -> Option<&str> {
    let (prefix, suffix) = job.rsplit_once('-')?;
    let digits = suffix.len() == 8 || suffix.len() == 10;
    (digits && suffix.bytes().all(|b| b.is_ascii_digit()) && !prefix.is_empty()).then_some(prefix)
}

/// `(kind, name)` of each pod's controller from the owner chains (see `docs/kubecost-model.md`).
fn controllers(
    r: &QueryResults,
    pod_labels: &BTreeMap<PodKey, BTreeMap<String, String>>,
) -> BTreeMap<PodKey, (String, String)> {
    let owner_of = |samples: &[InstantSample], name: &'static str| {
        let mut out: BTreeMap<PodKey, (String, String)> = BTreeMap::new();
        for s in samples {
            let Some(key) = by_namespaced(name)(s) else { continue };
            let kind = get(&s.labels, &["owner_kind"]).to_owned();
            let owner = get(&s.labels, &["owner_name"]).to_owned();
            out.insert(key, (kind, owner));
        }
        out
    };
    let rs_owner = owner_of(&r.replicaset_owners, "replicaset");
    let job_owner = owner_of(&r.job_owners, "job_name");

    // Pod owners: the controller reference wins over other owner references.
    let mut pod_owner: BTreeMap<PodKey, (bool, String, String)> = BTreeMap::new();
    for s in &r.pod_owners {
        let Some(key) = pod_key(&s.labels) else { continue };
        let controller = get(&s.labels, &["owner_is_controller"]) == "true";
        let entry = (
            controller,
            get(&s.labels, &["owner_kind"]).to_owned(),
            get(&s.labels, &["owner_name"]).to_owned(),
        );
        match pod_owner.get(&key) {
            Some((true, _, _)) if !controller => {}
            _ => {
                pod_owner.insert(key, entry);
            }
        }
    }

    let mut out: BTreeMap<PodKey, (String, String)> = BTreeMap::new();
    for (key, (_, kind, name)) in &pod_owner {
        let ns = key.0.clone();
        let resolved = match kind.as_str() {
            "ReplicaSet" => match rs_owner.get(&(ns, name.clone())) {
                Some((k, owner)) if k == "Deployment" => Some(("deployment", owner.clone())),
                Some((k, owner)) if k == "Rollout" => Some(("rollout", owner.clone())),
                _ => Some(("replicaset", name.clone())),
            },
            "StatefulSet" => Some(("statefulset", name.clone())),
            "DaemonSet" => Some(("daemonset", name.clone())),
            "Job" => match job_owner.get(&(ns, name.clone())) {
                Some((k, owner)) if k == "CronJob" => Some(("job", owner.clone())),
                Some(_) => Some(("job", name.clone())),
                // No kube_job_owner series: OpenCost's name rule.
                None => Some(("job", cronjob_of(name).unwrap_or(name).to_owned())),
            },
            _ => None,
        };
        if let Some((kind, name)) = resolved {
            out.insert(key.clone(), (kind.to_owned(), name));
        }
    }

    // Pods with no owner series: OpenCost's selector matching of deployments, then stateful
    // sets (later ones win).
    for (metric, label, kind) in [
        (&r.deployment_labels, "deployment", "deployment"),
        (&r.statefulset_labels, "statefulSet", "statefulset"),
    ] {
        let selectors = label_maps(metric, "label_", by_namespaced(label));
        for ((ns, controller), selector) in &selectors {
            for (pod, labels) in pod_labels {
                if &pod.0 == ns && !pod_owner.contains_key(pod) && selects(selector, labels) {
                    out.insert(pod.clone(), (kind.to_owned(), controller.clone()));
                }
            }
        }
    }
    out
}

/// Interval coefficients of a PVC's pods (OpenCost's `getPVCCostCoefficients`): each stretch
/// of the claim's life is split evenly among the pods mounting it then, and stretches with no
/// pod go to `None` (unmounted). Fractions of the claim's life; they sum to 1.
fn pvc_coefficients(
    pvc: (i64, i64),
    windows: &BTreeMap<PodKey, (i64, i64)>,
) -> BTreeMap<Option<PodKey>, f64> {
    let mut out: BTreeMap<Option<PodKey>, f64> = BTreeMap::new();
    let duration = pvc.1.saturating_sub(pvc.0) as f64;
    if duration <= 0.0 {
        return out;
    }
    // (time, 0 = start / 1 = end, pod): starts sort before ends at the same time.
    let mut points: Vec<(i64, u8, &PodKey)> = Vec::new();
    for (pod, (s, e)) in windows {
        points.push((*s, 0, pod));
        points.push((*e, 1, pod));
    }
    points.sort();
    let mut active: BTreeSet<&PodKey> = BTreeSet::new();
    let mut current = pvc.0;
    for (time, kind, pod) in points {
        if time != current {
            let share = time.saturating_sub(current) as f64 / duration;
            if active.is_empty() {
                *out.entry(None).or_default() += share;
            } else {
                for p in &active {
                    *out.entry(Some((*p).clone())).or_default() += share / active.len() as f64;
                }
            }
        }
        if kind == 0 {
            active.insert(pod);
        } else {
            active.remove(pod);
        }
        current = time;
    }
    if current < pvc.1 {
        *out.entry(None).or_default() += pvc.1.saturating_sub(current) as f64 / duration;
    }
    out
}

fn add_pv(a: &mut Allocation, key: &str, byte_hours: f64, cost: f64, provider_id: &str) {
    let pv = a.pvs.entry(key.to_owned()).or_default();
    pv.byte_hours += byte_hours;
    pv.cost += cost;
    if pv.provider_id.is_empty() {
        pv.provider_id = provider_id.to_owned();
    }
}

/// The unmounted entry of the cluster (`ns` = `None`) or of a namespace's claims.
fn unmounted_for<'m>(
    unmounted: &'m mut BTreeMap<PodKey, Allocation>,
    cluster: &str,
    window: Window,
    ns: Option<&str>,
) -> &'m mut Allocation {
    let key = match ns {
        None => (UNMOUNTED.to_owned(), UNMOUNTED.to_owned()),
        Some(ns) => (ns.to_owned(), format!("{ns}-unmounted-pvcs")),
    };
    unmounted.entry(key.clone()).or_insert_with(|| Allocation {
        properties: Properties {
            cluster: cluster.to_owned(),
            namespace: key.0,
            pod: key.1,
            container: UNMOUNTED.to_owned(),
            ..Properties::default()
        },
        start: window.start,
        end: window.end,
        minutes: window.duration_secs() as f64 / 60.0,
        ..Allocation::default()
    })
}

/// The allocations of `cluster` in `window`, sorted by name.
pub(crate) fn allocations(
    cluster: &str,
    window: Window,
    r: &QueryResults,
    config: &Config,
) -> Vec<Allocation> {
    let mut pods = pods(r, window, config);
    apply_resources(cluster, &mut pods, r);

    // Labels and annotations: node (the include list), then namespace, then pod.
    let include: Vec<String> = config.node_labels.iter().map(|l| sanitize(l)).collect();
    let node_labels: BTreeMap<String, BTreeMap<String, String>> =
        label_maps(&r.node_labels, "label_", by_label("node"))
            .into_iter()
            .map(|(node, labels)| (node, labels.into_iter().filter(|(k, _)| include.contains(k)).collect()))
            .collect();
    let ns_labels = label_maps(&r.namespace_labels, "label_", by_label("namespace"));
    let ns_annotations = label_maps(&r.namespace_annotations, "annotation_", by_label("namespace"));
    let pod_labels = label_maps(&r.pod_labels, "label_", |s| pod_key(&s.labels));
    let pod_annotations = label_maps(&r.pod_annotations, "annotation_", |s| pod_key(&s.labels));
    let controllers = controllers(r, &pod_labels);
    let services = label_maps(&r.service_labels, "label_", by_namespaced("service"));
    let empty = BTreeMap::new();
    // Service → the containers of the pods it selects.
    let mut by_service: BTreeMap<PodKey, Vec<(PodKey, String)>> = BTreeMap::new();
    for (key, pod) in pods.iter_mut() {
        let nl = node_labels.get(&pod.node).unwrap_or(&empty);
        let nsl = ns_labels.get(&key.0).unwrap_or(&empty);
        let pl = pod_labels.get(key);
        let nsa = ns_annotations.get(&key.0).unwrap_or(&empty);
        let pa = pod_annotations.get(key).unwrap_or(&empty);
        // As OpenCost, only pods with a labels series are matched to services.
        let mut selected: Vec<String> = match pl {
            Some(labels) => services
                .iter()
                .filter(|((ns, _), selector)| ns == &key.0 && selects(selector, labels))
                .map(|((_, svc), _)| svc.clone())
                .collect(),
            None => Vec::new(),
        };
        selected.sort();
        for (name, a) in pod.containers.iter_mut() {
            let p = &mut a.properties;
            p.labels = nl.clone();
            p.labels.extend(nsl.iter().map(|(k, v)| (k.clone(), v.clone())));
            p.labels.extend(pl.unwrap_or(&empty).iter().map(|(k, v)| (k.clone(), v.clone())));
            p.namespace_labels = nsl.clone();
            p.annotations = nsa.clone();
            p.annotations.extend(pa.iter().map(|(k, v)| (k.clone(), v.clone())));
            p.namespace_annotations = nsa.clone();
            if let Some((kind, controller)) = controllers.get(key) {
                p.controller_kind = kind.clone();
                p.controller = controller.clone();
            }
            p.services = selected.clone();
            for svc in &selected {
                by_service.entry((key.0.clone(), svc.clone())).or_default().push((key.clone(), name.clone()));
            }
        }
    }

    // Unmounted entries: one per cluster (`__unmounted__` namespace, pod, container), one per
    // namespace for its claims (`<ns>-unmounted-pvcs`), spanning the window.
    let mut unmounted: BTreeMap<PodKey, Allocation> = BTreeMap::new();

    // Persistent volumes.
    let mut pvs = catalog::pvs(r, window, config);
    let pvcs = catalog::pvcs(r, &mut pvs, window, config);
    let mut mounts: BTreeMap<PodKey, BTreeSet<PodKey>> = BTreeMap::new();
    for s in &r.pod_pvc_allocation {
        let (Some(pod), pvc_key) = (
            pod_key(&s.labels),
            (
                get(&s.labels, &["namespace"]).to_owned(),
                get(&s.labels, &["persistentvolumeclaim"]).to_owned(),
            ),
        ) else {
            continue;
        };
        let pv = get(&s.labels, &["persistentvolume"]);
        let has_containers = pods.get(&pod).is_some_and(|p| !p.containers.is_empty());
        if pvs.contains_key(pv) && pvcs.contains_key(&pvc_key) && has_containers {
            mounts.entry(pvc_key).or_default().insert(pod);
        }
    }
    for (pvc_key, pvc) in &pvcs {
        let Some(pv) = pvs.get(&pvc.volume) else { continue };
        let key = pv_key(cluster, &pvc.volume);
        match mounts.get(pvc_key) {
            Some(mounted_by) => {
                let windows: BTreeMap<PodKey, (i64, i64)> = mounted_by
                    .iter()
                    .filter_map(|p| {
                        pods.get(p).map(|pod| (p.clone(), (pod.start.max(pvc.start), pod.end.min(pvc.end))))
                    })
                    .filter(|(_, (s, e))| e > s)
                    .collect();
                // The claim's whole cost over its life, split by interval (ampfed books each
                // stretch once; see `docs/kubecost-model.md` for how OpenCost differs).
                let byte_hours = pvc.bytes * pvc.hours();
                let cost = pv.price * pvc.bytes / GIB * pvc.hours();
                for (who, coef) in pvc_coefficients((pvc.start, pvc.end), &windows) {
                    match who.and_then(|p| pods.get_mut(&p)) {
                        Some(pod) => {
                            let count = pod.containers.len() as f64;
                            for a in pod.containers.values_mut() {
                                add_pv(
                                    a,
                                    &key,
                                    byte_hours * coef / count,
                                    cost * coef / count,
                                    &pv.provider_id,
                                );
                            }
                        }
                        None => {
                            let a = unmounted_for(&mut unmounted, cluster, window, Some(&pvc.namespace));
                            add_pv(a, &key, byte_hours * coef, cost * coef, &pv.provider_id);
                        }
                    }
                }
            }
            None => {
                // A claim no pod mounted: the volume's size and life, on the namespace.
                let a = unmounted_for(&mut unmounted, cluster, window, Some(&pvc.namespace));
                add_pv(
                    a,
                    &key,
                    pv.bytes * pv.hours(),
                    pv.price * pv.bytes / GIB * pv.hours(),
                    &pv.provider_id,
                );
            }
        }
    }
    let claimed: BTreeSet<&String> = pvcs.values().map(|c| &c.volume).collect();
    for (name, pv) in &pvs {
        if !claimed.contains(name) {
            let a = unmounted_for(&mut unmounted, cluster, window, None);
            let key = pv_key(cluster, name);
            add_pv(a, &key, pv.bytes * pv.hours(), pv.price * pv.bytes / GIB * pv.hours(), &pv.provider_id);
        }
    }

    // Load balancers: by overlap hours over the containers of the service's pods.
    for ((ns, svc), lb) in catalog::load_balancers(r, window, config) {
        let members = by_service.get(&(ns.clone(), svc.clone())).cloned().unwrap_or_default();
        let mut overlaps: Vec<(PodKey, String, f64)> = Vec::new();
        for (pod_key, container) in members {
            let Some(a) = pods.get(&pod_key).and_then(|p| p.containers.get(&container)) else { continue };
            let hours = lb.end.min(a.end).saturating_sub(lb.start.max(a.start)) as f64 / 3600.0;
            if hours > 0.0 {
                overlaps.push((pod_key, container, hours));
            }
        }
        let total: f64 = overlaps.iter().map(|o| o.2).sum();
        if overlaps.is_empty() || total <= 0.0 {
            let a = unmounted_for(&mut unmounted, cluster, window, None);
            a.load_balancer_cost += lb.cost;
            a.properties.services.push(svc.clone());
            a.properties.services.sort();
            continue;
        }
        for (pod_key, container, hours) in overlaps {
            if let Some(a) = pods.get_mut(&pod_key).and_then(|p| p.containers.get_mut(&container)) {
                a.load_balancer_cost += lb.cost * hours / total;
            }
        }
    }

    // Node prices, discounted, onto every allocation.
    let nodes = catalog::nodes(r);
    let discount = config.pricing.combined_discount();
    let default_node = NodeInfo::default();
    let mut out: Vec<Allocation> = Vec::new();
    for pod in pods.into_values() {
        out.extend(pod.containers.into_values());
    }
    out.extend(unmounted.into_values());
    for a in &mut out {
        let info = nodes.get(&a.properties.node).unwrap_or(&default_node);
        let prices = info.prices(config);
        a.properties.provider_id = info.provider_id.clone();
        a.cpu_cost = a.cpu_core_hours * prices.cpu * (1.0 - discount);
        a.ram_cost = a.ram_byte_hours / GIB * prices.ram * (1.0 - discount);
        a.gpu_cost = a.gpu_hours * prices.gpu;
        let p = &a.properties;
        a.name = format!("{}/{}/{}/{}/{}", p.cluster, p.node, p.namespace, p.pod, p.container);
        a.recompute();
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, pod: &str) -> PodKey {
        (ns.to_owned(), pod.to_owned())
    }

    #[test]
    fn cronjob_names_lose_their_timestamp() {
        assert_eq!(cronjob_of("backup-29000000"), Some("backup"));
        assert_eq!(cronjob_of("backup-1700000000"), Some("backup"));
        assert_eq!(cronjob_of("backup-123"), None);
        assert_eq!(cronjob_of("-12345678"), None);
    }

    #[test]
    fn pvc_coefficients_split_overlaps_and_leave_gaps_unmounted() {
        // A claim for 24 h; pod a mounts it 00-12, pod b 06-18. 00-06: a alone (0.25);
        // 06-12: a and b (0.25 split: 0.125 each); 12-18: b (0.25); 18-24: nobody (0.25).
        let h = 3600;
        let windows: BTreeMap<PodKey, (i64, i64)> =
            [(key("ns", "a"), (0, 12 * h)), (key("ns", "b"), (6 * h, 18 * h))].into();
        let c = pvc_coefficients((0, 24 * h), &windows);
        assert!((c[&Some(key("ns", "a"))] - 0.375).abs() < 1e-12);
        assert!((c[&Some(key("ns", "b"))] - 0.375).abs() < 1e-12);
        assert!((c[&None] - 0.25).abs() < 1e-12);
        assert!(pvc_coefficients((5, 5), &windows).is_empty());
    }
}
