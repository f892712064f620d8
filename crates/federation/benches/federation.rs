//! `cargo xtask bench federation`: the federator over a bucket of synthetic ETL, in an
//! embedded S3 (`ampfed-s3`, 127.0.0.1).
//!
//! The bucket holds N clusters × D daily windows, one allocation set (C containers) and one
//! asset set (one node, cluster management) per cluster and day, written as the store writes
//! them (Parquet, `Store::put_set`/`put_assets`). Everything is a function of the cluster, day
//! and container numbers: the same flags give the same bytes. Defaults 1000 × 30 × 200 (6 M
//! allocation rows, 60 k objects); `--quick` is 100 × 3 × 20; `--clusters`, `--days`,
//! `--containers` override either.
//!
//! Measured: a full federation (wall time, this process's peak RSS `VmHWM`, reset before the
//! run through `/proc/self/clear_refs`, which includes the embedded S3's memory); the same at a
//! tenth of the clusters, for the time ratio against the 10× data ratio; and an incremental
//! re-run after one cluster's object of one window is rewritten. Targets (the issue): full run
//! ≤ 10 s and ≤ 1 GiB, linear in the data. Each step is bounded by [`STEP_LIMIT`]; past it the
//! bench stops and fails. Figures go to stdout and `target/bench/federation.json`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ampfed_allocation::{
    Allocation, AllocationSet, AssetSet, ClusterManagementAsset, NodeAsset, Properties, Window,
};
use ampfed_federation::{federate_with, Mode, Options, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const KEY_ID: &str = "AKIDAMPFEDFEDBENCH";
const SECRET: &str = "federation-bench-secret";
/// 2026-01-01T00:00:00Z.
const EPOCH: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
/// Longest one step (upload, a federation) may take.
const STEP_LIMIT: Duration = Duration::from_secs(1800);
/// Uploads in flight.
const UPLOADERS: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Size {
    clusters: usize,
    days: usize,
    containers: usize,
}

fn day(n: usize) -> Window {
    let start = EPOCH + n as i64 * DAY;
    Window { start, end: start + DAY }
}

fn cluster_name(i: usize) -> String {
    format!("cluster-{i:04}")
}

/// Cluster `c`'s allocations of day `d`; `bump` changes every cost (the rewrite).
fn allocations(c: usize, d: usize, containers: usize, bump: f64) -> AllocationSet {
    let cluster = cluster_name(c);
    let window = day(d);
    let rows = (0..containers)
        .map(|k| {
            let namespace = format!("ns-{}", k % 10);
            let pod = format!("pod-{}", k / 2);
            let container = format!("c-{}", k % 2);
            let node = format!("node-{}", k % 4);
            let cost = 0.01 * ((c * 7 + d * 13 + k * 17) % 1000) as f64 + bump;
            Allocation {
                name: format!("{cluster}/{node}/{namespace}/{pod}/{container}"),
                properties: Properties {
                    cluster: cluster.clone(),
                    node,
                    namespace,
                    pod,
                    container,
                    ..Properties::default()
                },
                start: window.start,
                end: window.end,
                minutes: 1440.0,
                cpu_cores: 0.5,
                cpu_core_hours: 12.0,
                cpu_cost: cost,
                ram_bytes: 1.0e9,
                ram_byte_hours: 24.0e9,
                ram_cost: cost / 2.0,
                total_cost: cost * 1.5,
                ..Allocation::default()
            }
        })
        .collect();
    AllocationSet::new(vec![cluster], window, rows)
}

fn assets(c: usize, d: usize) -> AssetSet {
    let cluster = cluster_name(c);
    let window = day(d);
    let mut assets = AssetSet::new(vec![cluster.clone()], window);
    assets.nodes.push(NodeAsset {
        cluster: cluster.clone(),
        name: "node-0".into(),
        start: window.start,
        end: window.end,
        minutes: 1440.0,
        cpu_cores: 8.0,
        cpu_cost: 6.0,
        total_cost: 6.0,
        ..NodeAsset::default()
    });
    assets.cluster_management.push(ClusterManagementAsset {
        cluster,
        provisioner: "EKS".into(),
        start: window.start,
        end: window.end,
        minutes: 1440.0,
        price_per_hour: 0.1,
        cost: 2.4,
        total_cost: 2.4,
        ..ClusterManagementAsset::default()
    });
    assets
}

fn store(endpoint: &str, bucket: &str) -> Store {
    Store::new(&StoreConfig {
        endpoint: endpoint.to_owned(),
        region: REGION.into(),
        bucket: bucket.to_owned(),
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
    })
}

/// Peak resident memory of this process in MiB (`VmHWM`).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets `VmHWM` to the current resident size; false if the kernel refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Uploads `size`'s objects (clusters `0..size.clusters`); the seconds it took.
async fn upload(store: &Store, size: Size) -> Result<f64, String> {
    store.ensure_bucket().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let jobs: Vec<(usize, usize)> =
        (0..size.clusters).flat_map(|c| (0..size.days).map(move |d| (c, d))).collect();
    let jobs = Arc::new(std::sync::Mutex::new(jobs.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..UPLOADERS {
        let (store, jobs) = (store.clone(), jobs.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = jobs.lock().map_err(|e| e.to_string())?.next();
                let Some((c, d)) = next else { return Ok::<(), String>(()) };
                let cluster = cluster_name(c);
                store
                    .put_set(&cluster, &allocations(c, d, size.containers, 0.0))
                    .await
                    .map_err(|e| e.to_string())?;
                store.put_assets(&cluster, &assets(c, d)).await.map_err(|e| e.to_string())?;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

struct Run {
    seconds: f64,
    peak_mib: f64,
    objects_read: usize,
    windows: usize,
    allocations: usize,
}

async fn federate(store: &Store, mode: Mode) -> Result<Run, String> {
    let options = Options { holder: "bench".into(), mode, ..Options::default() };
    let peak_reset = reset_peak();
    let started = Instant::now();
    let report = tokio::time::timeout(STEP_LIMIT, federate_with(store, &options))
        .await
        .map_err(|_| format!("federation took more than {} s", STEP_LIMIT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Run {
        seconds,
        peak_mib: if peak_reset { peak_mib() } else { f64::NAN },
        objects_read: report.objects_read,
        windows: report.recombined.len(),
        allocations: report.allocations,
    })
}

fn parse_args() -> Result<Size, String> {
    let mut size = Size { clusters: 1000, days: 30, containers: 200 };
    let mut given: Vec<(String, usize)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => size = Size { clusters: 100, days: 3, containers: 20 },
            "--clusters" | "--days" | "--containers" => {
                let value = args.next().ok_or(format!("{arg} needs a number"))?;
                let n: usize = value.parse().map_err(|_| format!("{arg} {value}: not a number"))?;
                if n == 0 {
                    return Err(format!("{arg} must be at least 1"));
                }
                given.push((arg, n));
            }
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other} (--quick, --clusters N, --days N, --containers N)"
                ))
            }
        }
    }
    for (flag, n) in given {
        match flag.as_str() {
            "--clusters" => size.clusters = n,
            "--days" => size.days = n,
            _ => size.containers = n,
        }
    }
    Ok(size)
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

fn main() {
    let size = match parse_args() {
        Ok(size) => size,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let s3 = EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)).expect("embedded S3");
    let started = Instant::now();
    let result = runtime.block_on(bench(s3.endpoint(), size));
    let total = started.elapsed().as_secs_f64();
    let (report, failed) = match result {
        Ok(report) => (report, None),
        Err(e) => (json!({}), Some(e)),
    };
    let report = json!({
        "benchmark": "federation",
        "clusters": size.clusters,
        "days": size.days,
        "containers": size.containers,
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        "seconds": round(total, 1),
        "figures": report,
        "failed": failed,
    });
    let path = ampfed_common::paths::workspace_root().join("target/bench/federation.json");
    let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default() + "\n")
    });
    match written {
        Ok(()) => println!("figures written to {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
    drop(s3);
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(e) = report["failed"].as_str() {
        eprintln!("the bench failed: {e}");
        std::process::exit(1);
    }
}

async fn bench(endpoint: &str, size: Size) -> Result<Value, String> {
    let rows = size.clusters * size.days * size.containers;
    let objects = size.clusters * size.days * 2;
    println!(
        "federation bench: {} clusters × {} days × {} containers = {rows} allocation rows, {objects} objects",
        size.clusters, size.days, size.containers
    );
    // The tenth: its own bucket, the first clusters.
    let tenth = Size { clusters: (size.clusters / 10).max(1), ..size };
    let small = store(endpoint, "bench-tenth");
    let small_upload =
        tokio::time::timeout(STEP_LIMIT, upload(&small, tenth)).await.map_err(|_| "upload timed out")??;
    let small_run = federate(&small, Mode::Full).await?;
    // Free the tenth's objects before the full size's.
    for listed in small.list("").await.map_err(|e| e.to_string())? {
        small.delete_object(&listed.key).await.map_err(|e| e.to_string())?;
    }

    let full = store(endpoint, "bench-full");
    let full_upload =
        tokio::time::timeout(STEP_LIMIT, upload(&full, size)).await.map_err(|_| "upload timed out")??;
    let full_run = federate(&full, Mode::Full).await?;

    // Incremental: one cluster's object of one window rewritten.
    let (c, d) = (size.clusters / 2, size.days / 2);
    full.put_set(&cluster_name(c), &allocations(c, d, size.containers, 1.0))
        .await
        .map_err(|e| e.to_string())?;
    let incremental = federate(&full, Mode::Incremental).await?;

    let time_ratio = full_run.seconds / small_run.seconds;
    let data_ratio = size.clusters as f64 / tenth.clusters as f64;
    let line = |name: &str, clusters: usize, up: Option<f64>, r: &Run| {
        println!(
            "{name:<22} {clusters:>8} {:>9} {:>10} {:>9} {:>10.2} {:>10.0}",
            up.map_or("-".into(), |u| format!("{u:.1}")),
            r.windows,
            r.objects_read,
            r.seconds,
            r.peak_mib
        );
    };
    println!(
        "{:<22} {:>8} {:>9} {:>10} {:>9} {:>10} {:>10}",
        "run", "clusters", "upload s", "windows", "read", "wall s", "peak MiB"
    );
    line("full (tenth)", tenth.clusters, Some(small_upload), &small_run);
    line("full", size.clusters, Some(full_upload), &full_run);
    line("incremental (1 obj)", size.clusters, None, &incremental);
    println!(
        "scaling {} → {} clusters: time ×{time_ratio:.2} for data ×{data_ratio:.0} (linear: ×{data_ratio:.0}); \
         full run {:.2} s (target ≤ 10 s), peak {:.0} MiB (target ≤ 1024 MiB, embedded S3 included); \
         {} allocations combined",
        tenth.clusters, size.clusters, full_run.seconds, full_run.peak_mib, full_run.allocations
    );
    let figures = |r: &Run| {
        json!({
            "seconds": round(r.seconds, 3),
            "peak_mib": round(r.peak_mib, 1),
            "objects_read": r.objects_read,
            "windows_recombined": r.windows,
            "allocations": r.allocations,
        })
    };
    Ok(json!({
        "rows": rows,
        "objects": objects,
        "upload_seconds": round(full_upload, 3),
        "full": figures(&full_run),
        "tenth": { "clusters": tenth.clusters, "upload_seconds": round(small_upload, 3), "run": figures(&small_run) },
        "time_ratio": round(time_ratio, 3),
        "data_ratio": data_ratio,
        "incremental": figures(&incremental),
        "targets": { "full_seconds": 10, "peak_mib": 1024, "query_seconds": 1 },
    }))
}
