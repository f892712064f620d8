//! The fast path (column scan and compaction, `ampfed_api::compact`) against the full path
//! (every row decoded and queried): over seeded synthetic days of several clusters with
//! labels, annotations, services, controllers, PVs, unmounted and idle rows, partial runs and
//! namespace metadata, and over `ampfed_test_support::etl::Synthetic`, many requests must give
//! the same sets: the same keys, the same properties, every number within 1e-9 relative.

use std::collections::BTreeMap;

use ampfed_allocation::{
    pv_key, Allocation, AllocationSet, AssetSet, ClusterManagementAsset, DiskAsset, NodeAsset, Properties,
    PvAllocation, Window, DAY_SECS, UNMOUNTED,
};
use ampfed_api::source::BoxFuture;
use ampfed_api::{
    allocation_sets_with, AllocationRequest, DayObject, Engine, EtlSource, Limits, SourceError,
};
use ampfed_federation::parquet;
use ampfed_test_support::etl::Synthetic;
use bytes::Bytes;
use serde_json::Value;

use crate::JAN1;

/// Days held as Parquet objects: the fast path reads the bytes, the full path the decoded set.
struct Encoded {
    days: BTreeMap<Window, (String, Bytes, AllocationSet)>,
    assets: BTreeMap<Window, AssetSet>,
}

impl Encoded {
    fn new(sets: Vec<AllocationSet>, assets: Vec<AssetSet>) -> Encoded {
        let days = sets
            .into_iter()
            .map(|s| {
                let key = ampfed_federation::Store::allocation_key("combined", s.window);
                let bytes = Bytes::from(parquet::encode_allocations(&s, None).unwrap());
                // What the full path reads is what the object decodes to.
                let decoded = parquet::decode_allocations(&key, &bytes).unwrap().set;
                (s.window, (key, bytes, decoded))
            })
            .collect();
        Encoded { days, assets: assets.into_iter().map(|a| (a.window, a)).collect() }
    }
}

impl EtlSource for Encoded {
    fn allocation_object(&self, day: Window) -> BoxFuture<'_, Result<DayObject, SourceError>> {
        let object = match self.days.get(&day) {
            Some((key, bytes, _)) => DayObject::Object { key: key.clone(), bytes: bytes.clone(), etag: None },
            None => DayObject::Missing,
        };
        Box::pin(async move { Ok(object) })
    }

    fn allocation_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AllocationSet>, SourceError>> {
        let set = self.days.get(&day).map(|d| d.2.clone());
        Box::pin(async move { Ok(set) })
    }

    fn asset_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AssetSet>, SourceError>> {
        let set = self.assets.get(&day).cloned();
        Box::pin(async move { Ok(set) })
    }

    fn allocation_name(&self, day: Window) -> String {
        format!("encoded {}", day.file_stem())
    }

    fn asset_name(&self, day: Window) -> String {
        format!("encoded assets {}", day.file_stem())
    }
}

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn f(&mut self, scale: f64) -> f64 {
        (self.below(1_000_000) as f64 / 1_000_000.0) * scale
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const CLUSTERS: [&str; 4] = ["c1", "c2", "c3", "c4"];
const NAMESPACES: [&str; 5] = ["shop", "kube-system", "data", "platform", ""];

fn window(d: i64) -> Window {
    Window { start: JAN1 + d * DAY_SECS, end: JAN1 + (d + 1) * DAY_SECS }
}

/// One seeded day: containers of four clusters, with unmounted and idle rows.
fn handmade_day(rng: &mut Rng, d: i64) -> (AllocationSet, AssetSet) {
    let w = window(d);
    let mut rows = Vec::new();
    for cluster in CLUSTERS {
        for i in 0..40 {
            let node = format!("n{}", rng.below(3));
            let namespace = rng.pick(&NAMESPACES).to_owned();
            let pod = format!("pod-{}", rng.below(12));
            let container = rng.pick(&["app", "sidecar", "init"]).to_owned();
            let (controller_kind, controller) = match rng.below(5) {
                0 => (String::new(), String::new()),
                1 => ("deployment".to_owned(), format!("web-{}", rng.below(3))),
                2 => ("statefulset".to_owned(), "db".to_owned()),
                3 => ("daemonset".to_owned(), "agent".to_owned()),
                _ => (String::new(), "orphan".to_owned()),
            };
            let mut labels = BTreeMap::new();
            if rng.below(4) != 0 {
                labels.insert("team".to_owned(), rng.pick(&["a", "b", "platform"]).to_owned());
            }
            if rng.below(2) == 0 {
                labels.insert("app".to_owned(), rng.pick(&["web", "api", "batch"]).to_owned());
            }
            let mut annotations = BTreeMap::new();
            if rng.below(3) == 0 {
                annotations.insert("owner".to_owned(), rng.pick(&["ana", "bo"]).to_owned());
            }
            let services = match rng.below(4) {
                0 => vec!["svc-a".to_owned()],
                1 => vec!["svc-a".to_owned(), "svc-b".to_owned()],
                _ => Vec::new(),
            };
            let namespace_labels: BTreeMap<String, String> = if namespace == "shop" {
                [("tier".to_owned(), "front".to_owned())].into()
            } else {
                BTreeMap::new()
            };
            let namespace_annotations: BTreeMap<String, String> = if namespace == "data" {
                [("contact".to_owned(), "dba".to_owned())].into()
            } else {
                BTreeMap::new()
            };
            // Most run the whole day; some only part of it.
            let (start, end) = if rng.below(3) == 0 {
                let s = w.start + rng.below(40_000) as i64;
                (s, s + 3_600 + rng.below(40_000) as i64)
            } else {
                (w.start, w.end)
            };
            let minutes = (end - start) as f64 / 60.0;
            let mut a = Allocation {
                name: format!("{cluster}/{node}/{namespace}/{pod}/{container}-{i}"),
                properties: Properties {
                    cluster: cluster.to_owned(),
                    node: node.clone(),
                    namespace,
                    pod,
                    container,
                    controller,
                    controller_kind,
                    provider_id: format!("i-{node}"),
                    services,
                    labels,
                    annotations,
                    namespace_labels,
                    namespace_annotations,
                },
                start,
                end,
                minutes,
                cpu_core_request_average: rng.f(2.0),
                cpu_core_usage_average: rng.f(2.0),
                cpu_core_hours: rng.f(24.0),
                cpu_cost: if rng.below(10) == 0 { 0.0 } else { rng.f(3.0) },
                ram_byte_request_average: rng.f(4e9),
                ram_byte_usage_average: rng.f(4e9),
                ram_byte_hours: rng.f(1e11),
                ram_cost: rng.f(1.0),
                load_balancer_cost: if rng.below(8) == 0 { rng.f(0.5) } else { 0.0 },
                shared_cost: if rng.below(10) == 0 { rng.f(0.2) } else { 0.0 },
                ..Allocation::default()
            };
            if rng.below(6) == 0 {
                a.gpu_request_average = 1.0;
                a.gpu_usage_average = rng.f(1.0);
                a.gpu_hours = rng.f(24.0);
                a.gpu_cost = rng.f(5.0);
            }
            if rng.below(5) == 0 {
                let pv = format!("pv-{}", rng.below(4));
                a.pvs.insert(
                    pv_key(cluster, &pv),
                    PvAllocation {
                        byte_hours: rng.f(1e12),
                        cost: rng.f(0.3),
                        provider_id: format!("vol-{pv}"),
                    },
                );
            }
            a.recompute();
            rows.push(a);
        }
        // PV and load balancer cost no pod used.
        let mut unmounted = Allocation {
            name: format!("{cluster}/{UNMOUNTED}/{UNMOUNTED}/{UNMOUNTED}/{UNMOUNTED}"),
            properties: Properties {
                cluster: cluster.to_owned(),
                node: UNMOUNTED.to_owned(),
                namespace: UNMOUNTED.to_owned(),
                pod: UNMOUNTED.to_owned(),
                container: UNMOUNTED.to_owned(),
                services: vec!["lb".to_owned()],
                ..Properties::default()
            },
            start: w.start,
            end: w.end,
            minutes: 1440.0,
            load_balancer_cost: rng.f(1.0),
            ..Allocation::default()
        };
        unmounted.pvs.insert(
            pv_key(cluster, "pv-free"),
            PvAllocation { byte_hours: 1e11, cost: rng.f(0.4), provider_id: "vol-free".into() },
        );
        unmounted.recompute();
        rows.push(unmounted);
        // An idle row in the ETL is never counted.
        let mut idle = Allocation {
            name: format!("{cluster}/__idle__"),
            properties: Properties { cluster: cluster.to_owned(), ..Properties::default() },
            start: w.start,
            end: w.end,
            minutes: 1440.0,
            cpu_cost: 9.0,
            ..Allocation::default()
        };
        idle.recompute();
        rows.push(idle);
    }
    let set = AllocationSet::new(CLUSTERS.iter().map(|c| c.to_string()).collect(), w, rows);

    let mut assets = AssetSet::new(CLUSTERS.iter().map(|c| c.to_string()).collect(), w);
    for cluster in CLUSTERS {
        for n in 0..3 {
            // n2 of c4 has no GPU nor RAM cost: idle left unshared there.
            let (ram, gpu) = if cluster == "c4" && n == 2 { (0.0, 0.0) } else { (rng.f(20.0), rng.f(8.0)) };
            let cpu = rng.f(60.0);
            assets.nodes.push(NodeAsset {
                cluster: cluster.to_owned(),
                name: format!("n{n}"),
                start: w.start,
                end: w.end,
                minutes: 1440.0,
                cpu_cores: 8.0,
                cpu_cost: cpu,
                ram_cost: ram,
                gpu_cost: gpu,
                total_cost: cpu + ram + gpu,
                ..NodeAsset::default()
            });
            assets.disks.push(DiskAsset {
                cluster: cluster.to_owned(),
                name: format!("n{n}"),
                start: w.start,
                end: w.end,
                minutes: 1440.0,
                cost: 0.5,
                total_cost: 0.5,
                ..DiskAsset::default()
            });
        }
        if cluster != "c3" {
            assets.cluster_management.push(ClusterManagementAsset {
                cluster: cluster.to_owned(),
                provisioner: "EKS".into(),
                start: w.start,
                end: w.end,
                minutes: 1440.0,
                cost: 2.4,
                total_cost: 2.4,
                ..ClusterManagementAsset::default()
            });
        }
    }
    assets.sort();
    (set, assets)
}

/// Whether two JSON values agree: numbers within 1e-9 relative (or 1e-12 absolute).
fn same(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            let tolerance = 1e-9 * x.abs().max(y.abs()).max(1e-3);
            if (x - y).abs() <= tolerance {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            // A number that is 0 is left out of the JSON: a side that rounds to a residue of
            // 1e-17 where the other has 0 still agrees.
            let zero = Value::from(0.0);
            let absent = |v: &Value| if v.is_number() { &zero } else { &Value::Null };
            for k in x.keys().chain(y.keys()) {
                let (v, w) = match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => (v, w),
                    (Some(v), None) => (v, absent(v)),
                    (None, Some(w)) => (absent(w), w),
                    (None, None) => continue,
                };
                same(v, w, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().try_for_each(|(i, (v, w))| same(v, w, &format!("{path}[{i}]")))
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

/// Runs `query` by both engines and compares; the number of answer rows.
async fn compare(source: &Encoded, query: &str, now: i64) -> usize {
    let req =
        AllocationRequest::parse(query, now, &Limits::default()).unwrap_or_else(|e| panic!("{query}: {e}"));
    let full = allocation_sets_with(source, &req, Engine::Full).await;
    let fast = allocation_sets_with(source, &req, Engine::Fast).await;
    match (full, fast) {
        (Ok((full, full_stats)), Ok((fast, fast_stats))) => {
            assert_eq!(full_stats, fast_stats, "{query}: stats");
            let (a, b) = (serde_json::to_value(&full).unwrap(), serde_json::to_value(&fast).unwrap());
            if let Err(e) = same(&a, &b, "") {
                panic!("{query}: the fast path differs from the full path at {e}");
            }
            full.iter().map(|(_, rows)| rows.len()).sum()
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{query}");
            0
        }
        (a, b) => panic!("{query}: full {:?} vs fast {:?}", a.map(|x| x.0.len()), b.map(|x| x.0.len())),
    }
}

const AGGREGATES: [&str; 16] = [
    "namespace",
    "cluster",
    "node",
    "controller",
    "controllerKind",
    "deployment",
    "label:team",
    "namespace,label:app",
    "cluster,namespace",
    "pod",
    "container",
    "service",
    "team",
    "annotation:owner",
    "providerID",
    "cluster,node,namespace,pod,container",
];

const OPTIONS: [&str; 24] = [
    "",
    "&idle=false",
    "&idle=false&shareTenancyCosts=false",
    "&shareIdle=true",
    "&idleByNode=true",
    "&shareIdle=true&idleByNode=true",
    "&splitIdle=true",
    "&splitIdle=true&idleByNode=true",
    "&shareNamespaces=kube-system",
    "&shareNamespaces=kube-system,data&shareIdle=true",
    "&shareLabels=team:platform",
    "&shareLabels=team:platform&shareSplit=even",
    "&shareTenancyCosts=false&shareSplit=even",
    "&shareSplit=even&shareNamespaces=kube-system",
    "&filter=cluster:\"c1\",\"c3\"",
    "&filter=namespace:\"shop\"",
    "&filter=label[team]:\"a\"",
    "&filter=namespace!:\"kube-system\"&shareIdle=true",
    "&filter=cluster:\"c2\"&idleByNode=true&splitIdle=true",
    "&filter=label[app]:\"web\"&shareNamespaces=data&shareIdle=true",
    "&accumulate=true",
    "&accumulate=true&shareIdle=true&shareLabels=team:b",
    "&step=1d&accumulate=false",
    "&accumulate=day&filter=controllerKind:\"deployment\"",
];

/// The fast path's scan of one encoded day, `dictionary` columns read as dictionaries.
fn scanned(key: &str, bytes: &Bytes, dictionary: &[&str]) -> parquet::scan::Scan {
    parquet::scan::scan_allocations_marking(
        key,
        bytes.clone(),
        ampfed_api::compact::COLUMNS,
        dictionary,
        &ampfed_api::compact::MARKS,
        &Default::default(),
    )
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn the_fast_path_answers_as_the_full_path_on_handmade_days() {
    let mut rng = Rng(0x5eed_ab1e);
    let (sets, assets): (Vec<_>, Vec<_>) = (0..3).map(|d| handmade_day(&mut rng, d)).unzip();
    let source = Encoded::new(sets, assets);
    let now = JAN1 + 3 * DAY_SECS + 3600;
    let mut rows = 0;
    for agg in AGGREGATES {
        for opt in OPTIONS {
            rows += compare(&source, &format!("window=3d&aggregate={agg}{opt}"), now).await;
        }
    }
    // Without aggregation the fast path is the full path.
    rows += compare(&source, "window=3d", now).await;
    // And the days were compacted, not answered by the fallback.
    for (key, bytes, _) in source.days.values() {
        let scan = scanned(key, bytes, ampfed_api::compact::DICTIONARY_COLUMNS);
        // Strings read plain rather than as dictionaries compact the same.
        let plain = scanned(key, bytes, &[]);
        for agg in AGGREGATES {
            let req = AllocationRequest::parse(
                &format!("window=3d&aggregate={agg}&filter=namespace:\"shop\""),
                now,
                &Limits::default(),
            )
            .unwrap();
            let compacted = ampfed_api::compact::compact(&scan, &req.options, req.filter.as_ref(), "k", "f");
            let ampfed_api::compact::Compacted::Set { set, .. } = compacted else {
                panic!("{agg}: fell back")
            };
            assert!(set.allocations.len() < scan.rows, "{agg}");
            let again = ampfed_api::compact::compact(&plain, &req.options, req.filter.as_ref(), "k", "f");
            let ampfed_api::compact::Compacted::Set { set: plain_set, properties, .. } = again else {
                panic!("{agg}: fell back on plain strings")
            };
            assert_eq!(plain_set, set, "{agg}");
            assert!(!properties.is_empty(), "{agg}");
        }
    }
    assert!(rows > 10_000, "the requests answered {rows} rows in all");
}

#[tokio::test]
async fn the_fast_path_answers_as_the_full_path_on_synthetic_days() {
    let size = Synthetic { clusters: 7, days: 3, containers: 30 };
    let sets = (0..size.days)
        .map(|d| {
            let parts: Vec<AllocationSet> = (0..size.clusters).map(|c| size.allocations(c, d, 0.0)).collect();
            let clusters = parts.iter().flat_map(|s| s.clusters.clone()).collect();
            let rows = parts.into_iter().flat_map(|s| s.allocations).collect();
            AllocationSet::new(clusters, ampfed_test_support::etl::day(d as i64), rows)
        })
        .collect();
    let assets = (0..size.days)
        .map(|d| {
            AssetSet::combine(&(0..size.clusters).map(|c| size.assets(c, d)).collect::<Vec<_>>()).unwrap()
        })
        .collect();
    let source = Encoded::new(sets, assets);
    // The synthetic rows have no labels, services nor PVs: those columns are not decoded.
    let (key, bytes, _) = source.days.values().next().unwrap();
    let scan = scanned(key, bytes, ampfed_api::compact::DICTIONARY_COLUMNS);
    for empty in ["labels", "annotations", "services", "pvs"] {
        assert!(scan.column(0, empty).is_none(), "{empty} was decoded");
    }
    assert!(scan.column(0, "cpu_cost").is_some());
    let now = ampfed_test_support::etl::day(2).start + 12 * 3600;
    for agg in ["namespace", "cluster", "node", "pod", "cluster,namespace", "controller"] {
        for opt in ["", "&shareTenancyCosts=false", "&shareIdle=true", "&idleByNode=true", "&accumulate=true"]
        {
            compare(&source, &format!("window=3d&aggregate={agg}{opt}"), now).await;
        }
    }
}
