//! Hand-worked idle and sharing cases: every expected number below is worked out in the
//! comments from the inputs, not by the code under test.
//!
//! The cluster `c1` for one day (24 h) has one m5.xlarge node `n1` (4 cores, 16 GiB) at the
//! exporter's m5.xlarge prices, $0.031247 per core-hour and $0.004188 per GiB-hour:
//!   CPU 4 × 24 × 0.031247 = 2.999712, RAM 16 × 24 × 0.004188 = 1.608192, node = 4.607904.
//! Its allocations (costs at the same prices):
//!   A shop/web:    1 core × 24 h = 24 core-h → 0.749928; 4 GiB × 24 h = 96 GiB-h → 0.402048
//!   B batch/job:   0.5 core → 12 core-h → 0.374964;      2 GiB → 48 GiB-h → 0.201024
//!   C kube-system: 0.25 core → 6 core-h → 0.187482;     1 GiB → 24 GiB-h → 0.100512

use ampfed_allocation::{
    check_balance, idle_allocations, parse_properties, query, Aggregate, Allocation, AllocationSet, AssetSet,
    ClusterManagementAsset, IdleBy, NodeAsset, Properties, QueryError, QueryOptions, ShareSplit, Window,
};

const DAY: Window = Window { start: 1_767_225_600, end: 1_767_225_600 + 86_400 };
const GIB: f64 = 1_073_741_824.0;

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[allow(clippy::too_many_arguments)]
fn alloc(
    ns: &str,
    pod: &str,
    node: &str,
    core_hours: f64,
    cpu_cost: f64,
    gib_hours: f64,
    ram_cost: f64,
    team: &str,
) -> Allocation {
    let mut a = Allocation {
        name: format!("c1/{node}/{ns}/{pod}/main"),
        properties: Properties {
            cluster: "c1".into(),
            node: node.into(),
            namespace: ns.into(),
            pod: pod.into(),
            container: "main".into(),
            labels: if team.is_empty() {
                Default::default()
            } else {
                [("team".to_owned(), team.to_owned())].into()
            },
            ..Properties::default()
        },
        start: DAY.start,
        end: DAY.end,
        minutes: 1440.0,
        cpu_core_hours: core_hours,
        cpu_core_request_average: core_hours / 24.0,
        cpu_cost,
        ram_byte_hours: gib_hours * GIB,
        ram_byte_request_average: gib_hours / 24.0 * GIB,
        ram_cost,
        ..Allocation::default()
    };
    a.recompute();
    a
}

fn a() -> Allocation {
    alloc("shop", "web", "n1", 24.0, 0.749928, 96.0, 0.402048, "storefront")
}
fn b() -> Allocation {
    alloc("batch", "job", "n1", 12.0, 0.374964, 48.0, 0.201024, "data")
}
fn c() -> Allocation {
    alloc("kube-system", "dns", "n1", 6.0, 0.187482, 24.0, 0.100512, "")
}

fn node(name: &str, cores: f64, gib: f64, cpu_cost: f64, ram_cost: f64) -> NodeAsset {
    let mut n = NodeAsset {
        cluster: "c1".into(),
        name: name.into(),
        start: DAY.start,
        end: DAY.end,
        minutes: 1440.0,
        cpu_cores: cores,
        ram_bytes: gib * GIB,
        cpu_core_hours: cores * 24.0,
        ram_byte_hours: gib * GIB * 24.0,
        cpu_price_per_core_hour: 0.031247,
        ram_price_per_gib_hour: 0.004188,
        cpu_cost,
        ram_cost,
        ..NodeAsset::default()
    };
    n.total_cost = n.computed_total();
    n
}

fn n1() -> NodeAsset {
    node("n1", 4.0, 16.0, 2.999712, 1.608192)
}

fn assets(nodes: Vec<NodeAsset>) -> AssetSet {
    let mut s = AssetSet::new(vec!["c1".into()], DAY);
    s.nodes = nodes;
    s
}

fn set(allocs: Vec<Allocation>) -> AllocationSet {
    AllocationSet::new(vec!["c1".into()], DAY, allocs)
}

fn opts(aggregate: &str) -> QueryOptions {
    QueryOptions {
        aggregate: parse_properties(aggregate).unwrap(),
        share_tenancy_costs: false,
        ..QueryOptions::default()
    }
}

fn row<'a>(rows: &'a [Allocation], name: &str) -> &'a Allocation {
    rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no row {name} in {:?}", names(rows)))
}

fn names(rows: &[Allocation]) -> Vec<&str> {
    rows.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn idle_without_share_idle() {
    // Allocated (A + B): CPU 0.749928 + 0.374964 = 1.124892, RAM 0.402048 + 0.201024 =
    // 0.603072. Idle CPU = 2.999712 − 1.124892 = 1.87482, RAM = 1.608192 − 0.603072 =
    // 1.00512, idle total 2.87994; allocated 1.727964 + 2.87994 = 4.607904 = the node.
    let rows = query(&set(vec![a(), b()]), Some(&assets(vec![n1()])), &opts("namespace")).unwrap();
    assert_eq!(names(&rows), ["__idle__", "batch", "shop"]);
    let idle = row(&rows, "__idle__");
    close(idle.cpu_cost, 1.87482);
    close(idle.ram_cost, 1.00512);
    close(idle.total_cost, 2.87994);
    // Idle has no hours (as OpenCost's).
    assert_eq!(idle.cpu_core_hours, 0.0);
    close(row(&rows, "shop").total_cost, 1.151976);
    close(row(&rows, "batch").total_cost, 0.575988);
    // Kubecost's idle=false drops it.
    let no_idle =
        query(&set(vec![a(), b()]), None, &QueryOptions { idle: false, ..opts("namespace") }).unwrap();
    assert_eq!(names(&no_idle), ["batch", "shop"]);
    // Split idle keeps the cluster's entry.
    let split = query(
        &set(vec![a(), b()]),
        Some(&assets(vec![n1()])),
        &QueryOptions { split_idle: true, ..opts("namespace") },
    )
    .unwrap();
    close(row(&split, "c1/__idle__").total_cost, 2.87994);
}

#[test]
fn idle_with_share_idle() {
    // Per resource, by cost: A has 0.749928 / 1.124892 = 2/3 of the CPU cost (24 of 36
    // core-hours) and 96 / 144 = 2/3 of the RAM cost; B 1/3 of each.
    //   shop  = 1.151976 + 2/3 × 1.87482 + 2/3 × 1.00512 = 1.151976 + 1.24988 + 0.67008 = 3.071936
    //   batch = 0.575988 + 1/3 × 1.87482 + 1/3 × 1.00512 = 0.575988 + 0.62494 + 0.33504 = 1.535968
    // 3.071936 + 1.535968 = 4.607904, the node; no idle entry is left.
    let o = QueryOptions { share_idle: true, ..opts("namespace") };
    let rows = query(&set(vec![a(), b()]), Some(&assets(vec![n1()])), &o).unwrap();
    assert_eq!(names(&rows), ["batch", "shop"]);
    let shop = row(&rows, "shop");
    close(shop.cpu_cost, 0.749928 + 1.24988);
    close(shop.ram_cost, 0.402048 + 0.67008);
    close(shop.total_cost, 3.071936);
    close(row(&rows, "batch").total_cost, 1.535968);
    // Core-hours are unchanged (idle has none to give).
    close(shop.cpu_core_hours, 24.0);
}

#[test]
fn idle_by_node_keeps_an_empty_nodes_idle() {
    // A second node n2 (m5.large, 2 cores, 8 GiB) with no allocations: CPU 2 × 24 × 0.031247 =
    // 1.499856, RAM 8 × 24 × 0.004188 = 0.804096, node 2.303952.
    let n2 = node("n2", 2.0, 8.0, 1.499856, 0.804096);
    let s = set(vec![a(), b()]);
    let by_node = idle_allocations(&s, &assets(vec![n1(), n2.clone()]), IdleBy::Node).unwrap();
    assert_eq!(names(&by_node), ["c1/n1/__idle__", "c1/n2/__idle__"]);
    close(by_node[0].compute_cost(), 2.87994);
    close(by_node[1].compute_cost(), 2.303952);
    // Shared per node: n1's idle goes to A and B as above; nobody runs on n2, so its idle
    // cannot be shared and stays as its own entry: 2.303952.
    let o = QueryOptions { share_idle: true, idle_by_node: true, split_idle: true, ..opts("namespace") };
    let rows = query(&s, Some(&assets(vec![n1(), n2.clone()])), &o).unwrap();
    close(row(&rows, "shop").total_cost, 3.071936);
    close(row(&rows, "c1/n2/__idle__").total_cost, 2.303952);
    // Shared per cluster instead: CPU idle 1.87482 + 1.499856 = 3.374676, RAM idle
    // 1.00512 + 0.804096 = 1.809216; shop takes 2/3 of each: 2.249784 + 1.206144, so
    //   shop = 1.151976 + 2.249784 + 1.206144 = 4.607904
    //   batch = 0.575988 + 1.124892 + 0.603072 = 2.303952
    // together 6.911856 = 4.607904 + 2.303952, both nodes.
    let o = QueryOptions { share_idle: true, ..opts("namespace") };
    let rows = query(&s, Some(&assets(vec![n1(), n2])), &o).unwrap();
    assert_eq!(names(&rows), ["batch", "shop"]);
    close(row(&rows, "shop").total_cost, 4.607904);
    close(row(&rows, "batch").total_cost, 2.303952);
}

#[test]
fn negative_idle_is_reported_as_it_is() {
    // A pod whose allocation (max of request and usage) averaged 5 cores on the 4-core node:
    // 5 × 24 = 120 core-hours → 120 × 0.031247 = 3.74964 > 2.999712. CPU idle =
    // 2.999712 − 3.74964 = −0.749928; RAM idle (nothing allocated) = 1.608192.
    let hog = alloc("batch", "hog", "n1", 120.0, 3.74964, 0.0, 0.0, "");
    let rows = query(&set(vec![hog]), Some(&assets(vec![n1()])), &opts("namespace")).unwrap();
    let idle = row(&rows, "__idle__");
    close(idle.cpu_cost, -0.749928);
    close(idle.ram_cost, 1.608192);
    // Shared: the hog takes all of the (negative) CPU idle, 3.74964 − 0.749928 = 2.999712;
    // RAM idle has no RAM cost to follow and stays as idle, 1.608192 (only the positive,
    // unshareable part is kept, as OpenCost).
    let o = QueryOptions { share_idle: true, ..opts("namespace") };
    let rows = query(
        &set(vec![alloc("batch", "hog", "n1", 120.0, 3.74964, 0.0, 0.0, "")]),
        Some(&assets(vec![n1()])),
        &o,
    )
    .unwrap();
    close(row(&rows, "batch").cpu_cost, 2.999712);
    let idle = row(&rows, "__idle__");
    close(idle.cpu_cost, 0.0);
    close(idle.ram_cost, 1.608192);
}

#[test]
fn shared_namespaces_weighted_and_even() {
    // kube-system (C, 0.287994) is shared over shop (1.151976) and batch (0.575988):
    //   weighted: shop 2/3 × 0.287994 = 0.191996, batch 1/3 × 0.287994 = 0.095998;
    //   even: 0.143997 each.
    let s = set(vec![a(), b(), c()]);
    let base =
        QueryOptions { idle: false, share_namespaces: vec!["kube-system".into()], ..opts("namespace") };
    let rows = query(&s, None, &base).unwrap();
    assert_eq!(names(&rows), ["batch", "shop"]);
    close(row(&rows, "shop").shared_cost, 0.191996);
    close(row(&rows, "shop").total_cost, 1.151976 + 0.191996);
    close(row(&rows, "batch").shared_cost, 0.095998);
    let even = query(&s, None, &QueryOptions { share_split: ShareSplit::Even, ..base.clone() }).unwrap();
    close(row(&even, "shop").shared_cost, 0.143997);
    close(row(&even, "batch").shared_cost, 0.143997);
    // Sharing by label instead: team=data (B, 0.575988) is shared, aggregated by label:team.
    // C has no team, so its key is __unallocated__. Weights: storefront (A) 1.151976,
    // __unallocated__ (C) 0.287994, total 1.43997:
    //   storefront gets 1.151976 / 1.43997 × 0.575988 = 0.8 × 0.575988 = 0.4607904,
    //   __unallocated__ 0.2 × 0.575988 = 0.1151976.
    let by_label = QueryOptions {
        idle: false,
        share_labels: vec![("team".into(), "data".into())],
        ..opts("label:team")
    };
    let rows = query(&s, None, &by_label).unwrap();
    assert_eq!(names(&rows), ["__unallocated__", "storefront"]);
    close(row(&rows, "storefront").shared_cost, 0.4607904);
    close(row(&rows, "__unallocated__").shared_cost, 0.1151976);
}

#[test]
fn shared_namespaces_with_share_idle() {
    // Allocated with C: CPU 0.749928 + 0.374964 + 0.187482 = 1.312374 (42 core-h), RAM
    // 0.402048 + 0.201024 + 0.100512 = 0.703584 (168 GiB-h). Idle CPU 2.999712 − 1.312374 =
    // 1.687338, RAM 1.608192 − 0.703584 = 0.904608, idle 2.591946. Coefficients (the shared C
    // included): A 24/42 = 96/168 = 4/7, B 2/7, C 1/7 of each resource:
    //   A + idle = 1.151976 + 4/7 × 2.591946 = 1.151976 + 1.481112 = 2.633088
    //   B + idle = 0.575988 + 2/7 × 2.591946 = 0.575988 + 0.740556 = 1.316544
    //   C + idle = 0.287994 + 1/7 × 2.591946 = 0.287994 + 0.370278 = 0.658272
    // C is then shared by the pre-idle weights (2/3, 1/3): shop +0.438848, batch +0.219424:
    //   shop = 3.071936, batch = 1.535968; 4.607904 in all, the node.
    let o =
        QueryOptions { share_idle: true, share_namespaces: vec!["kube-system".into()], ..opts("namespace") };
    let rows = query(&set(vec![a(), b(), c()]), Some(&assets(vec![n1()])), &o).unwrap();
    assert_eq!(names(&rows), ["batch", "shop"]);
    let shop = row(&rows, "shop");
    close(shop.shared_cost, 0.438848);
    close(shop.total_cost, 3.071936);
    close(row(&rows, "batch").total_cost, 1.535968);
}

#[test]
fn tenancy_costs_are_shared_per_cluster() {
    // EKS's control plane: $0.10 an hour × 24 h = 2.40, shared over c1's keys by weight
    // (shop 2/3, batch 1/3): 1.6 and 0.8. Kubecost's default; off, nobody pays it.
    let mut assets = assets(vec![n1()]);
    assets.cluster_management.push(ClusterManagementAsset {
        cluster: "c1".into(),
        provisioner: "EKS".into(),
        start: DAY.start,
        end: DAY.end,
        minutes: 1440.0,
        price_per_hour: 0.1,
        cost: 2.4,
        total_cost: 2.4,
        ..ClusterManagementAsset::default()
    });
    let s = set(vec![a(), b()]);
    let o = QueryOptions { idle: false, share_tenancy_costs: true, ..opts("namespace") };
    let rows = query(&s, Some(&assets), &o).unwrap();
    close(row(&rows, "shop").shared_cost, 1.6);
    close(row(&rows, "batch").shared_cost, 0.8);
    let off = query(&s, Some(&assets), &QueryOptions { idle: false, ..opts("namespace") }).unwrap();
    close(row(&off, "shop").shared_cost, 0.0);
    // Tenancy (or idle) without assets is refused, not silently dropped.
    assert_eq!(
        query(&s, None, &QueryOptions { idle: false, share_tenancy_costs: true, ..opts("namespace") }),
        Err(QueryError::NeedsAssets("shareTenancyCosts"))
    );
}

#[test]
fn allocated_plus_idle_is_the_node_cost() {
    // The check the issue asks for, on the numbers above: 1.727964 + 2.87994 = 4.607904.
    let s = set(vec![a(), b()]);
    let assets = assets(vec![n1()]);
    let split = query(&s, Some(&assets), &QueryOptions { split_idle: true, ..opts("cluster") }).unwrap();
    let balance = check_balance(&split, &assets, 0.001).unwrap();
    assert_eq!(balance.len(), 1);
    close(balance[0].allocated, 1.727964);
    close(balance[0].idle, 2.87994);
    close(balance[0].node_cost, 4.607904);
    let shared = query(&s, Some(&assets), &QueryOptions { share_idle: true, ..opts("cluster") }).unwrap();
    assert!(check_balance(&shared, &assets, 0.001).is_ok());
    // Without idle the allocations are 1.727964 / 4.607904 = 37.5 % of the nodes: refused.
    let bare = query(&s, None, &QueryOptions { idle: false, ..opts("cluster") }).unwrap();
    let err = check_balance(&bare, &assets, 0.001).unwrap_err();
    assert!((err.0[0].relative_error() - 0.625).abs() < 1e-9, "{err}");
}

#[test]
fn unaggregated_queries_keep_allocation_names_and_idle_windows_must_match() {
    let s = set(vec![a(), b()]);
    let rows =
        query(&s, Some(&assets(vec![n1()])), &QueryOptions { aggregate: Vec::new(), ..opts("cluster") })
            .unwrap();
    assert_eq!(names(&rows), ["__idle__", "c1/n1/batch/job/main", "c1/n1/shop/web/main"]);
    let mut other = assets(vec![n1()]);
    other.window = Window { start: DAY.start, end: DAY.end + 1 };
    assert!(matches!(query(&s, Some(&other), &opts("cluster")), Err(QueryError::Idle(_))));
    assert_eq!(parse_properties("label:team").unwrap(), [Aggregate::Label("team".into())]);
}
