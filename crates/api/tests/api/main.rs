//! The API's tests: two clusters over two days with totals worked out by hand, through HTTP
//! ([`http`]), through the bucket ([`store`]), and the memory bound of accumulation
//! ([`memory`]). The fixture is below; [`pyarrow`] has three clusters of its own, read back
//! by pyarrow as an independent engine.
//!
//! Each day (2026-01-01 and 2026-01-02), full-day allocations:
//!
//! | cluster/node | namespace   | pod | team | CPU day 1 | CPU day 2 | RAM |
//! | ------------ | ----------- | --- | ---- | --------- | --------- | --- |
//! | c1/n1        | shop        | web | a    | 1.00      | 2.00      | 0.50 |
//! | c1/n1        | kube-system | dns | —    | 0.25      | 0.25      | 0.25 |
//! | c2/n2        | shop        | api | b    | 3.00      | 3.00      | 1.00 |
//!
//! Assets each day: node n1 (c1) CPU 3 + RAM 1 = 4, node n2 (c2) CPU 4 + RAM 2 = 6, and each
//! cluster's EKS fee 2.4.

mod fast;
mod http;
mod memory;
mod pyarrow;
mod store;

use ampfed_allocation::{
    Allocation, AllocationSet, AssetSet, ClusterManagementAsset, NodeAsset, Properties, Window, DAY_SECS,
};
use ampfed_api::MemorySource;

/// 2026-01-01T00:00:00Z.
pub const JAN1: i64 = 1_767_225_600;
/// "Now" of the tests: 2026-01-02T12:00:00Z, so `window=2d` is both days and `yesterday` the first.
pub const NOW: i64 = JAN1 + DAY_SECS + 12 * 3600;

pub fn day(n: i64) -> Window {
    Window { start: JAN1 + n * DAY_SECS, end: JAN1 + (n + 1) * DAY_SECS }
}

/// A full-day container of `pod` at `[cluster, node, namespace, pod]`, CPU and RAM cost given.
pub fn allocation(at: [&str; 4], team: Option<&str>, w: Window, cpu: f64, ram: f64) -> Allocation {
    let [cluster, node, namespace, pod] = at;
    let mut a = Allocation {
        name: format!("{cluster}/{node}/{namespace}/{pod}/app"),
        properties: Properties {
            cluster: cluster.into(),
            node: node.into(),
            namespace: namespace.into(),
            pod: pod.into(),
            container: "app".into(),
            controller: pod.into(),
            controller_kind: "deployment".into(),
            labels: team.map(|t| [("team".to_owned(), t.to_owned())].into()).unwrap_or_default(),
            ..Properties::default()
        },
        start: w.start,
        end: w.end,
        minutes: 1440.0,
        cpu_core_hours: 24.0 * cpu,
        cpu_core_request_average: cpu,
        cpu_core_usage_average: cpu / 2.0,
        cpu_cost: cpu,
        ram_byte_hours: 24.0 * ram * 1e9,
        ram_byte_request_average: ram * 1e9,
        ram_byte_usage_average: ram * 1e9,
        ram_cost: ram,
        ..Allocation::default()
    };
    a.recompute();
    a
}

/// The allocations of day `n` (0 or 1), both clusters.
pub fn allocations(n: i64) -> AllocationSet {
    let w = day(n);
    let web_cpu = if n == 0 { 1.0 } else { 2.0 };
    AllocationSet::new(
        vec!["c1".into(), "c2".into()],
        w,
        vec![
            allocation(["c1", "n1", "shop", "web"], Some("a"), w, web_cpu, 0.5),
            allocation(["c1", "n1", "kube-system", "dns"], None, w, 0.25, 0.25),
            allocation(["c2", "n2", "shop", "api"], Some("b"), w, 3.0, 1.0),
        ],
    )
}

pub fn node(cluster: &str, name: &str, w: Window, cpu: f64, ram: f64) -> NodeAsset {
    let mut n = NodeAsset {
        cluster: cluster.into(),
        name: name.into(),
        provider_id: format!("i-{name}"),
        node_type: "m5.xlarge".into(),
        start: w.start,
        end: w.end,
        minutes: 1440.0,
        cpu_cores: 4.0,
        ram_bytes: 16e9,
        cpu_core_hours: 96.0,
        ram_byte_hours: 384e9,
        cpu_cost: cpu,
        ram_cost: ram,
        ..NodeAsset::default()
    };
    n.total_cost = n.computed_total();
    n
}

/// The assets of day `n`.
pub fn assets(n: i64) -> AssetSet {
    let w = day(n);
    let mut set = AssetSet::new(vec!["c1".into(), "c2".into()], w);
    set.nodes.push(node("c1", "n1", w, 3.0, 1.0));
    set.nodes.push(node("c2", "n2", w, 4.0, 2.0));
    for c in ["c1", "c2"] {
        set.cluster_management.push(ClusterManagementAsset {
            cluster: c.into(),
            provisioner: "EKS".into(),
            start: w.start,
            end: w.end,
            minutes: 1440.0,
            price_per_hour: 0.1,
            cost: 2.4,
            adjustment: 0.0,
            total_cost: 2.4,
        });
    }
    set.sort();
    set
}

/// Both days, allocations and assets.
pub fn source() -> MemorySource {
    let mut s = MemorySource::new();
    for n in 0..2 {
        s.add_allocations(allocations(n));
        s.add_assets(assets(n));
    }
    s
}

/// `a` and `b` agree to 1e-9.
#[track_caller]
pub fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}
