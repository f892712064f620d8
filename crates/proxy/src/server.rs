//! The proxy's HTTP server: hyper on 127.0.0.1, one upstream, SigV4 with `aws-sigv4`.
//!
//! Per request: the body is read whole (`Content-Length` or chunked; SigV4 needs its hash);
//! incoming auth headers (and presigned `X-Amz-*` query parameters), hop-by-hop headers and
//! the configured ones are dropped; the rest is signed for the upstream's host and sent there
//! over a pooled HTTP/1.1 connection with a `Content-Length`. Only the path and query of the
//! request target are used, so neither the `Host` header nor an absolute-form URI can point
//! the proxy anywhere else. The upstream's status, headers (minus hop-by-hop ones) and body
//! come back unchanged, the body streamed.
//!
//! The proxy holds real credentials, so it is a security boundary:
//!
//! - **Who is served.** A request must name the proxy in `Host` (and in an absolute-form
//!   target): `127.0.0.1:<port>`, `localhost:<port>` or a name allowed with
//!   [`ProxyBuilder::allow_hosts`]; others get 421, which defeats DNS rebinding. A request
//!   with an `Origin` header, or with `Sec-Fetch-Site: cross-site`/`same-site`, comes from a
//!   web page and gets 403: no browser page may use the credentials.
//! - **Timeouts.** The request head must arrive within the header read timeout (30 s; it also
//!   closes idle keep-alive connections), the body within the body read timeout (60 s, else
//!   408), and the whole upstream exchange, answer body included, must end within the
//!   upstream timeout (60 s: 504 before the answer's head, a cut stream after it).
//! - **Limits.** Bodies are buffered to be hashed, so they are capped (64 MiB, 413 beyond;
//!   at once when `Content-Length` says so). At most 512 connections are served at a time;
//!   further ones wait, unaccepted, in the listen backlog until a connection closes (they
//!   are not refused, so a burst of remote-write shards is slowed, not failed).
//! - **Logs.** A failed answer's logged body has secrets (the credentials' secret and token,
//!   the signature, and anything that reads like a signature, token or secret key) replaced
//!   before it is cut to its logged length, so no part of a secret survives the cut.
//!
//! Durations from the builder are capped at a year, so no deadline computation overflows.

use std::convert::Infallible;
use std::future::{Future, Pending};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::time::{Instant, Timeout};

use ampfed_common::clock::system_time;
use ampfed_common::errors;
use ampfed_common::{system_clock, Clock};

use crate::error::ProxyError;

/// Fault injection for the harness's negative tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningFault {
    /// Sign with a secret key that differs from the one STS issued.
    WrongSecret,
}

/// How the proxy runs.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The one upstream, `http://host:port`; nothing else is ever signed for.
    pub upstream: String,
    /// Signing region.
    pub region: String,
    /// Signing name (`aps` for AMP).
    pub service: String,
    /// Fault injection, `None` in normal runs.
    pub fault: Option<SigningFault>,
}

/// A running proxy; stops when [`SigningProxy::stop`] is called or it is dropped.
pub struct SigningProxy {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Settings beyond [`ProxyOptions`]; [`ProxyBuilder::start`] starts the proxy.
pub struct ProxyBuilder {
    options: ProxyOptions,
    strip: Vec<HeaderName>,
    log_failed_requests: bool,
    clock: Clock,
    max_body: usize,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    upstream_timeout: Duration,
    max_connections: usize,
    allowed_hosts: Vec<AllowedHost>,
    upstream_ca: Option<std::path::PathBuf>,
}

/// A `Host` the operator allows besides the listener's own names (`--allow-host`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct AllowedHost {
    /// Lower-case name (an IPv6 address keeps its brackets).
    name: String,
    /// `None`: any port (or none).
    port: Option<u16>,
}

/// Largest request body the proxy reads by default (SigV4 needs the whole body's hash, so
/// the body is buffered): 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;
/// Connections served at a time by default; more wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default limit of one whole upstream exchange (request sent, answer received).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time for a request head to arrive (and for an idle keep-alive connection to stay).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time for a request body to arrive once its head has.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Longer durations are taken as this one (a year), so no deadline overflows.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A failed answer is read whole to be logged, up to this size (failures are small: an
/// error document); a larger one is a 502.
const FAILED_ANSWER_LIMIT: usize = 16 * 1024 * 1024;
/// Response bodies of failed requests are logged up to this many bytes.
const LOGGED_BODY: usize = 2048;
/// How much of a failed answer is scrubbed before it is cut to [`LOGGED_BODY`]: enough that
/// any secret starting before the cut is whole in what the scrubber sees.
const SCRUBBED_BODY: usize = 1024 * 1024;
/// What replaces a known secret in a logged body.
const REDACTED: &str = "** redacted **";

/// Headers never forwarded: auth from the client, hop-by-hop ones, and what the forwarder
/// sets itself. `x-amz-*` headers are dropped as well (date, token, content hash).
const DROPPED: &[&str] = &[
    "authorization",
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
];

/// Hop-by-hop headers of the upstream's answer, not passed back.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

type ProxyBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
type Failure = (StatusCode, String);

struct State {
    options: ProxyOptions,
    upstream: Upstream,
    /// Keep-alive connections to the upstream, reused across requests (hyper's pool retries a
    /// request once on a fresh connection when a pooled one turns out to be closed).
    client: UpstreamClient,
    credentials: SharedCredentialsProvider,
    strip: Vec<HeaderName>,
    log_failed_requests: bool,
    clock: Clock,
    max_body: usize,
    body_read_timeout: Duration,
    upstream_timeout: Duration,
    /// The `Host` names (lower case) and port of the listener itself.
    own_names: Vec<String>,
    own_port: u16,
    allowed_hosts: Vec<AllowedHost>,
}

type UpstreamClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The parsed upstream: where to connect and what to sign for.
struct Upstream {
    /// `http` or `https`.
    scheme: &'static str,
    authority: Authority,
    /// `host:port` to connect to (port 80 or 443 when the URL has none).
    address: String,
    /// The `Host` header value (no default port), also what the signature covers.
    host: String,
    /// Path prefix of the upstream URL, without a trailing `/`.
    prefix: String,
}

impl Upstream {
    fn parse(upstream: &str) -> Result<Upstream, ProxyError> {
        let bad =
            |reason: &str| ProxyError::Upstream { upstream: upstream.to_owned(), reason: reason.to_owned() };
        let uri: Uri = upstream.parse().map_err(|_| bad("not a URL"))?;
        let (scheme, default_port) = match uri.scheme_str() {
            Some("http") => ("http", 80),
            Some("https") => ("https", 443),
            _ => return Err(bad("the scheme must be http or https")),
        };
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not used; the proxy signs"));
        }
        let host = match authority.port_u16() {
            Some(port) if port == default_port => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        // TLS checks the certificate against this name: connect to the host as written.
        let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(default_port));
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream { scheme, authority, address, host, prefix })
    }
}

impl SigningProxy {
    /// Binds and starts serving in the current tokio runtime, with default settings.
    pub async fn start(
        options: ProxyOptions,
        credentials: impl ProvideCredentials + 'static,
    ) -> Result<SigningProxy, ProxyError> {
        SigningProxy::builder(options).start(credentials).await
    }

    /// A proxy with more settings than [`ProxyOptions`] holds.
    pub fn builder(options: ProxyOptions) -> ProxyBuilder {
        ProxyBuilder {
            options,
            strip: Vec::new(),
            log_failed_requests: false,
            clock: system_clock(),
            max_body: DEFAULT_MAX_BODY,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            allowed_hosts: Vec::new(),
            upstream_ca: None,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections. Safe to call twice.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for SigningProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

impl ProxyBuilder {
    /// Also drops these request headers (awslabs' `-s/--strip`); names are case-insensitive.
    pub fn strip<I, S>(mut self, names: I) -> Result<ProxyBuilder, ProxyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref();
            let parsed = HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
                .map_err(|_| ProxyError::HeaderName(name.to_owned()))?;
            self.strip.push(parsed);
        }
        Ok(self)
    }

    /// Logs every answer with status 400 or more (method, path, status, error type, body start).
    pub fn log_failed_requests(mut self, on: bool) -> ProxyBuilder {
        self.log_failed_requests = on;
        self
    }

    /// The clock dating signatures (the credentials keep their own).
    pub fn clock(mut self, clock: Clock) -> ProxyBuilder {
        self.clock = clock;
        self
    }

    /// Largest request body accepted (413 above it); [`DEFAULT_MAX_BODY`] unless set.
    pub fn max_body(mut self, bytes: usize) -> ProxyBuilder {
        self.max_body = bytes;
        self
    }

    /// How long a request head may take to arrive, and an idle keep-alive connection may
    /// stay open; the connection is closed after it. [`DEFAULT_HEADER_READ_TIMEOUT`] unless
    /// set; at most a year.
    pub fn header_read_timeout(mut self, timeout: Duration) -> ProxyBuilder {
        self.header_read_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// How long a request body may take to arrive once its head has (408 after it).
    /// [`DEFAULT_BODY_READ_TIMEOUT`] unless set; at most a year.
    pub fn body_read_timeout(mut self, timeout: Duration) -> ProxyBuilder {
        self.body_read_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// How long one whole upstream exchange may take, the answer's body included: 504 if the
    /// answer's head has not come by then, a cut stream if its body has not ended.
    /// [`DEFAULT_UPSTREAM_TIMEOUT`] unless set; at most a year.
    pub fn upstream_timeout(mut self, timeout: Duration) -> ProxyBuilder {
        self.upstream_timeout = timeout.min(LONGEST_TIMEOUT);
        self
    }

    /// Trusts the CAs of this PEM file for an `https` upstream, besides the system's roots.
    pub fn upstream_ca(mut self, path: impl Into<std::path::PathBuf>) -> ProxyBuilder {
        self.upstream_ca = Some(path.into());
        self
    }

    /// How many connections are served at a time (at least 1); further ones wait in the
    /// listen backlog until one closes. [`DEFAULT_MAX_CONNECTIONS`] unless set.
    pub fn max_connections(mut self, connections: usize) -> ProxyBuilder {
        self.max_connections = connections.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Also serves requests whose `Host` is one of these, `NAME` (any port) or `NAME:PORT`
    /// (a sidecar reached by its service name, e.g. `kubecost-sigv4-proxy:8005`); names are
    /// case-insensitive. The listener's own `127.0.0.1:<port>` and `localhost:<port>` are
    /// always served.
    pub fn allow_hosts<I, S>(mut self, hosts: I) -> Result<ProxyBuilder, ProxyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for host in hosts {
            let host = host.as_ref();
            let (name, port) = parse_host(host)
                .map_err(|reason| ProxyError::AllowHost { value: host.to_owned(), reason })?;
            self.allowed_hosts.push(AllowedHost { name, port });
        }
        Ok(self)
    }

    /// Binds and starts serving in the current tokio runtime.
    pub async fn start(
        self,
        credentials: impl ProvideCredentials + 'static,
    ) -> Result<SigningProxy, ProxyError> {
        let options = self.options;
        let upstream = Upstream::parse(&options.upstream)?;
        let tls = crate::tls::client_config(self.upstream_ca.as_deref())?;
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let mut own_names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let listen_ip = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        if !own_names.contains(&listen_ip) {
            own_names.push(listen_ip);
        }
        let state = Arc::new(State {
            options,
            upstream,
            client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .pool_max_idle_per_host(32)
                .build(crate::tls::connector(tls)),
            credentials: SharedCredentialsProvider::new(credentials),
            strip: self.strip,
            log_failed_requests: self.log_failed_requests,
            clock: self.clock,
            max_body: self.max_body,
            body_read_timeout: self.body_read_timeout,
            upstream_timeout: self.upstream_timeout,
            own_names,
            own_port: addr.port(),
            allowed_hosts: self.allowed_hosts,
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(self.header_read_timeout);
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let (tx, mut rx) = oneshot::channel::<()>();
        tracing::info!(%addr, upstream = %state.options.upstream, service = %state.options.service, "signing proxy listening");
        tokio::spawn(async move {
            loop {
                // A place first: over the cap, connections wait unaccepted in the backlog.
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
                        tracing::warn!(error = %e, "the signing proxy could not accept a connection");
                        ampfed_common::accept::pause().await;
                        continue;
                    }
                };
                let state = state.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    let _place = permit;
                    let service = service_fn(move |req| handle(state.clone(), req));
                    if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                        tracing::debug!("proxy connection ended: {e}");
                    }
                });
            }
        });
        Ok(SigningProxy { addr, shutdown: Some(tx) })
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (response, secrets) = match forward(&state, req).await {
        Ok((response, secrets)) => (response, secrets),
        Err((status, message)) => {
            tracing::warn!(%method, %path, %status, "{message}");
            let response = Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(full(Bytes::from(message)))
                .unwrap_or_else(|_| Response::new(full(Bytes::new())));
            (response, Vec::new())
        }
    };
    if state.log_failed_requests && response.status().as_u16() >= 400 {
        return Ok(log_failure(&method, &path, response, &secrets).await);
    }
    Ok(response)
}

/// Forwards one request; the answer and the secrets it was signed with (the secret key, the
/// session token, the signature), which a logged answer must not show.
async fn forward(
    state: &State,
    req: Request<Incoming>,
) -> Result<(Response<ProxyBody>, Vec<String>), Failure> {
    let (parts, body) = req.into_parts();
    if let Some(refusal) = from_a_browser(&parts.headers) {
        return Err((StatusCode::FORBIDDEN, refusal));
    }
    if let Some(refusal) = misdirected(state, &parts) {
        return Err((StatusCode::MISDIRECTED_REQUEST, refusal));
    }
    if parts.method == Method::CONNECT {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "ampfed proxy: CONNECT is not proxied".into()));
    }
    // Only the path and query of the request are used: an absolute-form URI or a Host header
    // cannot make the proxy sign for or send to another host.
    let target = parts.uri.path_and_query().map(PathAndQuery::as_str).unwrap_or("/");
    if !target.starts_with('/') {
        // The path only: a query may carry a presigned token, and this message is logged.
        let path = target.split('?').next().unwrap_or_default();
        return Err((StatusCode::BAD_REQUEST, format!("ampfed proxy: bad request target {path:?}")));
    }
    let upstream_target = format!("{}{}", state.upstream.prefix, without_presigned_auth(target));
    let url = format!("{}://{}{upstream_target}", state.upstream.scheme, state.upstream.host);
    let too_large = || {
        (StatusCode::PAYLOAD_TOO_LARGE, format!("ampfed proxy: request body over {} bytes", state.max_body))
    };
    // A declared length (`Content-Length`, the body's lower size bound) over the limit is
    // refused before any of the body is read.
    let declared = body.size_hint().lower();
    if u64::try_from(state.max_body).is_ok_and(|max| declared > max) {
        return Err(too_large());
    }
    let read = Limited::new(body, state.max_body).collect();
    let body = tokio::time::timeout(state.body_read_timeout, read)
        .await
        .map_err(|_| {
            (
                StatusCode::REQUEST_TIMEOUT,
                format!("ampfed proxy: the request body did not arrive within {:?}", state.body_read_timeout),
            )
        })?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                (StatusCode::BAD_REQUEST, format!("ampfed proxy: cannot read the request body: {e}"))
            }
        })?;
    let body = body.to_bytes();

    let headers = forwarded_headers(state, &parts.headers);
    let creds = state.credentials.provide_credentials().await.map_err(|e| {
        (StatusCode::BAD_GATEWAY, format!("ampfed proxy: no credentials: {}", errors::chain(&e)))
    })?;
    let mut signing_headers: Vec<(&str, &str)> =
        headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect();
    signing_headers.push(("host", state.upstream.host.as_str()));
    let (signed, signature) =
        sign_headers(state, &creds, parts.method.as_str(), &url, &signing_headers, &body)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("ampfed proxy: {e}")))?;
    let secrets: Vec<String> =
        [Some(creds.secret_access_key()), creds.session_token(), Some(signature.as_str())]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect();

    // The pool connects to the URI's authority: always the configured upstream's address.
    let mut outgoing = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}://{}{upstream_target}", state.upstream.scheme, state.upstream.address));
    for (name, value) in &headers {
        outgoing = outgoing.header(name, value);
    }
    outgoing = outgoing.header("host", state.upstream.host.as_str()).header("content-length", body.len());
    for (name, value) in signed {
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "ampfed proxy: bad signed header".to_owned()))?;
        value.set_sensitive(true);
        outgoing = outgoing.header(name, value);
    }
    let outgoing = outgoing.body(Full::new(body)).map_err(|e| {
        (StatusCode::BAD_REQUEST, format!("ampfed proxy: cannot build the upstream request: {e}"))
    })?;

    let unreachable = |e: &dyn std::fmt::Display| {
        (
            StatusCode::BAD_GATEWAY,
            format!("ampfed proxy: upstream {} unreachable: {e}", state.upstream.authority),
        )
    };
    // One deadline for the whole exchange: the answer's head, then its body. (`None` only if
    // the deadline is beyond what the clock represents; timeouts are capped far below that.)
    let deadline = Instant::now().checked_add(state.upstream_timeout);
    let exchange = state.client.request(outgoing);
    let response = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, exchange).await.map_err(|_| {
            (
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "ampfed proxy: upstream {} did not answer within {:?}",
                    state.upstream.authority, state.upstream_timeout
                ),
            )
        })?,
        None => exchange.await,
    }
    .map_err(|e| unreachable(&errors::chain(&e)))?;
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let body = body.map_err(|e| Box::new(e) as _).boxed();
    let body = match deadline {
        Some(deadline) => BoxBody::new(Deadline::new(body, deadline, state.upstream_timeout)),
        None => body,
    };
    Ok((Response::from_parts(parts, body), secrets))
}

/// Why a request comes from a web page and is refused, if it does: it carries `Origin`, or
/// fetch metadata naming another site.
fn from_a_browser(headers: &http::HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get("origin") {
        return Some(format!(
            "ampfed proxy: refused a request with an Origin header ({}): it comes from a web browser, \
             and no web page may use this proxy's AWS credentials",
            String::from_utf8_lossy(origin.as_bytes())
        ));
    }
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes().to_ascii_lowercase());
    if matches!(site.as_deref(), Some(b"cross-site" | b"same-site")) {
        return Some(
            "ampfed proxy: refused a request from another site (Sec-Fetch-Site): it comes from a web \
             browser, and no web page may use this proxy's AWS credentials"
                .to_owned(),
        );
    }
    None
}

/// Why a request is not for this proxy, if it is not: its `Host` (and the authority of an
/// absolute-form target) must name the listener or an allowed host.
fn misdirected(state: &State, parts: &http::request::Parts) -> Option<String> {
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => String::from_utf8_lossy(host.as_bytes()).into_owned(),
        (None, _) => return Some(refusal(state, "a request without a Host header")),
        (Some(_), Some(_)) => return Some(refusal(state, "a request with two Host headers")),
    };
    if !host_allowed(state, &host) {
        return Some(refusal(state, &format!("Host {host:?}")));
    }
    match parts.uri.authority() {
        Some(authority) if !host_allowed(state, authority.as_str()) => {
            Some(refusal(state, &format!("the request target's host {:?}", authority.as_str())))
        }
        _ => None,
    }
}

fn refusal(state: &State, what: &str) -> String {
    format!(
        "ampfed proxy: refused {what}: this proxy answers only to the Host names of its listener \
         (127.0.0.1:{port}, localhost:{port}) and to those allowed with --allow-host (names reached \
         through DNS rebinding are not)",
        port = state.own_port
    )
}

/// Whether `host` (a `Host` value) names the listener or an allowed host.
fn host_allowed(state: &State, host: &str) -> bool {
    let Ok((name, port)) = parse_host(host) else { return false };
    let port_or_default = port.unwrap_or(80);
    (port_or_default == state.own_port && state.own_names.contains(&name))
        || state
            .allowed_hosts
            .iter()
            .any(|allowed| allowed.name == name && allowed.port.is_none_or(|p| p == port_or_default))
}

/// `NAME[:PORT]` as in a `Host` header: a DNS name or IPv4 address (letters, digits, `-`, `.`,
/// `_`) or a bracketed IPv6 address, and a port of 1 to 65535. The name comes back in lower
/// case.
fn parse_host(value: &str) -> Result<(String, Option<u16>), String> {
    let (name, port) = if value.starts_with('[') {
        let end = value.find(']').ok_or("an IPv6 address without its closing ']'")?;
        let (name, rest) = value.split_at(end + 1);
        let inner = &name[1..name.len() - 1];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("not an IPv6 address in brackets".to_owned());
        }
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':').ok_or("something after the IPv6 address")?)),
        }
    } else {
        match value.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (value, None),
        }
    };
    if name.is_empty() {
        return Err("no name".to_owned());
    }
    if !name.starts_with('[')
        && !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("a name may hold only letters, digits, '-', '.' and '_'".to_owned());
    }
    let port = match port {
        None => None,
        // Digits only: `u16::from_str` would also take a leading `+`.
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(format!("the port {digits:?} is not a number from 1 to 65535")),
        },
    };
    Ok((name.to_ascii_lowercase(), port))
}

/// `target` without presigned-URL auth parameters (`X-Amz-Signature`, `X-Amz-Credential`, …):
/// a client's own signature must not travel next to the proxy's.
fn without_presigned_auth(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else { return target.to_owned() };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !key.get(..6).is_some_and(|prefix| prefix.eq_ignore_ascii_case("x-amz-"))
        })
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// The request headers that go upstream: no auth, no hop-by-hop ones (including those the
/// `Connection` header names), none of the stripped ones.
fn forwarded_headers(state: &State, headers: &http::HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let named_by_connection = named_by_connection(headers);
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            !(DROPPED.contains(&n)
                || n.starts_with("x-amz-")
                || named_by_connection.iter().any(|c| c == n)
                || state.strip.contains(name))
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The header names a `Connection` header lists: hop-by-hop for this connection only.
fn named_by_connection(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect()
}

fn remove_hop_by_hop(headers: &mut http::HeaderMap) {
    let named = named_by_connection(headers);
    for name in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(name);
    }
}

/// Logs a failed answer; its body is read, logged (scrubbed, then cut to [`LOGGED_BODY`]
/// bytes) and passed on unchanged.
async fn log_failure(
    method: &Method,
    path: &str,
    response: Response<ProxyBody>,
    secrets: &[String],
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    let bytes = match read_failed_answer(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(%method, path, status = %parts.status, "failed request; its answer broke off or was too large: {e}");
            // Never an empty body under the upstream's Content-Length.
            parts.status = StatusCode::BAD_GATEWAY;
            parts.headers.remove(http::header::CONTENT_LENGTH);
            let message = format!("ampfed proxy: the upstream's failed answer could not be read whole: {e}");
            return Response::from_parts(parts, full(Bytes::from(message)));
        }
    };
    let error_type = parts.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
    let shown = logged_body(&bytes, secrets);
    tracing::warn!(%method, path, status = %parts.status, error_type, body = %shown, "failed request");
    Response::from_parts(parts, full(bytes))
}

/// A failed answer's body, whole, if it ends within [`FAILED_ANSWER_LIMIT`] bytes.
async fn read_failed_answer(mut body: ProxyBody) -> Result<Bytes, String> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > FAILED_ANSWER_LIMIT {
                return Err(format!("larger than {FAILED_ANSWER_LIMIT} bytes"));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// The start of a failed answer's body as logged: scrubbed first, and only then cut to
/// [`LOGGED_BODY`] bytes, so a secret across the cut is recognised whole and no part of it
/// is left.
fn logged_body(bytes: &[u8], secrets: &[String]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SCRUBBED_BODY)]);
    let mut scrubbed = scrub(&text, secrets);
    let mut cut = scrubbed.len().min(LOGGED_BODY);
    while !scrubbed.is_char_boundary(cut) {
        cut -= 1;
    }
    scrubbed.truncate(cut);
    scrubbed
}

/// Markers (lower case) after which a secret value follows in a logged body, whatever the
/// upstream echoes: signatures (`Signature=`, `X-Amz-Signature=`), session tokens (header,
/// query parameter, STS's XML and JSON, shared-credentials keys), secret keys, bearer tokens.
const SECRET_MARKERS: &[&str] = &[
    "signature=",
    "x-amz-security-token=",
    "x-amz-security-token:",
    "sessiontoken",
    "session_token",
    "secretaccesskey",
    "secret_access_key",
    "bearer ",
];

/// `text` with the given secrets (as they are and query-encoded) replaced by [`REDACTED`],
/// and the value after every [`SECRET_MARKERS`] entry replaced by `<redacted>`.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        let encoded = query_encoded(secret);
        text = text.replace(secret.as_str(), REDACTED);
        if encoded != *secret {
            text = text.replace(&encoded, REDACTED);
        }
    }
    redact_after_markers(&text)
}

/// Replaces the value after each secret marker (any case). Markers, separators and values
/// are ASCII, so the positions in the lower-cased copy are those of `text`.
fn redact_after_markers(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    loop {
        let next = SECRET_MARKERS
            .iter()
            .filter_map(|marker| lower[at..].find(marker).map(|found| (at + found, marker.len())))
            .min();
        let Some((found, marker_len)) = next else { break };
        let after_marker = found + marker_len;
        if text[..found].ends_with("</") {
            // A closing tag (`</SessionToken>`): what follows it is not its value.
            out.push_str(&text[at..after_marker]);
            at = after_marker;
            continue;
        }
        let separators = text[after_marker..]
            .bytes()
            .take_while(|b| matches!(b, b'"' | b'\'' | b':' | b'=' | b'>' | b' ' | b'\t'))
            .count();
        let value_start = after_marker + separators;
        let value_len = text[value_start..]
            .bytes()
            .take_while(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'%' | b'_' | b'-' | b'.')
            })
            .count();
        out.push_str(&text[at..value_start]);
        if value_len > 0 {
            out.push_str("<redacted>");
        }
        at = value_start + value_len;
    }
    out.push_str(&text[at..]);
    out
}

/// `value` percent-encoded as in a query string (all but RFC 3986 unreserved characters).
fn query_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A response body that ends in an error once `deadline` has passed: the upstream
/// exchange's time limit reaches past the answer's head into its body.
struct Deadline {
    inner: ProxyBody,
    /// A timer (a `Timeout` of a future that never completes) that fires at the deadline.
    timer: Pin<Box<Timeout<Pending<()>>>>,
    limit: Duration,
}

impl Deadline {
    fn new(inner: ProxyBody, deadline: Instant, limit: Duration) -> Deadline {
        Deadline { inner, timer: Box::pin(tokio::time::timeout_at(deadline, std::future::pending())), limit }
    }
}

impl Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(_) => {
                let message = format!("the upstream's answer did not end within {:?}", self.limit);
                tracing::warn!("{message}");
                Poll::Ready(Some(Err(message.into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// The headers SigV4 adds (`authorization`, `x-amz-date`, `x-amz-security-token`), and the
/// signature.
fn sign_headers(
    state: &State,
    creds: &Credentials,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(Vec<(String, String)>, String), ProxyError> {
    let secret = match state.options.fault {
        Some(SigningFault::WrongSecret) => format!("{}-wrong", creds.secret_access_key()),
        None => creds.secret_access_key().to_owned(),
    };
    let identity = Credentials::new(
        creds.access_key_id(),
        secret,
        creds.session_token().map(str::to_owned),
        creds.expiry(),
        "proxy",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&state.options.region)
        .name(&state.options.service)
        .time(system_time(&state.clock))
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ProxyError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| ProxyError::Sign(e.to_string()))?;
    let (instructions, signature) =
        sign(signable, &params).map_err(|e| ProxyError::Sign(e.to_string()))?.into_parts();
    Ok((instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(), signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_name_and_port_or_not_at_all() {
        let ok = |value: &str| parse_host(value).unwrap();
        assert_eq!(ok("LocalHost:8005"), ("localhost".to_owned(), Some(8005)));
        assert_eq!(ok("kubecost-sigv4-proxy"), ("kubecost-sigv4-proxy".to_owned(), None));
        assert_eq!(ok("[::1]:8005"), ("[::1]".to_owned(), Some(8005)));
        assert_eq!(ok("[::1]"), ("[::1]".to_owned(), None));
        assert_eq!(ok("127.0.0.1:65535"), ("127.0.0.1".to_owned(), Some(65535)));
        for bad in [
            "", ":80", "a:", "a:0", "a:65536", "a:+80", "a:8005:1", "::1", "[::1", "[::1]x", "[zz]", "a b",
            "user@a", "a/b", "a?b", "http://a",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn scrubbing_replaces_known_secrets_and_values_after_markers() {
        let secrets = ["s3cr3t/key+x".to_owned(), "t0ken".to_owned()];
        let text = "a s3cr3t/key+x b s3cr3t%2Fkey%2Bx c t0ken, Authorization: AWS4-HMAC-SHA256 \
                    Credential=AKIA/x, SignedHeaders=host, Signature=0123abcd; \
                    <SessionToken>other+token=</SessionToken> \"SecretAccessKey\": \"k/ey\" Bearer eyJ.a.b";
        let scrubbed = scrub(text, &secrets);
        assert_eq!(
            scrubbed,
            "a ** redacted ** b ** redacted ** c ** redacted **, Authorization: AWS4-HMAC-SHA256 \
             Credential=AKIA/x, SignedHeaders=host, Signature=<redacted>; \
             <SessionToken><redacted></SessionToken> \"SecretAccessKey\": \"<redacted>\" Bearer <redacted>"
        );
    }

    #[test]
    fn the_logged_body_is_scrubbed_before_it_is_cut() {
        let secret = "abcdefghijklmnopqrstuvwxyz0123456789ABCD".to_owned();
        let body = format!("{}{secret}", "-".repeat(LOGGED_BODY - 10));
        let logged = logged_body(body.as_bytes(), std::slice::from_ref(&secret));
        assert_eq!(logged.len(), LOGGED_BODY);
        assert!(logged.ends_with("** redacte") && !logged.contains("abcdefghij"), "{logged}");
        // Cut on a character boundary.
        let wide = format!("{}é", "-".repeat(LOGGED_BODY - 1));
        assert_eq!(logged_body(wide.as_bytes(), &[]).len(), LOGGED_BODY - 1);
    }
}
