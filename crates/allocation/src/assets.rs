//! The assets model (Kubecost's `/model/assets`): what a cluster paid for in a window, per
//! asset: [`NodeAsset`]s (capacity, hours, CPU/RAM/GPU cost, spot or on-demand, discount),
//! [`DiskAsset`]s (persistent volumes), [`LoadBalancerAsset`]s and [`ClusterManagementAsset`]s
//! (the EKS control plane fee), gathered in an [`AssetSet`]. Idle is computed from these
//! (`crate::idle`); the cost model (`ampfed-costmodel`) builds them.
//!
//! As in OpenCost, a node's CPU and RAM costs are stored before its discount and
//! `totalCost = (cpuCost + ramCost) × (1 − discount) + gpuCost + adjustment`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Window;

/// One node over (part of) a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAsset {
    pub cluster: String,
    pub name: String,
    #[serde(default, rename = "providerID")]
    pub provider_id: String,
    /// The instance type (`m5.xlarge`).
    #[serde(default)]
    pub node_type: String,
    /// When the node ran, unix seconds, clamped to the window.
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    /// Capacity, averaged over the node's samples.
    pub cpu_cores: f64,
    pub ram_bytes: f64,
    #[serde(default)]
    pub gpu_count: f64,
    /// Allocatable capacity (capacity less what the kubelet reserves), when known.
    #[serde(default)]
    pub cpu_cores_allocatable: f64,
    #[serde(default)]
    pub ram_bytes_allocatable: f64,
    pub cpu_core_hours: f64,
    pub ram_byte_hours: f64,
    #[serde(default)]
    pub gpu_hours: f64,
    /// The prices used, before discount: per core-hour, per GiB-hour, per GPU-hour.
    pub cpu_price_per_core_hour: f64,
    pub ram_price_per_gib_hour: f64,
    #[serde(default)]
    pub gpu_price_per_gpu_hour: f64,
    /// Where the prices came from: `prometheus` (the exporter), with `/customCPU`,
    /// `/customRAM`, `/customGPU` for each price replaced by the default, `custom` (custom
    /// prices on) or `default` (no price series for the node).
    #[serde(default)]
    pub price_source: String,
    /// Before discount.
    pub cpu_cost: f64,
    pub ram_cost: f64,
    #[serde(default)]
    pub gpu_cost: f64,
    /// Spot (preemptible) node.
    #[serde(default)]
    pub preemptible: bool,
    /// The combined discount, 0..1, applied to CPU and RAM (not GPU).
    #[serde(default)]
    pub discount: f64,
    #[serde(default)]
    pub adjustment: f64,
    pub total_cost: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl NodeAsset {
    /// CPU cost after the discount.
    pub fn discounted_cpu_cost(&self) -> f64 {
        self.cpu_cost * (1.0 - self.discount)
    }

    /// RAM cost after the discount.
    pub fn discounted_ram_cost(&self) -> f64 {
        self.ram_cost * (1.0 - self.discount)
    }

    /// Kubecost's node total: `(cpuCost + ramCost) × (1 − discount) + gpuCost + adjustment`.
    pub fn computed_total(&self) -> f64 {
        (self.cpu_cost + self.ram_cost) * (1.0 - self.discount) + self.gpu_cost + self.adjustment
    }
}

/// One persistent volume over (part of) a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiskAsset {
    pub cluster: String,
    /// The PV name.
    pub name: String,
    #[serde(default, rename = "providerID")]
    pub provider_id: String,
    #[serde(default)]
    pub storage_class: String,
    #[serde(default)]
    pub claim_name: String,
    #[serde(default)]
    pub claim_namespace: String,
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    pub bytes: f64,
    pub byte_hours: f64,
    pub price_per_gib_hour: f64,
    pub cost: f64,
    #[serde(default)]
    pub adjustment: f64,
    pub total_cost: f64,
}

/// One load balancer service over (part of) a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerAsset {
    pub cluster: String,
    /// `<namespace>/<service>`, as OpenCost names it.
    pub name: String,
    pub namespace: String,
    pub service: String,
    #[serde(default, rename = "providerID")]
    pub provider_id: String,
    #[serde(default)]
    pub ip: String,
    /// The ingress IP is a private (RFC 1918 or RFC 4193) address.
    #[serde(default)]
    pub private: bool,
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    pub price_per_hour: f64,
    pub cost: f64,
    #[serde(default)]
    pub adjustment: f64,
    pub total_cost: f64,
}

/// A cluster's management fee (the EKS control plane, $0.10 an hour) over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterManagementAsset {
    pub cluster: String,
    /// `kubecost_cluster_management_cost`'s `provisioner_name` (`EKS`).
    #[serde(default)]
    pub provisioner: String,
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    pub price_per_hour: f64,
    pub cost: f64,
    #[serde(default)]
    pub adjustment: f64,
    pub total_cost: f64,
}

/// All assets of one window, from one cluster or (combined) from many; each list sorted by
/// cluster and name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssetSet {
    pub clusters: Vec<String>,
    pub window: Window,
    #[serde(default)]
    pub nodes: Vec<NodeAsset>,
    #[serde(default)]
    pub disks: Vec<DiskAsset>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancerAsset>,
    #[serde(default)]
    pub cluster_management: Vec<ClusterManagementAsset>,
}

/// Per-cluster sums of an [`AssetSet`], by asset type (nodes after discount).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAssetTotals {
    pub node_cpu_cost: f64,
    pub node_ram_cost: f64,
    pub node_gpu_cost: f64,
    pub node_cost: f64,
    pub disk_cost: f64,
    pub load_balancer_cost: f64,
    pub cluster_management_cost: f64,
    pub total_cost: f64,
}

impl AssetSet {
    /// A set with every list sorted by (cluster, name) and clusters sorted and unique.
    pub fn new(mut clusters: Vec<String>, window: Window) -> AssetSet {
        clusters.sort();
        clusters.dedup();
        AssetSet { clusters, window, ..AssetSet::default() }
    }

    /// Sorts every list by (cluster, name): the set's canonical order.
    pub fn sort(&mut self) {
        self.clusters.sort();
        self.clusters.dedup();
        self.nodes.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        self.disks.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        self.load_balancers.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        self.cluster_management
            .sort_by(|a, b| (&a.cluster, &a.provisioner).cmp(&(&b.cluster, &b.provisioner)));
    }

    /// Several clusters' sets of the same window as one (what federation combines); `None`
    /// for no sets or windows that differ.
    pub fn combine(sets: &[AssetSet]) -> Option<AssetSet> {
        let first = sets.first()?;
        if sets.iter().any(|s| s.window != first.window) {
            return None;
        }
        let mut out = AssetSet::new(Vec::new(), first.window);
        for s in sets {
            out.clusters.extend(s.clusters.iter().cloned());
            out.nodes.extend(s.nodes.iter().cloned());
            out.disks.extend(s.disks.iter().cloned());
            out.load_balancers.extend(s.load_balancers.iter().cloned());
            out.cluster_management.extend(s.cluster_management.iter().cloned());
        }
        out.sort();
        Some(out)
    }

    /// Accumulates sets of consecutive windows of one cluster into one over their union:
    /// assets with the same (cluster, name) are summed (hours and costs), spanning the earlier
    /// start to the later end; capacities are re-averaged over the summed hours. `None` for
    /// no sets.
    pub fn accumulate(sets: &[AssetSet]) -> Option<AssetSet> {
        let first = sets.first()?;
        let mut out = AssetSet::new(Vec::new(), first.window);
        let mut nodes = BTreeMap::new();
        let mut disks = BTreeMap::new();
        let mut lbs = BTreeMap::new();
        let mut mgmt = BTreeMap::new();
        for s in sets {
            out.window.start = out.window.start.min(s.window.start);
            out.window.end = out.window.end.max(s.window.end);
            out.clusters.extend(s.clusters.iter().cloned());
            sum_into(&mut nodes, &s.nodes);
            sum_into(&mut disks, &s.disks);
            sum_into(&mut lbs, &s.load_balancers);
            sum_into(&mut mgmt, &s.cluster_management);
        }
        out.nodes = nodes.into_values().collect();
        out.disks = disks.into_values().collect();
        out.load_balancers = lbs.into_values().collect();
        out.cluster_management = mgmt.into_values().collect();
        out.sort();
        Some(out)
    }

    /// Per-cluster totals by asset type.
    pub fn cluster_totals(&self) -> BTreeMap<String, ClusterAssetTotals> {
        let mut out: BTreeMap<String, ClusterAssetTotals> = BTreeMap::new();
        for n in &self.nodes {
            let t = out.entry(n.cluster.clone()).or_default();
            t.node_cpu_cost += n.discounted_cpu_cost();
            t.node_ram_cost += n.discounted_ram_cost();
            t.node_gpu_cost += n.gpu_cost;
            t.node_cost += n.total_cost;
        }
        for d in &self.disks {
            out.entry(d.cluster.clone()).or_default().disk_cost += d.total_cost;
        }
        for l in &self.load_balancers {
            out.entry(l.cluster.clone()).or_default().load_balancer_cost += l.total_cost;
        }
        for m in &self.cluster_management {
            out.entry(m.cluster.clone()).or_default().cluster_management_cost += m.total_cost;
        }
        for t in out.values_mut() {
            t.total_cost = t.node_cost + t.disk_cost + t.load_balancer_cost + t.cluster_management_cost;
        }
        out
    }

    /// Everything the set's clusters paid for in the window.
    pub fn total_cost(&self) -> f64 {
        self.cluster_totals().values().map(|t| t.total_cost).sum()
    }
}

/// An asset that [`AssetSet::accumulate`] sums across windows: its identity within a set, and
/// how a later window's piece adds to it (span, minutes, hours and costs).
trait Summed: Clone {
    fn key(&self) -> (String, String);
    fn add(&mut self, later: &Self);
}

/// Adds every asset of `items` to the one of the same key in `acc`, or keeps it as the first.
fn sum_into<T: Summed>(acc: &mut BTreeMap<(String, String), T>, items: &[T]) {
    for item in items {
        match acc.get_mut(&item.key()) {
            Some(sum) => sum.add(item),
            None => {
                acc.insert(item.key(), item.clone());
            }
        }
    }
}

impl Summed for NodeAsset {
    fn key(&self) -> (String, String) {
        (self.cluster.clone(), self.name.clone())
    }

    fn add(&mut self, n: &NodeAsset) {
        self.start = self.start.min(n.start);
        self.end = self.end.max(n.end);
        self.minutes += n.minutes;
        self.cpu_core_hours += n.cpu_core_hours;
        self.ram_byte_hours += n.ram_byte_hours;
        self.gpu_hours += n.gpu_hours;
        self.cpu_cost += n.cpu_cost;
        self.ram_cost += n.ram_cost;
        self.gpu_cost += n.gpu_cost;
        self.adjustment += n.adjustment;
        // Capacities are re-averaged over the summed hours.
        let hours = self.minutes / 60.0;
        if hours > 0.0 {
            self.cpu_cores = self.cpu_core_hours / hours;
            self.ram_bytes = self.ram_byte_hours / hours;
            self.gpu_count = self.gpu_hours / hours;
        }
        self.total_cost = self.computed_total();
    }
}

impl Summed for DiskAsset {
    fn key(&self) -> (String, String) {
        (self.cluster.clone(), self.name.clone())
    }

    fn add(&mut self, d: &DiskAsset) {
        self.start = self.start.min(d.start);
        self.end = self.end.max(d.end);
        self.minutes += d.minutes;
        self.byte_hours += d.byte_hours;
        self.cost += d.cost;
        self.adjustment += d.adjustment;
        self.total_cost = self.cost + self.adjustment;
    }
}

impl Summed for LoadBalancerAsset {
    fn key(&self) -> (String, String) {
        (self.cluster.clone(), self.name.clone())
    }

    fn add(&mut self, l: &LoadBalancerAsset) {
        self.start = self.start.min(l.start);
        self.end = self.end.max(l.end);
        self.minutes += l.minutes;
        self.cost += l.cost;
        self.adjustment += l.adjustment;
        self.total_cost = self.cost + self.adjustment;
    }
}

impl Summed for ClusterManagementAsset {
    fn key(&self) -> (String, String) {
        (self.cluster.clone(), self.provisioner.clone())
    }

    fn add(&mut self, m: &ClusterManagementAsset) {
        self.start = self.start.min(m.start);
        self.end = self.end.max(m.end);
        self.minutes += m.minutes;
        self.cost += m.cost;
        self.adjustment += m.adjustment;
        self.total_cost = self.cost + self.adjustment;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(cluster: &str, name: &str, start: i64, end: i64) -> NodeAsset {
        let hours = (end - start) as f64 / 3600.0;
        let mut n = NodeAsset {
            cluster: cluster.into(),
            name: name.into(),
            start,
            end,
            minutes: hours * 60.0,
            cpu_cores: 4.0,
            cpu_core_hours: 4.0 * hours,
            cpu_cost: 4.0 * hours * 0.031247,
            ram_cost: 16.0 * hours * 0.004188,
            discount: 0.1,
            ..NodeAsset::default()
        };
        n.total_cost = n.computed_total();
        n
    }

    #[test]
    fn totals_discount_cpu_and_ram_but_not_gpu() {
        // 24 h of an m5.xlarge: CPU 4 × 24 × 0.031247 = 2.999712, RAM 16 × 24 × 0.004188 =
        // 1.608192; a 10 % discount leaves 0.9 × 4.607904 = 4.1471136; plus 1.5 of GPU.
        let mut n = node("c", "n", 0, 86_400);
        n.gpu_cost = 1.5;
        n.total_cost = n.computed_total();
        assert!((n.total_cost - (4.1471136 + 1.5)).abs() < 1e-9);
        let mut set = AssetSet::new(vec!["c".into()], Window { start: 0, end: 86_400 });
        set.nodes.push(n);
        set.cluster_management.push(ClusterManagementAsset {
            cluster: "c".into(),
            cost: 2.4,
            total_cost: 2.4,
            ..ClusterManagementAsset::default()
        });
        let t = &set.cluster_totals()["c"];
        assert!((t.node_cpu_cost - 0.9 * 2.999712).abs() < 1e-9);
        assert!((t.total_cost - (4.1471136 + 1.5 + 2.4)).abs() < 1e-9);
    }

    #[test]
    fn a_set_round_trips_through_json() {
        let mut set = AssetSet::new(vec!["c".into()], Window { start: 0, end: 86_400 });
        set.nodes.push(node("c", "n", 0, 86_400));
        set.disks.push(DiskAsset {
            cluster: "c".into(),
            name: "pv".into(),
            cost: 0.5,
            ..DiskAsset::default()
        });
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("\"clusterManagement\":[]"), "{json}");
        assert_eq!(serde_json::from_str::<AssetSet>(&json).unwrap(), set);
        assert!(serde_json::from_str::<AssetSet>(r#"{"clusters":[],"window":{"start":0,"end":1},"x":1}"#)
            .is_err());
    }

    #[test]
    fn accumulating_two_halves_gives_the_whole_day() {
        let day = Window { start: 0, end: 86_400 };
        let mut a = AssetSet::new(vec!["c".into()], Window { start: 0, end: 43_200 });
        a.nodes.push(node("c", "n", 0, 43_200));
        let mut b = AssetSet::new(vec!["c".into()], Window { start: 43_200, end: 86_400 });
        b.nodes.push(node("c", "n", 43_200, 86_400));
        let whole = AssetSet::accumulate(&[a, b]).unwrap();
        assert_eq!(whole.window, day);
        assert_eq!(whole.nodes.len(), 1);
        let n = &whole.nodes[0];
        assert_eq!(n.minutes, 1440.0);
        assert!((n.cpu_cost - 2.999712).abs() < 1e-9);
        assert!((n.cpu_cores - 4.0).abs() < 1e-12);
        assert_eq!(AssetSet::combine(&[whole.clone(), whole.clone()]).unwrap().nodes.len(), 2);
    }
}
