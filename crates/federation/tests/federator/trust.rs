//! Trust nothing in an object: corrupt, misfiled, wrongly versioned and mislabelled objects
//! are copied to `quarantine/` with their reason and reported, the others are combined as if
//! the bad ones were absent; missing clusters are reported per window; two sources claiming one
//! cluster id are detected; and a cluster id that collides with the layout is refused, by the
//! store and by the cost model, with the same rules.

use ampfed_allocation::Window;
use ampfed_federation::layout::{legacy_json_key, quarantine_key, quarantine_reason_key, Kind};
use ampfed_federation::store::Condition;
use ampfed_federation::{check_cluster_id, federate_with, format, parquet, FederationError, Store};

use crate::support::{self, allocation, day, options, seed, server, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distrusted_objects_are_quarantined_and_the_others_combine_as_if_they_were_absent() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "trust-bad");
    seed(&store, 3, 3).await;
    let put = |key: String, bytes: Vec<u8>| {
        let store = store.clone();
        async move { store.put_object(&key, bytes, "application/json", &Condition::Always).await.unwrap() }
    };
    let a = |c: &str, d: i64| Store::allocation_key(c, day(d));
    // Corrupt bytes.
    put(a("cluster-b", 0), b"{\"version\": 1, \"clus".to_vec()).await;
    // Another format version: a legacy JSON object (the only one of its window and cluster).
    let v2 = String::from_utf8(format::to_bytes(&set("cluster-c", day(0), 3)))
        .unwrap()
        .replace("\"version\": 1", "\"version\": 2");
    store.delete_object(&a("cluster-c", 0)).await.unwrap();
    let v2_key = legacy_json_key("cluster-c", Kind::Allocations, day(0));
    put(v2_key.clone(), v2.into_bytes()).await;
    // Day 2's set filed under day 1.
    put(a("cluster-a", 1), parquet::encode_allocations(&set("cluster-a", day(2), 3), None).unwrap()).await;
    // Cluster b's allocations under cluster c's prefix (its clusters field says cluster-c).
    let mut foreign = set("cluster-c", day(2), 2);
    foreign.allocations.push(allocation("cluster-b", day(2), 9, 1.0));
    put(a("cluster-c", 2), parquet::encode_allocations(&foreign, None).unwrap()).await;
    // An asset set that names another cluster.
    let assets = support::assets("cluster-a", day(2));
    put(Store::asset_key("cluster-b", day(2)), parquet::encode_assets(&assets, None).unwrap()).await;
    // Misfiled: a file name that is no day, and a folder named like the layout.
    put("federated/cluster-a/etl/allocations/1d/latest.json".into(), b"{}".to_vec()).await;
    put("federated/quarantine/etl/allocations/1d/1767225600-1767312000.json".into(), b"{}".to_vec()).await;

    let r = federate_with(&store, &options("f")).await.unwrap();
    let codes: Vec<(String, String)> =
        r.quarantined.iter().map(|q| (q.key.clone(), q.code.clone())).collect();
    assert_eq!(
        codes,
        [
            (a("cluster-a", 1), "window-mismatch".to_owned()),
            ("federated/cluster-a/etl/allocations/1d/latest.json".into(), "misfiled".into()),
            (a("cluster-b", 0), "undecodable".into()),
            (Store::asset_key("cluster-b", day(2)), "cluster-mismatch".into()),
            (v2_key.clone(), "unsupported-version".into()),
            (a("cluster-c", 2), "foreign-allocation".into()),
            ("federated/quarantine/etl/allocations/1d/1767225600-1767312000.json".into(), "misfiled".into()),
        ]
    );
    assert_eq!(r.newly_quarantined.len(), 7);
    assert_eq!(r.clusters, ["cluster-a", "cluster-b", "cluster-c"], "`quarantine` is no cluster");
    // Each copy holds the bytes as read, next to its reason.
    for q in &r.quarantined {
        let original = store.fetch(&q.key).await.unwrap();
        assert_eq!(q.copy.as_deref(), Some(quarantine_key(&q.key).as_str()));
        assert_eq!(store.fetch(&quarantine_key(&q.key)).await.unwrap().bytes, original.bytes, "{}", q.key);
        let reason =
            String::from_utf8(store.fetch(&quarantine_reason_key(&q.key)).await.unwrap().bytes).unwrap();
        assert!(reason.contains(&format!("\"code\": \"{}\"", q.code)), "{reason}");
        assert!(reason.contains(&q.etag.replace('"', "\\\"")), "{reason}");
    }
    let message = |key: &str| r.quarantined.iter().find(|q| q.key == key).unwrap().message.clone();
    assert!(message(&v2_key).contains("format version 2"));
    assert!(
        message(&a("cluster-a", 1)).contains("holds 1767398400-1767484800"),
        "{}",
        message(&a("cluster-a", 1))
    );
    assert!(message(&a("cluster-c", 2)).contains("\"cluster-b\""), "{}", message(&a("cluster-c", 2)));

    // Per window, who is missing.
    let missing: Vec<(Window, Vec<String>, Vec<String>)> =
        r.windows.iter().map(|w| (w.window, w.missing.clone(), w.missing_assets.clone())).collect();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        missing,
        [
            (day(0), strings(&["cluster-b", "cluster-c"]), vec![]),
            (day(1), strings(&["cluster-a"]), vec![]),
            (day(2), strings(&["cluster-c"]), strings(&["cluster-b"])),
        ]
    );

    // The combined objects are those of a bucket where the bad objects never were.
    let clean = support::store(s3.endpoint(), "trust-without");
    seed(&clean, 3, 3).await;
    for key in [
        a("cluster-b", 0),
        a("cluster-c", 0),
        a("cluster-a", 1),
        a("cluster-c", 2),
        Store::asset_key("cluster-b", day(2)),
    ] {
        clean.delete_object(&key).await.unwrap();
    }
    federate_with(&clean, &options("f")).await.unwrap();
    assert_eq!(support::combined_outputs(&store).await, support::combined_outputs(&clean).await);

    // Unchanged bad objects are not read again; a repaired one is combined.
    let again = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!((again.objects_read, again.quarantined.len(), again.newly_quarantined.len()), (0, 7, 0));
    store.put_set("cluster-b", &set("cluster-b", day(0), 3)).await.unwrap();
    let repaired = federate_with(&store, &options("f")).await.unwrap();
    assert_eq!(repaired.recombined, [day(0)]);
    assert_eq!(repaired.objects_read, 5, "day 0's inputs but the known-bad cluster-c one");
    assert_eq!(repaired.windows[0].missing, ["cluster-c"]);
    assert_eq!(repaired.quarantined.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_over_the_read_limit_is_quarantined_unread_and_the_others_combine() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "trust-large");
    seed(&store, 2, 2).await;
    let big = Store::allocation_key("cluster-b", day(0));
    store.put_set("cluster-b", &set("cluster-b", day(0), 400)).await.unwrap();
    let listed = store.list("federated/").await.unwrap();
    let size = |key: &str| listed.iter().find(|l| l.key == key).map(|l| l.size as u64).unwrap();
    let others = listed.iter().filter(|l| l.key != big).map(|l| l.size as u64).max().unwrap();
    let limit = size(&big) - 1;
    assert!(others < limit, "the other inputs ({others} bytes at most) fit under {limit}");

    let options = ampfed_federation::Options { max_input_bytes: limit, ..options("f") };
    let r = federate_with(&store, &options).await.unwrap();
    assert_eq!(r.quarantined.len(), 1, "{:?}", r.quarantined);
    let q = &r.quarantined[0];
    assert_eq!((q.key.as_str(), q.code.as_str(), q.copy.as_deref()), (big.as_str(), "too-large", None));
    assert!(q.message.contains(&format!("over the {limit} bytes")), "{}", q.message);
    let reason = String::from_utf8(store.fetch(&quarantine_reason_key(&big)).await.unwrap().bytes).unwrap();
    assert!(reason.contains("\"code\": \"too-large\"") && reason.contains("\"copy\": null"), "{reason}");
    assert_eq!(r.windows[0].missing, ["cluster-b"]);
    assert!(r.windows[1].missing.is_empty());

    // The combined objects are those of a bucket without it; it is not read again.
    let clean = support::store(s3.endpoint(), "trust-large-without");
    seed(&clean, 2, 2).await;
    clean.delete_object(&big).await.unwrap();
    federate_with(&clean, &options).await.unwrap();
    assert_eq!(support::combined_outputs(&store).await, support::combined_outputs(&clean).await);
    let again = federate_with(&store, &options).await.unwrap();
    assert_eq!((again.objects_read, again.quarantined.len(), again.newly_quarantined.len()), (0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_claiming_one_cluster_id_are_reported() {
    let s3 = server();
    let base = support::store(s3.endpoint(), "trust-sources");
    base.ensure_bucket().await.unwrap();
    let first = base.clone().with_source("kube-system-uid-1111");
    let second = base.clone().with_source("kube-system-uid-2222");
    for d in 0..3 {
        first.put_set("cluster-a", &set("cluster-a", day(d), 2)).await.unwrap();
        first.put_assets("cluster-a", &support::assets("cluster-a", day(d))).await.unwrap();
        second.put_set("cluster-b", &set("cluster-b", day(d), 2)).await.unwrap();
    }
    let r = federate_with(&base, &options("f")).await.unwrap();
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);

    // Another cluster, configured with cluster-a's name, ships day 1's assets.
    second.put_assets("cluster-a", &support::assets("cluster-a", day(1))).await.unwrap();
    let r = federate_with(&base, &options("f")).await.unwrap();
    assert_eq!(r.recombined, [day(1)]);
    assert_eq!(r.conflicts.len(), 1);
    let conflict = &r.conflicts[0];
    assert_eq!(conflict.cluster, "cluster-a");
    assert_eq!(conflict.claims.keys().collect::<Vec<_>>(), ["kube-system-uid-1111", "kube-system-uid-2222"]);
    assert_eq!(conflict.claims["kube-system-uid-2222"], [Store::asset_key("cluster-a", day(1))]);
    // The claim stays visible in later runs (from the manifest) until it is resolved.
    let later = federate_with(&base, &options("f")).await.unwrap();
    assert!(later.recombined.is_empty());
    assert_eq!(later.conflicts.len(), 1);
    assert_eq!(later.conflicts[0].claims["kube-system-uid-2222"], conflict.claims["kube-system-uid-2222"]);
    // The rewrite itself is evidence: the key was cluster-a's first source's before.
    assert!(conflict.claims["kube-system-uid-1111"].contains(&Store::asset_key("cluster-a", day(1))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_names_are_refused_as_cluster_ids_by_the_store_and_the_cost_model() {
    let s3 = server();
    let store = support::store(s3.endpoint(), "trust-ids");
    store.ensure_bucket().await.unwrap();
    for id in ["combined", "Combined", "quarantine", "a/b", "", ".."] {
        let err = store.put_set(id, &set(id, day(0), 1)).await.unwrap_err();
        assert!(matches!(err, FederationError::ClusterId { .. }), "{id:?}: {err}");
        let err = store.put_assets(id, &support::assets(id, day(0))).await.unwrap_err();
        assert!(matches!(err, FederationError::ClusterId { .. }), "{id:?}: {err}");
    }
    let text = store.put_set("combined", &set("combined", day(0), 1)).await.unwrap_err().to_string();
    assert_eq!(
        text,
        "cluster id \"combined\" is refused: `combined` is reserved by the bucket layout (federated/combined/ \
         holds the combined sets, quarantine/ the distrusted objects); set another clusterName"
    );
    assert!(store.list("federated/").await.unwrap().is_empty(), "nothing was filed");

    // The cost model refuses the same ids (it cannot depend on this crate: the rules are kept
    // in step by this test), before it sends any query.
    let ids = [
        "cluster-a",
        "combined",
        "COMBINED",
        "quarantine",
        "a/b",
        "a\\b",
        "",
        ".",
        "..",
        " a",
        "a\n",
        "ok.name_1",
    ];
    let long = "x".repeat(254);
    for id in ids.iter().copied().chain([long.as_str(), &long[..253]]) {
        assert_eq!(
            check_cluster_id(id).is_ok(),
            ampfed_costmodel::check_cluster_id(id).is_ok(),
            "{id:?}: federation and the cost model disagree"
        );
    }
    let nowhere = ampfed_prom::Client::new("http://127.0.0.1:1/workspaces/none", "/api/v1/remote_write");
    let model = ampfed_costmodel::CostModel::new(nowhere, "combined", "cluster_id");
    let err = model.compute_day(day(0)).unwrap_err().to_string();
    assert_eq!(
        err,
        "cluster id \"combined\" cannot be shipped to the federated bucket: `combined` is reserved by the \
         federated bucket layout; set another clusterName"
    );
}
