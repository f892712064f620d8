//! The assets of one window, as OpenCost's `ComputeAssets` (`ClusterNodes`, `ClusterDisks`,
//! `ClusterLoadBalancers`) builds them, plus Kubecost's cluster management asset:
//!
//! - a node's hours come from the `node_total_hourly_cost` subquery (nodes that start or end
//!   inside the window count only their part), its capacity from the averaged
//!   `kube_node_status_capacity_*` series; CPU cost = price × cores × hours, RAM cost =
//!   price × GiB × hours, GPU cost = price × GPUs × hours, at the same resolved prices the
//!   allocations use, with the combined discount recorded (and applied in the totals);
//! - a disk's cost = price per GiB-hour × GiB × the hours of its
//!   `kube_persistentvolume_capacity_bytes` subquery;
//! - a load balancer's cost = price × (active hours + one resolution), as the allocation side;
//! - the management fee = `kubecost_cluster_management_cost` × the hours it was reported, plus
//!   one resolution (the sample a subquery misses at one end), at most the window.

use std::collections::BTreeMap;

use ampfed_allocation::{AssetSet, ClusterManagementAsset, DiskAsset, LoadBalancerAsset, NodeAsset, Window};
use ampfed_prom::InstantSample;

use crate::catalog::{self, is_private_ip, NodeInfo, GIB};
use crate::config::Config;
use crate::results::{finite, get, prefixed, start_end, QueryResults};

fn per_node(samples: &[InstantSample]) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter_map(|s| {
            let node = get(&s.labels, &["node"]);
            (!node.is_empty()).then_some((node.to_owned(), finite(s)?))
        })
        .collect()
}

/// The asset set of `cluster` in `window`.
pub(crate) fn assets(cluster: &str, window: Window, r: &QueryResults, config: &Config) -> AssetSet {
    let mut set = AssetSet::new(vec![cluster.to_owned()], window);
    let res = config.resolution_secs;

    // Nodes.
    let infos = catalog::nodes(r);
    let mut active: BTreeMap<String, (i64, i64, String)> = BTreeMap::new();
    for s in &r.node_active {
        let node = get(&s.labels, &["node"]);
        let Some((start, end)) = start_end(s, window, res) else { continue };
        if node.is_empty() {
            continue;
        }
        let provider = get(&s.labels, &["provider_id"]).to_owned();
        let e = active.entry(node.to_owned()).or_insert((start, end, provider));
        e.0 = e.0.min(start);
        e.1 = e.1.max(end);
    }
    let cpu_cores = per_node(&r.node_cpu_capacity);
    let ram_bytes = per_node(&r.node_ram_capacity);
    let cpu_alloc = per_node(&r.node_cpu_allocatable);
    let ram_alloc = per_node(&r.node_ram_allocatable);
    let gpus = per_node(&r.node_gpu_count);
    let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for s in &r.node_labels {
        let node = get(&s.labels, &["node"]);
        if !node.is_empty() {
            labels.entry(node.to_owned()).or_default().extend(prefixed(&s.labels, "label_"));
        }
    }
    let mut names: Vec<&String> = infos.keys().chain(active.keys()).chain(gpus.keys()).collect();
    names.sort();
    names.dedup();
    let default_info = NodeInfo::default();
    let discount = config.pricing.combined_discount();
    for name in names {
        let info = infos.get(name).unwrap_or(&default_info);
        let prices = info.prices(config);
        let (start, end, active_provider) = match active.get(name) {
            Some((s, e, p)) => (*s, *e, p.clone()),
            None => {
                tracing::warn!(cluster, node = %name, "node has prices but no node_total_hourly_cost series; no hours");
                (window.start, window.start, String::new())
            }
        };
        let hours = end.saturating_sub(start).max(0) as f64 / 3600.0;
        let cores = cpu_cores.get(name).copied().unwrap_or(0.0);
        let bytes = ram_bytes.get(name).copied().unwrap_or(0.0);
        let gpu_count = gpus.get(name).copied().unwrap_or(0.0);
        let mut node = NodeAsset {
            cluster: cluster.to_owned(),
            name: name.clone(),
            provider_id: if info.provider_id.is_empty() { active_provider } else { info.provider_id.clone() },
            node_type: info.instance_type.clone(),
            start,
            end,
            minutes: hours * 60.0,
            cpu_cores: cores,
            ram_bytes: bytes,
            gpu_count,
            cpu_cores_allocatable: cpu_alloc.get(name).copied().unwrap_or(0.0),
            ram_bytes_allocatable: ram_alloc.get(name).copied().unwrap_or(0.0),
            cpu_core_hours: cores * hours,
            ram_byte_hours: bytes * hours,
            gpu_hours: gpu_count * hours,
            cpu_price_per_core_hour: prices.cpu,
            ram_price_per_gib_hour: prices.ram,
            gpu_price_per_gpu_hour: prices.gpu,
            price_source: prices.source,
            cpu_cost: prices.cpu * cores * hours,
            ram_cost: prices.ram * bytes / GIB * hours,
            gpu_cost: prices.gpu * gpu_count * hours,
            preemptible: info.spot,
            discount,
            adjustment: 0.0,
            total_cost: 0.0,
            labels: labels.get(name).cloned().unwrap_or_default(),
        };
        node.total_cost = node.computed_total();
        set.nodes.push(node);
    }

    // Disks.
    let mut pvs = catalog::pvs(r, window, config);
    let pvcs = catalog::pvcs(r, &mut pvs, window, config);
    for (name, pv) in &pvs {
        let (start, end) = pv.active.unwrap_or((window.start, window.start));
        let hours = pv.hours();
        let claim = pvcs.values().find(|c| &c.volume == name);
        let cost = pv.price * pv.bytes / GIB * hours;
        set.disks.push(DiskAsset {
            cluster: cluster.to_owned(),
            name: name.clone(),
            provider_id: pv.provider_id.clone(),
            storage_class: pv.storage_class.clone(),
            claim_name: claim.map(|c| c.name.clone()).unwrap_or_default(),
            claim_namespace: claim.map(|c| c.namespace.clone()).unwrap_or_default(),
            start,
            end,
            minutes: hours * 60.0,
            bytes: pv.bytes,
            byte_hours: pv.bytes * hours,
            price_per_gib_hour: pv.price,
            cost,
            adjustment: 0.0,
            total_cost: cost,
        });
    }

    // Load balancers.
    for ((ns, svc), lb) in catalog::load_balancers(r, window, config) {
        set.load_balancers.push(LoadBalancerAsset {
            cluster: cluster.to_owned(),
            name: format!("{ns}/{svc}"),
            namespace: ns,
            service: svc,
            provider_id: lb.ip.clone(),
            private: is_private_ip(&lb.ip),
            ip: lb.ip,
            start: lb.start,
            end: lb.end,
            minutes: lb.end.saturating_sub(lb.start) as f64 / 60.0,
            price_per_hour: lb.price,
            cost: lb.cost,
            adjustment: 0.0,
            total_cost: lb.cost,
        });
    }

    // Cluster management.
    let span = r
        .cluster_management_active
        .iter()
        .filter_map(|s| start_end(s, window, res))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
        .map(|(s, e)| (s, e.saturating_add(res).min(window.end)))
        .unwrap_or((window.start, window.end));
    let mut fees: BTreeMap<String, f64> = BTreeMap::new();
    for s in &r.cluster_management_cost {
        if let Some(price) = finite(s) {
            *fees.entry(get(&s.labels, &["provisioner_name"]).to_owned()).or_default() += price;
        }
    }
    for (provisioner, price) in fees {
        let minutes = span.1.saturating_sub(span.0).max(0) as f64 / 60.0;
        let cost = price * minutes / 60.0;
        set.cluster_management.push(ClusterManagementAsset {
            cluster: cluster.to_owned(),
            provisioner,
            start: span.0,
            end: span.1,
            minutes,
            price_per_hour: price,
            cost,
            adjustment: 0.0,
            total_cost: cost,
        });
    }
    set.sort();
    set
}
