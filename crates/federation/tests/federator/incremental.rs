//! Incremental federation: the manifest records every input and output ETag, an unchanged
//! window is not read again, and a new, rewritten or deleted cluster object recombines exactly
//! its window; the combined objects of a clean run are what the federator always wrote.

use ampfed_allocation::{AllocationSet, AssetSet};
use ampfed_federation::layout::{manifest_window_key, LEGACY_MANIFEST_KEY, MANIFEST_PREFIX};
use ampfed_federation::manifest;
use ampfed_federation::store::Condition;
use ampfed_federation::{federate, federate_with, parquet, LeaseOutcome, Store};

use crate::support::{self, cluster_names, day, options, recorded_store, seed, server, set, Recorder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_writes_what_the_federator_always_wrote_and_a_second_run_reads_nothing() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "incremental-clean");
    seed(&store, 3, 3).await;

    let first = federate_with(&store, &options("f1")).await.unwrap();
    assert_eq!(first.clusters, cluster_names(3));
    assert_eq!(first.recombined, [day(0), day(1), day(2)]);
    assert!(first.skipped.is_empty() && first.quarantined.is_empty() && first.conflicts.is_empty());
    assert_eq!(first.objects_read, 18, "3 clusters × 3 days × (allocations + assets)");
    assert_eq!(first.allocations, 27);
    assert_eq!(first.lease, LeaseOutcome::Acquired);
    assert_eq!(first.passes, 2, "one pass that works, one that finds nothing left to do");
    for w in &first.windows {
        assert_eq!(w.clusters, cluster_names(3));
        assert!(w.missing.is_empty() && w.missing_assets.is_empty());
    }

    // The combined objects are exactly the plain combination, as before the manifest existed.
    for (d, key) in first.objects_written.iter().enumerate() {
        let window = day(d as i64);
        let expected = AllocationSet::new(
            cluster_names(3),
            window,
            cluster_names(3).iter().flat_map(|c| set(c, window, 3).allocations).collect(),
        );
        assert_eq!(
            store.fetch(key).await.unwrap().bytes,
            parquet::encode_allocations(&expected, None).unwrap(),
            "{key}"
        );
        let assets: Vec<AssetSet> = cluster_names(3).iter().map(|c| support::assets(c, window)).collect();
        let expected = parquet::encode_assets(&AssetSet::combine(&assets).unwrap(), None).unwrap();
        assert_eq!(store.fetch(&first.asset_objects_written[d]).await.unwrap().bytes, expected);
    }
    let manifest = manifest::read_all(&store).await.unwrap();
    assert_eq!(manifest.windows.len(), 3);
    assert!(manifest.windows.values().all(|w| w.inputs.len() == 6 && w.outputs.len() == 2));

    let before = support::combined(&store).await;
    let second = federate_with(&store, &options("f2")).await.unwrap();
    assert!(second.recombined.is_empty(), "{second:?}");
    assert_eq!(second.skipped, [day(0), day(1), day(2)]);
    assert_eq!((second.objects_read, second.passes), (0, 1));
    assert!(second.objects_written.is_empty());
    assert_eq!(second.windows, first.windows, "the window reports come from the manifest");
    assert_eq!(support::combined(&store).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_rewritten_and_deleted_objects_recombine_exactly_their_windows() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "incremental-changes");
    seed(&store, 3, 4).await;
    federate_with(&store, &options("f")).await.unwrap();

    // Rewritten: cluster-b's day 1 with one more pod.
    store.put_set("cluster-b", &set("cluster-b", day(1), 4)).await.unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(1)]);
    assert_eq!(r.skipped, [day(0), day(2), day(3)]);
    assert_eq!(r.objects_read, 6, "day 1's six inputs, nothing else");
    assert_eq!(r.allocations, 10);
    let combined = store.get_set(&Store::allocation_key("combined", day(1))).await.unwrap();
    assert_eq!(combined.allocations.len(), 10);

    // Late: a fourth cluster ships day 2 only; the other days now miss it.
    store.put_set("cluster-d", &set("cluster-d", day(2), 2)).await.unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(2)]);
    assert_eq!(r.objects_read, 7);
    let missing: Vec<Vec<String>> = r.windows.iter().map(|w| w.missing.clone()).collect();
    assert_eq!(
        missing,
        [vec!["cluster-d".to_owned()], vec!["cluster-d".into()], vec![], vec!["cluster-d".into()]]
    );
    assert_eq!(r.windows[2].missing_assets, Vec::<String>::new(), "cluster-d never shipped assets");

    // Deleted: cluster-a's day 0 allocations.
    store.delete_object(&Store::allocation_key("cluster-a", day(0))).await.unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(0)]);
    assert_eq!(r.windows[0].clusters, ["cluster-b", "cluster-c"]);
    assert_eq!(r.windows[0].missing, ["cluster-a", "cluster-d"]);

    // Every input of day 3 deleted: its combined objects go too.
    for c in cluster_names(3) {
        store.delete_object(&Store::allocation_key(&c, day(3))).await.unwrap();
        store.delete_object(&Store::asset_key(&c, day(3))).await.unwrap();
    }
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!((r.recombined.as_slice(), r.removed.as_slice()), (&[][..], &[day(3)][..]));
    let left: Vec<String> = support::combined(&store).await.into_keys().collect();
    assert!(!left.iter().any(|k| k.contains(&day(3).file_stem())), "{left:?}");

    // A combined object changed behind the federator's back is put right.
    let key = Store::allocation_key("combined", day(2));
    let good = store.fetch(&key).await.unwrap().bytes;
    store.put_object(&key, b"{}".to_vec(), "application/json", &Condition::Always).await.unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(2)]);
    assert_eq!(store.fetch(&key).await.unwrap().bytes, good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federate_recombines_everything_and_two_runs_report_the_same() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "incremental-full");
    seed(&store, 2, 2).await;
    let first = federate(&store, None).await.unwrap();
    let second = federate(&store, None).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.recombined, [day(0), day(1)]);
    assert_eq!(first.objects_read, 8);
    let only = ["cluster-b".to_owned()];
    let only_b = federate(&store, Some(&only)).await.unwrap();
    assert_eq!(only_b.clusters, ["cluster-b"]);
    assert_eq!(store.get_set(&only_b.objects_written[0]).await.unwrap().clusters, ["cluster-b"]);
    // Back to all clusters: incremental sees the scope changed and recombines both days.
    let all = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(all.recombined, [day(0), day(1)]);
}

/// The keys of the manifest's objects with their ETags.
async fn manifest_objects(store: &Store) -> std::collections::BTreeMap<String, String> {
    store.list(MANIFEST_PREFIX).await.unwrap().into_iter().map(|l| (l.key, l.etag)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_records_of_the_windows_recombined_are_written() {
    let s3 = server();
    let recorder = Recorder::default();
    let store = recorded_store(s3.endpoint(), "incremental-records", &recorder);
    seed(&store, 3, 4).await;
    recorder.clear();
    federate_with(&store, &options("f")).await.unwrap();
    let manifest_puts = |recorder: &Recorder| -> Vec<String> {
        recorder.puts().into_iter().filter(|p| p.contains(&format!("/{MANIFEST_PREFIX}"))).collect()
    };
    let records: Vec<String> = (0..4).map(|d| manifest_window_key(day(d)).unwrap()).collect();
    assert_eq!(
        manifest_puts(&recorder),
        records.iter().map(|k| format!("/incremental-records/{k}")).collect::<Vec<_>>(),
        "one record per window, written once"
    );
    let before = manifest_objects(&store).await;
    assert_eq!(before.keys().collect::<Vec<_>>(), records.iter().collect::<Vec<_>>(), "no misfiled record");

    // Nothing changed: nothing of the manifest is written.
    recorder.clear();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert!(r.recombined.is_empty());
    assert_eq!(manifest_puts(&recorder), Vec::<String>::new());
    let other: Vec<String> = recorder.puts().into_iter().filter(|p| !p.ends_with("/.lease")).collect();
    assert_eq!(other, Vec::<String>::new(), "a settled run writes the lease only");

    // One input rewritten: its window's record alone, once.
    store.put_set("cluster-b", &set("cluster-b", day(2), 4)).await.unwrap();
    recorder.clear();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(2)]);
    assert_eq!(manifest_puts(&recorder), [format!("/incremental-records/{}", records[2])]);
    let after = manifest_objects(&store).await;
    for (key, etag) in &before {
        assert_eq!(after[key] == *etag, *key != records[2], "{key}");
    }

    // A full run recombines every window, and writes no record whose bytes are unchanged.
    recorder.clear();
    let r = federate(&store, None).await.unwrap();
    assert_eq!(r.recombined.len(), 4);
    assert_eq!(manifest_puts(&recorder), Vec::<String>::new());
    assert_eq!(manifest_objects(&store).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_record_recombines_just_its_window_to_the_same_bytes() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "incremental-manifest");
    seed(&store, 2, 3).await;
    federate_with(&store, &options("f")).await.unwrap();
    let clean = support::combined(&store).await;
    let record = |d: i64| manifest_window_key(day(d)).unwrap();
    let day0 = store.fetch(&record(0)).await.unwrap().bytes;
    let other_version =
        String::from_utf8(day0.clone()).unwrap().replace("\"version\": 2", "\"version\": 1").into_bytes();
    let cases: [(&str, Option<Vec<u8>>); 5] = [
        ("cut short", Some(b"{\"version\": 2, \"sta".to_vec())),
        ("not JSON", Some(b"\x00\x01garbage".to_vec())),
        ("another version", Some(other_version)),
        ("another window's record", Some(day0)),
        ("deleted", None),
    ];
    for (case, bytes) in cases {
        match bytes {
            Some(bytes) => {
                store.put_object(&record(1), bytes, "application/json", &Condition::Always).await.unwrap();
            }
            None => store.delete_object(&record(1)).await.unwrap(),
        }
        let r = federate_with(&store, &options("f")).await.unwrap();
        assert_eq!(r.manifest_rebuilt, case != "deleted", "{case}");
        assert_eq!(r.recombined, [day(1)], "{case}");
        assert_eq!(r.skipped, [day(0), day(2)], "{case}");
        assert_eq!(r.objects_read, 4, "{case}: day 1's inputs only");
        assert!(r.objects_written.len() == 1 && r.quarantined.is_empty(), "{case}");
        assert_eq!(support::combined(&store).await, clean, "{case}");
        let again = federate_with(&store, &options("f")).await.unwrap();
        assert!(again.recombined.is_empty() && !again.manifest_rebuilt, "{case}: {again:?}");
    }
    // A manifest object is read only up to a bound (`manifest::MAX_OBJECT_BYTES`).
    let big = store.fetch_limited(&record(0), 16).await.unwrap_err();
    assert!(matches!(big, ampfed_federation::FederationError::TooLarge { limit: 16, .. }), "{big}");
    // An unusable misfiled record is replaced (here deleted: nothing is misfiled); an unusable record of a window with nothing
    // left is deleted.
    store
        .put_object(
            ampfed_federation::layout::MANIFEST_MISFILED_KEY,
            b"[]".to_vec(),
            "application/json",
            &Condition::Always,
        )
        .await
        .unwrap();
    let gone = manifest_window_key(day(9)).unwrap();
    store.put_object(&gone, b"{}".to_vec(), "application/json", &Condition::Always).await.unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert!(r.manifest_rebuilt && r.recombined.is_empty(), "{r:?}");
    assert_eq!(support::combined(&store).await, clean);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_manifest_of_an_earlier_build_is_ignored_then_deleted() {
    let s3 = server();
    let recorder = Recorder::default();
    let store = recorded_store(s3.endpoint(), "incremental-legacy-manifest", &recorder);
    seed(&store, 2, 2).await;
    federate_with(&store, &options("f")).await.unwrap();
    let clean = support::combined(&store).await;
    // The bucket as an earlier build left it: combined sets, one manifest.json, no records.
    let legacy = r#"{"version": 1, "windows": {}}"#;
    for key in manifest_objects(&store).await.into_keys() {
        store.delete_object(&key).await.unwrap();
    }
    store
        .put_object(LEGACY_MANIFEST_KEY, legacy.into(), "application/json", &Condition::Always)
        .await
        .unwrap();

    recorder.clear();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert!(r.manifest_rebuilt);
    assert_eq!(r.recombined, [day(0), day(1)], "every window recombined once");
    assert_eq!(r.objects_read, 8);
    let combined_puts: Vec<String> =
        recorder.puts().into_iter().filter(|p| p.contains("/federated/combined/etl/allocations/")).collect();
    assert_eq!(combined_puts, Vec::<String>::new(), "the combined sets held the same bytes already");
    assert_eq!(
        store.fetch(LEGACY_MANIFEST_KEY).await.unwrap_err().s3_failure(),
        Some(ampfed_federation::S3Failure::NotFound),
        "manifest.json is deleted"
    );
    assert_eq!(support::combined(&store).await, clean);

    // Left next to the records (a run killed before deleting it): the records are used, it
    // is deleted.
    store
        .put_object(LEGACY_MANIFEST_KEY, legacy.into(), "application/json", &Condition::Always)
        .await
        .unwrap();
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert!(r.recombined.is_empty() && !r.manifest_rebuilt, "{r:?}");
    assert!(store.fetch(LEGACY_MANIFEST_KEY).await.is_err());
    assert_eq!(support::combined(&store).await, clean);
    let r = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!((r.recombined.len(), r.passes), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_json_objects_are_read_and_a_parquet_twin_wins_without_a_duplicate() {
    use ampfed_federation::format;
    use ampfed_federation::layout::{legacy_json_key, Kind};

    let s3 = server();
    let store = support::store(s3.endpoint(), "incremental-legacy");
    seed(&store, 2, 2).await;
    // Day 0: cluster-a's objects exist only as the first format's JSON (a bucket written
    // before the switch), plus a stale JSON combined set the federator must replace.
    for (kind, key) in [
        (Kind::Allocations, Store::allocation_key("cluster-a", day(0))),
        (Kind::Assets, Store::asset_key("cluster-a", day(0))),
    ] {
        store.delete_object(&key).await.unwrap();
        let bytes = match kind {
            Kind::Allocations => format::to_bytes(&set("cluster-a", day(0), 3)),
            Kind::Assets => format::assets_to_bytes(&support::assets("cluster-a", day(0))),
        };
        let legacy = legacy_json_key("cluster-a", kind, day(0));
        store.put_object(&legacy, bytes, format::CONTENT_TYPE, &Condition::Always).await.unwrap();
    }
    let stale = legacy_json_key("combined", Kind::Allocations, day(0));
    store.put_object(&stale, b"{}".to_vec(), format::CONTENT_TYPE, &Condition::Always).await.unwrap();
    // Day 1: cluster-b has both a JSON and a Parquet object of the same set.
    let twin = legacy_json_key("cluster-b", Kind::Allocations, day(1));
    let twin_bytes = format::to_bytes(&set("cluster-b", day(1), 3));
    store.put_object(&twin, twin_bytes, format::CONTENT_TYPE, &Condition::Always).await.unwrap();

    let r = federate_with(&store, &options("f")).await.unwrap();
    assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    assert_eq!(r.recombined, [day(0), day(1)]);
    assert_eq!(r.allocations, 12, "2 days × 2 clusters × 3 pods, the twin counted once");
    for d in [0, 1] {
        let combined = store.get_set(&Store::allocation_key("combined", day(d))).await.unwrap();
        assert_eq!(combined.clusters, cluster_names(2));
        assert_eq!(combined.allocations.len(), 6);
        let key = Store::allocation_key("combined", day(d));
        assert!(key.ends_with(".parquet"), "{key}");
        assert!(store.fetch(&key).await.unwrap().bytes.starts_with(b"PAR1"));
    }
    assert_eq!(
        store.fetch(&stale).await.unwrap_err().s3_failure(),
        Some(ampfed_federation::S3Failure::NotFound),
        "the JSON combined set is replaced by the Parquet one"
    );
    // The store's own listing prefers the Parquet twin; the legacy one reads too.
    let keys = store.allocation_keys("cluster-b").await.unwrap();
    assert_eq!(
        keys,
        [Store::allocation_key("cluster-b", day(0)), Store::allocation_key("cluster-b", day(1))]
    );
    assert_eq!(store.get_set(&twin).await.unwrap().allocations.len(), 3);
    // Settled: a second run has nothing to do.
    let again = federate_with(&store, &options("f")).await.unwrap();
    assert!(again.recombined.is_empty(), "{again:?}");
}
