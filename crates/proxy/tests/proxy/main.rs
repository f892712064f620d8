//! The signing proxy from the outside: what it forwards and signs ([`behaviour`]), which
//! callers it serves at all ([`hosts`]: `Host` allow-list, no browsers), its timeouts and
//! limits ([`limits`]), refreshing credentials over a simulated run ([`refresh`]),
//! `AssumeRole` on top of other credentials ([`assume_role`]), and the `ampfed-sigv4-proxy`
//! binary ([`binary`]), and an `https` upstream ([`https`]).

mod assume_role;
mod behaviour;
mod binary;
mod hosts;
mod https;
mod limits;
mod refresh;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const REGION: &str = "us-west-2";

/// Proxy settings for signing `aps` requests in [`REGION`] to `upstream`, on a free port.
pub fn aps_proxy(upstream: String) -> ampfed_proxy::ProxyOptions {
    ampfed_proxy::ProxyOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream,
        region: REGION.into(),
        service: "aps".into(),
        fault: None,
    }
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as raw bytes (it must ask for `Connection: close`) and reads the answer,
/// within 30 seconds.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        bytes
    };
    let bytes =
        tokio::time::timeout(Duration::from_secs(30), exchange).await.expect("the proxy answered in time");
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let mut body = bytes[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

/// A request to the proxy at `addr` (its `Host` names that address), with `Content-Length`
/// and `Connection: close`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    request_for_host(&addr.to_string(), method, target, extra_headers, body)
}

/// As [`request`], with any `Host` header value.
pub fn request_for_host(
    host: &str,
    method: &str,
    target: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (k, v) in extra_headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 2 + size + 2..];
    }
}
