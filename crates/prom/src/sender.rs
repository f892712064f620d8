//! A remote write sender as a Prometheus server runs one: series are spread over `shards`
//! (each series always to the same shard, so its samples stay in time order), each shard
//! batches up to a samples-per-request limit and sends on its own thread, retrying 429, 5xx
//! and unreachable endpoints with exponential backoff and seeded jitter (a `Retry-After`, in
//! seconds or as an HTTP date, takes the backoff's place) for as long as the request's retry
//! budget (its total wait) allows. Any other answer (a 4xx) can never succeed: the request is
//! dropped and counted.
//!
//! ```no_run
//! use ampfed_prom::{Client, Sender, SenderOptions};
//! # let requests: Vec<ampfed_prom::remote_write::WriteRequest> = Vec::new();
//! let client = Client::new("http://127.0.0.1:9090", "/api/v1/write");
//! let sender = Sender::new(client, SenderOptions { shards: 8, ..SenderOptions::default() });
//! let report = sender.send(requests, |_acknowledged_samples| {});
//! assert!(report.complete(), "{:?}", report.first_error);
//! ```
//!
//! [`Sender::send`] takes any iterator of requests (a channel's receiver, when several
//! threads produce them) and returns a [`SendReport`]: what was sent, acknowledged, retried,
//! dropped and given up on, in samples and requests, with the first failure's error. The
//! pause between two attempts is a channel receive with a time-out, not a sleep.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use crate::client::{Client, WriteFailure};
use crate::remote_write::{self, TimeSeries, WriteRequest};
use crate::PromError;

/// How a [`Sender`] batches, parallelises and retries.
#[derive(Clone, Debug)]
pub struct SenderOptions {
    /// Samples per request at most (at least 1); a longer series is split over requests.
    pub max_samples_per_request: usize,
    /// Threads sending in parallel (at least 1).
    pub shards: usize,
    /// The retry budget: how long one request may wait in total between its attempts. A
    /// retry whose wait would overspend it is not made; the request is reported exhausted.
    pub retry_budget: Duration,
    /// The first retry's backoff (at least 1 ms); it doubles with each retry of the request.
    pub min_backoff: Duration,
    /// The longest backoff (a `Retry-After` is honoured beyond it, within the budget).
    pub max_backoff: Duration,
    /// Seeds the jitter, so the same run waits the same times.
    pub seed: u64,
    /// Stop taking requests from the input once one is dropped or exhausted (what is still
    /// queued is sent; the rest of the input is never read): for a caller that fails anyway.
    pub stop_on_loss: bool,
}

impl Default for SenderOptions {
    /// Prometheus's defaults for the queue (2,000 samples per send, 30 ms to 5 s backoff),
    /// four shards, two minutes of waiting per request, and sending on after a loss.
    fn default() -> SenderOptions {
        SenderOptions {
            max_samples_per_request: 2_000,
            shards: 4,
            retry_budget: Duration::from_secs(120),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            seed: 0,
            stop_on_loss: false,
        }
    }
}

/// What a [`Sender::send`] did. Every request sent ends acknowledged, dropped (a 4xx other
/// than 429) or exhausted (still failing when its retry budget would have been overspent).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendReport {
    /// Requests built and queued, and the samples in them (each counted once, however often
    /// it was tried).
    pub requests_sent: u64,
    pub samples_sent: u64,
    /// Requests (and their samples) the endpoint accepted.
    pub requests_acknowledged: u64,
    pub samples_acknowledged: u64,
    /// Retry attempts, and the samples they carried again.
    pub requests_retried: u64,
    pub samples_retried: u64,
    /// Requests (and samples) dropped because the endpoint refused them for good.
    pub requests_dropped: u64,
    pub samples_dropped: u64,
    /// Requests (and samples) given up on because the retry budget would have been overspent.
    pub requests_exhausted: u64,
    pub samples_exhausted: u64,
    /// The pauses between attempts, summed over every shard.
    pub backoff: Duration,
    /// The first dropped or exhausted request's last error.
    pub first_error: Option<String>,
}

impl SendReport {
    /// Whether every request sent was acknowledged.
    pub fn complete(&self) -> bool {
        self.requests_acknowledged == self.requests_sent
    }
}

/// Sends series to one endpoint through a [`Client`].
#[derive(Clone, Debug)]
pub struct Sender {
    client: Client,
    options: SenderOptions,
    /// Waits between two attempts: [`pause`], or a stand-in in tests that returns at once.
    pauser: fn(Duration),
}

#[derive(Default)]
struct Counters {
    requests_sent: AtomicU64,
    samples_sent: AtomicU64,
    requests_acknowledged: AtomicU64,
    samples_acknowledged: AtomicU64,
    requests_retried: AtomicU64,
    samples_retried: AtomicU64,
    requests_dropped: AtomicU64,
    samples_dropped: AtomicU64,
    requests_exhausted: AtomicU64,
    samples_exhausted: AtomicU64,
    backoff_micros: AtomicU64,
    lost: AtomicBool,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn fail(&self, error: &PromError) {
        self.lost.store(true, Ordering::SeqCst);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(|| error.to_string());
    }

    fn report(self) -> SendReport {
        SendReport {
            requests_sent: self.requests_sent.into_inner(),
            samples_sent: self.samples_sent.into_inner(),
            requests_acknowledged: self.requests_acknowledged.into_inner(),
            samples_acknowledged: self.samples_acknowledged.into_inner(),
            requests_retried: self.requests_retried.into_inner(),
            samples_retried: self.samples_retried.into_inner(),
            requests_dropped: self.requests_dropped.into_inner(),
            samples_dropped: self.samples_dropped.into_inner(),
            requests_exhausted: self.requests_exhausted.into_inner(),
            samples_exhausted: self.samples_exhausted.into_inner(),
            backoff: Duration::from_micros(self.backoff_micros.into_inner()),
            first_error: self.first_error.into_inner().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// One shard's batch being filled: the request and its sample count.
#[derive(Default)]
struct Batch {
    request: WriteRequest,
    samples: usize,
}

impl Sender {
    /// A sender writing through `client` (its base URL and write path).
    pub fn new(client: Client, options: SenderOptions) -> Sender {
        Sender { client, options, pauser: pause }
    }

    /// Sends every series of `requests` (the samples of each series in the order given) and
    /// returns once each request is acknowledged, dropped or given up on. `on_acknowledged`
    /// gets the sample count of each accepted request, on the shard threads (for a progress
    /// bar). Besides the batches being filled, at most two requests per shard wait in memory,
    /// so a lazy input (a channel) is read only as fast as the endpoint takes it.
    pub fn send<I, F>(&self, requests: I, on_acknowledged: F) -> SendReport
    where
        I: IntoIterator<Item = WriteRequest>,
        F: Fn(usize) + Sync,
    {
        let shards = self.options.shards.max(1);
        let max = self.options.max_samples_per_request.max(1);
        let counters = Counters::default();
        std::thread::scope(|scope| {
            let mut queues = Vec::with_capacity(shards);
            for shard in 0..shards {
                let (tx, rx) = mpsc::sync_channel::<Batch>(2);
                let (counters, on_acknowledged) = (&counters, &on_acknowledged);
                let seed = self.options.seed ^ (shard as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                scope.spawn(move || {
                    let mut jitter = Jitter(seed);
                    for batch in rx {
                        self.deliver(batch, &mut jitter, counters, on_acknowledged);
                    }
                });
                queues.push(tx);
            }
            let mut pending: Vec<Batch> = (0..shards).map(|_| Batch::default()).collect();
            let flush = |shard: usize, batch: &mut Batch| {
                if batch.samples == 0 {
                    return;
                }
                Counters::add(&counters.requests_sent, 1);
                Counters::add(&counters.samples_sent, batch.samples);
                // A shard ends only when its queue closes, below, so this cannot fail.
                let _ = queues[shard].send(std::mem::take(batch));
            };
            for request in requests {
                if self.options.stop_on_loss && counters.lost.load(Ordering::SeqCst) {
                    break;
                }
                for series in request.timeseries {
                    let shard = shard_of(&series, shards);
                    let TimeSeries { labels, samples } = series;
                    for chunk in samples.chunks(max) {
                        let batch = &mut pending[shard];
                        if batch.samples > 0 && batch.samples + chunk.len() > max {
                            flush(shard, batch);
                        }
                        batch
                            .request
                            .timeseries
                            .push(TimeSeries { labels: labels.clone(), samples: chunk.to_vec() });
                        batch.samples += chunk.len();
                    }
                }
            }
            for (shard, batch) in pending.iter_mut().enumerate() {
                flush(shard, batch);
            }
            drop(queues);
        });
        counters.report()
    }

    /// Sends one batch (encoded once, on this shard's thread) until it is acknowledged,
    /// refused for good, or a retry would overspend the retry budget.
    fn deliver(
        &self,
        batch: Batch,
        jitter: &mut Jitter,
        counters: &Counters,
        on_ack: &(impl Fn(usize) + Sync),
    ) {
        let body = remote_write::encode(&batch.request);
        drop(batch.request);
        let samples = batch.samples;
        let (mut retries, mut waited) = (0u32, Duration::ZERO);
        loop {
            let failure = match self.client.write_encoded(&body) {
                Ok(()) => {
                    Counters::add(&counters.requests_acknowledged, 1);
                    Counters::add(&counters.samples_acknowledged, samples);
                    on_ack(samples);
                    return;
                }
                Err(failure) => failure,
            };
            if !failure.retryable() {
                Counters::add(&counters.requests_dropped, 1);
                Counters::add(&counters.samples_dropped, samples);
                counters.fail(&failure.error);
                return;
            }
            let delay = retry_delay(&self.options, retries, failure.retry_after, jitter);
            if waited + delay > self.options.retry_budget {
                Counters::add(&counters.requests_exhausted, 1);
                Counters::add(&counters.samples_exhausted, samples);
                counters.fail(&failure.error);
                return;
            }
            counters.backoff_micros.fetch_add(delay.as_micros() as u64, Ordering::Relaxed);
            (self.pauser)(delay);
            waited += delay;
            retries = retries.saturating_add(1);
            Counters::add(&counters.requests_retried, 1);
            Counters::add(&counters.samples_retried, samples);
        }
    }
}

/// The shard a series goes to, by an FNV-1a hash of its labels: the same series always goes
/// to the same shard.
fn shard_of(series: &TimeSeries, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for label in &series.labels {
        for b in label.name.bytes().chain([0xff]).chain(label.value.bytes()).chain([0xfe]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (h % shards as u64) as usize
}

/// The wait before retry number `retries + 1`: the server's `Retry-After` when it asked for
/// more than nothing, else `min_backoff × 2^retries` (at most `max_backoff`), less a seeded
/// random part of up to half, so that shards retrying together spread out.
fn retry_delay(
    options: &SenderOptions,
    retries: u32,
    retry_after: Option<Duration>,
    jitter: &mut Jitter,
) -> Duration {
    if let Some(after) = retry_after.filter(|d| !d.is_zero()) {
        return after;
    }
    let min = options.min_backoff.max(Duration::from_millis(1));
    let base = min.saturating_mul(1u32 << retries.min(20)).min(options.max_backoff.max(min));
    base.mul_f64(1.0 - 0.5 * jitter.unit())
}

/// Waits `delay`: a receive on a channel nobody sends on returns when its time-out passes.
fn pause(delay: Duration) {
    if delay.is_zero() {
        return;
    }
    let (_tx, rx) = mpsc::channel::<()>();
    let _ = rx.recv_timeout(delay);
}

/// splitmix64 as a seeded stream of numbers in `[0, 1)`.
struct Jitter(u64);

impl Jitter {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl WriteFailure {
    /// Whether a retry may succeed: 429, 5xx, or the endpoint could not be reached.
    fn retryable(&self) -> bool {
        match &self.error {
            PromError::Status { status, .. } => *status == 429 || *status >= 500,
            PromError::Transport { .. } => true,
            PromError::Decode { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::remote_write::Sample;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    /// `series` series of `samples` samples each, in one request.
    fn requests(series: usize, samples: usize) -> Vec<WriteRequest> {
        let timeseries = (0..series)
            .map(|i| {
                let labels = BTreeMap::from([("i".to_owned(), i.to_string())]);
                let mut ts = TimeSeries::new("up", &labels);
                ts.samples =
                    (0..samples).map(|k| Sample { value: 1.0, timestamp: k as i64 * 1000 }).collect();
                ts
            })
            .collect();
        vec![WriteRequest { timeseries }]
    }

    fn options(shards: usize) -> SenderOptions {
        SenderOptions {
            max_samples_per_request: 10,
            shards,
            retry_budget: Duration::from_secs(60),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(4),
            seed: 7,
            stop_on_loss: false,
        }
    }

    /// A sender whose pauses return at once: the report's `backoff` says what it would have
    /// waited, and no test waits on the wall clock.
    fn sender(server: &MockServer, options: SenderOptions) -> Sender {
        Sender { pauser: |_| {}, ..Sender::new(Client::new(server.uri(), "/api/v1/write"), options) }
    }

    fn answer(
        rt: &tokio::runtime::Runtime,
        server: &MockServer,
        template: ResponseTemplate,
        times: Option<u64>,
    ) {
        let mock = Mock::given(method("POST")).respond_with(template);
        let mock = match times {
            Some(n) => mock.up_to_n_times(n),
            None => mock,
        };
        rt.block_on(mock.mount(server));
    }

    #[test]
    fn retries_5xx_and_429_then_succeeds_and_counts_everything() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(503), Some(2));
        answer(&rt, &server, ResponseTemplate::new(429), Some(1));
        answer(&rt, &server, ResponseTemplate::new(200), None);
        let acked = AtomicU64::new(0);
        // 3 series × 20 samples, 10 samples per request: 6 requests.
        let report = sender(&server, options(1)).send(requests(3, 20), |n| {
            acked.fetch_add(n as u64, Ordering::Relaxed);
        });
        assert_eq!((report.requests_sent, report.samples_sent), (6, 60));
        assert_eq!((report.requests_acknowledged, report.samples_acknowledged), (6, 60));
        assert_eq!((report.requests_retried, report.samples_retried), (3, 30));
        assert_eq!((report.requests_dropped, report.requests_exhausted), (0, 0));
        assert!(report.complete());
        assert_eq!(acked.into_inner(), 60);
        // Backoffs of 100, 200 and 400 ms, each less up to half of it by jitter.
        assert!((Duration::from_millis(350)..=Duration::from_millis(700)).contains(&report.backoff));
        let received = rt.block_on(server.received_requests()).unwrap();
        assert_eq!(received.len(), 9);
        for r in &received {
            assert!(remote_write::decode(&r.body).unwrap().sample_count() <= 10);
        }
    }

    #[test]
    fn retry_after_in_seconds_takes_the_place_of_the_backoff() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(429).insert_header("Retry-After", "7"), Some(1));
        answer(&rt, &server, ResponseTemplate::new(503).insert_header("Retry-After", "3"), Some(1));
        answer(&rt, &server, ResponseTemplate::new(200), None);
        let report = sender(&server, options(1)).send(requests(1, 5), |_| {});
        assert!(report.complete(), "{report:?}");
        assert_eq!(report.requests_retried, 2);
        assert_eq!(report.backoff, Duration::from_secs(10));
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_then() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        let at = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        answer(&rt, &server, ResponseTemplate::new(503).insert_header("Retry-After", date.as_str()), Some(1));
        answer(&rt, &server, ResponseTemplate::new(200), None);
        let report = sender(&server, options(1)).send(requests(1, 5), |_| {});
        assert!(report.complete(), "{report:?}");
        // The date has whole seconds: between 29 and 30 s from when it was answered.
        assert!((Duration::from_secs(28)..=Duration::from_secs(30)).contains(&report.backoff), "{report:?}");
    }

    #[test]
    fn backoff_doubles_up_to_the_limit_with_seeded_jitter() {
        let o = SenderOptions {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..options(1)
        };
        let delays = |seed| {
            let mut j = Jitter(seed);
            (0..4).map(|r| retry_delay(&o, r, None, &mut j)).collect::<Vec<_>>()
        };
        let d = delays(1);
        assert_eq!(d, delays(1), "the same seed waits the same");
        assert_ne!(d, delays(2));
        for (r, base) in [100, 200, 350, 350].into_iter().enumerate() {
            let base = Duration::from_millis(base);
            assert!(d[r] <= base && d[r] >= base / 2, "retry {r}: {:?} for {base:?}", d[r]);
        }
        // `Retry-After: 0` asks for nothing: the backoff applies, so retries never spin.
        let mut j = Jitter(1);
        assert!(retry_delay(&o, 0, Some(Duration::ZERO), &mut j) >= Duration::from_millis(50));
        assert_eq!(retry_delay(&o, 9, Some(Duration::from_secs(2)), &mut j), Duration::from_secs(2));
    }

    #[test]
    fn other_4xx_are_dropped_and_counted_without_retry() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(400).set_body_string("out of order sample"), None);
        let report = sender(&server, options(2)).send(requests(4, 10), |_| {});
        assert_eq!((report.requests_sent, report.samples_sent), (4, 40));
        assert_eq!((report.requests_dropped, report.samples_dropped), (4, 40));
        assert_eq!((report.requests_retried, report.requests_acknowledged), (0, 0));
        assert!(!report.complete());
        let error = report.first_error.unwrap();
        assert!(error.contains("HTTP 400") && error.contains("out of order sample"), "{error}");
        assert_eq!(rt.block_on(server.received_requests()).unwrap().len(), 4);
    }

    #[test]
    fn a_spent_retry_budget_is_reported() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(503), None);
        // Waits of about 100, 200, 400 and 800 ms fit in 2 s; the next one (1.6 s) does not.
        let o = SenderOptions { retry_budget: Duration::from_secs(2), ..options(1) };
        let report = sender(&server, o).send(requests(1, 10), |_| {});
        assert_eq!((report.requests_exhausted, report.samples_exhausted), (1, 10));
        assert!((3..=5).contains(&report.requests_retried), "{report:?}");
        assert_eq!(report.samples_retried, report.requests_retried * 10);
        assert_eq!(report.requests_dropped, 0);
        assert!(report.backoff <= Duration::from_secs(2));
        assert!(report.first_error.unwrap().contains("HTTP 503"));
        let received = rt.block_on(server.received_requests()).unwrap();
        assert_eq!(received.len() as u64, report.requests_retried + 1);
        // A `Retry-After` beyond the budget is not waited for at all.
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(429).insert_header("Retry-After", "3600"), None);
        let report = sender(&server, options(1)).send(requests(1, 10), |_| {});
        assert_eq!((report.requests_exhausted, report.requests_retried), (1, 0));
        assert_eq!(report.backoff, Duration::ZERO);
    }

    #[test]
    fn stop_on_loss_reads_no_more_input_after_a_drop() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(403), None);
        let read = AtomicU64::new(0);
        let input = (0..1000).map(|_| {
            read.fetch_add(1, Ordering::SeqCst);
            requests(1, 10).remove(0)
        });
        let o = SenderOptions { stop_on_loss: true, ..options(1) };
        let report = sender(&server, o).send(input, |_| {});
        assert!(report.requests_dropped >= 1 && !report.complete());
        assert_eq!(report.requests_dropped, report.requests_sent, "{report:?}");
        assert!(read.into_inner() < 1000, "the input was read to its end");
    }

    #[test]
    fn a_series_stays_on_one_shard_in_time_order() {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        answer(&rt, &server, ResponseTemplate::new(200), None);
        let report = sender(&server, options(3)).send(requests(5, 40), |_| {});
        assert!(report.complete());
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        let mut seen = 0;
        for r in rt.block_on(server.received_requests()).unwrap() {
            for ts in remote_write::decode(&r.body).unwrap().timeseries {
                let key = format!("{:?}", ts.labels);
                for s in ts.samples {
                    seen += 1;
                    let prev = last.insert(key.clone(), s.timestamp);
                    // Requests of different shards interleave; one shard's never reorder.
                    assert!(prev.is_none_or(|p| p < s.timestamp), "{key} went back in time");
                }
            }
        }
        assert_eq!(seen, 200);
    }
}
