//! `cargo xtask bench api`: `GET /model/allocation?window=30d&aggregate=namespace` through the
//! API's own HTTP server (`ampfed_api::server`, 127.0.0.1) over a bucket in an embedded S3
//! (`ampfed-s3`) holding the combined ETL of N clusters × D days × C containers
//! (`ampfed_test_support::etl::Synthetic`; defaults 1000 × 30 × 200, `--quick` 100 × 30 × 20,
//! `--clusters`, `--days`, `--containers` override). The combined objects are written as the
//! federator writes them: per day, every cluster's set in one allocation set and their assets
//! in one asset set, encoded by `ampfed_federation::parquet`, at the combined keys.
//!
//! The API's "now" is set to noon of the last synthetic day, so `30d` covers the days written
//! (with fewer days, the rest are reported missing); `--without-tenancy` adds
//! `shareTenancyCosts=false` (written to `api-without-tenancy.json`); `--full-path` reads the
//! store as decoded sets, so every row is decoded and queried (the reference engine, the API
//! before its fast path; written to `api-full-path.json`). Measured: the first
//! query (cold: fresh connections to S3 and to the API) and the best and median of the next
//! [`WARM`] (warm; `--warm N`), the
//! process's peak RSS during the queries (`VmHWM`, reset before them; the embedded S3's
//! objects are in the same process, so the RSS before the queries and the bytes stored are
//! given too), and the process's CPU time per query (on a shared machine the wall times
//! depend on what else runs). Then the same queries against an API that keeps day answers
//! (`crate::cache`, on by default in the binary): the first, which computes and keeps, and the
//! next `--warm`, answered from the kept days after a HeadObject per object. The answer (one set a day, as the API steps by day) is checked: 10 namespaces
//! besides `__idle__`, and their total cost over the days equal to the sum of the rows written
//! plus the clusters' EKS cost (shared tenancy costs, on by default as in Kubecost). Target (the issue): ≤ 1 s. Figures go to stdout and
//! `target/bench/api.json`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ampfed_allocation::{AllocationSet, AssetSet, Window};
use ampfed_api::server::ApiServer;
use ampfed_api::source::{BoxFuture, StoreSource};
use ampfed_api::{Api, ApiConfig};
use ampfed_api::{EtlSource, SourceError};
use ampfed_federation::store::{Condition, COMBINED};
use ampfed_federation::{parquet, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use ampfed_test_support::etl::{self, Synthetic};
use ampfed_test_support::measure::{self, reset_peak, round, status_mib, write_figures};
use serde_json::{json, Value};

/// mimalloc: the federator and the API decode and encode many small objects on several
/// threads, where glibc's malloc spent about a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REGION: &str = "us-east-1";
const KEY_ID: &str = "AKIDAMPFEDAPIBENCH";
const SECRET: &str = "api-bench-secret";
/// Warm queries after the cold one (`--warm N` changes it).
const WARM: usize = 3;
/// Longest one query may take before the bench fails.
const QUERY_LIMIT: Duration = Duration::from_secs(600);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What the command line asks for.
struct Args {
    size: Synthetic,
    /// `--without-tenancy`: the query with `shareTenancyCosts=false`.
    without_tenancy: bool,
    /// `--full-path`: every row decoded and queried (the reference engine, as before the fast
    /// path), written to `api-full-path.json`.
    full_path: bool,
    warm: usize,
}

fn parse_args() -> Result<Args, String> {
    let (mut without_tenancy, mut full_path, mut warm) = (false, false, WARM);
    let mut size = Synthetic { clusters: 1000, days: 30, containers: 200 };
    let mut given: Vec<(String, usize)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => size = Synthetic { clusters: 100, days: 30, containers: 20 },
            "--without-tenancy" => without_tenancy = true,
            "--full-path" => full_path = true,
            "--clusters" | "--days" | "--containers" | "--warm" => {
                let value = args.next().ok_or(format!("{arg} needs a number"))?;
                let n: usize = value.parse().map_err(|_| format!("{arg} {value}: not a number"))?;
                if n == 0 {
                    return Err(format!("{arg} must be at least 1"));
                }
                match arg.as_str() {
                    "--warm" => warm = n,
                    _ => given.push((arg, n)),
                }
            }
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other} (--quick, --without-tenancy, --full-path, --warm N, --clusters N, --days N, --containers N)"
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
    Ok(Args { size, without_tenancy, full_path, warm })
}

/// Writes day `d`'s combined sets; the total cost of its allocations.
async fn write_day(store: &Store, size: Synthetic, d: usize) -> Result<f64, String> {
    let sets: Vec<AllocationSet> = (0..size.clusters).map(|c| size.allocations(c, d, 0.0)).collect();
    let assets: Vec<AssetSet> = (0..size.clusters).map(|c| size.assets(c, d)).collect();
    let window = etl::day(d as i64);
    let mut clusters = Vec::new();
    let mut rows = Vec::new();
    for set in sets {
        clusters.extend(set.clusters);
        rows.extend(set.allocations);
    }
    let total: f64 = rows.iter().map(|a| a.total_cost).sum();
    let combined = AllocationSet::new(clusters, window, rows);
    let bytes = parquet::encode_allocations(&combined, None).map_err(err)?;
    store
        .put_object(
            &Store::allocation_key(COMBINED, window),
            bytes,
            parquet::CONTENT_TYPE,
            &Condition::Always,
        )
        .await
        .map_err(err)?;
    let assets = AssetSet::combine(&assets).ok_or("no assets")?;
    let bytes = parquet::encode_assets(&assets, None).map_err(err)?;
    store
        .put_object(&Store::asset_key(COMBINED, window), bytes, parquet::CONTENT_TYPE, &Condition::Always)
        .await
        .map_err(err)?;
    Ok(total)
}

/// The store read as sets only: the API then decodes every row (`--full-path`).
struct FullPath(StoreSource);

impl EtlSource for FullPath {
    fn allocation_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AllocationSet>, SourceError>> {
        self.0.allocation_day(day)
    }
    fn asset_day(&self, day: Window) -> BoxFuture<'_, Result<Option<AssetSet>, SourceError>> {
        self.0.asset_day(day)
    }
    fn allocation_name(&self, day: Window) -> String {
        self.0.allocation_name(day)
    }
    fn asset_name(&self, day: Window) -> String {
        self.0.asset_name(day)
    }
}

/// One query through HTTP (on a thread of its own: ureq blocks); its seconds and answer.
async fn query(url: String) -> Result<(f64, Value), String> {
    tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new().timeout(QUERY_LIMIT).build();
        let started = Instant::now();
        let answer: Value = agent.get(&url).call().map_err(err)?.into_json().map_err(err)?;
        Ok((started.elapsed().as_secs_f64(), answer))
    })
    .await
    .map_err(err)?
}

/// The keys of the answer's sets (one a day) but `__idle__`, and their total cost.
fn rows(answer: &Value) -> Result<(usize, f64), String> {
    let sets =
        answer["data"].as_array().ok_or_else(|| format!("no sets in the answer: {}", answer["message"]))?;
    let mut keys = std::collections::BTreeSet::new();
    let mut total = 0.0;
    for set in sets.iter().filter_map(Value::as_object) {
        // Idle is on by default (as Kubecost's): its row is the nodes' cost less what they run.
        for (key, row) in set.iter().filter(|(k, _)| k.as_str() != "__idle__") {
            keys.insert(key.clone());
            total += row["totalCost"].as_f64().unwrap_or(f64::NAN);
        }
    }
    Ok((keys.len(), total))
}

async fn bench(endpoint: &str, args: &Args) -> Result<Value, String> {
    let size = args.size;
    println!(
        "API bench: combined ETL of {} clusters × {} days × {} containers = {} allocation rows",
        size.clusters,
        size.days,
        size.containers,
        size.rows()
    );
    let store = Store::new(&StoreConfig {
        endpoint: endpoint.to_owned(),
        region: REGION.into(),
        bucket: "bench-api".into(),
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
    });
    store.ensure_bucket().await.map_err(err)?;
    let started = Instant::now();
    let mut written_total = 0.0;
    for d in 0..size.days {
        written_total += write_day(&store, size, d).await?;
    }
    let write_seconds = started.elapsed().as_secs_f64();
    let stored: i64 = store.list("").await.map_err(err)?.iter().map(|l| l.size).sum();
    let stored_mib = stored as f64 / (1024.0 * 1024.0);
    println!("wrote {} days of combined ETL ({stored_mib:.0} MiB) in {write_seconds:.1} s", size.days);

    let last = etl::day(size.days as i64 - 1);
    // The computing API keeps no answers (every query reads and computes every day); a second
    // one, measured after it, keeps them as the binary does by default.
    let config = ApiConfig {
        listen: std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
        now: Some(last.start + 12 * 3600),
        request_timeout: QUERY_LIMIT,
        cache_rows: 0,
        ..ApiConfig::default()
    };
    let source: Arc<dyn EtlSource> = if args.full_path {
        Arc::new(FullPath(StoreSource::new(store)))
    } else {
        Arc::new(StoreSource::new(store))
    };
    let cached_config = ApiConfig { cache_rows: ApiConfig::default().cache_rows, ..config.clone() };
    let cached_api = Arc::new(Api::new(Arc::clone(&source), cached_config));
    let api = Arc::new(Api::new(source, config));
    let server = ApiServer::start(api).await.map_err(err)?;
    let url = format!("http://{}{}", server.local_addr(), target(args.without_tenancy));

    let peak_reset = reset_peak();
    let cpu_before = cpu_seconds();
    let rss_before = status_mib("VmRSS");
    let (cold, answer) = query(url.clone()).await?;
    let (namespaces, total) = rows(&answer)?;
    let covered = size.days.min(30);
    // Kubecost shares tenancy costs by default: EKS's $2.40 a cluster and day go to the
    // namespaces on top of what they run.
    let tenancy = if args.without_tenancy { 0.0 } else { 2.4 * (size.clusters * covered) as f64 };
    let expected = written_total * covered as f64 / size.days as f64 + tenancy;
    let mut warm = repeated(&url, args.warm, (namespaces, total)).await?;
    let peak = if peak_reset { status_mib("VmHWM") } else { f64::NAN };
    // CPU time of the whole process (API, embedded S3, client) per query: what the wall times
    // mean on a machine shared with other work.
    let cpu_per_query = (cpu_seconds() - cpu_before) / (1 + args.warm) as f64;
    let mut server = server;
    server.stop();
    let median = measure::median(&mut warm);
    let best = warm[0];

    // The same queries with day answers kept: the first computes and keeps them, the next
    // find each day's objects unchanged (a HeadObject each) and take the kept answers.
    let cached_server = ApiServer::start(Arc::clone(&cached_api)).await.map_err(err)?;
    let cached_url = format!("http://{}{}", cached_server.local_addr(), target(args.without_tenancy));
    let (filling, _) = query(cached_url.clone()).await?;
    let mut kept = repeated(&cached_url, args.warm, (namespaces, total)).await?;
    let mut cached_server = cached_server;
    cached_server.stop();
    let kept_median = measure::median(&mut kept);
    let kept_best = kept[0];
    let (kept_days, kept_rows) = cached_api.cached();
    println!("{url}");
    println!("process CPU {cpu_per_query:.3} s per query");
    println!(
        "cold {cold:.3} s, warm best {best:.3} s, median {median:.3} s (target ≤ 1 s); {namespaces} namespaces, \
         total cost {total:.2} (expected: {expected:.2}); peak {peak:.0} MiB = {rss_before:.0} MiB before \
         (the embedded S3 holding {stored_mib:.0} MiB) + {:.0} MiB the queries added",
        peak - rss_before
    );
    println!(
        "with day answers kept (the binary's default, --cache-rows): first {filling:.3} s, then best \
         {kept_best:.3} s, median {kept_median:.3} s ({:.0}× faster than computing); {kept_days} day answers, \
         {kept_rows} rows kept",
        median / kept_median
    );
    if namespaces != 10 || (total - expected).abs() > 1e-6 * expected.abs().max(1.0) {
        return Err(format!(
            "wrong answer: {namespaces} namespaces, total {total} (expected 10, {expected})"
        ));
    }
    Ok(json!({
        "rows": size.rows(),
        "days_queried": covered,
        "write_seconds": round(write_seconds, 2),
        "stored_mib": round(stored_mib, 1),
        "cold_seconds": round(cold, 3),
        "warm_best_seconds": round(best, 3),
        "warm_median_seconds": round(median, 3),
        "peak_mib": round(peak, 1),
        "cpu_seconds_per_query": round(cpu_per_query, 3),
        "rss_before_mib": round(rss_before, 1),
        "query_peak_mib": round(peak - rss_before, 1),
        "namespaces": namespaces,
        "total_cost": round(total, 4),
        "target_seconds": 1,
        "kept_first_seconds": round(filling, 3),
        "kept_best_seconds": round(kept_best, 3),
        "kept_median_seconds": round(kept_median, 3),
        "kept_day_answers": kept_days,
    }))
}

/// The seconds of `n` more queries of `url`, each checked to answer `expected` (namespaces and
/// total) as the first did.
async fn repeated(url: &str, n: usize, expected: (usize, f64)) -> Result<Vec<f64>, String> {
    let mut seconds = Vec::with_capacity(n);
    for _ in 0..n {
        let (took, again) = query(url.to_owned()).await?;
        if rows(&again)? != expected {
            return Err(format!("a repeated query of {url} answered differently from the first"));
        }
        seconds.push(took);
    }
    Ok(seconds)
}

/// This process's user + system CPU seconds (`/proc/self/stat`), NaN where unreadable.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the command (which is in parentheses and may hold spaces): utime and stime
    // are the 12th and 13th, in clock ticks (100 a second on Linux).
    let Some((_, rest)) = stat.rsplit_once(')') else { return f64::NAN };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

/// The request target.
fn target(without_tenancy: bool) -> String {
    let tenancy = if without_tenancy { "&shareTenancyCosts=false" } else { "" };
    format!("/model/allocation?window=30d&aggregate=namespace{tenancy}")
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = (|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
        let s3 = EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)).map_err(err)?;
        let result = runtime.block_on(bench(s3.endpoint(), &args));
        drop(s3);
        runtime.shutdown_timeout(Duration::from_secs(2));
        result
    })();
    let (figures, failed) = match result {
        Ok(figures) => (figures, None),
        Err(e) => (json!({}), Some(e)),
    };
    let report = json!({
        "benchmark": if args.full_path { "api-full-path" } else { "api" },
        "query": target(args.without_tenancy),
        "clusters": args.size.clusters,
        "days": args.size.days,
        "containers": args.size.containers,
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        "figures": figures,
        "failed": failed,
    });
    let name = match (args.without_tenancy, args.full_path) {
        (_, true) => "api-full-path",
        (true, false) => "api-without-tenancy",
        (false, false) => "api",
    };
    write_figures(name, &serde_json::to_string_pretty(&report).unwrap_or_default());
    if let Some(e) = report["failed"].as_str() {
        eprintln!("the bench failed: {e}");
        std::process::exit(1);
    }
}
