//! Direct reads: a GetObject sent without aws-sdk-s3's request pipeline.
//!
//! A federation reads tens of thousands of small objects (60,000 at 1000 clusters and 30
//! days). A `perf` profile of those reads put four fifths of the client's CPU in the SDK's
//! pipeline around the HTTP exchange: interceptors and their config bag, the S3 endpoint
//! rules, the user agent, retry bookkeeping, output parsing; more than decoding the object
//! took. [`Direct`] sends the same request itself: the path-style URL the SDK builds for the
//! store (`force_path_style`), signed with `aws-sigv4` (the SDK's own signer) with S3's
//! settings, on a keep-alive hyper pool, with the store's credentials provider (its
//! credentials kept until five minutes before they expire) and the store's connect and
//! attempt time limits. Its failures are classified as the SDK path's are
//! ([`crate::object::classify`]), and a transient one is tried again, three attempts in all,
//! as the SDK's standard retries do.
//!
//! Only plain-HTTP endpoints are read this way (the embedded S3, LocalStack, a MinIO on the
//! same network): over HTTPS, S3 answers in tens of milliseconds and the SDK's CPU does not
//! bound a run, so those stores keep the SDK for every call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use ampfed_common::errors;
use ampfed_common::wait::{Poll, Wait, WaitError};

use crate::object::{classify, BodyBuffer, Fetched};
use crate::{FederationError, S3Failure};

/// Attempts of one GET (the SDK's standard retry mode makes three).
const ATTEMPTS: u32 = 3;
/// The pause before the second attempt; doubled before the third (`ampfed_common::wait`).
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Credentials this close to their expiry are fetched again.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// The most of an error answer's body read for its code and message.
const MAX_ERROR_BODY: usize = 64 << 10;
/// Connections kept open for the next GET.
const IDLE_PER_HOST: usize = 64;

/// What S3 leaves unescaped in an object key's path: letters, digits, `-._~` and `/` (the
/// SDK's greedy label encoding).
const KEY_PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// The direct GETs of one store.
pub(crate) struct Direct {
    client: Client<HttpConnector, Empty<Bytes>>,
    /// `http://host:port/bucket/`.
    base: String,
    /// The `Host` header signed and sent: the endpoint's authority.
    host: String,
    region: String,
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
    attempt_timeout: Duration,
    sent: AtomicU64,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("base", &self.base)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Direct {
    /// Direct GETs for `bucket` at `endpoint`, or `None` when the endpoint is not plain HTTP
    /// or not a URL with a host (the store then reads through the SDK).
    pub(crate) fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        provider: SharedCredentialsProvider,
        connect_timeout: Duration,
        attempt_timeout: Duration,
    ) -> Option<Direct> {
        let uri: http::Uri = endpoint.parse().ok()?;
        if uri.scheme_str() != Some("http")
            || !uri.path().trim_end_matches('/').is_empty()
            || uri.query().is_some()
        {
            return None;
        }
        let authority = uri.authority()?;
        let host = match authority.port_u16() {
            Some(80) => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .build(connector);
        let bucket = utf8_percent_encode(bucket, KEY_PATH);
        Some(Direct {
            client,
            base: format!("http://{host}/{bucket}/"),
            host,
            region: region.to_owned(),
            provider,
            cached: Mutex::new(None),
            attempt_timeout,
            sent: AtomicU64::new(0),
        })
    }

    /// The HTTP requests sent so far (every attempt).
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The URL of `key`.
    pub(crate) fn url(&self, key: &str) -> String {
        format!("{}{}", self.base, utf8_percent_encode(key, KEY_PATH))
    }

    /// Reads `key` whole, refusing a body over `limit` bytes ([`FederationError::TooLarge`])
    /// before reading more than `limit` of it.
    pub(crate) async fn get(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        // Bounded by the attempts: three attempt limits and the pauses between them.
        let bound = self.attempt_timeout * ATTEMPTS + FIRST_BACKOFF * 4;
        let wait = Wait::new(format!("GetObject {key}"), bound).backoff(FIRST_BACKOFF, FIRST_BACKOFF * 2);
        let mut attempts = 0;
        let read = wait
            .until(|| {
                attempts += 1;
                let attempt = attempts;
                async move {
                    let timed = tokio::time::timeout(self.attempt_timeout, self.attempt(key, limit)).await;
                    let result = timed.unwrap_or_else(|_| {
                        Err(transient(
                            key,
                            format!(
                                "no answer within the attempt limit of {:.1} s",
                                self.attempt_timeout.as_secs_f64()
                            ),
                        ))
                    });
                    match result {
                        Ok(fetched) => Ok(Poll::Ready(fetched)),
                        Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                            tracing::debug!(key, attempt, error = %e, "a direct GET failed; trying again");
                            Ok(Poll::Pending(e.to_string()))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await;
        read.map_err(|e| match e {
            WaitError::Failed(e) => e,
            WaitError::TimedOut { last, .. } => transient(key, last),
            WaitError::Cancelled { what } => FederationError::Cancelled { what },
        })
    }

    async fn attempt(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        let credentials = self.credentials().await.map_err(|message| local(key, message))?;
        let url = self.url(key);
        let request = signed_get(&url, &self.host, &self.region, &credentials, SystemTime::now())
            .map_err(|message| local(key, message))?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let response = self.client.request(request).await.map_err(|e| transient(key, errors::chain(&e)))?;
        let (parts, mut body) = response.into_parts();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if !parts.status.is_success() {
            let mut text = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    text.extend_from_slice(&data[..data.len().min(MAX_ERROR_BODY - text.len())]);
                }
                if text.len() >= MAX_ERROR_BODY {
                    break;
                }
            }
            return Err(refusal(key, parts.status.as_u16(), &String::from_utf8_lossy(&text)));
        }
        let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
        let mut buffer = BodyBuffer::new(key, declared, limit)?;
        let etag = header("etag").map(str::to_owned);
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| transient(key, format!("the body was cut short: {}", errors::chain(&e))))?;
            if let Some(data) = frame.data_ref() {
                buffer.push(data)?;
            }
        }
        if declared.is_some_and(|d| d != buffer.len() as u64) {
            return Err(transient(key, format!("the body was cut short at {} bytes", buffer.len())));
        }
        Ok(buffer.finish(etag))
    }

    /// The provider's credentials, fetched again when they are within [`REFRESH_AHEAD`] of
    /// expiring.
    async fn credentials(&self) -> Result<Credentials, String> {
        let fresh = |c: &Credentials| c.expiry().is_none_or(|e| e > SystemTime::now() + REFRESH_AHEAD);
        if let Some(c) = self.cached.lock().unwrap_or_else(|p| p.into_inner()).as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| format!("no credentials to sign with: {}", errors::chain(&e)))?;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }
}

/// A GET of `url` signed as S3 wants it: the path as sent (no double escaping, no
/// normalisation) and `x-amz-content-sha256` carrying the empty body's hash.
fn signed_get(
    url: &str,
    host: &str,
    region: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<http::Request<Empty<Bytes>>, String> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [("host", host)];
    let signable = SignableRequest::new("GET", url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    let mut request = http::Request::get(url).header("host", host);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    request.body(Empty::new()).map_err(|e| e.to_string())
}

fn transient(key: &str, message: String) -> FederationError {
    FederationError::S3 {
        operation: "GetObject",
        target: key.to_owned(),
        message,
        failure: S3Failure::Transient,
    }
}

fn local(key: &str, message: String) -> FederationError {
    FederationError::S3 { operation: "GetObject", target: key.to_owned(), message, failure: S3Failure::Local }
}

/// S3's refusal with `status`: the code and message of its XML error body, classified as the
/// SDK path classifies them.
fn refusal(key: &str, status: u16, body: &str) -> FederationError {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim())
    };
    let code = element("Code").filter(|c| !c.is_empty());
    let message = match code {
        Some(code) => format!("{code}: {}", element("Message").unwrap_or("(no message)")),
        None => format!("HTTP {status} without an S3 error code"),
    };
    FederationError::S3 {
        operation: "GetObject",
        target: key.to_owned(),
        message,
        failure: classify(Some(status), code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(endpoint: &str) -> Option<Direct> {
        let provider = SharedCredentialsProvider::new(Credentials::new("AKID", "secret", None, None, "test"));
        Direct::new(endpoint, "bucket", "us-east-1", provider, Duration::from_secs(1), Duration::from_secs(1))
    }

    #[test]
    fn only_plain_http_endpoints_are_read_directly() {
        assert!(direct("http://127.0.0.1:9000").is_some());
        assert!(direct("http://127.0.0.1:9000/").is_some());
        assert!(direct("https://s3.us-east-1.amazonaws.com").is_none());
        assert!(direct("http://127.0.0.1:9000/prefix").is_none());
        assert!(direct("127.0.0.1:9000").is_none());
    }

    #[test]
    fn keys_are_escaped_as_the_sdk_escapes_them() {
        let d = direct("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            d.url("federated/a b+c/etl/x~y_z-1.parquet"),
            "http://127.0.0.1:9000/bucket/federated/a%20b%2Bc/etl/x~y_z-1.parquet"
        );
        assert_eq!(d.url("é?#"), "http://127.0.0.1:9000/bucket/%C3%A9%3F%23");
        assert_eq!(direct("http://localhost:80").unwrap().url("k"), "http://localhost/bucket/k");
    }

    #[test]
    fn refusals_carry_s3s_code_and_class() {
        let body =
            "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        let e = refusal("k", 404, body);
        assert_eq!(e.s3_failure(), Some(S3Failure::NotFound));
        assert!(e.to_string().contains("NoSuchKey: The specified key does not exist."), "{e}");
        assert_eq!(
            refusal("k", 503, "<Error><Code>SlowDown</Code></Error>").s3_failure(),
            Some(S3Failure::Transient)
        );
        assert_eq!(refusal("k", 403, "").s3_failure(), Some(S3Failure::Refused));
        assert!(refusal("k", 403, "").to_string().contains("HTTP 403 without an S3 error code"));
    }
}
