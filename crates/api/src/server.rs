//! The HTTP server: hyper (HTTP/1.1) on a loopback address only, serving [`Api::get`] as
//! JSON, in the workspace's hyper style (one task per connection, a connection cap that
//! leaves further connections in the listen backlog, a graceful stop on drop).
//!
//! Bounds: the request head must arrive within the header read timeout (which also closes
//! idle keep-alive connections) and hold at most `max_headers` headers in at most 16 KiB
//! (431 or a closed connection beyond); the request target is at most `max_target_bytes`
//! (414); a query gets `request_timeout` (504); bodies are never read. Only `GET` and `HEAD`
//! are served (405), and only for a `Host` naming the listener (`127.0.0.1:<port>`,
//! `localhost:<port>`, `[::1]:<port>`; 421 otherwise), which defeats DNS rebinding.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

use crate::api::Api;
use crate::error::ApiError;
use crate::json::Reply;

/// The most bytes of a request head hyper buffers.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running server; stops when [`ApiServer::stop`] is called or it is dropped.
pub struct ApiServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl ApiServer {
    /// Binds the API's `listen` address (refused unless loopback) and serves in the current
    /// tokio runtime.
    pub async fn start(api: Arc<Api>) -> Result<ApiServer, ApiError> {
        let config = api.config().clone();
        config.check()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ApiError::Listen { addr: config.listen, source })?;
        let addr =
            listener.local_addr().map_err(|source| ApiError::Listen { addr: config.listen, source })?;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_headers(config.max_headers.max(1))
            .max_buf_size(MAX_HEAD_BYTES);
        let permits = Arc::new(Semaphore::new(config.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
        let (tx, mut rx) = oneshot::channel::<()>();
        tracing::info!(%addr, "allocation API listening");
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    _ = &mut rx => break,
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                };
                let accepted = tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => accepted,
                };
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "the API server could not accept a connection");
                        ampfed_common::accept::pause().await;
                        continue;
                    }
                };
                let api = api.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    let _place = permit;
                    let service = service_fn(move |req| handle(api.clone(), addr, req));
                    if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                        tracing::debug!("API connection ended: {e}");
                    }
                });
            }
        });
        Ok(ApiServer { addr, shutdown: Some(tx) })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections. Safe to call twice.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `host` (a `Host` header) names the listener at `addr`.
fn own_host(host: &str, addr: SocketAddr) -> bool {
    let port = addr.port().to_string();
    let Some((name, p)) = host.rsplit_once(':') else { return false };
    if p != port {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    name == "localhost"
        || name == ip
        || (addr.is_ipv4() && name == "127.0.0.1")
        || (addr.is_ipv6() && name == "[::1]")
}

fn respond(reply: &Reply, head_only: bool) -> Response<Full<Bytes>> {
    let body = if head_only { Bytes::new() } else { Bytes::from(reply.to_json()) };
    Response::builder()
        .status(reply.code)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn handle(
    api: Arc<Api>,
    addr: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let head_only = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head_only {
        return Ok(respond(&Reply::error(405, format!("{} is not served: use GET", req.method())), false));
    }
    let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !own_host(host, addr) {
        let message = format!("Host {host:?} is not this server's: use {addr} or localhost:{}", addr.port());
        return Ok(respond(&Reply::error(421, message), head_only));
    }
    let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let config = api.config();
    if target.len() > config.max_target_bytes {
        let message = format!(
            "the request target is {} bytes; at most {} are read",
            target.len(),
            config.max_target_bytes
        );
        return Ok(respond(&Reply::error(414, message), head_only));
    }
    let timeout = config.request_timeout;
    let reply = match tokio::time::timeout(timeout, api.get(&target)).await {
        Ok(reply) => reply,
        Err(_) => Reply::error(
            504,
            format!("the query did not finish within {timeout:?}: ask for a shorter window"),
        ),
    };
    if reply.code >= 500 {
        tracing::warn!(%target, code = reply.code, "{}", reply.message().unwrap_or(""));
    }
    Ok(respond(&reply, head_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listeners_own_names_are_served() {
        let v4: SocketAddr = "127.0.0.1:9090".parse().unwrap();
        assert!(own_host("127.0.0.1:9090", v4));
        assert!(own_host("LOCALHOST:9090", v4));
        assert!(!own_host("localhost:9091", v4));
        assert!(!own_host("evil.example:9090", v4));
        assert!(!own_host("127.0.0.1", v4));
        let v6: SocketAddr = "[::1]:9090".parse().unwrap();
        assert!(own_host("[::1]:9090", v6));
        assert!(!own_host("127.0.0.1:9090", v6));
    }
}
