//! A fault-injecting TCP relay in front of an S3 endpoint, on 127.0.0.1: it passes bytes
//! through both ways and, decided by a seeded generator per connection and per chunk, resets
//! connections when they are accepted, resets them after the request reached S3 (so the
//! write happened but its answer is lost), delays answers, and plays an outage (from the
//! `n`-th request on, for a while, every request and every new connection is reset, kept-alive
//! connections included). It stands in for an S3 that
//! becomes unavailable mid-run: community LocalStack keeps no data across a restart, so a
//! restart cannot play that part.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections in all and [`MAX_OPEN`] at once; every
//! task is aborted when the [`Relay`] is dropped. Delays go through the workspace's waiting
//! primitive, holding the answer until its deadline has passed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ampfed_common::wait::{Poll, Wait};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Connections the relay accepts in all; later ones are refused (reset).
pub(crate) const MAX_CONNECTIONS: usize = 20_000;
/// Connections relayed at once.
pub(crate) const MAX_OPEN: usize = 64;

/// How a listing page of the embedded S3 starts, and the comment of the declaration's length
/// that `comment_listings` puts in its place.
const LISTING_START: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult";
const COMMENT: &[u8] = b"<!-- a comment the relay put here  -->";
const _: () = assert!(COMMENT.len() + "\n<ListBucketResult".len() == LISTING_START.len());

/// What to inject, as probabilities per connection or per chunk of an answer.
#[derive(Clone, Debug)]
pub(crate) struct Faults {
    pub(crate) seed: u64,
    /// A connection reset as soon as it is accepted (S3 unreachable).
    pub(crate) reset_on_accept: f64,
    /// The connection reset instead of passing on a chunk of the answer: the request was
    /// served, its answer is lost.
    pub(crate) reset_answer: f64,
    /// A chunk of the answer held back for up to `max_delay`.
    pub(crate) delay_answer: f64,
    pub(crate) max_delay: Duration,
    /// From the `n`-th request (chunk sent to S3) on, everything is reset for `duration`.
    pub(crate) outage: Option<(usize, Duration)>,
    /// The last byte of the first `n` Parquet bodies (their final `PAR1`) changed on the way:
    /// objects damaged in transit, whole in the bucket.
    pub(crate) flip_parquet_ends: usize,
    /// Every listing page's XML declaration replaced by a comment of the same length: a page
    /// the direct reader leaves to the SDK, which reads it.
    pub(crate) comment_listings: bool,
}

impl Faults {
    /// No faults: a plain relay.
    pub(crate) fn none() -> Faults {
        Faults {
            seed: 0,
            reset_on_accept: 0.0,
            reset_answer: 0.0,
            delay_answer: 0.0,
            max_delay: Duration::ZERO,
            outage: None,
            flip_parquet_ends: 0,
            comment_listings: false,
        }
    }
}

/// What the relay did.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) connections: AtomicUsize,
    pub(crate) requests: AtomicUsize,
    pub(crate) reset_on_accept: AtomicUsize,
    pub(crate) reset_in_outage: AtomicUsize,
    pub(crate) reset_answer: AtomicUsize,
    pub(crate) delayed: AtomicUsize,
    pub(crate) delayed_ms: AtomicU64,
    pub(crate) flipped: AtomicUsize,
    pub(crate) parquet_ends: AtomicUsize,
    pub(crate) commented: AtomicUsize,
}

impl Stats {
    pub(crate) fn line(&self) -> String {
        let get = |a: &AtomicUsize| a.load(Ordering::SeqCst);
        format!(
            "{} connections, {} requests, {} reset on accept, {} reset in the outage, {} answers reset, {} chunks delayed ({} ms in all), {} of {} Parquet ends changed, {} listings commented",
            get(&self.connections),
            get(&self.requests),
            get(&self.reset_on_accept),
            get(&self.reset_in_outage),
            get(&self.reset_answer),
            get(&self.delayed),
            self.delayed_ms.load(Ordering::SeqCst),
            get(&self.flipped),
            get(&self.parquet_ends),
            get(&self.commented)
        )
    }

    pub(crate) fn resets(&self) -> usize {
        [&self.reset_on_accept, &self.reset_in_outage, &self.reset_answer]
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .sum()
    }
}

/// SplitMix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// A running relay; dropping it stops every connection.
pub(crate) struct Relay {
    addr: SocketAddr,
    pub(crate) stats: Arc<Stats>,
    _tasks: JoinSet<()>,
}

/// Holds an answer until `delay` has passed, through the one waiting primitive.
async fn hold(delay: Duration) {
    let until = Instant::now() + delay;
    let pause = delay.max(Duration::from_millis(1));
    let _ = Wait::new("the injected delay", delay + Duration::from_secs(1))
        .backoff(pause, pause)
        .until(|| async move {
            Ok::<_, Infallible>(match Instant::now() >= until {
                true => Poll::Ready(()),
                false => Poll::Pending("holding the answer back".into()),
            })
        })
        .await;
}

/// Resets `stream` (RST, not FIN) by closing it with a zero linger.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// What the connections share: the faults, the counts, the outage's start.
struct Shared {
    faults: Faults,
    stats: Arc<Stats>,
    outage_since: Mutex<Option<Instant>>,
}

impl Shared {
    /// Whether S3 is "down" now: the outage has been reached and has not ended.
    fn down(&self) -> bool {
        let Some((from, duration)) = self.faults.outage else { return false };
        if self.stats.requests.load(Ordering::SeqCst) < from {
            return false;
        }
        let mut since = self.outage_since.lock().unwrap_or_else(|p| p.into_inner());
        since.get_or_insert_with(Instant::now).elapsed() < duration
    }
}

impl Relay {
    /// Starts a relay to `upstream` (`http://127.0.0.1:<port>`).
    pub(crate) async fn start(upstream: &str, faults: Faults) -> Relay {
        let upstream: SocketAddr =
            upstream.trim_start_matches("http://").parse().expect("an http://127.0.0.1:<port> endpoint");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay listener");
        let addr = listener.local_addr().expect("relay address");
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared { faults, stats: stats.clone(), outage_since: Mutex::new(None) });
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let open = Arc::new(Semaphore::new(MAX_OPEN));
            let mut connections = JoinSet::new();
            for n in 0..MAX_CONNECTIONS {
                let Ok((client, _)) = listener.accept().await else { break };
                shared.stats.connections.fetch_add(1, Ordering::SeqCst);
                let mut rng = Rng::new(shared.faults.seed, n as u64);
                if shared.down() {
                    shared.stats.reset_in_outage.fetch_add(1, Ordering::SeqCst);
                    reset(client);
                    continue;
                }
                if rng.chance(shared.faults.reset_on_accept) {
                    shared.stats.reset_on_accept.fetch_add(1, Ordering::SeqCst);
                    reset(client);
                    continue;
                }
                let Ok(permit) = open.clone().acquire_owned().await else { break };
                let shared = shared.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    relay_one(client, upstream, rng, &shared).await;
                });
                // Reap finished connections so the set stays small.
                while connections.try_join_next().is_some() {}
            }
        });
        Relay { addr, stats, _tasks: tasks }
    }

    /// `http://127.0.0.1:<port>` of the relay.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Relays one connection: requests as they come, answers chunk by chunk with faults.
async fn relay_one(client: TcpStream, upstream: SocketAddr, mut rng: Rng, shared: &Shared) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        reset(client);
        return;
    };
    let (faults, stats) = (&shared.faults, &shared.stats);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Each side ends with whether the connection may close cleanly (false: reset it).
    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => n,
            };
            stats.requests.fetch_add(1, Ordering::SeqCst);
            if shared.down() {
                stats.reset_in_outage.fetch_add(1, Ordering::SeqCst);
                return false;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return true;
            }
        }
    };
    let answers = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut rng_answers = Rng::new(rng.next(), 1);
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => n,
            };
            if rng_answers.chance(faults.reset_answer) {
                stats.reset_answer.fetch_add(1, Ordering::SeqCst);
                return false;
            }
            if rng_answers.chance(faults.delay_answer) && !faults.max_delay.is_zero() {
                let ms = rng_answers.next() % (faults.max_delay.as_millis() as u64).max(1);
                stats.delayed.fetch_add(1, Ordering::SeqCst);
                stats.delayed_ms.fetch_add(ms, Ordering::SeqCst);
                hold(Duration::from_millis(ms)).await;
            }
            // The magic that ends a Parquet body, at the end of the chunk or before the last
            // chunk of a chunked answer (`\r\n0\r\n\r\n`).
            let tail = n.saturating_sub(16);
            let end = buf[tail..n].windows(4).rposition(|w| w == b"PAR1").map(|i| tail + i + 3);
            if let Some(at) = end {
                stats.parquet_ends.fetch_add(1, Ordering::SeqCst);
                if stats.flipped.fetch_add(1, Ordering::SeqCst) < faults.flip_parquet_ends {
                    buf[at] = b'2';
                } else {
                    stats.flipped.fetch_sub(1, Ordering::SeqCst);
                }
            }
            if faults.comment_listings {
                let page = &buf[..n];
                if let Some(at) = page.windows(LISTING_START.len()).position(|w| w == LISTING_START) {
                    buf[at..at + COMMENT.len()].copy_from_slice(COMMENT);
                    stats.commented.fetch_add(1, Ordering::SeqCst);
                }
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return true;
            }
        }
    };
    let clean = tokio::select! {
        clean = answers => clean,
        clean = requests => clean,
    };
    if !clean {
        if let Ok(client) = client_read.reunite(client_write) {
            reset(client);
        }
    }
}
