//! The whole path with no fault: everything lands, the snapshots match, and nothing is left
//! running.

use ampfed_e2e::snapshots;

#[test]
fn the_whole_path_runs_and_matches_the_snapshots() {
    let outcome = crate::happy();
    let s = &outcome.summary;
    assert_eq!(s.clusters, ["cluster-a", "cluster-b", "cluster-c"]);
    assert!(s.samples_written > 100_000, "only {} samples written", s.samples_written);
    assert_eq!(s.rules_installed, 9);
    assert!(s.rule_series_recorded > 0);
    assert_eq!(s.etl_objects.len(), 3);
    assert_eq!(s.etl_objects[0], "federated/cluster-a/etl/allocations/1d/1767225600-1767312000.parquet");
    assert_eq!(s.combined_objects, ["federated/combined/etl/allocations/1d/1767225600-1767312000.parquet"]);
    // Every recording rule of the guide has input, so every record name has series.
    for (record, series) in &outcome.rule_series {
        assert!(!series.is_empty(), "{record} recorded nothing");
    }
    // The cluster totals add up to the namespace totals.
    let total = |rows: &[ampfed_allocation::Row]| rows.iter().map(|r| r.total_cost).sum::<f64>();
    assert!((total(&outcome.by_cluster) - total(&outcome.by_namespace)).abs() < 1e-3);
    // Complete numbers: allocated + idle = node cost per cluster within 0.1 %, and node costs
    // worked out by hand from fixtures/prices (per hour, split prices as the exporter reports):
    //   cluster-a: 2 × m5.xlarge (4 × 0.031247 + 16 × 0.004188 = 0.191996) + m5.2xlarge
    //              (0.383992) = 0.767984 × 24 h = 18.431616
    //   cluster-b: m5.large (2 × 0.031247 + 8 × 0.004188 = 0.095998) + r5.large
    //              (2 × 0.030401 + 16 × 0.004075 = 0.126002) = 0.222 × 24 h = 5.328
    //   cluster-c: 2 × m5.xlarge × 24 h = 9.215808; two spot c5.xlarge for 16 h each at
    //              0.3 × (4 × 0.033515 + 8 × 0.004492 = 0.169996) = 1.631962; g4dn.xlarge
    //              (0.191996 + 0.334004) × 24 h = 12.624; total 23.47177
    let want = [("cluster-a", 18.431616), ("cluster-b", 5.328), ("cluster-c", 23.47177)];
    assert_eq!(outcome.balances.len(), 3);
    for (b, (cluster, node_cost)) in outcome.balances.iter().zip(want) {
        assert_eq!(b.cluster, cluster);
        assert!(
            (b.node_cost - node_cost).abs() < 1e-4,
            "{cluster}: node cost {} != {node_cost}",
            b.node_cost
        );
        assert!(b.relative_error() <= 0.001, "{cluster}: {b:?}");
    }
    // Everything the bill holds (nodes, disks, load balancers, the control planes) is in the
    // namespace view once idle and the shared tenancy costs are in.
    let billed: f64 = outcome.assets_by_cluster.values().map(|t| t.total_cost).sum();
    let allocated: f64 = outcome.cost_by_namespace.iter().map(|r| r.total_cost).sum();
    assert!((billed - allocated).abs() < 1e-3, "bill {billed} vs allocated {allocated}");
    assert!(outcome.cost_by_cluster.iter().any(|r| r.name == "cluster-c/__idle__"));
    snapshots::check(outcome);
}
