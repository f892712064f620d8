//! Requests signed by the real `aws-sigv4` signer (the Rust SDK's), verified by
//! `ampfed_sigv4::Verifier`. One test binary, a module per concern:
//!
//! - [`verifies`]: what must verify (both forms, bodies, queries, paths, session tokens).
//! - [`matrix`]: the rejection matrix of `docs/sigv4.md` and the issue's extra
//!   cases, one test per case, each asserting HTTP status, `x-amzn-ErrorType` and message.
//! - [`properties`]: random requests signed by `aws-sigv4` verify; any single-byte change to
//!   a signed part is rejected (proptest, a bounded number of cases).
//!
//! This file holds the shared helpers: a fixed server clock, keys, and
//! [`sign_with_aws_sigv4`], which turns a [`Spec`] into the [`Wire`] request the server sees.

mod matrix;
mod properties;
mod verifies;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ampfed_sigv4::{
    AuthError, Caller, Credential, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings,
};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const REGION: &str = "us-west-2";
const HOST: &str = "127.0.0.1:9090";
const REMOTE_WRITE: &str = "/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef/api/v1/remote_write";
const QUERY_PATH: &str = "/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef/api/v1/query";
const PROMQL_QUERY: &str =
    "query=sum%28rate%28container_cpu_usage_seconds_total%7Bnamespace%3D%22kubecost%22%7D%5B5m%5D%29%29&time=1714564800";
const ROLE_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/kubecost-amp/kubecost";
const USER: &str = "arn:aws:iam::123456789012:user/ci";
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The server's fixed clock.
fn server_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap().with_timezone(&Utc)
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// An S3 verifier in `REGION` with the fixed clock.
fn s3_verifier(registry: &CredentialRegistry) -> Verifier {
    verifier_with(registry, VerifierSettings::new(REGION, "s3"))
}

/// An AMP verifier in `REGION` with the fixed clock.
fn verifier(registry: &CredentialRegistry) -> Verifier {
    verifier_with(registry, VerifierSettings::aps(REGION))
}

fn verifier_with(registry: &CredentialRegistry, settings: VerifierSettings) -> Verifier {
    Verifier::new(settings, registry.clone()).with_clock(Arc::new(server_time))
}

fn static_key(registry: &CredentialRegistry) -> Credential {
    registry.register_static("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", USER)
}

fn temporary_key(registry: &CredentialRegistry) -> Credential {
    registry.issue_temporary(ROLE_SESSION, Duration::from_secs(3600), server_time() - minutes(10))
}

/// A request as it would arrive on the wire.
#[derive(Clone)]
struct Wire {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn incoming(&self) -> IncomingRequest<'_> {
        IncomingRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap()
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }
}

/// What to sign and how.
struct Spec<'a> {
    method: &'a str,
    path_and_query: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
    region: &'a str,
    service: &'a str,
    time: DateTime<Utc>,
    settings: SigningSettings,
    unsigned_payload: bool,
    /// A payload hash given to the signer as is (e.g. a `STREAMING-…` marker).
    precomputed_payload: Option<&'a str>,
}

impl<'a> Spec<'a> {
    fn get(path_and_query: &'a str) -> Self {
        Spec {
            method: "GET",
            path_and_query,
            headers: vec![("user-agent", "kubecost-cost-model/2.4")],
            body: b"",
            region: REGION,
            service: "aps",
            time: server_time(),
            settings: SigningSettings::default(),
            unsigned_payload: false,
            precomputed_payload: None,
        }
    }

    fn post(path_and_query: &'a str, body: &'a [u8]) -> Self {
        Spec {
            method: "POST",
            headers: vec![
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "snappy"),
                ("x-prometheus-remote-write-version", "0.1.0"),
            ],
            body,
            ..Spec::get(path_and_query)
        }
    }

    /// Signed for S3 as its SDK does: single path encoding, no normalisation.
    fn for_s3(mut self) -> Self {
        self.service = "s3";
        self.settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        self.settings.uri_path_normalization_mode =
            aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
        self
    }

    fn presigned(mut self, expires: Duration) -> Self {
        self.settings.signature_location = SignatureLocation::QueryParams;
        self.settings.expires_in = Some(expires);
        self
    }
}

/// Signs `spec` with the `aws-sigv4` crate, as the Rust SDK would, and returns the request
/// as the server receives it.
fn sign_with_aws_sigv4(key: &Credential, spec: Spec<'_>) -> Wire {
    let uri = format!("http://{HOST}{}", spec.path_and_query);
    let mut headers: Vec<(String, String)> = vec![("host".to_owned(), HOST.to_owned())];
    headers.extend(spec.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    if !spec.body.is_empty() {
        headers.push(("content-length".to_owned(), spec.body.len().to_string()));
    }
    let identity = aws_credential_types::Credentials::new(
        key.access_key_id.clone(),
        key.secret_access_key.clone(),
        key.session_token.clone(),
        None,
        "test",
    )
    .into();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(spec.time.timestamp() as u64);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(spec.region)
        .name(spec.service)
        .time(time)
        .settings(spec.settings)
        .build()
        .unwrap()
        .into();
    let body = match (spec.precomputed_payload, spec.unsigned_payload) {
        (Some(hash), _) => SignableBody::Precomputed(hash.to_owned()),
        (None, true) => SignableBody::UnsignedPayload,
        (None, false) => SignableBody::Bytes(spec.body),
    };
    let signable =
        SignableRequest::new(spec.method, &uri, headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), body)
            .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    let (path, query) = spec.path_and_query.split_once('?').unwrap_or((spec.path_and_query, ""));
    let mut query = query.to_owned();
    for (name, value) in instructions.params() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!(
            "{}={}",
            utf8_percent_encode(name, QUERY_SET),
            utf8_percent_encode(value, QUERY_SET)
        ));
    }
    Wire { method: spec.method.to_owned(), path: path.to_owned(), query, headers, body: spec.body.to_vec() }
}

fn remote_write(key: &Credential) -> Wire {
    sign_with_aws_sigv4(key, Spec::post(REMOTE_WRITE, b"\xff\x06\x00\x00sNaPpY snappy-framed protobuf"))
}

fn verify(verifier: &Verifier, wire: &Wire) -> Result<Caller, AuthError> {
    verifier.verify(&wire.incoming())
}

fn expect_signature_mismatch(result: Result<Caller, AuthError>) -> (String, String) {
    match result {
        Err(AuthError::SignatureMismatch { canonical_request, string_to_sign }) => {
            (canonical_request, string_to_sign)
        }
        other => panic!("expected a signature mismatch, got {other:?}"),
    }
}
