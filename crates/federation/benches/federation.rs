//! `cargo xtask bench federation`: the federator over a bucket of synthetic ETL, in an
//! embedded S3 (`ampfed-s3`, 127.0.0.1), and with `--localstack` on LocalStack.
//!
//! The bucket holds N clusters × D daily windows, one allocation set (C containers) and one
//! asset set (one node, cluster management) per cluster and day, written as the store writes
//! them (Parquet, `Store::put_set`/`put_assets`) from `ampfed_test_support::etl::Synthetic`:
//! the same flags give the same bytes. Defaults 1000 × 30 × 200 (6 M allocation rows, 60 k
//! objects); `--quick` is 100 × 3 × 20; `--clusters`, `--days`, `--containers` override either.
//!
//! The embedded S3 runs in a process of its own (this binary again, with `--serve-s3`; it
//! stops when its standard input closes, with the bench), as a bucket is apart from the
//! federator, so that the federator's memory and CPU are its own. Measured on it: a full
//! federation (wall time, CPU seconds of the bench's process and of the S3's, peak RSS
//! `VmHWM` of each, reset before the run through `/proc/<pid>/clear_refs`, and the bench's RSS
//! before the run); the same at a tenth of the clusters, for the time ratio against the
//! 10× data ratio; an incremental re-run after one cluster's object of one window is
//! rewritten; and the read floor: every input object read with as many requests in flight as
//! the federator, nothing decoded (and the same through the SDK's pipeline); and one combined
//! window written by the lean writer and by arrow-rs in turns, side by side. Targets (the
//! issue): full run ≤ 10 s and ≤ 1 GiB, linear in the data.
//!
//! `--localstack` (default 20 × 30 × 200, the size flags override it) runs LocalStack from its
//! venv (`cargo xtask setup`; skipped with a message when it is missing), measures its bare
//! request rate (small GETs, as many in flight as the federator), uploads, federates, and
//! prints the federation time over its floor: the requests the federation made divided by
//! that rate. Each step is bounded by [`STEP_LIMIT`]; past it the bench stops and fails.
//! Figures go to stdout and `target/bench/federation.json` (`federation-localstack.json`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ampfed_federation::{federate_with, parquet, Mode, Options, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use ampfed_test_support::etl::Synthetic;
use ampfed_test_support::measure::{
    cpu_seconds, cpu_seconds_of, median, reset_peak, reset_peak_of, round, status_mib, status_mib_of,
    write_figures, Process,
};
use ampfed_test_support::Served;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use serde_json::{json, Value};

/// mimalloc: the federator and the API decode and encode many small objects on several
/// threads, where glibc's malloc spent about a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REGION: &str = "us-east-1";
const KEY_ID: &str = "AKIDAMPFEDFEDBENCH";
const SECRET: &str = "federation-bench-secret";
/// Longest one step (upload, a federation) may take.
const STEP_LIMIT: Duration = Duration::from_secs(1800);
/// Uploads in flight.
const UPLOADERS: usize = 16;
/// Small GETs that measure LocalStack's bare request rate.
const RATE_PROBES: usize = 400;

fn store(endpoint: &str, bucket: &str, counter: &Counter) -> Store {
    let config = StoreConfig {
        endpoint: endpoint.to_owned(),
        region: REGION.into(),
        bucket: bucket.to_owned(),
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
    };
    let counter = counter.clone();
    Store::with_s3_config(&config, move |b| b.interceptor(counter))
}

/// Counts the HTTP requests a store sends (every attempt).
#[derive(Clone, Debug, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn sent(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "request counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// When the bench started: [`step`] prints the time since.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Prints the step that begins now (stderr, with the seconds since the start), so that a
/// long run shows where it is and a profiler can be attached to one step.
fn step(what: &str) {
    let since = STARTED.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[{since:>6.1} s] {what}");
}

/// The requests `store` sent: the SDK's (counted by `counter`) and the direct reads'.
fn sent(store: &Store, counter: &Counter) -> usize {
    counter.sent() + store.direct_requests() as usize
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Uploads `size`'s objects; the seconds it took.
async fn upload(store: &Store, size: Synthetic) -> Result<f64, String> {
    step(&format!("uploading {} objects to {}", size.objects(), store.bucket()));
    store.ensure_bucket().await.map_err(err)?;
    let started = Instant::now();
    let jobs: Vec<(usize, usize)> =
        (0..size.clusters).flat_map(|c| (0..size.days).map(move |d| (c, d))).collect();
    let jobs = Arc::new(std::sync::Mutex::new(jobs.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..UPLOADERS {
        let (store, jobs) = (store.clone(), jobs.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = jobs.lock().map_err(err)?.next();
                let Some((c, d)) = next else { return Ok::<(), String>(()) };
                let cluster = Synthetic::cluster(c);
                store.put_set(&cluster, &size.allocations(c, d, 0.0)).await.map_err(err)?;
                store.put_assets(&cluster, &size.assets(c, d)).await.map_err(err)?;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(err)??;
    }
    Ok(started.elapsed().as_secs_f64())
}

struct Run {
    seconds: f64,
    cpu_seconds: f64,
    peak_mib: f64,
    rss_before_mib: f64,
    /// The embedded S3's process (NaN on LocalStack): CPU seconds in the run, peak RSS.
    server_cpu_seconds: f64,
    server_peak_mib: f64,
    objects_read: usize,
    windows: usize,
    allocations: usize,
    requests: usize,
}

async fn federate(store: &Store, counter: &Counter, mode: Mode) -> Result<Run, String> {
    let options = Options { holder: "bench".into(), mode, ..Options::default() };
    step(&format!("federating {} ({mode:?})", store.bucket()));
    let peak_reset = reset_peak();
    let server = SERVER.get().copied();
    let server_reset = server.is_some_and(reset_peak_of);
    let server_cpu = server.map_or(f64::NAN, cpu_seconds_of);
    let rss_before_mib = status_mib("VmRSS");
    let (sent_before, cpu) = (sent(store, counter), cpu_seconds());
    let started = Instant::now();
    let report = tokio::time::timeout(STEP_LIMIT, federate_with(store, &options))
        .await
        .map_err(|_| format!("federation took more than {} s", STEP_LIMIT.as_secs()))?
        .map_err(err)?;
    Ok(Run {
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu,
        peak_mib: if peak_reset { status_mib("VmHWM") } else { f64::NAN },
        rss_before_mib,
        server_cpu_seconds: server.map_or(f64::NAN, cpu_seconds_of) - server_cpu,
        server_peak_mib: match (server, server_reset) {
            (Some(p), true) => status_mib_of(p, "VmHWM"),
            _ => f64::NAN,
        },
        objects_read: report.objects_read,
        windows: report.recombined.len(),
        allocations: report.allocations,
        requests: sent(store, counter) - sent_before,
    })
}

/// Bytes stored under `prefix`.
async fn stored_bytes(store: &Store, prefix: &str) -> Result<i64, String> {
    Ok(store.list(prefix).await.map_err(err)?.iter().map(|l| l.size).sum())
}

/// Reads every key in `keys` (`in_flight` at once), decoding nothing; the seconds it took.
async fn read_all(store: &Store, keys: Vec<String>, in_flight: usize) -> Result<f64, String> {
    step(&format!("reading {} inputs (the read floor)", keys.len()));
    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys {
        let (store, permits) = (store.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(err)?;
            store.fetch_unverified(&key, parquet::MAX_OBJECT_BYTES).await.map(|_| ()).map_err(err)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(err)??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// What the command line asks for.
struct Args {
    size: Synthetic,
    localstack: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut quick = false;
    let mut localstack = false;
    let mut given: Vec<(String, usize)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--localstack" => localstack = true,
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
                    "unknown argument {other} (--quick, --localstack, --clusters N, --days N, --containers N)"
                ))
            }
        }
    }
    let mut size = match (quick, localstack) {
        (true, _) => Synthetic { clusters: 100, days: 3, containers: 20 },
        (false, true) => Synthetic { clusters: 20, days: 30, containers: 200 },
        (false, false) => Synthetic { clusters: 1000, days: 30, containers: 200 },
    };
    for (flag, n) in given {
        match flag.as_str() {
            "--clusters" => size.clusters = n,
            "--days" => size.days = n,
            _ => size.containers = n,
        }
    }
    Ok(Args { size, localstack })
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some(SERVE_S3) {
        std::process::exit(serve_s3());
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let size = args.size;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let started = *STARTED.get_or_init(Instant::now);
    let (name, result) = match args.localstack {
        false => ("federation", embedded(&runtime, size)),
        true => ("federation-localstack", on_localstack(&runtime, size)),
    };
    let total = started.elapsed().as_secs_f64();
    let (figures, failed) = match result {
        Ok(figures) => (figures, None),
        Err(e) => (json!({}), Some(e)),
    };
    let report = json!({
        "benchmark": name,
        "clusters": size.clusters,
        "days": size.days,
        "containers": size.containers,
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        "seconds": round(total, 1),
        "figures": figures,
        "failed": failed,
    });
    write_figures(name, &serde_json::to_string_pretty(&report).unwrap_or_default());
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(e) = report["failed"].as_str() {
        eprintln!("the bench failed: {e}");
        std::process::exit(1);
    }
}

/// The argument that makes this binary the embedded S3's process.
const SERVE_S3: &str = "--serve-s3";
/// How long the S3's process may take to say where it listens.
const SERVER_START: Duration = Duration::from_secs(30);
/// How long it may take to stop once told to.
const SERVER_STOP: Duration = Duration::from_secs(10);

/// The S3's process: the embedded S3, served until its standard input closes (the bench
/// ended, or dropped its end); the exit code.
fn serve_s3() -> i32 {
    match EmbeddedS3::start(Config::new(KEY_ID, SECRET, REGION)) {
        Ok(s3) => match ampfed_test_support::serve_until_stdin_closes(s3.endpoint()) {
            true => 0,
            false => 1,
        },
        Err(e) => {
            eprintln!("the embedded S3 did not start: {e}");
            1
        }
    }
}

/// The S3's process while the bench runs on the embedded S3 (its figures are read with the
/// federator's).
static SERVER: std::sync::OnceLock<Process> = std::sync::OnceLock::new();

fn embedded(runtime: &tokio::runtime::Runtime, size: Synthetic) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(err)?;
    let mut command = std::process::Command::new(exe);
    let server = Served::start(command.arg(SERVE_S3), SERVER_START, SERVER_STOP)
        .map_err(|e| format!("the embedded S3's process: {e}"))?;
    let _ = SERVER.set(Process::Id(server.id()));
    let result = runtime.block_on(bench(server.endpoint(), size));
    drop(server);
    result
}

fn figures(r: &Run) -> Value {
    json!({
        "seconds": round(r.seconds, 3),
        "cpu_seconds": round(r.cpu_seconds, 2),
        "peak_mib": round(r.peak_mib, 1),
        "rss_before_mib": round(r.rss_before_mib, 1),
        "added_mib": round(r.peak_mib - r.rss_before_mib, 1),
        "s3_cpu_seconds": round(r.server_cpu_seconds, 2),
        "s3_peak_mib": round(r.server_peak_mib, 1),
        "objects_read": r.objects_read,
        "windows_recombined": r.windows,
        "allocations": r.allocations,
        "requests": r.requests,
    })
}

fn header() {
    println!(
        "{:<22} {:>8} {:>9} {:>8} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "run",
        "clusters",
        "upload s",
        "windows",
        "read",
        "wall s",
        "CPU s",
        "peak MiB",
        "RSS before",
        "S3 CPU s",
        "S3 MiB"
    );
}

fn line(name: &str, clusters: usize, up: Option<f64>, r: &Run) {
    println!(
        "{name:<22} {clusters:>8} {:>9} {:>8} {:>7} {:>8.2} {:>7.1} {:>9.0} {:>9.0} {:>9} {:>9}",
        up.map_or("-".into(), |u| format!("{u:.1}")),
        r.windows,
        r.objects_read,
        r.seconds,
        r.cpu_seconds,
        r.peak_mib,
        r.rss_before_mib,
        or_dash(r.server_cpu_seconds, 1),
        or_dash(r.server_peak_mib, 0)
    );
}

/// `x` to `decimals` places, or `-` when it was not measured (NaN: no S3 process of ours, as
/// on LocalStack).
fn or_dash(x: f64, decimals: usize) -> String {
    match x.is_nan() {
        true => "-".into(),
        false => format!("{x:.decimals$}"),
    }
}

/// Prints what is measured.
fn describe(what: &str, size: Synthetic) {
    println!(
        "{what}: {} clusters × {} days × {} containers = {} allocation rows, {} objects",
        size.clusters,
        size.days,
        size.containers,
        size.rows(),
        size.objects()
    );
}

async fn bench(endpoint: &str, size: Synthetic) -> Result<Value, String> {
    describe("federation bench", size);
    let counter = Counter::default();
    // The tenth: its own bucket, the first clusters.
    let tenth = Synthetic { clusters: (size.clusters / 10).max(1), ..size };
    let small = store(endpoint, "bench-tenth", &counter);
    let small_upload = tokio::time::timeout(STEP_LIMIT, upload(&small, tenth)).await.map_err(err)??;
    let small_run = federate(&small, &counter, Mode::Full).await?;
    // Free the tenth's objects before the full size's.
    for listed in small.list("").await.map_err(err)? {
        small.delete_object(&listed.key).await.map_err(err)?;
    }

    let full = store(endpoint, "bench-full", &counter);
    let full_upload = tokio::time::timeout(STEP_LIMIT, upload(&full, size)).await.map_err(err)??;
    let inputs_bytes = stored_bytes(&full, "federated/").await?;
    let full_run = federate(&full, &counter, Mode::Full).await?;
    let stored = stored_bytes(&full, "").await?;

    // The read floor: every input read as the federator reads them, nothing decoded.
    let inputs: Vec<String> = full
        .list("federated/")
        .await
        .map_err(err)?
        .into_iter()
        .map(|l| l.key)
        .filter(|k| !k.starts_with("federated/combined/"))
        .collect();
    let input_count = inputs.len();
    let in_flight = Options::default().reads_in_flight;
    let floor =
        tokio::time::timeout(STEP_LIMIT, read_all(&full, inputs.clone(), in_flight)).await.map_err(err)??;
    // The same reads through the SDK's pipeline, for the ratio of the two request paths.
    let sdk = full.clone().without_direct_reads();
    let sdk_floor =
        tokio::time::timeout(STEP_LIMIT, read_all(&sdk, inputs, in_flight)).await.map_err(err)??;

    // The federator's listing (runs of folders, on tasks) against one page after another.
    let listings = tokio::time::timeout(STEP_LIMIT, listings(&full)).await.map_err(err)??;

    // The combined window's writer alone, lean against arrow-rs, on one window's pieces.
    let writers = tokio::task::spawn_blocking(move || writers(size)).await.map_err(err)??;

    // Incremental: one cluster's object of one window rewritten.
    let (c, d) = (size.clusters / 2, size.days / 2);
    full.put_set(&Synthetic::cluster(c), &size.allocations(c, d, 1.0)).await.map_err(err)?;
    let incremental = federate(&full, &counter, Mode::Incremental).await?;

    let time_ratio = full_run.seconds / small_run.seconds;
    let data_ratio = size.clusters as f64 / tenth.clusters as f64;
    header();
    line("full (tenth)", tenth.clusters, Some(small_upload), &small_run);
    line("full", size.clusters, Some(full_upload), &full_run);
    line("incremental (1 obj)", size.clusters, None, &incremental);
    println!(
        "read floor: {input_count} inputs read in {floor:.2} s ({:.0} GET/s, nothing decoded); the full run \
         took {:.2}× that",
        input_count as f64 / floor,
        full_run.seconds / floor
    );
    if full.reads_directly() {
        println!(
            "the same reads through aws-sdk-s3's pipeline: {sdk_floor:.2} s ({:.0} GET/s), {:.2}× the direct reads",
            input_count as f64 / sdk_floor,
            sdk_floor / floor
        );
    }
    println!(
        "listing federated/ ({} keys): {:.3} s in runs of folders, {:.3} s page after page: \
         {:.2}× faster (medians of {LISTING_ROUNDS}, side by side)",
        listings.keys,
        listings.runs,
        listings.pages,
        listings.pages / listings.runs
    );
    println!(
        "writing one combined window ({} rows): the lean writer {:.3} s ({:.1} MiB), arrow-rs {:.3} s ({:.1} MiB): \
         {:.2}× faster (medians of {WRITER_ROUNDS}, side by side)",
        writers.rows,
        writers.lean.0,
        mib(writers.lean.1 as i64),
        writers.arrow_rs.0,
        mib(writers.arrow_rs.1 as i64),
        writers.arrow_rs.0 / writers.lean.0
    );
    println!(
        "memory: the federator's process peaked at {:.0} MiB (target ≤ 1024) = {:.0} MiB before the run + {:.0} MiB \
         the run added; the embedded S3's process at {:.0} MiB, holding {:.0} MiB of inputs ({:.0} MiB stored after)",
        full_run.peak_mib,
        full_run.rss_before_mib,
        full_run.peak_mib - full_run.rss_before_mib,
        full_run.server_peak_mib,
        mib(inputs_bytes),
        mib(stored)
    );
    println!(
        "scaling {} → {} clusters: time ×{time_ratio:.2} for data ×{data_ratio:.0} (linear: ×{data_ratio:.0}); \
         full run {:.2} s (target ≤ 10 s), {:.1} CPU s (and the S3's {:.1}) on {} CPUs; {} allocations combined",
        tenth.clusters,
        size.clusters,
        full_run.seconds,
        full_run.cpu_seconds,
        full_run.server_cpu_seconds,
        std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        full_run.allocations
    );
    Ok(json!({
        "rows": size.rows(),
        "objects": size.objects(),
        "upload_seconds": round(full_upload, 3),
        "inputs_mib": round(mib(inputs_bytes), 1),
        "stored_mib": round(mib(stored), 1),
        "full": figures(&full_run),
        "tenth": { "clusters": tenth.clusters, "upload_seconds": round(small_upload, 3), "run": figures(&small_run) },
        "time_ratio": round(time_ratio, 3),
        "data_ratio": data_ratio,
        "read_floor": { "objects": input_count, "seconds": round(floor, 3), "full_over_floor": round(full_run.seconds / floor, 2), "direct": full.reads_directly(), "sdk_seconds": round(sdk_floor, 3) },
        "incremental": figures(&incremental),
        "listing": { "keys": listings.keys, "runs_seconds": round(listings.runs, 4), "pages_seconds": round(listings.pages, 4) },
        "writer": {
            "rows": writers.rows,
            "lean_seconds": round(writers.lean.0, 4),
            "arrow_rs_seconds": round(writers.arrow_rs.0, 4),
            "lean_mib": round(mib(writers.lean.1 as i64), 2),
            "arrow_rs_mib": round(mib(writers.arrow_rs.1 as i64), 2),
        },
        "targets": { "full_seconds": 10, "peak_mib": 1024 },
    }))
}

/// Rounds of each listing in [`listings`].
const LISTING_ROUNDS: usize = 3;

/// Keys listed, and the seconds of each way to list them.
struct Listings {
    keys: usize,
    runs: f64,
    pages: f64,
}

/// `federated/` listed as the federator lists it ([`Store::list`]: the level by delimiter,
/// then runs of folders on tasks of their own) and page after page (the same store with one
/// run), in turns; the medians, and the keys (the two listings must be equal).
async fn listings(store: &Store) -> Result<Listings, String> {
    let paging = store.clone().with_list_runs(1);
    let (mut runs, mut pages) = (Vec::new(), Vec::new());
    let mut keys = 0;
    for _ in 0..LISTING_ROUNDS {
        let started = Instant::now();
        let ours = store.list("federated/").await.map_err(err)?;
        runs.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let paged = paging.list("federated/").await.map_err(err)?;
        pages.push(started.elapsed().as_secs_f64());
        if ours != paged {
            return Err(format!(
                "the runs of folders listed {} keys, page after page {}, or other keys",
                ours.len(),
                paged.len()
            ));
        }
        keys = ours.len();
    }
    Ok(Listings { keys, runs: median(&mut runs), pages: median(&mut pages) })
}

/// Rounds of each writer in [`writers`].
const WRITER_ROUNDS: usize = 5;

/// Seconds and bytes of each writer.
struct Writers {
    rows: usize,
    lean: (f64, usize),
    arrow_rs: (f64, usize),
}

/// One window's combined allocations written by each writer, in turns: the pieces made as
/// the federator makes them (each cluster's object encoded, then read back as a piece).
fn writers(size: Synthetic) -> Result<Writers, String> {
    step(&format!("writing one combined window of {} clusters with each writer", size.clusters));
    let window = ampfed_test_support::etl::day(0);
    let mut pieces = Vec::with_capacity(size.clusters);
    for c in 0..size.clusters {
        let cluster = Synthetic::cluster(c);
        let bytes = parquet::encode_allocations(&size.allocations(c, 0, 0.0), None).map_err(err)?;
        let key = parquet::EtlKey::parquet(&cluster, parquet::Kind::Allocations, window)
            .ok_or("no key for the window")?
            .to_string();
        let (piece, _) = parquet::allocation_piece(&key, bytes.into(), &cluster, window)
            .ok_or_else(|| format!("{key} is not a piece"))?;
        pieces.push(piece);
    }
    let mut times = [Vec::new(), Vec::new()];
    let mut sizes = [0, 0];
    let mut rows = 0;
    for _ in 0..WRITER_ROUNDS {
        for (i, writer) in [parquet::Writer::Lean, parquet::Writer::ArrowRs].into_iter().enumerate() {
            let started = Instant::now();
            let (n, bytes) =
                parquet::encode_combined_allocations_with(window, pieces.clone(), writer).map_err(err)?;
            times[i].push(started.elapsed().as_secs_f64());
            (rows, sizes[i]) = (n, bytes.len());
        }
    }
    let [mut lean, mut arrow_rs] = times;
    Ok(Writers { rows, lean: (median(&mut lean), sizes[0]), arrow_rs: (median(&mut arrow_rs), sizes[1]) })
}

fn on_localstack(runtime: &tokio::runtime::Runtime, size: Synthetic) -> Result<Value, String> {
    use ampfed_env::localstack::{self, LocalStackOptions};
    let venv = ampfed_common::paths::localstack_venv();
    if !venv.join("bin/localstack").is_file() {
        println!(
            "LocalStack leg skipped: no LocalStack venv at {} (run `cargo xtask setup` once)",
            venv.display()
        );
        return Ok(json!({ "skipped": format!("no LocalStack venv at {}", venv.display()) }));
    }
    let mut scenario = ampfed_env::Scenario::new(false).map_err(err)?;
    let started = Instant::now();
    let endpoint = localstack::start(&mut scenario, &LocalStackOptions { venv }).map_err(err)?;
    println!("LocalStack ready at {} after {:.1} s", endpoint.url, started.elapsed().as_secs_f64());
    let result = runtime.block_on(localstack_bench(&endpoint.url, size));
    drop(scenario);
    result
}

async fn localstack_bench(endpoint: &str, size: Synthetic) -> Result<Value, String> {
    describe("federation on LocalStack", size);
    let counter = Counter::default();
    let store = store(endpoint, "bench-localstack", &counter);
    store.ensure_bucket().await.map_err(err)?;
    // The bare request rate: small GETs, as many in flight as the federator reads.
    let in_flight = Options::default().reads_in_flight;
    store
        .put_object("probe", b"probe".to_vec(), "text/plain", &ampfed_federation::store::Condition::Always)
        .await
        .map_err(err)?;
    let probes = vec!["probe".to_owned(); RATE_PROBES];
    let probe_seconds =
        tokio::time::timeout(STEP_LIMIT, read_all(&store, probes, in_flight)).await.map_err(err)??;
    let rate = RATE_PROBES as f64 / probe_seconds;
    store.delete_object("probe").await.map_err(err)?;

    let uploaded = sent(&store, &counter);
    let upload_seconds = tokio::time::timeout(STEP_LIMIT, upload(&store, size)).await.map_err(err)??;
    let upload_requests = sent(&store, &counter) - uploaded;
    let run = federate(&store, &counter, Mode::Full).await?;
    let floor = run.requests as f64 / rate;
    let ratio = run.seconds / floor;
    println!(
        "bare rate {rate:.0} requests/s ({RATE_PROBES} GETs of 5 bytes, {in_flight} in flight); upload {upload_requests} \
         requests in {upload_seconds:.1} s"
    );
    header();
    line("full (LocalStack)", size.clusters, Some(upload_seconds), &run);
    println!(
        "federation made {} requests: floor {floor:.2} s at {rate:.0}/s; took {:.2} s = {ratio:.2}× the floor",
        run.requests, run.seconds
    );
    Ok(json!({
        "rows": size.rows(),
        "objects": size.objects(),
        "bare_rate_per_second": round(rate, 1),
        "rate_probes": RATE_PROBES,
        "in_flight": in_flight,
        "upload_seconds": round(upload_seconds, 3),
        "upload_requests": upload_requests,
        "full": figures(&run),
        "floor_seconds": round(floor, 3),
        "ratio_to_floor": round(ratio, 3),
    }))
}
