//! Hourly sets (`…/1h/<start>-<end>.parquet`) are windows of their own: they combine as the
//! daily ones do, incrementally, next to the day they belong to; an hourly key whose window is
//! no UTC hour, or an hourly object filed under another hour, is quarantined; the store
//! refuses to file a window that is neither a day nor an hour.

use ampfed_allocation::{AllocationSet, Window};
use ampfed_federation::layout::{Kind, Resolution};
use ampfed_federation::store::Condition;
use ampfed_federation::{federate_with, parquet, FederationError, Store};

use crate::support::{self, allocation, cluster_names, day, options, seed, server, EPOCH};

const HOUR: i64 = 3_600;

/// Hour `n` (0–23) of day 0: 2026-01-01T`n`:00Z for one hour.
fn hour(n: i64) -> Window {
    Window { start: EPOCH + n * HOUR, end: EPOCH + (n + 1) * HOUR }
}

/// Cluster `cluster`'s hourly allocation set of `window`: `pods` pods of 0.1 each.
fn hourly_set(cluster: &str, window: Window, pods: usize) -> AllocationSet {
    let allocations = (0..pods).map(|p| allocation(cluster, window, p, 0.1)).collect();
    AllocationSet::new(vec![cluster.into()], window, allocations)
}

/// `clusters` × day 0 daily sets, plus `hours` hourly allocation and asset sets each.
async fn seed_hours(store: &Store, clusters: usize, hours: i64) {
    seed(store, clusters, 1).await;
    for cluster in cluster_names(clusters) {
        for h in 0..hours {
            let key = store.put_set(&cluster, &hourly_set(&cluster, hour(h), 2)).await.unwrap();
            assert_eq!(
                key,
                format!("federated/{cluster}/etl/allocations/1h/{}.parquet", hour(h).file_stem())
            );
            store.put_assets(&cluster, &support::assets(&cluster, hour(h))).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_windows_combine_like_daily_ones_and_incrementally() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "hourly-combine");
    seed_hours(&store, 2, 3).await;

    let first = federate_with(&store, &options("f1")).await.unwrap();
    assert!(first.quarantined.is_empty(), "{:?}", first.quarantined);
    // The windows in order: a window sorts by its start, then its end.
    assert_eq!(first.recombined, [hour(0), day(0), hour(1), hour(2)]);
    assert_eq!(first.objects_read, 2 * (1 + 3) * 2, "2 clusters × 4 windows × (allocations + assets)");
    assert_eq!(first.objects_written, [Store::allocation_key("combined", day(0))]);
    assert_eq!(first.allocations, 6, "2 clusters × 3 pods in the day");
    let hourly: Vec<String> = (0..3).map(|h| Store::allocation_key("combined", hour(h))).collect();
    assert_eq!(first.hourly_objects_written, hourly);
    assert_eq!(first.hourly_asset_objects_written.len(), 3);
    assert_eq!(first.hourly_allocations, 3 * 2 * 2, "3 hours × 2 clusters × 2 pods");
    assert_eq!(hourly[1], "federated/combined/etl/allocations/1h/1767229200-1767232800.parquet");
    // Each combined hour is exactly the plain combination of that hour's sets.
    let expected = AllocationSet::new(
        cluster_names(2),
        hour(1),
        cluster_names(2).iter().flat_map(|c| hourly_set(c, hour(1), 2).allocations).collect(),
    );
    assert_eq!(
        store.fetch(&hourly[1]).await.unwrap().bytes,
        parquet::encode_allocations(&expected, None).unwrap()
    );
    let combined = store.get_set(&hourly[1]).await.unwrap();
    assert!((combined.allocations.iter().map(|a| a.total_cost).sum::<f64>() - 0.4).abs() < 1e-12);
    assert_eq!(store.keys_at("combined", Kind::Assets, Resolution::Hour).await.unwrap().len(), 3);
    assert_eq!(store.keys_at("cluster-a", Kind::Allocations, Resolution::Hour).await.unwrap().len(), 3);

    // Nothing changed: nothing is read again.
    let second = federate_with(&store, &options("f2")).await.unwrap();
    assert!(second.recombined.is_empty() && second.objects_read == 0, "{second:?}");
    assert_eq!(second.skipped, [hour(0), day(0), hour(1), hour(2)]);

    // One hour rewritten by one cluster: exactly that hour is recombined.
    store.put_set("cluster-b", &hourly_set("cluster-b", hour(2), 3)).await.unwrap();
    let third = federate_with(&store, &options("f3")).await.unwrap();
    assert_eq!(third.recombined, [hour(2)]);
    assert_eq!(third.objects_read, 4, "that hour's inputs: 2 clusters × (allocations + assets)");
    assert!(third.objects_written.is_empty());
    assert_eq!(third.hourly_allocations, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misfiled_hourly_objects_are_quarantined_and_the_rest_combines() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "hourly-misfiled");
    seed_hours(&store, 2, 2).await;
    let put = |key: String, bytes: Vec<u8>| {
        let store = store.clone();
        async move { store.put_object(&key, bytes, parquet::CONTENT_TYPE, &Condition::Always).await.unwrap() }
    };
    // A day's set under 1h/ (its key's window is no hour), and hour 5's set filed as hour 1.
    let day_in_1h = format!("federated/cluster-a/etl/allocations/1h/{}.parquet", day(0).file_stem());
    put(day_in_1h.clone(), parquet::encode_allocations(&support::set("cluster-a", day(0), 3), None).unwrap())
        .await;
    let wrong_hour = Store::allocation_key("cluster-b", hour(1));
    put(wrong_hour.clone(), parquet::encode_allocations(&hourly_set("cluster-b", hour(5), 2), None).unwrap())
        .await;

    let r = federate_with(&store, &options("f")).await.unwrap();
    let codes: Vec<(&str, &str)> = r.quarantined.iter().map(|q| (q.key.as_str(), q.code.as_str())).collect();
    assert_eq!(codes, [(day_in_1h.as_str(), "misfiled"), (wrong_hour.as_str(), "window-mismatch")]);
    let misfiled = &r.quarantined[0].message;
    assert!(misfiled.contains("in 1h/") && misfiled.contains("is not one UTC hour"), "{misfiled}");
    assert!(r.quarantined[1].message.contains("holds 1767243600-1767247200"), "{}", r.quarantined[1].message);
    // Hour 1 combines cluster a alone and reports b missing; hour 0 and the day are whole.
    let window = |w: Window| r.windows.iter().find(|x| x.window == w).unwrap();
    assert_eq!(window(hour(1)).clusters, ["cluster-a"]);
    assert_eq!(window(hour(1)).missing, ["cluster-b"]);
    assert_eq!(window(hour(0)).clusters, cluster_names(2));
    assert_eq!(window(day(0)).clusters, cluster_names(2));
    let hour1 = store.get_set(&Store::allocation_key("combined", hour(1))).await.unwrap();
    assert_eq!(hour1.clusters, ["cluster-a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_files_days_and_hours_only() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "hourly-refused");
    store.ensure_bucket().await.unwrap();
    for window in [
        Window { start: EPOCH + 1800, end: EPOCH + 1800 + HOUR },
        Window { start: EPOCH, end: EPOCH + 2 * HOUR },
        Window { start: EPOCH + 60, end: EPOCH + 60 + 86_400 },
    ] {
        let err = store.put_set("cluster-a", &hourly_set("cluster-a", window, 1)).await.unwrap_err();
        let FederationError::Window { message, .. } = &err else { panic!("{err:?}") };
        assert!(message.contains("neither one UTC day") && message.contains("nor one UTC hour"), "{message}");
        let err = store.put_assets("cluster-a", &support::assets("cluster-a", window)).await.unwrap_err();
        assert!(matches!(err, FederationError::Window { .. }), "{err:?}");
    }
    assert!(store.list("federated/").await.unwrap().is_empty(), "nothing was filed");
}
