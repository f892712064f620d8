//! [`EmbeddedS3`]: a hyper HTTP/1.1 server on 127.0.0.1 (a port the kernel picks, never
//! every interface) on a thread of its own with its own two-worker runtime, so it serves
//! callers of any kind (synchronous tests, current-thread runtimes) and outlives none of
//! them: [`EmbeddedS3::stop`] or dropping it stops it.
//!
//! Bounds, per request: a body over the limit (`EntityTooLarge` for an object upload,
//! `MaxMessageLengthExceeded` otherwise) is never kept: its bytes are read and dropped, up to
//! [`MAX_DRAIN_BYTES`] past the limit, and then refused with `Connection: close` (a client
//! still sending would otherwise see a reset connection instead of the answer); a declared
//! length past even that is refused at once. The body must arrive within
//! `body_read_timeout` (S3's `RequestTimeout` past it); the head within
//! `header_read_timeout` (idle keep-alive connections included), with at most
//! [`MAX_HEADERS`] headers. At most `max_connections` connections are served at
//! once; more wait in the kernel's accept queue. Requests with bodies over
//! [`INLINE_BODY_BYTES`] are answered on the blocking pool (hashing them takes a while).
//!
//! Stopping: the listener closes, every connection finishes the request it is serving and
//! closes (hyper's graceful shutdown), and after [`STOP_GRACE`] whatever is left is dropped.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::EmbeddedS3Error;
use crate::ops::{Request, Service};
use crate::reply::{Reply, S3Error};
use crate::store::bucket_name_problem;

/// Most headers one request may have.
pub const MAX_HEADERS: usize = 100;
/// Bodies up to this size are answered on the connection's task; larger ones on the
/// blocking pool.
pub const INLINE_BODY_BYTES: usize = 256 << 10;
/// How much of a refused body is read and dropped before the refusal is sent.
pub const MAX_DRAIN_BYTES: u64 = 128 << 20;
/// How long a stop waits for connections to finish their requests.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running in-process S3 server; stops when dropped.
#[derive(Debug)]
pub struct EmbeddedS3 {
    addr: SocketAddr,
    endpoint: String,
    region: String,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// What each connection needs.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
}

fn validate(config: &Config) -> Result<(), EmbeddedS3Error> {
    let problem = |what: &str| Err(EmbeddedS3Error::Config(what.to_owned()));
    if config.access_key.is_empty() || config.access_key.contains(['/', ' ']) {
        return problem("the access key is empty or holds '/' or a space");
    }
    if config.secret_key.is_empty() {
        return problem("the secret key is empty");
    }
    let region_ok = !config.region.is_empty()
        && config.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return problem("the region is empty or not of the form us-west-2");
    }
    if config.max_object_bytes == 0 || config.max_connections == 0 {
        return problem("max_object_bytes and max_connections must be positive");
    }
    if config.header_read_timeout.is_zero() || config.body_read_timeout.is_zero() {
        return problem("the read timeouts must be positive");
    }
    for name in &config.buckets {
        if let Some(reason) = bucket_name_problem(name) {
            return Err(EmbeddedS3Error::BucketName { name: name.clone(), reason });
        }
    }
    Ok(())
}

impl EmbeddedS3 {
    /// Checks `config`, creates its buckets and serves on `127.0.0.1:<a free port>`.
    pub fn start(config: Config) -> Result<EmbeddedS3, EmbeddedS3Error> {
        validate(&config)?;
        let service = Arc::new(Service::new(&config));
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(EmbeddedS3Error::Listen)?;
        listener.set_nonblocking(true).map_err(EmbeddedS3Error::Listen)?;
        let addr = listener.local_addr().map_err(EmbeddedS3Error::Listen)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(16)
            .thread_name("embedded-s3")
            .enable_all()
            .build()
            .map_err(EmbeddedS3Error::Runtime)?;
        let limits = Limits {
            header_read_timeout: config.header_read_timeout,
            body_read_timeout: config.body_read_timeout,
        };
        let max_connections = config.max_connections;
        let (tx, rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("embedded-s3".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, service, limits, max_connections, rx).await,
                        Err(e) => tracing::error!(error = %e, "the embedded S3 server cannot listen"),
                    }
                });
                // Handlers still on the blocking pool finish on their own.
                runtime.shutdown_background();
            })
            .map_err(EmbeddedS3Error::Runtime)?;
        tracing::debug!(%addr, region = %config.region, "embedded S3 started");
        Ok(EmbeddedS3 {
            addr,
            endpoint: format!("http://{addr}"),
            region: config.region,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL for a path-style S3 client.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The address the server listens on (always on 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The region requests must be signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Stops accepting, lets connections finish their requests (up to [`STOP_GRACE`]) and
    /// waits for the server's thread.
    pub fn stop(mut self) -> Result<(), EmbeddedS3Error> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), EmbeddedS3Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| EmbeddedS3Error::Panicked),
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        if let Err(e) = self.shut_down() {
            tracing::error!(error = %e, "the embedded S3 server did not stop cleanly");
        }
    }
}

async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    limits: Limits,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        // A permit first: past the cap, connections wait in the accept queue.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the embedded S3 server could not accept a connection");
                    ampfed_common::accept::pause().await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let mut stop = shutdown.clone();
        connections.spawn(async move {
            let handler = service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(into_hyper(handle(service, limits, request).await)) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), handler);
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "an embedded S3 connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let drained =
        tokio::time::timeout(STOP_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = connections.len(), "embedded S3 connections still open after the stop grace");
        connections.abort_all();
    }
}

/// One request: the body limit, the bounded read, then the answer.
async fn handle(service: Arc<Service>, limits: Limits, request: hyper::Request<Incoming>) -> Reply {
    let request_id = service.request_id();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let head = parts.method == http::Method::HEAD;
    let (limit, too_large) = service.body_limit(&parts.method, &path, &parts.headers);
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let declared_over =
        declared.is_some_and(|n| n > limit as u64) || service.declared_too_large(&parts.headers);
    if declared_over && declared.is_none_or(|n| n > (limit as u64).saturating_add(MAX_DRAIN_BYTES)) {
        // Too much to drain: answer at once (the client may see the connection reset instead).
        return too_large.reply(head, &request_id);
    }
    if declared_over {
        // Nothing of it is kept: read and dropped, so that the refusal reaches the client.
        let _ = tokio::time::timeout(limits.body_read_timeout, read_body(body, 0, 0)).await;
        return too_large.reply(head, &request_id);
    }
    let expected = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or_default().min(limit);
    let read = tokio::time::timeout(limits.body_read_timeout, read_body(body, limit, expected)).await;
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(ReadError::TooLarge)) => return too_large.reply(head, &request_id),
        Ok(Err(ReadError::Broken(e))) => {
            tracing::debug!(error = %e, "an embedded S3 request body could not be read");
            return S3Error::new(400, "IncompleteBody", "The request body terminated unexpectedly")
                .closing()
                .reply(head, &request_id);
        }
        Err(_) => {
            return S3Error::new(
                400,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout \
                 period. Idle connections will be closed.",
            )
            .closing()
            .reply(head, &request_id);
        }
    };
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let id = request_id.clone();
    let answer = move || {
        let request =
            Request { method: &parts.method, path: &path, query: &query, headers: &parts.headers, body };
        service.answer(request, &id)
    };
    if declared.unwrap_or_default() <= INLINE_BODY_BYTES as u64 {
        return answer();
    }
    tokio::task::spawn_blocking(answer).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an embedded S3 handler panicked");
        S3Error::internal("a handler panicked").reply(head, &request_id)
    })
}

/// Why a body was not read whole.
enum ReadError {
    /// Past the limit (the rest was drained, up to [`MAX_DRAIN_BYTES`]).
    TooLarge,
    Broken(hyper::Error),
}

/// Reads a body of at most `limit` bytes (`expected` of them reserved up front). Past the
/// limit, the rest is read and dropped, up to [`MAX_DRAIN_BYTES`] more, so that the refusal
/// reaches a client still sending (closing on unread bytes would reset the connection).
async fn read_body(mut body: Incoming, limit: usize, expected: usize) -> Result<Bytes, ReadError> {
    let mut collected = BytesMut::with_capacity(expected);
    let mut drained: Option<u64> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(ReadError::Broken)?.into_data() else { continue };
        match &mut drained {
            Some(total) => {
                *total = total.saturating_add(data.len() as u64);
                if *total > MAX_DRAIN_BYTES {
                    break;
                }
            }
            None if collected.len().saturating_add(data.len()) > limit => {
                collected = BytesMut::new();
                drained = Some(data.len() as u64);
            }
            None => collected.extend_from_slice(&data),
        }
    }
    match drained {
        Some(_) => Err(ReadError::TooLarge),
        None => Ok(collected.freeze()),
    }
}

/// The hyper response of `reply`; a header that is not valid HTTP is left out (and logged).
fn into_hyper(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(reply.body));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(http::header::SERVER, HeaderValue::from_static("ampfed-s3"));
    for (name, value) in reply.headers {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => tracing::warn!(header = %name, "an embedded S3 answer header is not valid HTTP; left out"),
        }
    }
    response
}
