//! An independent engine reads the bucket: three clusters ship three days each through
//! `ampfed_federation::Store` to the embedded S3 server, the federator writes
//! `federated/combined/…`, and then the API over HTTP (`/model/allocation`, `/model/assets`)
//! and pyarrow (`scripts/pyarrow-bucket-totals.py`, pinned in `scripts/versions.sh`, its venv
//! made by `cargo xtask setup`) must find the same totals per cluster and namespace, both the
//! hand-worked ones below. pyarrow reads through its own S3 client (the AWS C++ SDK) and its
//! own Parquet reader, the combined objects and, separately, the clusters' folders (as
//! Kubecost 2.x's aggregator does). Without the venv the test fails, saying how to install it.
//!
//! Each of the days 2026-01-01, -02, -03 (`d` = 0, 1, 2), full-day allocations (cost a day):
//!
//! | cluster/node | namespace   | pod | CPU         | RAM | 3 days      |
//! | ------------ | ----------- | --- | ----------- | --- | ----------- |
//! | c1/n1        | shop        | web | 1 + d       | 0.5 | 6 + 1.5     |
//! | c1/n1        | kube-system | dns | 0.25        | 0.25| 0.75 + 0.75 |
//! | c2/n2        | shop        | api | 3           | 1   | 9 + 3       |
//! | c2/n2        | data        | db  | 2           | 2   | 6 + 6       |
//! | c3/n3        | data        | etl | 0.5 × (d+1) | 0.5 | 3 + 1.5     |
//! | c3/n3        | kube-system | dns | 0.25        | 0.25| 0.75 + 0.75 |
//!
//! Clusters: c1 9 (CPU 6.75, RAM 2.25), c2 24 (CPU 15, RAM 9), c3 6 (CPU 3.75, RAM 2.25).
//! Namespaces: shop 7.5 + 12 = 19.5, data 12 + 4.5 = 16.5, kube-system 1.5 + 1.5 = 3.
//! Assets a day: node n1 CPU 4 + RAM 1, n2 CPU 8 + RAM 4, n3 CPU 2 + RAM 1, and each
//! cluster's EKS fee 2.4: c1 3 × 7.4 = 22.2, c2 3 × 14.4 = 43.2, c3 3 × 5.4 = 16.2.
//! Idle (nodes less allocated, per resource): c1 (12 − 6.75) + (3 − 2.25) = 6,
//! c2 (24 − 15) + (12 − 9) = 12, c3 (6 − 3.75) + (3 − 2.25) = 3.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ampfed_allocation::{AllocationSet, AssetSet, DAY_SECS};
use ampfed_api::{Api, ApiConfig, ApiServer, StoreSource};
use ampfed_federation::{federate, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use ampfed_test_support::{run_bounded, TempDir};
use serde_json::Value;

use crate::{allocation, close, day, node, JAN1};

const ACCESS_KEY: &str = "AKIAAMPFEDPYARROW001";
const SECRET_KEY: &str = "ampfed/pyarrow/secret/key/for/tests+0000";
const REGION: &str = "us-west-2";
const BUCKET: &str = "ampfed-central";
const CLUSTERS: [&str; 3] = ["c1", "c2", "c3"];
const DAYS: i64 = 3;
/// The three days, as the API's `window=start,end`.
const WINDOW: &str = "1767225600,1767484800";
/// How long the Python reader may take (it starts in about a second).
const PYTHON_LIMIT: Duration = Duration::from_secs(120);

/// Expected totals worked out by hand in the module doc: (key, total, CPU, RAM).
const BY_CLUSTER: [(&str, f64, f64, f64); 3] =
    [("c1", 9.0, 6.75, 2.25), ("c2", 24.0, 15.0, 9.0), ("c3", 6.0, 3.75, 2.25)];
const BY_NAMESPACE: [(&str, f64, f64, f64); 3] =
    [("data", 16.5, 9.0, 7.5), ("kube-system", 3.0, 1.5, 1.5), ("shop", 19.5, 15.0, 4.5)];
const ASSETS: [(&str, f64); 3] = [("c1", 22.2), ("c2", 43.2), ("c3", 16.2)];
const IDLE: [(&str, f64); 3] = [("c1", 6.0), ("c2", 12.0), ("c3", 3.0)];

/// `cluster`'s allocations of day `n`.
fn allocations(cluster: &str, n: i64) -> AllocationSet {
    let w = day(n);
    let d = n as f64;
    let rows = match cluster {
        "c1" => vec![
            allocation(["c1", "n1", "shop", "web"], Some("a"), w, 1.0 + d, 0.5),
            allocation(["c1", "n1", "kube-system", "dns"], None, w, 0.25, 0.25),
        ],
        "c2" => vec![
            allocation(["c2", "n2", "shop", "api"], Some("b"), w, 3.0, 1.0),
            allocation(["c2", "n2", "data", "db"], Some("b"), w, 2.0, 2.0),
        ],
        _ => vec![
            allocation(["c3", "n3", "data", "etl"], None, w, 0.5 * (d + 1.0), 0.5),
            allocation(["c3", "n3", "kube-system", "dns"], None, w, 0.25, 0.25),
        ],
    };
    AllocationSet::new(vec![cluster.into()], w, rows)
}

/// `cluster`'s assets of day `n`: its node and its EKS fee.
fn assets(cluster: &str, n: i64) -> AssetSet {
    let w = day(n);
    let (name, cpu, ram) = match cluster {
        "c1" => ("n1", 4.0, 1.0),
        "c2" => ("n2", 8.0, 4.0),
        _ => ("n3", 2.0, 1.0),
    };
    let mut set = AssetSet::new(vec![cluster.into()], w);
    set.nodes.push(node(cluster, name, w, cpu, ram));
    // The shared fixture's EKS fee of the day (2.4), moved to `cluster`.
    let mut fee = crate::assets(n).cluster_management.swap_remove(0);
    fee.cluster = cluster.into();
    set.cluster_management.push(fee);
    set.sort();
    set
}

/// The pinned pyarrow version (`pyarrow==X` in `PYARROW_PINS`, `scripts/versions.sh`).
fn pinned_pyarrow() -> String {
    let versions = ampfed_common::paths::workspace_root().join("scripts/versions.sh");
    let text = std::fs::read_to_string(&versions).unwrap_or_else(|e| panic!("{}: {e}", versions.display()));
    let pins = text.lines().find_map(|l| l.strip_prefix("PYARROW_PINS=")).expect("a PYARROW_PINS line");
    let pin = pins
        .trim_matches('"')
        .split_whitespace()
        .find_map(|p| p.strip_prefix("pyarrow=="))
        .expect("pyarrow==");
    pin.to_owned()
}

/// The venv's Python: missing, it is a failure that says what installs it.
fn python() -> PathBuf {
    let python = ampfed_common::paths::cache_dir().join("pyarrow-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `cargo xtask setup` (scripts/install-pyarrow.sh) to install the pinned pyarrow",
        python.display()
    );
    python
}

/// What `scripts/pyarrow-bucket-totals.py` prints for the bucket at `endpoint`, run with
/// nothing of this machine's AWS set-up (a home of its own, no instance metadata).
fn pyarrow_totals(endpoint: &str) -> Value {
    let home = TempDir::new("pyarrow-home");
    let script = ampfed_common::paths::workspace_root().join("scripts/pyarrow-bucket-totals.py");
    let mut cmd = Command::new(python());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("no-credentials"))
        .arg(&script)
        .args(["--endpoint", endpoint, "--bucket", BUCKET, "--region", REGION]);
    let done = run_bounded(&mut cmd, PYTHON_LIMIT).unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        done.success(),
        "{} failed ({}):\n{}\n{}",
        script.display(),
        done.status,
        done.stdout,
        done.stderr
    );
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("{e}: {}", done.stdout))
}

/// A server over the bucket on a runtime of its own; the server stops before the runtime.
struct Served {
    server: ApiServer,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    /// The entries of the one accumulated step of `GET target`.
    fn entries(&self, target: &str) -> serde_json::Map<String, Value> {
        let url = format!("{}{target}", self.server.url());
        let body = match ureq::get(&url).call() {
            Ok(r) => r.into_string().unwrap(),
            Err(e) => panic!("{url}: {e}"),
        };
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(json["code"], 200, "{body}");
        let data = json["data"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(data.len(), 1, "one accumulated step: {body}");
        data[0].as_object().unwrap().clone()
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Column `i` (0 total, 1 CPU, 2 RAM) of the expected rows `e`.
fn totals(e: &[(&'static str, f64, f64, f64)], i: usize) -> Vec<(&'static str, f64)> {
    e.iter().map(|r| (r.0, [r.1, r.2, r.3][i])).collect()
}

/// `field` of every entry of `entries`, by key.
fn column(entries: &serde_json::Map<String, Value>, field: &str) -> BTreeMap<String, f64> {
    entries.iter().map(|(k, v)| (k.clone(), f(&v[field]))).collect()
}

/// `field` of every entry of the JSON object `totals`, by key.
fn py_column(totals: &Value, field: &str) -> BTreeMap<String, f64> {
    let object = totals.as_object().unwrap_or_else(|| panic!("not an object: {totals}"));
    object.iter().map(|(k, v)| (k.clone(), f(&v[field]))).collect()
}

/// `got` has exactly the keys of `want`, each value within 1e-9 of it.
#[track_caller]
fn same(what: &str, got: &BTreeMap<String, f64>, want: &[(&str, f64)]) {
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    let want_keys: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want_keys, "{what}: {got:?}");
    for (k, v) in want {
        assert!((got[*k] - v).abs() < 1e-9, "{what} {k}: {} != {v} ({got:?})", got[*k]);
    }
}

#[test]
fn pyarrow_reads_the_bucket_with_the_apis_totals_per_cluster_and_namespace() {
    let python_bin = python();
    let s3 = EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).unwrap();
    let config = StoreConfig {
        endpoint: s3.endpoint().to_owned(),
        region: REGION.into(),
        bucket: BUCKET.into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = runtime.block_on(async {
        let store = Store::new(&config);
        store.ensure_bucket().await.unwrap();
        for n in 0..DAYS {
            for cluster in CLUSTERS {
                store.put_set(cluster, &allocations(cluster, n)).await.unwrap();
                store.put_assets(cluster, &assets(cluster, n)).await.unwrap();
            }
        }
        let report = federate(&store, None).await.unwrap();
        eprintln!("federated: {report:?}");
        store
    });
    let combined = runtime.block_on(store.list("federated/combined/etl/")).unwrap();
    let parquet = combined.iter().filter(|o| o.key.ends_with(".parquet")).count();
    assert_eq!(parquet, 2 * DAYS as usize, "a combined allocations and assets object a day: {combined:?}");

    let now = JAN1 + DAYS * DAY_SECS + 12 * 3600;
    let api = Arc::new(Api::new(
        Arc::new(StoreSource::new(store)),
        ApiConfig { listen: "127.0.0.1:0".parse().unwrap(), now: Some(now), ..ApiConfig::default() },
    ));
    let server = runtime.block_on(ApiServer::start(api)).unwrap();
    let served = Served { server, runtime };

    // The API: raw allocation costs (no idle, no shared tenancy costs), idle split per
    // cluster, and assets per cluster.
    let plain = "accumulate=true&idle=false&shareTenancyCosts=false";
    let by_cluster = served.entries(&format!("/model/allocation?window={WINDOW}&aggregate=cluster&{plain}"));
    let by_namespace =
        served.entries(&format!("/model/allocation?window={WINDOW}&aggregate=namespace&{plain}"));
    let split = served.entries(&format!(
        "/model/allocation?window={WINDOW}&aggregate=cluster&accumulate=true&splitIdle=true&shareTenancyCosts=false"
    ));
    let api_idle: BTreeMap<String, f64> = column(&split, "totalCost")
        .into_iter()
        .filter_map(|(k, v)| k.strip_suffix("/__idle__").map(|c| (c.to_owned(), v)))
        .collect();
    let api_assets = column(
        &served.entries(&format!("/model/assets?window={WINDOW}&aggregate=cluster&accumulate=true")),
        "totalCost",
    );

    eprintln!(
        "API totalCost by cluster {:?}, by namespace {:?}, idle {api_idle:?}, assets {api_assets:?}",
        column(&by_cluster, "totalCost"),
        column(&by_namespace, "totalCost")
    );
    for (field, i) in [("totalCost", 0), ("cpuCost", 1), ("ramCost", 2)] {
        same(&format!("API {field} by cluster"), &column(&by_cluster, field), &totals(&BY_CLUSTER, i));
        same(&format!("API {field} by namespace"), &column(&by_namespace, field), &totals(&BY_NAMESPACE, i));
    }
    same("API idle by cluster", &api_idle, &IDLE);
    same("API assets by cluster", &api_assets, &ASSETS);

    // pyarrow, from the combined objects and from the clusters' folders.
    let py = pyarrow_totals(s3.endpoint());
    eprintln!("pyarrow ({}): {py}", python_bin.display());
    assert_eq!(py["pyarrow"], pinned_pyarrow(), "the venv is not the pinned one: run `cargo xtask setup`");
    assert_eq!(py["cluster_folders"], serde_json::json!(CLUSTERS));
    for source in ["combined", "clusters"] {
        let p = &py[source];
        assert_eq!(
            p["objects"],
            2 * DAYS * if source == "combined" { 1 } else { CLUSTERS.len() as i64 },
            "{p}"
        );
        let allocs = &p["allocations"];
        for (field, api_field, i) in
            [("total_cost", "totalCost", 0), ("cpu_cost", "cpuCost", 1), ("ram_cost", "ramCost", 2)]
        {
            let what = format!("pyarrow {source} {field}");
            let py_cluster = py_column(&allocs["by_cluster"], field);
            let py_namespace = py_column(&allocs["by_namespace"], field);
            same(&format!("{what} by cluster"), &py_cluster, &totals(&BY_CLUSTER, i));
            same(&format!("{what} by namespace"), &py_namespace, &totals(&BY_NAMESPACE, i));
            // And the API's figures, to rounding.
            for (k, v) in column(&by_cluster, api_field) {
                close(py_cluster[&k], v);
            }
            for (k, v) in column(&by_namespace, api_field) {
                close(py_namespace[&k], v);
            }
        }
        // Two containers a cluster a day.
        let rows = py_column(&allocs["by_cluster"], "rows");
        same(&format!("pyarrow {source} rows"), &rows, &[("c1", 6.0), ("c2", 6.0), ("c3", 6.0)]);
        let py_assets = py_column(&p["assets"]["by_cluster"], "total_cost");
        same(&format!("pyarrow {source} assets by cluster"), &py_assets, &ASSETS);
        let py_idle: BTreeMap<String, f64> =
            p["idle"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), f(v))).collect();
        same(&format!("pyarrow {source} idle"), &py_idle, &IDLE);
        for (k, v) in &api_assets {
            close(py_assets[k], *v);
        }
        for (k, v) in &api_idle {
            close(py_idle[k], *v);
        }
    }
    let Served { mut server, runtime } = served;
    server.stop();
    drop(runtime);
}
