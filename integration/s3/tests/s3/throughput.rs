//! A rough measure of what the server answers from `aws-sdk-s3` on this machine: a bounded
//! loop of PutObject then GetObject (count and time both capped), printed, never asserted
//! on (`cargo test -p ampfed-s3 --release -- throughput --nocapture`).

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::{client, server, BUCKET};

/// Requests per phase at most.
const REQUESTS: usize = 1000;
/// Time per phase at most.
const PHASE_LIMIT: Duration = Duration::from_secs(5);
/// Concurrent clients per phase.
const CONCURRENCY: usize = 4;
/// One ETL-sized object.
const BODY_BYTES: usize = 4 << 10;

/// Runs `op(i)` for up to [`REQUESTS`] values of `i` on [`CONCURRENCY`] tasks, within
/// [`PHASE_LIMIT`]; the count done and the time taken.
async fn phase<F, Fut>(op: F) -> (usize, Duration)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let op = op.clone();
        tasks.spawn(async move {
            let mut done = 0;
            for i in (worker..REQUESTS).step_by(CONCURRENCY) {
                if started.elapsed() > PHASE_LIMIT {
                    break;
                }
                op(i).await;
                done += 1;
            }
            done
        });
    }
    let mut done = 0;
    while let Some(count) = tasks.join_next().await {
        done += count.unwrap();
    }
    (done, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_of_put_and_get_is_printed() {
    let s3 = server();
    let client = client(&s3);
    let body = vec![b'x'; BODY_BYTES];

    let putter = client.clone();
    let (puts, put_time) = phase(move |i| {
        let (client, body) = (putter.clone(), body.clone());
        async move {
            client
                .put_object()
                .bucket(BUCKET)
                .key(format!("bench/{i:05}"))
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap();
        }
    })
    .await;
    let getter = client.clone();
    let (gets, get_time) = phase(move |i| {
        let client = getter.clone();
        // Each worker's first put happened (the time cap cuts only later ones).
        let key = format!("bench/{:05}", i % CONCURRENCY.min(puts).max(1));
        async move {
            let out = client.get_object().bucket(BUCKET).key(&key).send().await.unwrap();
            assert_eq!(out.body.collect().await.unwrap().into_bytes().len(), BODY_BYTES);
        }
    })
    .await;
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    println!(
        "embedded S3 from aws-sdk-s3 ({CONCURRENCY} concurrent, {BODY_BYTES}-byte objects, {} build): \
         PutObject {puts} in {put_time:.2?} = {:.0}/s, GetObject {gets} in {get_time:.2?} = {:.0}/s",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        rate(puts, put_time),
        rate(gets, get_time)
    );
    assert!(puts > 0 && gets > 0);
}
