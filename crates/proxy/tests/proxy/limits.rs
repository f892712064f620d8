//! The proxy's timeouts and limits, each set short through `ProxyBuilder` so the tests stay
//! fast: a slowloris head is cut off, a body that never arrives gets 408, an upstream that
//! never answers gets 504, a body over the limit gets 413 (before it is read when the
//! `Content-Length` says so), and connections over the cap wait until one closes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ampfed_proxy::{ProxyBuilder, SigningProxy};
use aws_credential_types::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{aps_proxy, raw, request, Answer};

const KEY: &str = "AKIAAMPFEDLIMITTEST1";
const SECRET: &str = "limits/test/secret/0123456789abcdefghijkl";
/// What every test waits at most for something that must happen.
const BOUND: Duration = Duration::from_secs(10);

async fn proxy_for(upstream: String, configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> SigningProxy {
    configure(SigningProxy::builder(aps_proxy(upstream)))
        .start(Credentials::new(KEY, SECRET, None, None, "test"))
        .await
        .unwrap()
}

async fn upstream_answering_200() -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&upstream).await;
    upstream
}

/// Reads until the proxy closes the connection; the bytes read, or `None` if it is still
/// open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut bytes)).await {
        Ok(_) => Some(bytes),
        Err(_) => None,
    }
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    std::str::from_utf8(bytes).ok()?.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_head_sent_byte_by_byte_is_cut_off_at_the_header_read_timeout() {
    let upstream = upstream_answering_200().await;
    let timeout = Duration::from_millis(300);
    let proxy = proxy_for(upstream.uri(), |b| b.header_read_timeout(timeout)).await;
    let addr = proxy.local_addr();
    // About 5 s worth of head at one byte per 20 ms: far longer than the timeout.
    let head = format!(
        "GET /api/v1/query?query=up HTTP/1.1\r\nhost: {addr}\r\nuser-agent: slowloris\r\nx-padding: {}\r\n\r\n",
        "p".repeat(160)
    );
    let started = Instant::now();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let mut pace = tokio::time::interval(Duration::from_millis(20));
        // A busy machine must not turn missed ticks into a burst of bytes.
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sent = 0;
        for byte in head.as_bytes() {
            pace.tick().await;
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            sent += 1;
        }
        (sent, head.len())
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(BOUND, reader.read_to_end(&mut answer)).await;
    let elapsed = started.elapsed();
    assert!(closed.is_ok(), "the connection was still open after {BOUND:?}");
    assert!(elapsed >= timeout, "cut off after {elapsed:?}, before the timeout");
    assert!(elapsed < Duration::from_secs(4), "cut off after {elapsed:?}, the timeout is {timeout:?}");
    assert_ne!(status_of(&answer), Some(200), "the slow head was served");
    // Writing fails soon after the proxy closed; the client never got its head out.
    let (sent, length) = tokio::time::timeout(BOUND, trickle).await.expect("the writer stopped").unwrap();
    assert!(sent < length, "the whole head ({length} bytes) was sent");
    assert!(upstream.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_idle_connection_that_sends_nothing_is_closed_at_the_header_read_timeout() {
    let upstream = upstream_answering_200().await;
    let proxy = proxy_for(upstream.uri(), |b| b.header_read_timeout(Duration::from_millis(300))).await;
    let mut idle = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert!(read_until_closed(&mut idle, BOUND).await.is_some(), "an idle connection was kept open");
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_at_the_body_read_timeout() {
    let upstream = upstream_answering_200().await;
    let timeout = Duration::from_millis(300);
    let proxy = proxy_for(upstream.uri(), |b| b.body_read_timeout(timeout)).await;
    let addr = proxy.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Ten bytes announced, two sent, then silence (the connection stays open).
    let head =
        format!("POST /x HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 10\r\nconnection: close\r\n\r\nab");
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, BOUND).await.expect("an answer within the bound");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    assert_eq!(status_of(&answer), Some(408), "{}", String::from_utf8_lossy(&answer));
    assert!(
        String::from_utf8_lossy(&answer).contains("request body"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(upstream.received_requests().await.unwrap().is_empty());
}

/// An upstream that accepts connections and reads requests but never answers.
async fn silent_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn an_upstream_that_never_answers_gets_504_at_the_upstream_timeout() {
    let (upstream, task) = silent_upstream().await;
    let timeout = Duration::from_millis(400);
    let proxy = proxy_for(format!("http://{upstream}"), |b| b.upstream_timeout(timeout)).await;
    let addr = proxy.local_addr();
    let started = Instant::now();
    let bytes = request(addr, "POST", "/api/v1/remote_write", &[], b"samples");
    let exchange = raw(addr, &bytes);
    let answer: Answer = tokio::time::timeout(BOUND, exchange).await.expect("an answer within the bound");
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(answer.text().contains("did not answer"), "{}", answer.text());
    assert!(elapsed >= timeout && elapsed < Duration::from_secs(5), "answered after {elapsed:?}");
    task.abort();
}

#[tokio::test]
async fn an_upstream_answer_that_stalls_mid_body_is_cut_at_the_upstream_timeout() {
    // The head arrives at once, the body never ends: the stream to the client is cut at the
    // deadline of the whole exchange.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial").await;
            held.push(stream);
        }
    });
    let proxy =
        proxy_for(format!("http://{upstream}"), |b| b.upstream_timeout(Duration::from_millis(400))).await;
    let addr = proxy.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request(addr, "GET", "/x", &[], b"")).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, BOUND).await.expect("the stream was cut within the bound");
    assert!(started.elapsed() < Duration::from_secs(5), "cut after {:?}", started.elapsed());
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("partial"), "{text}");
    task.abort();
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let upstream = upstream_answering_200().await;
    let proxy = proxy_for(upstream.uri(), |b| b.max_body(1024)).await;
    let addr = proxy.local_addr();
    let answer = raw(addr, &request(addr, "POST", "/x", &[], &[b'a'; 1024])).await;
    assert_eq!(answer.status, 200, "exactly the limit is fine: {}", answer.text());
    let answer = raw(addr, &request(addr, "POST", "/x", &[], &[b'a'; 1025])).await;
    assert_eq!(answer.status, 413, "{}", answer.text());
    // Chunked: no length up front, refused once the limit is crossed.
    let mut chunked = format!(
        "POST /x HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'b'; 0x200]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(addr, &chunked).await.status, 413);
    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_declared_length_over_the_default_64_mib_is_refused_before_the_body_is_sent() {
    let upstream = upstream_answering_200().await;
    let proxy = proxy_for(upstream.uri(), |b| b).await;
    let addr = proxy.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /x HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        64 * 1024 * 1024 + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, BOUND).await.expect("an answer without sending the body");
    assert_eq!(status_of(&answer), Some(413), "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&answer).contains("67108864"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let upstream = upstream_answering_200().await;
    // A long header timeout: the idle connections hold their places for the whole test.
    let proxy =
        proxy_for(upstream.uri(), |b| b.max_connections(2).header_read_timeout(Duration::from_secs(60)))
            .await;
    let addr = proxy.local_addr();
    let first = TcpStream::connect(addr).await.unwrap();
    let _second = TcpStream::connect(addr).await.unwrap();

    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(&request(addr, "GET", "/x", &[], b"")).await.unwrap();
    // While two connections are open, the third is not served.
    let mut early = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(500), third.read(&mut early)).await;
    assert!(read.is_err(), "a third connection was served while the cap of two was taken");
    assert!(upstream.received_requests().await.unwrap().is_empty());

    drop(first);
    // Nothing was read above (a timed-out read consumes nothing), so this is the whole answer.
    let answer = read_until_closed(&mut third, BOUND).await.expect("served once a place was free");
    assert_eq!(status_of(&answer), Some(200), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn huge_timeouts_and_limits_do_not_overflow() {
    let upstream = upstream_answering_200().await;
    let proxy = proxy_for(upstream.uri(), |b| {
        b.header_read_timeout(Duration::MAX)
            .body_read_timeout(Duration::MAX)
            .upstream_timeout(Duration::MAX)
            .max_body(usize::MAX)
            .max_connections(usize::MAX)
    })
    .await;
    let addr = proxy.local_addr();
    for _ in 0..2 {
        let answer = raw(addr, &request(addr, "POST", "/x", &[], b"body")).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}
