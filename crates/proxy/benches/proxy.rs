//! `cargo xtask bench proxy`: the signing proxy's overhead, as a ratio against sending the
//! same requests unsigned straight to the same backend (a local hyper server that reads the
//! body and answers 200). Both paths use one keep-alive client; the proxy signs with static
//! credentials. Bounded: a fixed number of requests per batch, the median of a few batches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ampfed_proxy::{ProxyOptions, SigningProxy};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const BATCHES: usize = 5;
const REQUESTS_PER_BATCH: usize = 200;
const WARM_UP: usize = 30;

async fn backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the backend");
    let addr = listener.local_addr().expect("backend address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

/// Median time per request over the batches.
fn measure(agent: &ureq::Agent, url: &str, body: &[u8]) -> Duration {
    let send = || {
        agent
            .post(url)
            .set("content-type", "application/x-protobuf")
            .send_bytes(body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    };
    for _ in 0..WARM_UP {
        send();
    }
    let mut per_request: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..REQUESTS_PER_BATCH {
                send();
            }
            started.elapsed() / REQUESTS_PER_BATCH as u32
        })
        .collect();
    per_request.sort();
    per_request[BATCHES / 2]
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let backend = runtime.block_on(backend());
    let proxy = runtime
        .block_on(SigningProxy::start(
            ProxyOptions {
                listen: "127.0.0.1:0".parse().expect("address"),
                upstream: format!("http://{backend}"),
                region: "us-west-2".into(),
                service: "aps".into(),
                fault: None,
            },
            Credentials::new("AKIDAMPFEDBENCH", "bench-secret", None, None, "bench"),
        ))
        .expect("start the proxy");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
    let path = "/workspaces/ws-bench/api/v1/remote_write";
    println!("signing proxy overhead ({BATCHES} batches × {REQUESTS_PER_BATCH} sequential requests, median per request)");
    println!("{:>9}  {:>12}  {:>12}  {:>7}", "body", "unsigned", "via proxy", "ratio");
    for size in [0usize, 4 * 1024, 64 * 1024] {
        let body = vec![0x5a_u8; size];
        let direct = measure(&agent, &format!("http://{backend}{path}"), &body);
        let proxied = measure(&agent, &format!("{}{path}", proxy.url()), &body);
        println!(
            "{:>7} B  {:>9.1} µs  {:>9.1} µs  {:>6.2}×",
            size,
            direct.as_secs_f64() * 1e6,
            proxied.as_secs_f64() * 1e6,
            proxied.as_secs_f64() / direct.as_secs_f64()
        );
    }
    drop(proxy);
    runtime.shutdown_timeout(Duration::from_secs(2));
}
