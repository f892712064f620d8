//! What the federator tests share: an embedded S3 with one bucket per test case, stores
//! against it (directly, through a relay, with a request budget or counter), deterministic
//! cluster data, the state of `federated/combined/` as bytes, and the reference state that
//! one clean run gives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ampfed_allocation::{Allocation, AllocationSet, AssetSet, Window};
use ampfed_federation::layout::LEASE_KEY;
use ampfed_federation::{federate_with, Options, Store, StoreConfig};
use ampfed_s3::{Config, EmbeddedS3};
use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};

pub(crate) use ampfed_test_support::etl::{day, DAY, EPOCH};

pub(crate) const ACCESS_KEY: &str = "AKIAFEDERATORTEST001";
pub(crate) const SECRET_KEY: &str = "federator/tests/secret/key/only+000000";
pub(crate) const REGION: &str = "us-west-2";

/// An embedded S3 with no bucket; each case creates its own.
pub(crate) fn server() -> EmbeddedS3 {
    EmbeddedS3::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION)).expect("embedded S3")
}

pub(crate) fn config(endpoint: &str, bucket: &str) -> StoreConfig {
    StoreConfig {
        endpoint: endpoint.to_owned(),
        region: REGION.into(),
        bucket: bucket.to_owned(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
    }
}

/// A store of `bucket` on `endpoint` with short attempt time-outs (the relay delays answers).
pub(crate) fn store(endpoint: &str, bucket: &str) -> Store {
    Store::with_s3_config(&config(endpoint, bucket), |b| {
        b.timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
    })
}

/// Counts every S3 call; past `limit` calls, refuses to send any more, as if the process had
/// died: nothing it would send reaches S3 again. (Refused before the call is built, so the SDK
/// and the federator see a failure that no retry mends.)
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    pub(crate) sent: Arc<AtomicUsize>,
    pub(crate) limit: usize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Budget {
        Budget { sent: Arc::new(AtomicUsize::new(0)), limit }
    }

    pub(crate) fn unlimited() -> Budget {
        Budget::new(usize::MAX)
    }

    pub(crate) fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Intercept for Budget {
    fn name(&self) -> &'static str {
        "request budget"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.limit {
            return Err(format!("killed after {} requests", self.limit).into());
        }
        Ok(())
    }
}

/// A store whose requests `budget` counts and cuts.
pub(crate) fn budget_store(endpoint: &str, bucket: &str, budget: &Budget) -> Store {
    let budget = budget.clone();
    Store::with_s3_config(&config(endpoint, bucket), move |b| b.interceptor(budget)).without_direct_reads()
}

/// Options for a test run: `holder`, a short lease, short waits.
pub(crate) fn options(holder: &str) -> Options {
    Options {
        holder: holder.to_owned(),
        lease_ttl: Duration::from_secs(2),
        lease_wait: Duration::from_secs(30),
        retry_for: Duration::from_secs(10),
        ..Options::default()
    }
}

pub(crate) fn allocation(cluster: &str, window: Window, pod: usize, cost: f64) -> Allocation {
    Allocation {
        cpu_core_hours: 12.0,
        cpu_cost: cost,
        total_cost: cost,
        ..ampfed_test_support::etl::allocation(
            cluster,
            window,
            "node-1",
            "default",
            &format!("pod-{pod}"),
            "app",
        )
    }
}

/// Cluster `cluster`'s allocation set of `window`, its numbers a function of all three.
pub(crate) fn set(cluster: &str, window: Window, pods: usize) -> AllocationSet {
    let base = (window.start - EPOCH) as f64 / DAY as f64 + cluster.len() as f64;
    let allocations = (0..pods).map(|p| allocation(cluster, window, p, 0.25 + base + p as f64)).collect();
    AllocationSet::new(vec![cluster.into()], window, allocations)
}

pub(crate) fn assets(cluster: &str, window: Window) -> AssetSet {
    ampfed_test_support::etl::assets(cluster, window, "node-1", 2.0, 1.5)
}

/// The clusters `cluster-a`, `cluster-b`, … (`clusters` of them).
pub(crate) fn cluster_names(clusters: usize) -> Vec<String> {
    (0..clusters).map(|i| format!("cluster-{}", (b'a' + i as u8) as char)).collect()
}

/// Creates the bucket and ships `clusters` × `days` allocation and asset sets, as the cost
/// models do.
pub(crate) async fn seed(store: &Store, clusters: usize, days: i64) {
    store.ensure_bucket().await.expect("bucket");
    for cluster in cluster_names(clusters) {
        for d in 0..days {
            store.put_set(&cluster, &set(&cluster, day(d), 3)).await.expect("put_set");
            store.put_assets(&cluster, &assets(&cluster, day(d))).await.expect("put_assets");
        }
    }
}

/// Every object under `prefix` but the lease, as bytes.
pub(crate) async fn objects(store: &Store, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for listed in store.list(prefix).await.expect("list") {
        if listed.key == LEASE_KEY {
            continue;
        }
        let fetched = store.fetch(&listed.key).await.expect("fetch");
        out.insert(listed.key, fetched.bytes);
    }
    out
}

/// The combined sets and the manifest, as bytes.
pub(crate) async fn combined(store: &Store) -> BTreeMap<String, Vec<u8>> {
    objects(store, "federated/combined/").await
}

/// The combined objects but the manifest's (which records the inputs, bad ones too).
pub(crate) async fn combined_outputs(store: &Store) -> Vec<(String, Vec<u8>)> {
    let all = combined(store).await;
    all.into_iter().filter(|(k, _)| !k.starts_with(ampfed_federation::layout::MANIFEST_PREFIX)).collect()
}

/// What one clean run gives for `clusters` × `days`, in a bucket of its own on `s3`.
pub(crate) async fn reference(
    s3: &EmbeddedS3,
    bucket: &str,
    clusters: usize,
    days: i64,
) -> BTreeMap<String, Vec<u8>> {
    let store = store(s3.endpoint(), bucket);
    seed(&store, clusters, days).await;
    federate_with(&store, &options("reference")).await.expect("the clean run");
    let state = combined(&store).await;
    assert_eq!(state.len() as i64, 3 * days, "two combined sets a day and the day's manifest record");
    state
}

/// A multi-threaded runtime of two workers (the machine has two cores).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// Holds the first `PUT` whose path contains `path` until [`Gate::open`]: the federator
/// using it stalls with its plan made and its write not sent, as a paused process would.
/// Blocks its runtime's thread, so that federator runs on a thread of its own
/// ([`spawn_on_own_thread`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Gate {
    path: String,
    state: Arc<(std::sync::Mutex<(bool, bool)>, std::sync::Condvar)>,
}

impl Gate {
    pub(crate) fn new(path: &str) -> Gate {
        Gate { path: path.to_owned(), ..Gate::default() }
    }

    /// Whether a write reached the gate.
    pub(crate) fn reached(&self) -> bool {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    pub(crate) fn open(&self) {
        let (lock, cvar) = &*self.state;
        lock.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        cvar.notify_all();
    }
}

impl Intercept for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn read_before_attempt(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        if request.method() != "PUT" || !request.uri().contains(&self.path) {
            return Ok(());
        }
        let (lock, cvar) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        state.0 = true;
        cvar.notify_all();
        // Bounded: a test that never opens the gate fails instead of hanging.
        let (state, timeout) = cvar
            .wait_timeout_while(state, Duration::from_secs(60), |s| !s.1)
            .unwrap_or_else(|p| p.into_inner());
        drop(state);
        match timeout.timed_out() {
            true => Err("the gate was never opened".into()),
            false => Ok(()),
        }
    }
}

/// A store whose first write to a key containing `gate`'s path waits for the gate.
pub(crate) fn gated_store(endpoint: &str, bucket: &str, gate: &Gate) -> Store {
    let gate = gate.clone();
    Store::with_s3_config(&config(endpoint, bucket), move |b| b.interceptor(gate))
}

/// Runs `f` on a thread of its own with its own runtime; its result, when it ends.
pub(crate) fn spawn_on_own_thread<T: Send + 'static>(
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(f())
    })
}

/// Records every request a store sends, as `METHOD path` (the path without the query).
#[derive(Clone, Debug, Default)]
pub(crate) struct Recorder(Arc<std::sync::Mutex<Vec<String>>>);

impl Recorder {
    /// The paths of the `PUT`s sent, in order.
    pub(crate) fn puts(&self) -> Vec<String> {
        let sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().filter_map(|r| r.strip_prefix("PUT ")).map(str::to_owned).collect()
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "request recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        let uri = request.uri();
        let path =
            uri.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(uri);
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        let line = format!("{} {path}", request.method());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        Ok(())
    }
}

/// A store whose requests `recorder` records.
pub(crate) fn recorded_store(endpoint: &str, bucket: &str, recorder: &Recorder) -> Store {
    let recorder = recorder.clone();
    Store::with_s3_config(&config(endpoint, bucket), move |b| b.interceptor(recorder))
}
