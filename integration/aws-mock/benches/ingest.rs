//! `cargo xtask bench ingest`: remote-write ingest through the signing proxy and the AMP
//! mock's front door (SigV4 verified, every series tagged with the workspace, forwarded),
//! against writing the same bodies straight into Prometheus's `/api/v1/write`.
//!
//! Per case (clusters × batch shape × senders) the same snappy bodies are built once, before
//! anything is timed, and sent twice: the direct leg and the signed leg, each into a fresh
//! Prometheus of its own (the same flags, an empty head), so neither leg finds series or
//! chunks the other created. The signed leg gets a fresh mock and proxy too. `--labelled` adds
//! a leg of the bodies the mock forwards (tenant label spliced in) straight into Prometheus: the
//! label's own cost there, apart from the proxy's and the mock's.
//!
//! Series are shaped like the simulator's (`integration/clustersim`): 180 per cluster, node
//! and container metrics with Kubernetes labels and a `cluster_id` label, one sample a minute
//! from 2026-01-01, deterministic values. Two batch shapes: the e2e's (one cluster's series,
//! 20 000 samples per request) and a wide one (1000 series of any clusters, 60 samples each).
//!
//! Senders model remote-write shards: a group of series (a cluster, or 1000 series) is sent
//! in time order, one request at a time, so no sample arrives out of order; senders take the
//! next group whose previous request is done, round robin, so at most `min(senders, groups)`
//! requests are in flight. A leg is given [`LEG_LIMIT`]; past it the bench stops and fails.
//!
//! Also measured per leg: the CPU time of this process (senders, proxy and mock) and of
//! Prometheus, and their peak resident memory (`VmHWM`; this process's is reset before each
//! leg through `/proc/self/clear_refs`). Figures go to stdout and `target/bench/ingest.json`.

use std::io::Read;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_prom::remote_write::{self, Label, Sample, TimeSeries, WriteRequest};
use ampfed_proxy::{ProxyOptions, SigningProxy};
use aws_credential_types::Credentials;
use serde_json::{json, Value};

const SERIES_PER_CLUSTER: usize = 180;
/// 2026-01-01T00:00:00Z, the simulator's day, in milliseconds.
const START_MS: i64 = 1_767_225_600_000;
const STEP_MS: i64 = 60_000;
/// The e2e's request size (`integration/e2e/src/sim.rs`, `BATCH_SAMPLES`).
const E2E_SAMPLES_PER_REQUEST: usize = 20_000;
const WIDE_SERIES: usize = 1000;
const WIDE_SAMPLES: usize = 60;
/// Longest a leg may take; the bench fails past it.
const LEG_LIMIT: Duration = Duration::from_secs(120);
/// Longest one request may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

const REGION: &str = "us-west-2";
const KEY_ID: &str = "AKIDAMPFEDINGESTBENCH";
const SECRET: &str = "ingest-bench-secret";
const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/ingest-bench";
const TENANT_LABEL: &str = "ampfed_workspace";

/// Clusters and samples per series: about 4 M samples for the small cases (whole e2e-shaped
/// requests), 10.8 M for 1000 clusters, whose e2e-shaped requests are then one cluster's
/// series with 60 samples each (10 800 samples) to keep the bench within a few minutes.
const SIZES: [(usize, usize); 3] = [(10, 20 * 111), (100, 2 * 111), (1000, 60)];
/// Rounds per case (direct, signed, direct, signed, …); the table shows each leg's fastest.
/// Prometheus's own speed varies by ±15 % from one fresh process to the next.
const ROUNDS: usize = 2;
const SENDERS: [usize; 2] = [1, 4];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// One cluster's series per request, as many samples each as keep it within 20 000.
    E2e,
    /// 1000 series per request, 60 samples each.
    Wide,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::E2e => "e2e",
            Shape::Wide => "1000x60",
        }
    }

    /// Series per group and samples per series in one request.
    fn request(self) -> (usize, usize) {
        match self {
            Shape::E2e => (SERIES_PER_CLUSTER, E2E_SAMPLES_PER_REQUEST / SERIES_PER_CLUSTER),
            Shape::Wide => (WIDE_SERIES, WIDE_SAMPLES),
        }
    }
}

/// One cluster's series: labels and how its values move.
struct Series {
    labels: Vec<Label>,
    kind: Kind,
    seed: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    /// Increases every step by a rate of its own (cAdvisor's CPU seconds).
    Counter,
    /// Changes a little every step (working set, usage).
    Gauge,
    /// The same value all day (capacity, requests, prices).
    Constant,
}

fn hash(parts: &[u64]) -> u64 {
    let mut z = 0x9e37_79b9_7f4a_7c15_u64;
    for p in parts {
        z ^= p.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(z << 6).wrapping_add(z >> 2);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
    }
    z
}

fn series_of(labels: &[(&str, String)], kind: Kind, seed: u64) -> Series {
    let mut labels: Vec<Label> =
        labels.iter().map(|(n, v)| Label { name: (*n).to_owned(), value: v.clone() }).collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    Series { labels, kind, seed }
}

/// 180 series: per node (6) its capacity, labels and prices; per container (24) its usage,
/// requests and allocations.
fn cluster(c: usize) -> Vec<Series> {
    let cluster = format!("cluster-{c:04}");
    let mut out = Vec::with_capacity(SERIES_PER_CLUSTER);
    let nodes: Vec<String> =
        (0..6).map(|n| format!("ip-10-{}-{}-{}.ec2.internal", c % 250, n, 10 + n)).collect();
    for (n, node) in nodes.iter().enumerate() {
        let instance = format!("10.{}.{n}.10:9100", c % 250);
        let common = |name: &str, job: &str| {
            vec![
                ("__name__", name.to_owned()),
                ("cluster_id", cluster.clone()),
                ("instance", instance.clone()),
                ("job", job.to_owned()),
                ("node", node.clone()),
            ]
        };
        for name in ["kube_node_status_capacity_cpu_cores", "kube_node_status_capacity_memory_bytes"] {
            out.push(series_of(
                &common(name, "kube-state-metrics"),
                Kind::Constant,
                hash(&[c as u64, n as u64, 1]),
            ));
        }
        let mut labels = common("kube_node_labels", "kube-state-metrics");
        labels.extend([
            ("label_kubernetes_io_arch", "amd64".to_owned()),
            ("label_node_kubernetes_io_instance_type", "m5.xlarge".to_owned()),
            ("label_topology_kubernetes_io_zone", format!("us-west-2{}", ['a', 'b', 'c'][n % 3])),
        ]);
        out.push(series_of(&labels, Kind::Constant, 1));
        for name in ["node_cpu_hourly_cost", "node_ram_hourly_cost", "node_total_hourly_cost"] {
            let mut labels = common(name, "kubecost");
            labels.extend([
                ("instance_type", "m5.xlarge".to_owned()),
                ("provider_id", format!("aws:///us-west-2a/i-{:017x}", hash(&[c as u64, n as u64]) >> 4)),
                ("region", REGION.to_owned()),
            ]);
            out.push(series_of(&labels, Kind::Constant, hash(&[n as u64, 2])));
        }
    }
    let namespaces = ["kube-system", "payments", "checkout", "search"];
    for k in 0..24 {
        let namespace = namespaces[k % namespaces.len()];
        let pod = format!(
            "{namespace}-api-{:08x}-{:05x}",
            hash(&[c as u64, k as u64 / 2]) as u32,
            k * 7919 % 65536
        );
        let container = if k % 2 == 0 { "app" } else { "sidecar" };
        let node = &nodes[k % nodes.len()];
        let uid = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            hash(&[c as u64, k as u64]) as u32,
            k,
            c % 4096,
            k,
            c
        );
        let common = |name: &str, job: &str| {
            vec![
                ("__name__", name.to_owned()),
                ("cluster_id", cluster.clone()),
                ("container", container.to_owned()),
                ("job", job.to_owned()),
                ("namespace", namespace.to_owned()),
                ("node", node.clone()),
                ("pod", pod.clone()),
            ]
        };
        let cadvisor = |name: &str| {
            let mut labels = common(name, "kubelet");
            labels.extend([
                (
                    "id",
                    format!(
                        "/kubepods/burstable/pod{uid}/{:064x}",
                        u128::from(hash(&[c as u64, k as u64, 3]))
                    ),
                ),
                ("image", format!("registry.example.com/{namespace}/{container}:1.{}", k % 5)),
                ("instance", node.clone()),
                ("name", format!("k8s_{container}_{pod}")),
            ]);
            labels
        };
        let seed = hash(&[c as u64, k as u64, 4]);
        out.push(series_of(&cadvisor("container_cpu_usage_seconds_total"), Kind::Counter, seed));
        out.push(series_of(&cadvisor("container_memory_working_set_bytes"), Kind::Gauge, seed));
        for resource in ["cpu", "memory"] {
            let mut labels = common("kube_pod_container_resource_requests", "kube-state-metrics");
            labels.extend([("resource", resource.to_owned()), ("uid", uid.clone())]);
            out.push(series_of(&labels, Kind::Constant, seed ^ 5));
        }
        for name in ["container_cpu_allocation", "container_memory_allocation_bytes"] {
            out.push(series_of(&common(name, "kubecost"), Kind::Gauge, seed ^ 6));
        }
    }
    assert_eq!(out.len(), SERIES_PER_CLUSTER);
    out
}

fn value(series: &Series, step: usize) -> f64 {
    let base = (series.seed % 10_000) as f64 / 100.0 + 1.0;
    match series.kind {
        Kind::Constant => base,
        Kind::Counter => base * step as f64 * 0.37,
        Kind::Gauge => base * 1e6 + ((series.seed.wrapping_add(step as u64 * 7)) % 97) as f64 * 1024.0,
    }
}

/// One request's body and how many samples it carries.
struct Body {
    bytes: Vec<u8>,
    /// With `--labelled`: the body the mock forwards for `bytes` (else empty).
    labelled: Vec<u8>,
    samples: usize,
}

/// A case's requests: per group of series, its requests in time order.
struct Batches {
    groups: Vec<Vec<Body>>,
    series: usize,
    samples: usize,
    requests: usize,
    bytes: usize,
}

fn batches(clusters: usize, steps: usize, shape: Shape, labelled: bool) -> Batches {
    let all: Vec<Series> = (0..clusters).flat_map(cluster).collect();
    let (per_group, per_request) = shape.request();
    let groups: Vec<Vec<Body>> = all
        .chunks(per_group)
        .map(|group| {
            (0..steps)
                .step_by(per_request)
                .map(|from| {
                    let to = (from + per_request).min(steps);
                    let timeseries: Vec<TimeSeries> = group
                        .iter()
                        .map(|s| TimeSeries {
                            labels: s.labels.clone(),
                            samples: (from..to)
                                .map(|k| Sample {
                                    value: value(s, k),
                                    timestamp: START_MS + k as i64 * STEP_MS,
                                })
                                .collect(),
                        })
                        .collect();
                    let request = WriteRequest { timeseries };
                    let bytes = remote_write::encode(&request);
                    let labelled = if labelled { with_tenant(&bytes) } else { Vec::new() };
                    Body { bytes, labelled, samples: request.sample_count() }
                })
                .collect()
        })
        .collect();
    let flat = || groups.iter().flatten();
    Batches {
        series: all.len(),
        samples: flat().map(|b| b.samples).sum(),
        requests: flat().count(),
        bytes: flat().map(|b| b.bytes.len()).sum(),
        groups,
    }
}

/// `body` as the mock forwards it: the tenant label (a workspace id's length) in every series.
fn with_tenant(body: &[u8]) -> Vec<u8> {
    let raw = remote_write::decompress(body).expect("a body the bench encoded");
    let series = remote_write::scan_series(&raw).expect("labels and samples only");
    let workspace = "ws-00000000-0000-4000-8000-000000000000";
    remote_write::encode_with_label(&series, TENANT_LABEL, workspace).expect("a body under 4 GiB")
}

/// Where a leg's requests go (`Labelled`: straight into Prometheus, the bodies the mock forwards).
#[derive(Clone, Copy, PartialEq)]
enum Route {
    Direct,
    Labelled,
    Signed,
}

/// Hands out requests: a group's next one only once its previous one is done.
struct Scheduler {
    queue: Mutex<Queue>,
    changed: Condvar,
}

struct Queue {
    next: Vec<usize>,
    len: Vec<usize>,
    busy: Vec<bool>,
    cursor: usize,
    left: usize,
    stopped: Option<String>,
}

impl Scheduler {
    fn new(batches: &Batches) -> Scheduler {
        let len: Vec<usize> = batches.groups.iter().map(Vec::len).collect();
        Scheduler {
            queue: Mutex::new(Queue {
                next: vec![0; len.len()],
                busy: vec![false; len.len()],
                cursor: 0,
                left: len.iter().sum(),
                len,
                stopped: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next `(group, request)` to send, or `None` when all are sent or the leg stopped.
    fn take(&self, deadline: Instant) -> Option<(usize, usize)> {
        let mut q = self.lock();
        loop {
            if q.stopped.is_some() || q.left == 0 {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                q.stopped = Some(format!("the leg took longer than {} s", LEG_LIMIT.as_secs()));
                self.changed.notify_all();
                return None;
            }
            let n = q.next.len();
            let found = (0..n).map(|i| (q.cursor + i) % n).find(|&g| !q.busy[g] && q.next[g] < q.len[g]);
            if let Some(g) = found {
                q.busy[g] = true;
                q.cursor = (g + 1) % n;
                return Some((g, q.next[g]));
            }
            q = self.changed.wait_timeout(q, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn done(&self, group: usize) {
        let mut q = self.lock();
        q.busy[group] = false;
        q.next[group] += 1;
        q.left -= 1;
        self.changed.notify_all();
    }

    fn stop(&self, why: String) {
        self.lock().stopped.get_or_insert(why);
        self.changed.notify_all();
    }
}

/// The leg with the most samples per second.
fn fastest<'a>(legs: impl Iterator<Item = &'a Leg>) -> &'a Leg {
    legs.max_by(|a, b| a.samples_per_second.total_cmp(&b.samples_per_second)).expect("at least one round")
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) end with `)`; utime and stime are the
    // 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds the whole machine has been busy (all but idle and I/O wait).
fn busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| l.split_whitespace().filter_map(|f| f.parse().ok()).collect())
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 =
        ticks.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    busy / 100.0
}

/// Peak resident memory in MiB (`VmHWM`).
fn peak_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets this process's `VmHWM` to its current resident size; false if the kernel refused.
fn reset_own_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What Prometheus's `/metrics` says of the samples it appended (in order, out of order).
fn appended(prometheus: &str) -> Result<(u64, u64), String> {
    let text = ureq::get(&format!("{prometheus}/metrics"))
        .call()
        .map_err(|e| format!("GET {prometheus}/metrics: {e}"))?
        .into_string()
        .map_err(|e| format!("read {prometheus}/metrics: {e}"))?;
    let sum = |name: &str| -> u64 {
        text.lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    Ok((
        sum("prometheus_tsdb_head_samples_appended_total"),
        sum("prometheus_tsdb_head_out_of_order_samples_appended_total"),
    ))
}

/// How many series carry the tenant label at the last step.
fn tagged_series(prometheus: &str, steps: usize) -> Result<u64, String> {
    let time = (START_MS + (steps as i64 - 1) * STEP_MS) / 1000;
    let answer: Value = ureq::get(&format!("{prometheus}/api/v1/query"))
        .query("query", &format!("count({{{TENANT_LABEL}!=\"\"}})"))
        .query("time", &time.to_string())
        .call()
        .map_err(|e| format!("query {prometheus}: {e}"))?
        .into_json()
        .map_err(|e| format!("query {prometheus}: {e}"))?;
    Ok(answer["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(0))
}

struct Leg {
    seconds: f64,
    samples_per_second: f64,
    harness_cpu: f64,
    prometheus_cpu: f64,
    others_cpu: f64,
    harness_peak_mib: f64,
    prometheus_peak_mib: f64,
}

impl Leg {
    fn json(&self) -> Value {
        json!({
            "seconds": round(self.seconds, 3),
            "samples_per_second": self.samples_per_second.round(),
            "harness_cpu_seconds": round(self.harness_cpu, 2),
            "prometheus_cpu_seconds": round(self.prometheus_cpu, 2),
            "others_cpu_seconds": round(self.others_cpu, 2),
            "harness_peak_mib": round(self.harness_peak_mib, 1),
            "prometheus_peak_mib": round(self.prometheus_peak_mib, 1),
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Sends every request of `batches` to `url` from `senders` threads.
fn send_all(url: &str, batches: &Batches, senders: usize, route: Route) -> Result<Duration, String> {
    let scheduler = Scheduler::new(batches);
    let started = Instant::now();
    let deadline = started + LEG_LIMIT;
    std::thread::scope(|scope| {
        for _ in 0..senders {
            scope.spawn(|| {
                let agent = ureq::AgentBuilder::new().timeout(REQUEST_LIMIT).build();
                while let Some((g, k)) = scheduler.take(deadline) {
                    let Body { bytes, labelled, .. } = &batches.groups[g][k];
                    let result = agent
                        .post(url)
                        .set("Content-Type", "application/x-protobuf")
                        .set("Content-Encoding", "snappy")
                        .set("X-Prometheus-Remote-Write-Version", "0.1.0")
                        .send_bytes(if route == Route::Labelled { labelled } else { bytes });
                    match result {
                        Ok(_) => scheduler.done(g),
                        Err(ureq::Error::Status(status, answer)) => {
                            let mut text = String::new();
                            let _ = answer.into_reader().take(2048).read_to_string(&mut text);
                            scheduler.stop(format!("POST {url}: {status}: {text}"));
                        }
                        Err(e) => scheduler.stop(format!("POST {url}: {e}")),
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let stopped = scheduler.lock().stopped.take();
    match stopped {
        Some(why) => Err(why),
        None => Ok(elapsed),
    }
}

/// One leg into a fresh Prometheus: straight to it or through a fresh proxy and mock.
fn leg(
    runtime: &tokio::runtime::Runtime,
    batches: &Batches,
    steps: usize,
    senders: usize,
    route: Route,
) -> Result<Leg, String> {
    let mut scenario = ampfed_env::Scenario::new(false).map_err(|e| format!("scenario: {e}"))?;
    let prometheus = ampfed_env::prometheus::start(&mut scenario, &Default::default())
        .map_err(|e| format!("start Prometheus: {e}"))?
        .url;
    let prometheus_pid = scenario.pid("prometheus").ok_or("Prometheus has no pid")?.to_string();
    let mut stack = None;
    let url = if route == Route::Signed {
        let mock = runtime.block_on(AwsMock::start(AwsMockOptions {
            region: REGION.into(),
            backend_url: prometheus.clone(),
            credential_lifetime: Duration::from_secs(3600),
        }));
        mock.registry().register_static(KEY_ID, SECRET, PRINCIPAL);
        let proxy = runtime
            .block_on(SigningProxy::start(
                ProxyOptions {
                    listen: "127.0.0.1:0".parse().map_err(|e| format!("address: {e}"))?,
                    upstream: mock.aps_url(),
                    region: REGION.into(),
                    service: "aps".into(),
                    fault: None,
                },
                Credentials::new(KEY_ID, SECRET, None, None, "ingest-bench"),
            ))
            .map_err(|e| format!("start the proxy: {e}"))?;
        let created: Value = ureq::post(&format!("{}/workspaces", proxy.url()))
            .set("Content-Type", "application/json")
            .send_string("{\"alias\":\"ingest-bench\"}")
            .map_err(|e| format!("create a workspace: {e}"))?
            .into_json()
            .map_err(|e| format!("create a workspace: {e}"))?;
        let id =
            created["workspaceId"].as_str().ok_or("no workspaceId in CreateWorkspace's answer")?.to_owned();
        let url = format!("{}/workspaces/{id}/api/v1/remote_write", proxy.url());
        stack = Some((mock, proxy));
        url
    } else {
        format!("{prometheus}/api/v1/write")
    };
    let reset = reset_own_peak();
    let (harness_cpu, prometheus_cpu) = (cpu_seconds("self"), cpu_seconds(&prometheus_pid));
    let busy = busy_seconds();
    let elapsed = send_all(&url, batches, senders, route)?;
    let harness_cpu = cpu_seconds("self") - harness_cpu;
    let prometheus_cpu = cpu_seconds(&prometheus_pid) - prometheus_cpu;
    let leg = Leg {
        others_cpu: (busy_seconds() - busy - harness_cpu - prometheus_cpu).max(0.0),
        seconds: elapsed.as_secs_f64(),
        samples_per_second: batches.samples as f64 / elapsed.as_secs_f64(),
        harness_cpu,
        prometheus_cpu,
        harness_peak_mib: if reset { peak_mib("self") } else { f64::NAN },
        prometheus_peak_mib: peak_mib(&prometheus_pid),
    };
    let (samples, out_of_order) = appended(&prometheus)?;
    if samples != batches.samples as u64 {
        return Err(format!("Prometheus appended {samples} samples, {} were sent", batches.samples));
    }
    if out_of_order != 0 {
        return Err(format!("Prometheus appended {out_of_order} samples out of order"));
    }
    if route != Route::Direct {
        let tagged = tagged_series(&prometheus, steps)?;
        if tagged != batches.series as u64 {
            return Err(format!("{tagged} series carry the tenant label, {} were sent", batches.series));
        }
    }
    drop(stack);
    drop(scenario);
    Ok(leg)
}

/// What to run: `--only CLUSTERS/SHAPE/SENDERS` (repeatable; e.g. `10/e2e/4`, `1000/1000x60/1`)
/// and `--signed-only` (no direct legs, no ratio: for profiling the signed path); `--labelled`.
#[derive(Default)]
struct Args {
    only: Vec<String>,
    signed_only: bool,
    labelled: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args::default();
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            match arg.as_str() {
                "--only" => args.only.extend(given.next()),
                "--signed-only" => args.signed_only = true,
                "--labelled" => args.labelled = true,
                // `cargo bench` passes `--bench`.
                "--bench" => {}
                other => {
                    eprintln!(
                        "unknown argument {other:?}; expected --only CLUSTERS/SHAPE/SENDERS, --signed-only or --labelled"
                    );
                    std::process::exit(2);
                }
            }
        }
        args
    }

    fn wants(&self, clusters: usize, shape: Shape, senders: usize) -> bool {
        let case = format!("{clusters}/{}/{senders}", shape.name());
        self.only.is_empty() || self.only.contains(&case)
    }
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    println!(
        "remote-write ingest: straight into Prometheus vs through the signing proxy and the AMP mock \
         (a fresh Prometheus per leg; {SERIES_PER_CLUSTER} series per cluster)"
    );
    println!(
        "{:>8} {:>8} {:>6} {:>8} {:>7} {:>8} {:>7} {:>11} {:>11} {:>6} {:>6} {:>13} {:>13} {:>11} {:>13}",
        "clusters",
        "series",
        "Msamp",
        "shape",
        "senders",
        "requests",
        "MB",
        "direct/s",
        "signed/s",
        "ratio",
        "cpu r",
        "cpu d/s (h)",
        "cpu d/s (P)",
        "other d/s",
        "peak MiB h/P"
    );
    let mut cases = Vec::new();
    let mut failed = Vec::new();
    for (clusters, steps) in SIZES {
        for shape in [Shape::E2e, Shape::Wide] {
            if !SENDERS.iter().any(|&senders| args.wants(clusters, shape, senders)) {
                continue;
            }
            let batches = batches(clusters, steps, shape, args.labelled && !args.signed_only);
            for senders in SENDERS.into_iter().filter(|&senders| args.wants(clusters, shape, senders)) {
                let what = format!("{clusters} clusters, {} shape, {senders} senders", shape.name());
                if args.signed_only {
                    match leg(&runtime, &batches, steps, senders, Route::Signed) {
                        Ok(signed) => println!(
                            "{what}: signed {:.2} M samples/s {}",
                            signed.samples_per_second / 1e6,
                            signed.json()
                        ),
                        Err(e) => failed.push(format!("{what}: {e}")),
                    }
                    continue;
                }
                let mut rounds: Vec<(Leg, Leg)> = Vec::new();
                let mut labelled_rounds = Vec::new();
                let mut error = None;
                for _ in 0..ROUNDS {
                    let run = |route| leg(&runtime, &batches, steps, senders, route);
                    let pair = run(Route::Direct).and_then(|direct| {
                        labelled_rounds.extend(args.labelled.then(|| run(Route::Labelled)).transpose()?);
                        Ok((direct, run(Route::Signed)?))
                    });
                    match pair {
                        Ok(pair) => rounds.push(pair),
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = error {
                    println!("{what}: failed: {e}");
                    failed.push(format!("{what}: {e}"));
                    continue;
                }
                let direct = fastest(rounds.iter().map(|r| &r.0));
                let signed = fastest(rounds.iter().map(|r| &r.1));
                let peak = |of: fn(&Leg) -> f64| {
                    rounds.iter().flat_map(|r| [of(&r.0), of(&r.1)]).fold(0.0, f64::max)
                };
                let signed_harness_peak = rounds.iter().map(|r| r.1.harness_peak_mib).fold(0.0, f64::max);
                let prometheus_peak = peak(|l| l.prometheus_peak_mib);
                let ratio = signed.samples_per_second / direct.samples_per_second;
                let cpu_ratio = (direct.harness_cpu + direct.prometheus_cpu)
                    / (signed.harness_cpu + signed.prometheus_cpu);
                println!(
                    "{:>8} {:>8} {:>6.1} {:>8} {:>7} {:>8} {:>7.1} {:>9.2} M {:>9.2} M {:>6.2} {:>6.2} {:>6.1}/{:<6.1} {:>6.1}/{:<6.1} {:>5.1}/{:<5.1} {:>6.0}/{:<6.0}",
                    clusters,
                    batches.series,
                    batches.samples as f64 / 1e6,
                    shape.name(),
                    senders,
                    batches.requests,
                    batches.bytes as f64 / 1e6,
                    direct.samples_per_second / 1e6,
                    signed.samples_per_second / 1e6,
                    ratio,
                    cpu_ratio,
                    direct.harness_cpu,
                    signed.harness_cpu,
                    direct.prometheus_cpu,
                    signed.prometheus_cpu,
                    direct.others_cpu,
                    signed.others_cpu,
                    signed_harness_peak,
                    prometheus_peak,
                );
                let labelled = (!labelled_rounds.is_empty()).then(|| fastest(labelled_rounds.iter()));
                if let Some(l) = labelled {
                    println!(
                        "{what}: labelled {:.2} M/s, labelled/direct {:.2}, signed/labelled {:.2}; cpu (P) d/l/s {:.1}/{:.1}/{:.1}",
                        l.samples_per_second / 1e6,
                        l.samples_per_second / direct.samples_per_second,
                        signed.samples_per_second / l.samples_per_second,
                        direct.prometheus_cpu, l.prometheus_cpu, signed.prometheus_cpu,
                    );
                }
                cases.push(json!({
                    "clusters": clusters,
                    "series": batches.series,
                    "samples": batches.samples,
                    "samples_per_series": steps,
                    "shape": shape.name(),
                    "senders": senders,
                    "requests": batches.requests,
                    "body_bytes": batches.bytes,
                    "direct": direct.json(),
                    "signed": signed.json(),
                    "labelled": labelled.map(Leg::json),
                    "rounds": rounds.iter().map(|(d, s)| json!({ "direct": d.json(), "signed": s.json() })).collect::<Vec<_>>(),
                    "harness_peak_mib_signed": round(signed_harness_peak, 1),
                    "prometheus_peak_mib": round(prometheus_peak, 1),
                    "ratio": round(ratio, 3),
                    "cpu_ratio": round(cpu_ratio, 3),
                }));
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "ratio: signed/direct samples per second; cpu r: direct/signed CPU seconds of this process and Prometheus; cpu d/s: CPU seconds of the direct and the signed leg, (h) this process (senders, proxy, mock), \
         (P) Prometheus, other: by every other process (a busy machine); peak MiB: VmHWM of this process in the signed legs and of Prometheus in any leg; each leg's fastest of {ROUNDS} rounds. {total:.0} s in all."
    );
    let report = json!({
        "benchmark": "ingest",
        "series_per_cluster": SERIES_PER_CLUSTER,
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(0),
        "seconds": round(total, 1),
        "cases": cases,
        "failed": failed,
    });
    let path = ampfed_common::paths::workspace_root().join("target/bench/ingest.json");
    let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default() + "\n")
    });
    match written {
        Ok(()) => println!("figures written to {}", path.display()),
        Err(e) => println!("could not write {}: {e}", path.display()),
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    if !failed.is_empty() {
        eprintln!("{} case(s) failed", failed.len());
        std::process::exit(1);
    }
}
