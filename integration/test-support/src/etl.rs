//! Synthetic ETL, with one home: the allocation and asset rows the federator's tests, the
//! embedded S3's tests and the benchmarks (`cargo xtask bench federation`, `bench api`) ship.
//!
//! [`allocation`], [`node`] and [`cluster_management`] build one row of a cluster's UTC day;
//! callers set the costs they assert on with struct update syntax. [`Synthetic`] is the
//! benchmarks' bucket: N clusters × D days × C containers, every number a function of the
//! cluster, day and container numbers, so the same size gives the same bytes.

use ampfed_allocation::{
    Allocation, AllocationSet, AssetSet, ClusterManagementAsset, NodeAsset, Properties, Window,
};

/// 2026-01-01T00:00:00Z, the first day of the synthetic buckets.
pub const EPOCH: i64 = 1_767_225_600;
/// One UTC day in seconds.
pub const DAY: i64 = 86_400;

/// Day `n` after [`EPOCH`] (negative before it).
pub fn day(n: i64) -> Window {
    let start = EPOCH + n * DAY;
    Window { start, end: start + DAY }
}

/// A container running all of `window` on `node`, named as the cost model names it
/// (`<cluster>/<node>/<namespace>/<pod>/<container>`), with half a core and no cost.
pub fn allocation(
    cluster: &str,
    window: Window,
    node: &str,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Allocation {
    Allocation {
        name: format!("{cluster}/{node}/{namespace}/{pod}/{container}"),
        properties: Properties {
            cluster: cluster.to_owned(),
            node: node.to_owned(),
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
            ..Properties::default()
        },
        start: window.start,
        end: window.end,
        minutes: (window.end - window.start) as f64 / 60.0,
        cpu_cores: 0.5,
        ..Allocation::default()
    }
}

/// A node of `cpu_cores` running all of `window`, costing `cost` (all of it CPU).
pub fn node(cluster: &str, window: Window, name: &str, cpu_cores: f64, cost: f64) -> NodeAsset {
    NodeAsset {
        cluster: cluster.to_owned(),
        name: name.to_owned(),
        start: window.start,
        end: window.end,
        minutes: (window.end - window.start) as f64 / 60.0,
        cpu_cores,
        cpu_cost: cost,
        total_cost: cost,
        ..NodeAsset::default()
    }
}

/// EKS's control plane over all of `window`: $0.10 an hour, $2.40 a day.
pub fn cluster_management(cluster: &str, window: Window) -> ClusterManagementAsset {
    let hours = (window.end - window.start) as f64 / 3600.0;
    ClusterManagementAsset {
        cluster: cluster.to_owned(),
        provisioner: "EKS".into(),
        start: window.start,
        end: window.end,
        minutes: hours * 60.0,
        price_per_hour: 0.1,
        cost: 0.1 * hours,
        total_cost: 0.1 * hours,
        ..ClusterManagementAsset::default()
    }
}

/// A cluster's asset set of `window`: one node (`node`) and EKS's control plane.
pub fn assets(cluster: &str, window: Window, node_name: &str, cpu_cores: f64, node_cost: f64) -> AssetSet {
    let mut assets = AssetSet::new(vec![cluster.to_owned()], window);
    assets.nodes.push(node(cluster, window, node_name, cpu_cores, node_cost));
    assets.cluster_management.push(cluster_management(cluster, window));
    assets
}

/// The benchmarks' bucket: `clusters` × `days` daily windows from [`EPOCH`], `containers`
/// per cluster and day (10 namespaces, 2 containers a pod, 4 nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synthetic {
    pub clusters: usize,
    pub days: usize,
    pub containers: usize,
}

impl Synthetic {
    /// Allocation rows in the bucket.
    pub fn rows(&self) -> usize {
        self.clusters * self.days * self.containers
    }

    /// Objects in the bucket: an allocation and an asset set per cluster and day.
    pub fn objects(&self) -> usize {
        self.clusters * self.days * 2
    }

    /// Cluster `i`'s id: `cluster-0007`.
    pub fn cluster(i: usize) -> String {
        format!("cluster-{i:04}")
    }

    /// Cluster `c`'s allocations of day `d`; `bump` is added to every CPU cost (a rewrite).
    /// Container `k` costs `0.01 × ((7c + 13d + 17k) mod 1000) + bump` of CPU, half that of
    /// RAM, 1.5 times it in all.
    pub fn allocations(&self, c: usize, d: usize, bump: f64) -> AllocationSet {
        let cluster = Synthetic::cluster(c);
        let window = day(d as i64);
        let rows = (0..self.containers)
            .map(|k| {
                let cost = 0.01 * ((c * 7 + d * 13 + k * 17) % 1000) as f64 + bump;
                let (namespace, pod) = (format!("ns-{}", k % 10), format!("pod-{}", k / 2));
                let (container, node) = (format!("c-{}", k % 2), format!("node-{}", k % 4));
                Allocation {
                    cpu_core_hours: 12.0,
                    cpu_cost: cost,
                    ram_bytes: 1.0e9,
                    ram_byte_hours: 24.0e9,
                    ram_cost: cost / 2.0,
                    total_cost: cost * 1.5,
                    ..allocation(&cluster, window, &node, &namespace, &pod, &container)
                }
            })
            .collect();
        AllocationSet::new(vec![cluster], window, rows)
    }

    /// Cluster `c`'s assets of day `d`: an 8-core node at $6 and EKS at $2.40.
    pub fn assets(&self, c: usize, d: usize) -> AssetSet {
        assets(&Synthetic::cluster(c), day(d as i64), "node-0", 8.0, 6.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_bucket_is_what_its_doc_says() {
        let size = Synthetic { clusters: 3, days: 2, containers: 5 };
        assert_eq!((size.rows(), size.objects()), (30, 12));
        let set = size.allocations(2, 1, 0.0);
        assert_eq!(set.window, Window { start: 1_767_312_000, end: 1_767_398_400 });
        assert_eq!(set.clusters, ["cluster-0002"]);
        // Sorted by name: k = 0 (node-0/ns-0) comes first.
        let first = &set.allocations[0];
        assert_eq!(first.name, "cluster-0002/node-0/ns-0/pod-0/c-0");
        // k = 0: (14 + 13) mod 1000 = 27 → 0.27 CPU, 0.135 RAM, 0.405 in all.
        assert!((first.cpu_cost - 0.27).abs() < 1e-12);
        assert!((first.total_cost - 0.405).abs() < 1e-12);
        assert_eq!(first.minutes, 1440.0);
        let assets = size.assets(0, 0);
        assert_eq!(assets.nodes[0].total_cost, 6.0);
        assert!((assets.cluster_management[0].cost - 2.4).abs() < 1e-12);
    }
}
