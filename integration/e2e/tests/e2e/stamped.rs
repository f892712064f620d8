//! `--clusters N`: clusters stamped from the fixtures run the whole path, every one written,
//! stored in full, modelled and federated.

#[test]
fn stamped_clusters_run_the_whole_path() {
    let outcome = crate::run_with(None, Some(5)).unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let s = &outcome.summary;
    assert_eq!(
        s.clusters,
        // Five from three templates: the first two get the extra ones.
        ["cluster-a-001", "cluster-a-002", "cluster-b-001", "cluster-b-002", "cluster-c-001"]
    );
    assert_eq!(s.samples_stored, s.samples_written);
    assert_eq!(s.etl_objects.len(), 5);
    assert_eq!(s.etl_objects[2], "federated/cluster-b-001/etl/allocations/1d/1767225600-1767312000.parquet");
    assert_eq!(outcome.by_cluster.len(), 5);
}
