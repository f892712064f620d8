//! Direct reads: GetObject, and ListObjectsV2 a page at a time ([`crate::listing`] reads the
//! page), sent without aws-sdk-s3's request pipeline.
//!
//! A federation reads tens of thousands of small objects (60,000 at 1000 clusters and 30
//! days). A `perf` profile of those reads put four fifths of the client's CPU in the SDK's
//! pipeline around the HTTP exchange: interceptors and their config bag, the S3 endpoint
//! rules, the user agent, retry bookkeeping, output parsing; more than decoding the object
//! took. [`Direct`] sends the same request itself: the path-style URL the SDK builds for the
//! store (`force_path_style`), signed as the SDK signs it for S3 ([`Signer`]: SigV4 with the
//! path as sent, `x-amz-content-sha256`, the session token signed; the day's derived key
//! kept, where the SDK's generic signer derived it again and took a sixth of a read's CPU),
//! on a keep-alive hyper pool, with the store's credentials provider (its
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

use ampfed_sigv4::canonical::{
    credential_scope, encode_path, encode_query_component, signature, signing_key, string_to_sign,
};
use ampfed_sigv4::date::format_amz_date;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use ampfed_common::errors;
use ampfed_common::wait::{Poll, Wait, WaitError};

use crate::listing::{self, Unread};
use crate::object::{classify, BodyBuffer, Fetched, Level, Span};
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

/// The most bytes of one listing page read: S3's 1,000 keys a page of at most 1,024 bytes
/// each, escaped, with their other elements, stay well under it.
const MAX_LIST_PAGE: u64 = 16 << 20;

/// The direct GETs (reads and listings) of one store.
pub(crate) struct Direct {
    client: Client<HttpConnector, Empty<Bytes>>,
    /// `http://host:port`.
    origin: String,
    /// `/bucket/`, escaped.
    base: String,
    /// The `Host` header signed and sent: the endpoint's authority.
    host: String,
    signer: Signer,
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
    attempt_timeout: Duration,
    sent: AtomicU64,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("origin", &self.origin)
            .field("base", &self.base)
            .field("region", &self.signer.region)
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
        let bucket = encode_path(bucket);
        Some(Direct {
            client,
            origin: format!("http://{host}"),
            base: format!("/{bucket}/"),
            host,
            signer: Signer::new(region),
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
    #[cfg(test)]
    pub(crate) fn url(&self, key: &str) -> String {
        format!("{}{}", self.origin, self.path(key))
    }

    /// The path of `key`'s URL: the bucket and the key, escaped as the SDK escapes them.
    fn path(&self, key: &str) -> String {
        format!("{}{}", self.base, encode_path(key))
    }

    /// Reads `key` whole, refusing a body over `limit` bytes ([`FederationError::TooLarge`])
    /// before reading more than `limit` of it.
    pub(crate) async fn get(&self, key: &str, limit: u64) -> Result<Fetched, FederationError> {
        let call = Call { operation: "GetObject", target: key, path: &self.path(key), query: "" };
        let (bytes, etag) = self.exchange(&call, limit).await?;
        Ok(Fetched::with_etag(bytes, etag))
    }

    /// The objects and common prefixes `span` asks for, in S3's order (ListObjectsV2, a page
    /// at a time), or `None` when a page is written in a way [`listing::page`] does not
    /// read, for the caller to list through the SDK.
    pub(crate) async fn list(&self, span: &Span<'_>) -> Result<Option<Level>, FederationError> {
        let path = self.base.trim_end_matches('/');
        let prefix = span.prefix;
        let mut level = Level::default();
        let mut token: Option<String> = None;
        loop {
            let query = list_query(span, token.as_deref());
            let call = Call { operation: "ListObjectsV2", target: prefix, path, query: &query };
            let (bytes, _) = self.exchange(&call, MAX_LIST_PAGE).await?;
            let read = std::str::from_utf8(&bytes).map_err(|_| Unread("not UTF-8".into()));
            let page = match read.and_then(listing::page) {
                Ok(page) => page,
                Err(Unread(why)) => {
                    tracing::debug!(prefix, why, "a listing page the direct reader does not read");
                    return Ok(None);
                }
            };
            let stops = span.stops(page.listed.last());
            level.listed.extend(page.listed);
            level.prefixes.extend(page.prefixes);
            match page.next {
                None => return Ok(Some(level)),
                Some(_) if stops => return Ok(Some(level)),
                Some(next) if token.as_deref() == Some(next.as_str()) => {
                    let message = format!("S3 gave the continuation token {next:?} twice in a row");
                    return Err(call.error(message, S3Failure::Refused));
                }
                Some(next) => token = Some(next),
            }
        }
    }

    /// Sends `call` and reads its answer's body whole (at most `limit` bytes), trying a
    /// transient failure again: three attempts in all. The body, and the ETag S3 gave (none
    /// for a listing page, whose body is not hashed either).
    async fn exchange(
        &self,
        call: &Call<'_>,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), FederationError> {
        // Bounded by the attempts: three attempt limits and the pauses between them.
        let bound = self.attempt_timeout * ATTEMPTS + FIRST_BACKOFF * 4;
        let wait = Wait::new(format!("{} {}", call.operation, call.target), bound)
            .backoff(FIRST_BACKOFF, FIRST_BACKOFF * 2);
        let mut attempts = 0;
        let read = wait
            .until(|| {
                attempts += 1;
                let attempt = attempts;
                async move {
                    let timed = tokio::time::timeout(self.attempt_timeout, self.attempt(call, limit)).await;
                    let result = timed.unwrap_or_else(|_| {
                        Err(call.transient(format!(
                            "no answer within the attempt limit of {:.1} s",
                            self.attempt_timeout.as_secs_f64()
                        )))
                    });
                    match result {
                        Ok(fetched) => Ok(Poll::Ready(fetched)),
                        Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                            tracing::debug!(
                                operation = call.operation,
                                target = call.target,
                                attempt,
                                error = %e,
                                "a direct request failed; trying again"
                            );
                            Ok(Poll::Pending(e.to_string()))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await;
        read.map_err(|e| match e {
            WaitError::Failed(e) => e,
            WaitError::TimedOut { last, .. } => call.transient(last),
            WaitError::Cancelled { what } => FederationError::Cancelled { what },
        })
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), FederationError> {
        let credentials = self.credentials().await.map_err(|message| call.local(message))?;
        let request = self
            .signer
            .get(&self.origin, call.path, call.query, &self.host, &credentials, SystemTime::now())
            .map_err(|message| call.local(message))?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let response = self.client.request(request).await.map_err(|e| call.transient(errors::chain(&e)))?;
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
            return Err(call.refusal(parts.status.as_u16(), &String::from_utf8_lossy(&text)));
        }
        let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
        let mut buffer = BodyBuffer::new(call.target, declared, limit)?;
        let etag = header("etag").map(str::to_owned);
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| call.transient(format!("the body was cut short: {}", errors::chain(&e))))?;
            if let Some(data) = frame.data_ref() {
                buffer.push(data)?;
            }
        }
        if declared.is_some_and(|d| d != buffer.len() as u64) {
            return Err(call.transient(format!("the body was cut short at {} bytes", buffer.len())));
        }
        Ok((buffer.into_bytes(), etag))
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

/// The hex SHA-256 of an empty body: a GET's `x-amz-content-sha256`.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// SigV4 for GETs as aws-sdk-s3 signs them: the path as sent (its keys escaped once, not
/// normalised), the query as sent (already in canonical form), the signed headers `host`,
/// `x-amz-content-sha256` (the empty body's hash), `x-amz-date` and, with temporary
/// credentials, `x-amz-security-token`. The derived key of the last secret and day is kept:
/// deriving it is four HMACs a request.
struct Signer {
    region: String,
    /// The secret, the scope date (`yyyymmdd`) and their derived key.
    kept: Mutex<Option<(String, String, [u8; 32])>>,
}

impl Signer {
    fn new(region: &str) -> Signer {
        Signer { region: region.to_owned(), kept: Mutex::new(None) }
    }

    /// The derived key of `secret` on `date`.
    fn key(&self, secret: &str, date: &str) -> [u8; 32] {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        match kept.as_ref() {
            Some((s, d, key)) if s == secret && d == date => *key,
            _ => {
                let key = signing_key(secret, date, &self.region, "s3");
                *kept = Some((secret.to_owned(), date.to_owned(), key));
                key
            }
        }
    }

    /// A GET of `origin` + `path` (escaped already) and `query` (canonical: its parameters
    /// sorted, escaped by `encode_query_component`; empty for none) for `host`, signed at `now`.
    fn get(
        &self,
        origin: &str,
        path: &str,
        query: &str,
        host: &str,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<http::Request<Empty<Bytes>>, String> {
        let amz_date = format_amz_date(chrono::DateTime::<chrono::Utc>::from(now));
        let date = &amz_date[..8];
        let token = credentials.session_token();
        let (token_line, signed_headers) = match token {
            Some(t) => (
                format!("x-amz-security-token:{}\n", t.trim()),
                "host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
            ),
            None => (String::new(), "host;x-amz-content-sha256;x-amz-date"),
        };
        let canonical = format!(
            "GET\n{path}\n{query}\nhost:{host}\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{amz_date}\n\
             {token_line}\n{signed_headers}\n{EMPTY_SHA256}"
        );
        let scope = credential_scope(date, &self.region, "s3");
        let key = self.key(credentials.secret_access_key(), date);
        let signature = signature(&key, &string_to_sign(&amz_date, &scope, &canonical));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id()
        );
        let uri = match query {
            "" => format!("{origin}{path}"),
            q => format!("{origin}{path}?{q}"),
        };
        let mut request = http::Request::get(uri)
            .header("host", host)
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", EMPTY_SHA256)
            .header("authorization", authorization);
        if let Some(t) = token {
            request = request.header("x-amz-security-token", t);
        }
        request.body(Empty::new()).map_err(|e| e.to_string())
    }
}

/// The query of a ListObjectsV2 page of `span` (after `token`, the first page's start
/// without it): its parameters in SigV4's canonical order (sorted by name) and escaping,
/// sent as signed.
fn list_query(span: &Span<'_>, token: Option<&str>) -> String {
    let mut query = String::new();
    if let Some(t) = token {
        query.push_str(&format!("continuation-token={}&", encode_query_component(t)));
    }
    if let Some(d) = span.delimiter {
        query.push_str(&format!("delimiter={}&", encode_query_component(d)));
    }
    query.push_str(&format!("list-type=2&prefix={}", encode_query_component(span.prefix)));
    if let (None, Some(after)) = (token, span.start_after) {
        query.push_str(&format!("&start-after={}", encode_query_component(after)));
    }
    query
}

/// One request of the direct reads: the S3 operation and what it names (a key, a prefix),
/// for its errors, and the escaped path and canonical query it sends.
struct Call<'a> {
    operation: &'static str,
    target: &'a str,
    path: &'a str,
    query: &'a str,
}

impl Call<'_> {
    fn error(&self, message: String, failure: S3Failure) -> FederationError {
        FederationError::S3 { operation: self.operation, target: self.target.to_owned(), message, failure }
    }

    fn transient(&self, message: String) -> FederationError {
        self.error(message, S3Failure::Transient)
    }

    fn local(&self, message: String) -> FederationError {
        self.error(message, S3Failure::Local)
    }

    /// S3's refusal with `status`: the code and message of its XML error body, classified as
    /// the SDK path classifies them.
    fn refusal(&self, status: u16, body: &str) -> FederationError {
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
        self.error(message, classify(Some(status), code))
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

    /// The headers aws-sdk-s3's signer (`aws-sigv4` with S3's settings) adds to the GET.
    fn sdk_signed(
        url: &str,
        host: &str,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{
            sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
            UriPathNormalizationMode,
        };
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = credentials.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable =
            SignableRequest::new("GET", url, [("host", host)].into_iter(), SignableBody::Bytes(&[])).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut headers: Vec<(String, String)> =
            instructions.headers().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        headers.sort();
        headers
    }

    #[test]
    fn gets_are_signed_as_the_sdk_signs_them() {
        let d = Direct::new(
            "http://127.0.0.1:9000",
            "bucket",
            "eu-west-1",
            SharedCredentialsProvider::new(Credentials::new("AKID", "s", None, None, "test")),
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap();
        let day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let long_term =
            Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "t");
        let temporary = Credentials::new("ASIAEXAMPLE", "other/secret", Some("token+/=".into()), None, "t");
        // Two days with one signer: the kept key is that of the day and secret signed with.
        for now in [day, day + Duration::from_secs(86_400), day] {
            for credentials in [&long_term, &temporary, &long_term] {
                for key in ["federated/a b+c/etl/x~y_z-1.parquet", "é?#=%", "k"] {
                    let (path, url) = (d.path(key), d.url(key));
                    assert_eq!(
                        signed(&d, &path, "", credentials, now),
                        sdk_signed(&url, &d.host, credentials, now)
                    );
                }
                // The listing's GETs: the bucket's path and a canonical query.
                let flat = |prefix| Span { prefix, ..Span::default() };
                let level = Span { delimiter: Some("/"), ..flat("federated/") };
                let from = Span { start_after: Some("federated/a b+c~\u{e9}."), ..flat("federated/") };
                for query in [
                    list_query(&flat("federated/"), None),
                    list_query(&flat("federated/a b+c~\u{e9}"), Some("1ue+Gcx/=")),
                    list_query(&level, None),
                    list_query(&level, Some("1ue+Gcx/=")),
                    list_query(&from, None),
                    list_query(&from, Some("1ue+Gcx/=")),
                ] {
                    let url = format!("{}/bucket?{query}", d.origin);
                    assert_eq!(
                        signed(&d, "/bucket", &query, credentials, now),
                        sdk_signed(&url, &d.host, credentials, now),
                        "{query}"
                    );
                }
            }
        }
    }

    /// The headers but `host` of the GET `d` signs, sorted.
    fn signed(
        d: &Direct,
        path: &str,
        query: &str,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Vec<(String, String)> {
        let request = d.signer.get(&d.origin, path, query, &d.host, credentials, now).unwrap();
        let sent = match query {
            "" => format!("{}{path}", d.origin),
            q => format!("{}{path}?{q}", d.origin),
        };
        assert_eq!(request.uri().to_string(), sent);
        let mut ours: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter(|(n, _)| n.as_str() != "host")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        ours.sort();
        ours
    }

    #[test]
    fn refusals_carry_s3s_code_and_class() {
        let body =
            "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        let call = Call { operation: "GetObject", target: "k", path: "/bucket/k", query: "" };
        let refusal = |status, body| call.refusal(status, body);
        let e = refusal(404, body);
        assert_eq!(e.s3_failure(), Some(S3Failure::NotFound));
        assert!(e.to_string().contains("NoSuchKey: The specified key does not exist."), "{e}");
        assert_eq!(
            refusal(503, "<Error><Code>SlowDown</Code></Error>").s3_failure(),
            Some(S3Failure::Transient)
        );
        assert_eq!(refusal(403, "").s3_failure(), Some(S3Failure::Refused));
        assert!(refusal(403, "").to_string().contains("HTTP 403 without an S3 error code"));
    }
}
