//! The proxy's HTTP server: hyper on 127.0.0.1, one upstream, SigV4 with `aws-sigv4`.
//!
//! Per request: the body is read whole (`Content-Length` or chunked; SigV4 needs its hash);
//! incoming auth headers (and presigned `X-Amz-*` query parameters), hop-by-hop headers and
//! the configured ones are dropped; the rest is signed for the upstream's host and sent there
//! over a fresh HTTP/1.1 connection with a `Content-Length`. Only the path and query of the request target are used, so neither the
//! `Host` header nor an absolute-form URI can point the proxy anywhere else. The upstream's
//! status, headers (minus hop-by-hop ones) and body come back unchanged, the body streamed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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
}

/// Largest request body the proxy reads (SigV4 needs the whole body's hash).
const DEFAULT_MAX_BODY: usize = 256 * 1024 * 1024;

/// Response bodies of failed requests are logged up to this many bytes.
const LOGGED_BODY: usize = 2048;

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
}

type UpstreamClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// The parsed upstream: where to connect and what to sign for.
struct Upstream {
    authority: Authority,
    /// `host:port` to connect to (port 80 when the URL has none).
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
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(bad("https upstream not built yet (no TLS client); use http")),
            _ => return Err(bad("the scheme must be http")),
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        let host = match authority.port_u16() {
            Some(80) => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream { authority, address, host, prefix })
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

    /// Largest request body accepted (413 above it).
    pub fn max_body(mut self, bytes: usize) -> ProxyBuilder {
        self.max_body = bytes;
        self
    }

    /// Binds and starts serving in the current tokio runtime.
    pub async fn start(
        self,
        credentials: impl ProvideCredentials + 'static,
    ) -> Result<SigningProxy, ProxyError> {
        let options = self.options;
        let upstream = Upstream::parse(&options.upstream)?;
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let state = Arc::new(State {
            options,
            upstream,
            client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .pool_max_idle_per_host(32)
                .build_http(),
            credentials: SharedCredentialsProvider::new(credentials),
            strip: self.strip,
            log_failed_requests: self.log_failed_requests,
            clock: self.clock,
            max_body: self.max_body,
        });
        let (tx, mut rx) = oneshot::channel::<()>();
        tracing::info!(%addr, upstream = %state.options.upstream, service = %state.options.service, "signing proxy listening");
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = state.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |req| handle(state.clone(), req));
                            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                                tracing::debug!("proxy connection ended: {e}");
                            }
                        });
                    }
                }
            }
        });
        Ok(SigningProxy { addr, shutdown: Some(tx) })
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (response, creds) = match forward(&state, req).await {
        Ok((response, creds)) => (response, Some(creds)),
        Err((status, message)) => {
            tracing::warn!(%method, %path, %status, "{message}");
            let response = Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(full(Bytes::from(message)))
                .unwrap_or_else(|_| Response::new(full(Bytes::new())));
            (response, None)
        }
    };
    if state.log_failed_requests && response.status().as_u16() >= 400 {
        return Ok(log_failure(&method, &path, response, creds.as_ref()).await);
    }
    Ok(response)
}

/// Forwards one request; the answer and the credentials it was signed with.
async fn forward(
    state: &State,
    req: Request<Incoming>,
) -> Result<(Response<ProxyBody>, Credentials), Failure> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::CONNECT {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "ampfed proxy: CONNECT is not proxied".into()));
    }
    // Only the path and query of the request are used: an absolute-form URI or a Host header
    // cannot make the proxy sign for or send to another host.
    let target = parts.uri.path_and_query().map(PathAndQuery::as_str).unwrap_or("/");
    if !target.starts_with('/') {
        return Err((StatusCode::BAD_REQUEST, format!("ampfed proxy: bad request target {target:?}")));
    }
    let upstream_target = format!("{}{}", state.upstream.prefix, without_presigned_auth(target));
    let url = format!("http://{}{upstream_target}", state.upstream.host);
    let body = Limited::new(body, state.max_body).collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("ampfed proxy: request body over {} bytes", state.max_body),
            )
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
    let signed = sign_headers(state, &creds, parts.method.as_str(), &url, &signing_headers, &body)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("ampfed proxy: {e}")))?;

    // The pool connects to the URI's authority: always the configured upstream's address.
    let mut outgoing = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{upstream_target}", state.upstream.address));
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
    let response = state.client.request(outgoing).await.map_err(|e| unreachable(&errors::chain(&e)))?;
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    Ok((Response::from_parts(parts, body.map_err(|e| Box::new(e) as _).boxed()), creds))
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

/// Logs a failed answer; its body is read (up to a limit), logged and passed on unchanged.
async fn log_failure(
    method: &Method,
    path: &str,
    response: Response<ProxyBody>,
    creds: Option<&Credentials>,
) -> Response<ProxyBody> {
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(%method, path, status = %parts.status, "failed request; its answer broke off: {e}");
            Bytes::new()
        }
    };
    let error_type = parts.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(LOGGED_BODY)]).into_owned();
    let shown = scrub(shown, creds);
    tracing::warn!(%method, path, status = %parts.status, error_type, body = %shown, "failed request");
    Response::from_parts(parts, full(bytes))
}

/// Replaces the secret and session token the request was signed with in `text`, should an
/// upstream echo them.
fn scrub(mut text: String, creds: Option<&Credentials>) -> String {
    let Some(creds) = creds else { return text };
    for secret in [Some(creds.secret_access_key()), creds.session_token()].into_iter().flatten() {
        if !secret.is_empty() {
            text = text.replace(secret, "** redacted **");
        }
    }
    text
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// The headers SigV4 adds (`authorization`, `x-amz-date`, `x-amz-security-token`).
fn sign_headers(
    state: &State,
    creds: &Credentials,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, ProxyError> {
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
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| ProxyError::Sign(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}
