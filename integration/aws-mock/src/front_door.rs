//! The AMP mock's front door: a hyper HTTP/1.1 server on 127.0.0.1 that serves both planes.
//!
//! wiremock buffers every body whole before a responder sees it and has no size limit, and it
//! serves one request at a time; this server exists to do neither. Per request, in order:
//!
//! 1. the body limit is chosen from the method and path ([`MAX_REMOTE_WRITE_BODY`] for remote
//!    write, [`MAX_API_BODY`] for everything else) and a `Content-Length` over it is refused
//!    at once, nothing of the body read;
//! 2. the body is read through `http_body_util::Limited` within [`BODY_READ_TIMEOUT`]: a body
//!    that grows past the limit is refused as soon as it does (413), a slow one is a 408;
//! 3. on the blocking pool (the handlers call the backend with blocking `ureq`), the AMP
//!    responder verifies SigV4 over the bytes as read and routes the request
//!    (`amp::routing`), so requests are served concurrently.
//!
//! The 413 and 408 answers are AWS JSON errors, sent with `Connection: close`: the rest of an
//! oversized body is never read. The connection level is bounded too: at most
//! [`MAX_CONNECTIONS`] connections are served at once (further ones wait in the kernel's
//! accept queue), and a connection that takes longer than [`HEADER_READ_TIMEOUT`] to send a
//! request head, idle keep-alive ones included, is closed.
//!
//! The server runs on a thread of its own with its own runtime, as wiremock's do, so the mock
//! works from any caller (synchronous code, a current-thread runtime) and stops when the
//! [`FrontDoor`] is dropped.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH};
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use url::Url;

use crate::amp::routing::AmpResponder;
use crate::amp::state::AmpState;
use crate::aws_error::AwsError;
use crate::exchange::{Reply, Request};

/// Largest remote write body read (snappy-compressed, as sent). AMP publishes no request size
/// limit (`docs/amp-api.md`); Prometheus's own senders stay far below this (a few MiB at their
/// largest `max_samples_per_send`), and the decoder separately refuses bodies that would
/// decompress to more than `ampfed_prom::remote_write::MAX_DECOMPRESSED_BYTES`.
pub(crate) const MAX_REMOTE_WRITE_BODY: usize = 32 << 20;

/// Largest body of any other request: control-plane JSON (a rules file of 1 MiB, the namespace
/// quota, is about 1.4 MiB once base64-encoded) and Prometheus API forms. The 1 MiB quota
/// itself is checked on the decoded rules file, after this.
pub(crate) const MAX_API_BODY: usize = 2 << 20;

/// How long a connection may take to send a request head, and may sit idle between requests.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How long reading one request's body may take.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 256;

/// The running front door; dropping it stops accepting and ends the server's runtime.
pub(crate) struct FrontDoor {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FrontDoor {
    /// Binds 127.0.0.1 on a port the kernel picks and serves the AMP mock `amp` from its own
    /// thread.
    pub(crate) fn start(amp: Arc<AmpState>) -> std::io::Result<FrontDoor> {
        let service = Arc::new(Service::new(amp));
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(MAX_CONNECTIONS)
            .thread_name("amp-front-door")
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new().name("amp-front-door".into()).spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, service, rx).await,
                    Err(e) => tracing::error!(error = %e, "the AMP front door cannot listen"),
                }
            });
            // Handlers still running on the blocking pool finish on their own.
            runtime.shutdown_background();
        })?;
        Ok(FrontDoor { addr, shutdown: Some(tx) })
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What answers a request once its body is read.
pub(crate) struct Service {
    responder: AmpResponder,
}

impl Service {
    pub(crate) fn new(amp: Arc<AmpState>) -> Service {
        Service { responder: AmpResponder::new(amp) }
    }

    /// Verifies and answers a request whose body has been read.
    pub(crate) fn answer(&self, request: &Request) -> Reply {
        self.responder.handle(request)
    }
}

async fn serve(listener: TcpListener, service: Arc<Service>, mut shutdown: oneshot::Receiver<()>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // A permit first: past the cap, connections wait in the accept queue.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = &mut shutdown => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the AMP front door could not accept a connection");
                    ampfed_common::accept::pause().await;
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(handle(service, request).await.into_hyper()) }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "an AMP front door connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// One request: the body limit, the bounded read, then the answer on the blocking pool.
async fn handle<B>(service: Arc<Service>, request: hyper::Request<B>) -> Reply
where
    B: Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    let limit = body_limit(&parts.method, parts.uri.path());
    let body = match read_body(&parts.headers, body, limit).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let Some(url) = request_url(&parts.uri) else {
        return AwsError::validation("CANNOT_PARSE", "path", "The request target is not an origin-form path")
            .response();
    };
    let (method, headers) = (parts.method, parts.headers);
    let answered = tokio::task::spawn_blocking(move || {
        service.answer(&Request { method: &method, url: &url, headers: &headers, body: &body })
    })
    .await;
    answered.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an AMP handler panicked");
        AwsError::new(500, "InternalServerException", "The mock failed while handling the request")
            .response()
            .insert_header("Retry-After", "1")
    })
}

/// The body limit for a request: remote write gets the large one.
pub(crate) fn body_limit(method: &Method, path: &str) -> usize {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["workspaces", _, "api", "v1", "remote_write"]) => MAX_REMOTE_WRITE_BODY,
        _ => MAX_API_BODY,
    }
}

/// Reads a whole body of at most `limit` bytes within [`BODY_READ_TIMEOUT`], or the answer
/// refusing it.
pub(crate) async fn read_body<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, Reply>
where
    B: Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        Ok(Err(e)) => Err(AwsError::validation(
            "CANNOT_PARSE",
            "body",
            format!("The request body could not be read: {e}"),
        )
        .response()
        .insert_header(CONNECTION.as_str(), "close")),
        Err(_) => Err(AwsError::new(
            408,
            "RequestTimeoutException",
            format!("The request body was not received within {} s", BODY_READ_TIMEOUT.as_secs()),
        )
        .response()
        .insert_header(CONNECTION.as_str(), "close")),
    }
}

fn too_large(limit: usize) -> Reply {
    AwsError::new(
        413,
        "RequestEntityTooLargeException",
        format!("The request body is larger than the {limit}-byte limit for this operation"),
    )
    .response()
    .insert_header(CONNECTION.as_str(), "close")
}

/// The URL the handlers see: the request target's path and query on a fixed base (a `Host`
/// header or an absolute-form target never decides anything).
pub(crate) fn request_url(uri: &http::Uri) -> Option<Url> {
    let target = uri.path_and_query()?.as_str();
    if !target.starts_with('/') {
        return None;
    }
    Url::parse(&format!("http://localhost{target}")).ok()
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use http_body_util::Full;
    use hyper::body::Frame;

    use super::*;

    /// A body without a length that hands out `size`-byte frames forever and counts them.
    struct Endless {
        size: usize,
        pulled: Arc<AtomicUsize>,
    }

    impl Body for Endless {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.pulled.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; self.size])))))
        }
    }

    fn endless(size: usize) -> (Endless, Arc<AtomicUsize>) {
        let pulled = Arc::new(AtomicUsize::new(0));
        (Endless { size, pulled: pulled.clone() }, pulled)
    }

    fn error_type(reply: &Reply) -> Option<&str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amzn-ErrorType"))
            .map(|(_, v)| v.as_str())
    }

    #[tokio::test]
    async fn a_body_growing_past_the_limit_is_refused_as_soon_as_it_does() {
        let (body, pulled) = endless(64 << 10);
        let refused = read_body(&HeaderMap::new(), body, MAX_API_BODY).await.unwrap_err();
        assert_eq!(refused.status, 413);
        assert_eq!(error_type(&refused), Some("RequestEntityTooLargeException"));
        let message: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
        assert!(message["message"].as_str().unwrap().contains("2097152-byte limit"), "{message}");
        // 32 frames fill the limit; the 33rd goes over it, and nothing after it is read.
        assert_eq!(pulled.load(Ordering::SeqCst), MAX_API_BODY / (64 << 10) + 1);
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading_anything() {
        let (body, pulled) = endless(1);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, (MAX_REMOTE_WRITE_BODY + 1).to_string().parse().unwrap());
        let refused = read_body(&headers, body, MAX_REMOTE_WRITE_BODY).await.unwrap_err();
        assert_eq!(refused.status, 413);
        assert!(refused.headers.contains(&("connection".into(), "close".into())), "{:?}", refused.headers);
        assert_eq!(pulled.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = Full::new(Bytes::from_static(b"{\"alias\":\"a\"}"));
        assert_eq!(
            &read_body(&HeaderMap::new(), body, MAX_API_BODY).await.unwrap()[..],
            b"{\"alias\":\"a\"}"
        );
    }

    #[test]
    fn remote_write_gets_the_large_limit_and_nothing_else_does() {
        assert_eq!(body_limit(&Method::POST, "/workspaces/ws-1/api/v1/remote_write"), MAX_REMOTE_WRITE_BODY);
        assert_eq!(body_limit(&Method::GET, "/workspaces/ws-1/api/v1/remote_write"), MAX_API_BODY);
        assert_eq!(body_limit(&Method::POST, "/workspaces/ws-1/api/v1/query"), MAX_API_BODY);
        assert_eq!(body_limit(&Method::POST, "/workspaces/ws-1/rulegroupsnamespaces"), MAX_API_BODY);
        assert_eq!(body_limit(&Method::POST, "/workspaces/a/b/api/v1/remote_write"), MAX_API_BODY);
    }

    #[test]
    fn only_the_target_path_and_query_make_the_url() {
        let url = |target: &str| request_url(&target.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(url("/workspaces?alias=a").as_deref(), Some("http://localhost/workspaces?alias=a"));
        assert_eq!(url("http://elsewhere:1/workspaces").as_deref(), Some("http://localhost/workspaces"));
        assert_eq!(url("//elsewhere/x").as_deref(), Some("http://localhost//elsewhere/x"));
        assert_eq!(url("*"), None);
    }
}
