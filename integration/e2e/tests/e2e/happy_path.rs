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
    assert_eq!(s.etl_objects[0], "federated/cluster-a/etl/allocations/1d/1767225600-1767312000.json");
    assert_eq!(s.combined_objects, ["federated/combined/etl/allocations/1d/1767225600-1767312000.json"]);
    // Every recording rule of the guide has input, so every record name has series.
    for (record, series) in &outcome.rule_series {
        assert!(!series.is_empty(), "{record} recorded nothing");
    }
    // The cluster totals add up to the namespace totals.
    let total = |rows: &[ampfed_allocation::Row]| rows.iter().map(|r| r.total_cost).sum::<f64>();
    assert!((total(&outcome.by_cluster) - total(&outcome.by_namespace)).abs() < 1e-3);
    snapshots::check(outcome);
}
