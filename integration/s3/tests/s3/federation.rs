//! The project's own store, `ampfed_federation::Store`, against the embedded server exactly
//! as the e2e path runs it against LocalStack: create the bucket, put every cluster's sets,
//! list clusters and keys, read the sets back, federate, read the combined sets.

use ampfed_allocation::{Allocation, AllocationSet, Window};
use ampfed_federation::{federate, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use ampfed_test_support::etl;

use crate::{ACCESS_KEY, REGION, SECRET_KEY};

const DAY: i64 = 86_400;

fn set(cluster: &str, day: i64, pods: usize) -> AllocationSet {
    let window = Window { start: day * DAY, end: (day + 1) * DAY };
    let allocations = (0..pods)
        .map(|pod| Allocation {
            cpu_cost: 0.25 + pod as f64,
            total_cost: 0.25 + pod as f64,
            ..etl::allocation(cluster, window, "node-1", "default", &format!("pod-{pod}"), "app")
        })
        .collect();
    AllocationSet::new(vec![cluster.into()], window, allocations)
}

#[tokio::test]
async fn the_federation_store_works_against_the_embedded_server() {
    // No bucket at start: the store creates it (HeadBucket 404, then CreateBucket with the
    // region's location constraint), as on a fresh LocalStack.
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let store = Store::new(&StoreConfig {
        endpoint: s3.endpoint().to_owned(),
        region: REGION.into(),
        bucket: "ampfed-central".into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
    });
    store.ensure_bucket().await.unwrap();
    store.ensure_bucket().await.unwrap();

    let mut written = Vec::new();
    for cluster in ["cluster-b", "cluster-a", "cluster-c"] {
        for day in [1, 0] {
            let set = set(cluster, day, 3);
            let key = store.put_set(cluster, &set).await.unwrap();
            assert_eq!(key, Store::allocation_key(cluster, set.window));
            written.push((key, set));
        }
    }
    assert_eq!(store.clusters().await.unwrap(), ["cluster-a", "cluster-b", "cluster-c"]);
    assert_eq!(
        store.allocation_keys("cluster-b").await.unwrap(),
        [
            "federated/cluster-b/etl/allocations/1d/0-86400.parquet",
            "federated/cluster-b/etl/allocations/1d/86400-172800.parquet"
        ]
    );
    for (key, set) in &written {
        assert_eq!(&store.get_set(key).await.unwrap(), set, "{key}");
    }

    let report = federate(&store, None).await.unwrap();
    assert_eq!(report.clusters, ["cluster-a", "cluster-b", "cluster-c"]);
    assert_eq!(report.objects_read, 6);
    assert_eq!(report.allocations, 18);
    assert_eq!(report.objects_written.len(), 2);
    // `combined` is not a cluster, and its sets hold every cluster's allocations.
    assert_eq!(store.clusters().await.unwrap(), ["cluster-a", "cluster-b", "cluster-c"]);
    for key in &report.objects_written {
        let combined = store.get_set(key).await.unwrap();
        assert_eq!(combined.clusters, ["cluster-a", "cluster-b", "cluster-c"]);
        assert_eq!(combined.allocations.len(), 9);
    }
    // Running it again writes the same objects.
    assert_eq!(federate(&store, None).await.unwrap(), report);
}
