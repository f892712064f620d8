//! The AMP endpoint's front door as a client meets it: bodies refused by their size before
//! anything else (and before they are read), and requests served concurrently.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::{client, mock, mock_with_backend, proxy, tempdir, TOKEN};

/// Sends a request head (and `body`) on a fresh connection and reads the answer until the
/// server closes it (heads ask for `Connection: close`): status line, lower-cased headers,
/// body.
fn raw(aps_url: &str, head: &str, body: &[u8]) -> (String, Vec<(String, String)>, String) {
    let addr = aps_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        panic!("no complete answer within 10 s ({e}); got {:?}", String::from_utf8_lossy(&answer));
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_first_and_never_read() {
    let mock = mock().await;
    let url = mock.aps_url();
    tokio::task::spawn_blocking(move || {
        // Control-plane JSON over 2 MiB: the length alone is enough, no body is sent (and the
        // request is not even signed: the size is checked before SigV4).
        let head = "POST /workspaces HTTP/1.1\r\nHost: aps\r\nConnection: close\r\n\
                    Content-Type: application/json\r\nContent-Length: 2097153\r\n\r\n";
        let (status, headers, body) = raw(&url, head, b"");
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{body}");
        assert_eq!(header(&headers, "x-amzn-errortype"), Some("RequestEntityTooLargeException"));
        assert_eq!(header(&headers, "connection"), Some("close"));
        let message: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            message["message"],
            "The request body is larger than the 2097152-byte limit for this operation"
        );

        // Remote write may be larger, up to 32 MiB …
        let write = "/workspaces/ws-1/api/v1/remote_write";
        let head = |n: usize| {
            format!("POST {write} HTTP/1.1\r\nHost: aps\r\nConnection: close\r\nContent-Length: {n}\r\n\r\n")
        };
        let (status, _, body) = raw(&url, &head(33 << 20), b"");
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{body}");
        assert!(body.contains("33554432-byte limit"), "{body}");
        // … so 3 MiB is read, and then refused for what it is: unsigned.
        let (status, headers, body) = raw(&url, &head(3 << 20), &vec![0; 3 << 20]);
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{body}");
        assert_eq!(header(&headers, "x-amzn-errortype"), Some("MissingAuthenticationTokenException"));
    })
    .await
    .unwrap();
}

/// A Prometheus stand-in that accepts connections and answers none until told to.
struct StalledBackend {
    url: String,
    accepted: mpsc::Receiver<TcpStream>,
}

impl StalledBackend {
    fn start() -> StalledBackend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, accepted) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if tx.send(stream).is_err() {
                    return;
                }
            }
        });
        StalledBackend { url, accepted }
    }
}

/// Reads one request (head, then a `Content-Length` body) so that closing the connection
/// after answering does not reset it.
fn read_request(stream: &mut TcpStream) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    stream.read_exact(&mut vec![0; length]).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_backend_call_does_not_hold_up_other_requests() {
    let backend = StalledBackend::start();
    let mock = mock_with_backend(&backend.url).await;
    let dir = tempdir("front-door-concurrency");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    let mut proxy = proxy(&mock, &dir).await;
    let query = format!("{}/workspaces/{id}/api/v1/query?query=up&time=1767225600", proxy.url());
    let slow = tokio::task::spawn_blocking(move || {
        let response = ureq::get(&query).call().unwrap_or_else(|e| panic!("{e}"));
        (response.status(), response.into_string().unwrap())
    });
    // The query is at the backend, which holds it …
    let held = tokio::task::spawn_blocking(move || backend.accepted.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("the query reached the backend");
    // … while the mock goes on answering.
    let described =
        tokio::time::timeout(Duration::from_secs(10), amp.describe_workspace().workspace_id(&id).send())
            .await
            .expect("the control plane answers while a data-plane call waits on the backend")
            .unwrap();
    assert_eq!(described.workspace().unwrap().workspace_id(), id);
    let answer = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let mut held = held;
    read_request(&mut held);
    write!(
        held,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )
    .unwrap();
    drop(held);
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), serde_json::from_str::<Value>(answer).unwrap());
    proxy.stop();
    let _ = std::fs::remove_dir_all(dir);
}
