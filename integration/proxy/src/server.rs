//! The proxy's HTTP server: hyper on 127.0.0.1, one upstream, SigV4 with `aws-sigv4`.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::credentials::WebIdentityCredentials;
use crate::{ProxyError, SigningFault};

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

struct State {
    options: ProxyOptions,
    credentials: WebIdentityCredentials,
    upstream: ureq::Agent,
}

/// Headers never forwarded: auth from the client, hop-by-hop, and what the forwarder sets.
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

impl SigningProxy {
    /// Binds and starts serving in the current tokio runtime.
    pub async fn start(
        options: ProxyOptions,
        credentials: WebIdentityCredentials,
    ) -> Result<SigningProxy, ProxyError> {
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Listen { addr: options.listen.to_string(), source })?;
        let upstream = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        let state = Arc::new(State { options, credentials, upstream });
        let (tx, mut rx) = oneshot::channel::<()>();
        tracing::info!(%addr, upstream = %state.options.upstream, "signing proxy listening");
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

impl Drop for SigningProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match forward(&state, req).await {
        Ok(response) => response,
        Err((status, message)) => {
            tracing::error!(%status, "{message}");
            Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from(message)))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
        }
    })
}

type Failure = (StatusCode, String);

async fn forward(state: &State, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Failure> {
    let (parts, body) = req.into_parts();
    // Only the path and query of the request are used: an absolute-form URI or a Host header
    // cannot make the proxy sign for another host.
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if !path_and_query.starts_with('/') {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("ampfed proxy: bad request target {path_and_query:?}"),
        ));
    }
    let url = format!("{}{}", state.options.upstream.trim_end_matches('/'), path_and_query);
    let body = body
        .collect()
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("ampfed proxy: cannot read the request body: {e}")))?
        .to_bytes();
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if DROPPED.contains(&name) || name.starts_with("x-amz-") {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.push((name.to_owned(), v.to_owned()));
        }
    }
    let creds =
        state.credentials.get().await.map_err(|e| (StatusCode::BAD_GATEWAY, format!("ampfed proxy: {e}")))?;
    let signed = sign_headers(&state.options, &creds, parts.method.as_str(), &url, &headers, &body)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("ampfed proxy: {e}")))?;
    headers.extend(signed);
    let method = parts.method.as_str().to_owned();
    let agent = state.upstream.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut call = agent.request(&method, &url);
        for (k, v) in &headers {
            call = call.set(k, v);
        }
        let response = match call.send_bytes(&body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("ampfed proxy: upstream {url} unreachable: {e}")),
        };
        let status = response.status();
        let kept: Vec<(String, String)> = ["content-type", "x-amzn-errortype", "retry-after"]
            .iter()
            .filter_map(|h| response.header(h).map(|v| (h.to_string(), v.to_owned())))
            .collect();
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(256 * 1024 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("ampfed proxy: reading the upstream answer failed: {e}"))?;
        Ok((status, kept, bytes))
    })
    .await
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("ampfed proxy: forwarding task failed: {e}")))?
    .map_err(|m| (StatusCode::BAD_GATEWAY, m))?;
    let (status, kept, bytes) = result;
    let mut builder = Response::builder().status(status);
    for (k, v) in kept {
        builder = builder.header(k, v);
    }
    builder
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("ampfed proxy: bad upstream answer: {e}")))
}

/// The headers SigV4 adds (`authorization`, `x-amz-date`, `x-amz-security-token`).
fn sign_headers(
    options: &ProxyOptions,
    creds: &Credentials,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, ProxyError> {
    let secret = match options.fault {
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
        .region(&options.region)
        .name(&options.service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ProxyError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| ProxyError::Sign(e.to_string()))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| ProxyError::Sign(e.to_string()))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}
