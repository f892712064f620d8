//! What a cluster had in the window, read once from the [`QueryResults`] and used by both the
//! allocations (`detail`) and the assets (`assets`): nodes with their exported prices and
//! spot flag, persistent volumes and claims, and load balancers with their cost. Both sides
//! price from the same entries, so idle (assets − allocations) compares like with like.

use std::collections::BTreeMap;

use ampfed_allocation::Window;

use crate::config::Config;
use crate::pricing::{node_prices, storage_price, ExportedPrices, NodePrices};
use crate::results::{finite, get, start_end, QueryResults};

/// PV sizes at or above this (10 PiB) are taken as garbage and zeroed, as OpenCost does.
pub(crate) const PV_USAGE_SANITY_LIMIT_BYTES: f64 = 10.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0;

pub(crate) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A node as the price and spot series describe it.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeInfo {
    /// `None` when the node has no price series at all.
    pub exported: Option<ExportedPrices>,
    pub spot: bool,
    pub provider_id: String,
    pub instance_type: String,
}

impl NodeInfo {
    pub(crate) fn prices(&self, config: &Config) -> NodePrices {
        node_prices(self.exported.as_ref(), self.spot, &config.pricing)
    }
}

/// Nodes by name, from the CPU, RAM and GPU price results and `kubecost_node_is_spot`.
pub(crate) fn nodes(r: &QueryResults) -> BTreeMap<String, NodeInfo> {
    let mut out: BTreeMap<String, NodeInfo> = BTreeMap::new();
    for (samples, which) in [(&r.cpu_price, 0), (&r.ram_price, 1), (&r.gpu_price, 2)] {
        for s in samples {
            let node = get(&s.labels, &["node"]);
            if node.is_empty() {
                continue;
            }
            let info = out.entry(node.to_owned()).or_default();
            let e = info.exported.get_or_insert_with(ExportedPrices::default);
            // As OpenCost, the value is taken as it is (NaN included: getNodePricing
            // replaces it).
            match which {
                0 => e.cpu = s.value,
                1 => e.ram = s.value,
                _ => e.gpu = s.value,
            }
            let provider = get(&s.labels, &["provider_id"]);
            if !provider.is_empty() {
                info.provider_id = provider.to_owned();
            }
            let instance_type = get(&s.labels, &["instance_type"]);
            if !instance_type.is_empty() {
                info.instance_type = instance_type.to_owned();
            }
        }
    }
    for s in &r.node_is_spot {
        let node = get(&s.labels, &["node"]);
        if node.is_empty() {
            continue;
        }
        // Unlike OpenCost (which ignores the spot flag of a node without prices), a spot node
        // with no price series is still priced as spot.
        let info = out.entry(node.to_owned()).or_default();
        if finite(s).is_some_and(|v| v > 0.0) {
            info.spot = true;
        }
    }
    out
}

/// A persistent volume.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pv {
    /// When it existed, clamped to the window; `None` without an active series.
    pub active: Option<(i64, i64)>,
    pub bytes: f64,
    /// Resolved price per GiB-hour (`pricing::storage_price`).
    pub price: f64,
    pub provider_id: String,
    pub storage_class: String,
}

impl Pv {
    pub(crate) fn hours(&self) -> f64 {
        self.active.map_or(0.0, |(s, e)| e.saturating_sub(s).max(0) as f64 / 3600.0)
    }
}

/// PVs by name.
pub(crate) fn pvs(r: &QueryResults, window: Window, config: &Config) -> BTreeMap<String, Pv> {
    let mut out: BTreeMap<String, Pv> = BTreeMap::new();
    for s in &r.pv_active {
        let name = get(&s.labels, &["persistentvolume"]);
        if name.is_empty() {
            continue;
        }
        if let Some(se) = start_end(s, window, config.resolution_secs) {
            let pv = out.entry(name.to_owned()).or_default();
            pv.active = Some(match pv.active {
                Some((a, b)) => (a.min(se.0), b.max(se.1)),
                None => se,
            });
        }
    }
    let mut exported: BTreeMap<String, f64> = BTreeMap::new();
    for s in &r.pv_cost {
        let name = get(&s.labels, &["persistentvolume", "volumename"]);
        if name.is_empty() {
            continue;
        }
        exported.insert(name.to_owned(), s.value);
        let pv = out.entry(name.to_owned()).or_default();
        let provider = get(&s.labels, &["provider_id"]);
        if !provider.is_empty() {
            pv.provider_id = provider.to_owned();
        }
    }
    for s in &r.pv_meta {
        let name = get(&s.labels, &["persistentvolume"]);
        if let Some(pv) = out.get_mut(name) {
            let provider = get(&s.labels, &["provider_id"]);
            if !provider.is_empty() {
                pv.provider_id = provider.to_owned();
            }
            let class = get(&s.labels, &["storageclass"]);
            if !class.is_empty() {
                pv.storage_class = class.to_owned();
            }
        }
    }
    for s in &r.pv_bytes {
        let name = get(&s.labels, &["persistentvolume"]);
        if let (Some(pv), Some(bytes)) = (out.get_mut(name), finite(s)) {
            pv.bytes = if bytes < PV_USAGE_SANITY_LIMIT_BYTES { bytes } else { 0.0 };
        }
    }
    for (name, pv) in out.iter_mut() {
        pv.price = storage_price(exported.get(name).copied(), &config.pricing);
    }
    out
}

/// A persistent volume claim bound to a known PV.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pvc {
    pub namespace: String,
    pub name: String,
    pub volume: String,
    pub start: i64,
    pub end: i64,
    /// Requested bytes.
    pub bytes: f64,
}

impl Pvc {
    pub(crate) fn hours(&self) -> f64 {
        self.end.saturating_sub(self.start).max(0) as f64 / 3600.0
    }
}

/// PVCs by `(namespace, name)`, only those whose volume is a known PV (as OpenCost).
pub(crate) fn pvcs(
    r: &QueryResults,
    pvs: &mut BTreeMap<String, Pv>,
    window: Window,
    config: &Config,
) -> BTreeMap<(String, String), Pvc> {
    let mut out: BTreeMap<(String, String), Pvc> = BTreeMap::new();
    for s in &r.pvc_info {
        let (ns, name, volume) = (
            get(&s.labels, &["namespace"]),
            get(&s.labels, &["persistentvolumeclaim"]),
            get(&s.labels, &["volumename"]),
        );
        let Some(pv) = pvs.get_mut(volume) else { continue };
        if ns.is_empty() || name.is_empty() {
            continue;
        }
        let class = get(&s.labels, &["storageclass"]);
        if !class.is_empty() {
            pv.storage_class = class.to_owned();
        }
        let Some((start, end)) = start_end(s, window, config.resolution_secs) else { continue };
        let pvc = out.entry((ns.to_owned(), name.to_owned())).or_insert_with(|| Pvc {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            volume: volume.to_owned(),
            start,
            end,
            bytes: 0.0,
        });
        pvc.start = pvc.start.min(start);
        pvc.end = pvc.end.max(end);
    }
    for s in &r.pvc_bytes_requested {
        let key = (
            get(&s.labels, &["namespace"]).to_owned(),
            get(&s.labels, &["persistentvolumeclaim"]).to_owned(),
        );
        if let (Some(pvc), Some(bytes)) = (out.get_mut(&key), finite(s)) {
            pvc.bytes = bytes;
        }
    }
    out
}

/// A load balancer service.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lb {
    pub start: i64,
    /// The last sample (clamped to the window).
    pub active_end: i64,
    /// The end, one resolution later than the last sample once priced (OpenCost's
    /// interpolation).
    pub end: i64,
    pub cost: f64,
    pub price: f64,
    pub ip: String,
}

/// Load balancers by `(namespace, service)`: active time from the subquery, cost = average
/// price × (active hours + one resolution), as OpenCost's `getLoadBalancerCosts` (which adds
/// the resolution to make up for the sample missing at one end of the subquery).
pub(crate) fn load_balancers(
    r: &QueryResults,
    window: Window,
    config: &Config,
) -> BTreeMap<(String, String), Lb> {
    let mut out: BTreeMap<(String, String), Lb> = BTreeMap::new();
    for s in &r.lb_active {
        let key = (get(&s.labels, &["namespace"]).to_owned(), get(&s.labels, &["service_name"]).to_owned());
        if key.0.is_empty() || key.1.is_empty() {
            continue;
        }
        if let Some((start, end)) = start_end(s, window, config.resolution_secs) {
            out.insert(key, Lb { start, active_end: end, end, ..Lb::default() });
        }
    }
    let resolution = config.resolution_secs;
    for s in &r.lb_cost {
        let key = (get(&s.labels, &["namespace"]).to_owned(), get(&s.labels, &["service_name"]).to_owned());
        // No ingress IP yet: the load balancer is being created or deleted; not charged.
        let ip = get(&s.labels, &["ingress_ip"]);
        let (Some(lb), Some(price)) = (out.get_mut(&key), finite(s)) else { continue };
        if ip.is_empty() {
            continue;
        }
        let hours = lb.active_end.saturating_sub(lb.start) as f64 / 3600.0;
        if hours <= 0.0 {
            continue;
        }
        // OpenCost adds the resolution the subquery misses at one end; ampfed keeps the load
        // balancer inside its window (an asset of a day cannot run past it).
        let end = lb.active_end.saturating_add(resolution).min(window.end);
        let billed_hours = end.saturating_sub(lb.start) as f64 / 3600.0;
        lb.cost += price * billed_hours;
        lb.price += price;
        lb.end = end;
        lb.ip = ip.to_owned();
    }
    out
}

/// Whether an IP is private (RFC 1918 / RFC 4193), as Go's `net.IP.IsPrivate`.
pub(crate) fn is_private_ip(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_private(),
        Ok(std::net::IpAddr::V6(v6)) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        Err(_) => false,
    }
}
