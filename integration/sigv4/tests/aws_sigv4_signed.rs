//! Requests signed by the real `aws-sigv4` signer (the Rust SDK's), verified by
//! `ampfed_sigv4::Verifier`: what verifies, and exactly how AWS-style rejections read.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ampfed_sigv4::canonical::{self, UNSIGNED_PAYLOAD};
use ampfed_sigv4::{
    aws_error_json, AuthError, Credential, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings,
};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
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
    let body =
        if spec.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(spec.body) };
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

fn verify(verifier: &Verifier, wire: &Wire) -> Result<ampfed_sigv4::Caller, AuthError> {
    verifier.verify(&wire.incoming())
}

fn expect_signature_mismatch(result: Result<ampfed_sigv4::Caller, AuthError>) -> (String, String) {
    match result {
        Err(AuthError::SignatureMismatch { canonical_request, string_to_sign }) => {
            (canonical_request, string_to_sign)
        }
        other => panic!("expected a signature mismatch, got {other:?}"),
    }
}

#[test]
fn header_form_post_with_body_and_session_token_verifies() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let wire = remote_write(&key);
    assert!(wire.header("authorization").contains("x-amz-security-token"));
    let caller = verify(&verifier(&registry), &wire).unwrap();
    assert_eq!(caller.access_key_id, key.access_key_id);
    assert_eq!(caller.principal_arn, ROLE_SESSION);
}

#[test]
fn get_with_promql_query_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let path_and_query = format!("{QUERY_PATH}?{PROMQL_QUERY}");
    let wire = sign_with_aws_sigv4(&key, Spec::get(&path_and_query));
    let caller = verify(&verifier(&registry), &wire).unwrap();
    assert_eq!(caller.principal_arn, USER);
}

#[test]
fn query_with_plus_spaces_and_repeated_keys_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let path_and_query = format!("{QUERY_PATH}?match%5B%5D=up&match%5B%5D=kube_pod_info&q=a+b&empty=&flag");
    let wire = sign_with_aws_sigv4(&key, Spec::get(&path_and_query));
    verify(&verifier(&registry), &wire).unwrap();
}

#[test]
fn path_needing_double_encoding_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let wire = sign_with_aws_sigv4(&key, Spec::get("/test/@connections/JBDvjfGEIAMCERw%3D"));
    verify(&verifier(&registry), &wire).unwrap();
}

#[test]
fn s3_style_single_encoded_unnormalized_path_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post("/kubecost-etl//bucket/a%3Db/../c.json", b"{\"k\":1}");
    spec.service = "s3";
    spec.settings.percent_encoding_mode = PercentEncodingMode::Single;
    spec.settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert!(wire.header("x-amz-content-sha256").len() == 64);
    verify(&verifier_with(&registry, VerifierSettings::new(REGION, "s3")), &wire).unwrap();
}

#[test]
fn presigned_query_form_with_unsigned_payload_verifies() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(900));
    spec.unsigned_payload = true;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert!(wire.query.contains("X-Amz-Signature="));
    assert!(wire.query.contains("X-Amz-Security-Token="));
    assert!(!wire.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")));
    let caller = verify(&verifier(&registry), &wire).unwrap();
    assert_eq!(caller.access_key_id, key.access_key_id);
}

#[test]
fn presigned_query_form_with_hashed_body_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let path_and_query = format!("{QUERY_PATH}?{PROMQL_QUERY}");
    let wire = sign_with_aws_sigv4(&key, Spec::get(&path_and_query).presigned(Duration::from_secs(60)));
    verify(&verifier(&registry), &wire).unwrap();
}

#[test]
fn presigned_query_form_with_session_token_appended_after_signing_verifies() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(900));
    spec.settings.session_token_mode = SessionTokenMode::Exclude;
    // aws-sigv4 appends the token after computing the signature in this mode.
    let wire = sign_with_aws_sigv4(&key, spec);
    let token = utf8_percent_encode(key.session_token.as_deref().unwrap(), QUERY_SET).to_string();
    assert!(wire.query.contains(&format!("X-Amz-Security-Token={token}")));
    assert_eq!(
        canonical::canonical_query_without(&wire.query, &["X-Amz-Security-Token"]).matches('&').count(),
        4,
        "the token is not part of the canonical query the client signed"
    );
    verify(&verifier(&registry), &wire).unwrap();
}

#[test]
fn presigned_request_used_after_x_amz_expires_is_signature_expired() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(60));
    spec.time = server_time() - chrono::Duration::seconds(61);
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert!(matches!(err, AuthError::SignatureExpired { .. }), "{err:?}");
    assert!(
        err.message().starts_with("Signature expired: 20240501T115859Z is now earlier than"),
        "{}",
        err.message()
    );
}

#[test]
fn wrong_secret_is_signature_mismatch_quoting_the_canonical_request() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut client_key = key.clone();
    client_key.secret_access_key = "not-the-secret-the-server-knows-000000000".to_owned();
    let wire = remote_write(&client_key);
    let signed_headers =
        "content-encoding;content-length;content-type;host;x-amz-date;x-prometheus-remote-write-version";
    assert!(wire.header("authorization").contains(signed_headers));

    let err = verify(&verifier(&registry), &wire).unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(err.error_type(), "InvalidSignatureException");
    let expected_canonical = canonical::canonical_request(
        &wire.incoming(),
        signed_headers,
        &canonical::sha256_hex(&wire.body),
        true,
    );
    let (canonical_request, string_to_sign) = expect_signature_mismatch(Err(err.clone()));
    assert_eq!(canonical_request, expected_canonical);
    assert!(canonical_request.starts_with(&format!("POST\n{REMOTE_WRITE}\n\ncontent-encoding:snappy\n")));
    assert_eq!(
        string_to_sign,
        canonical::string_to_sign(
            wire.header("x-amz-date"),
            &format!("20240501/{REGION}/aps/aws4_request"),
            &expected_canonical
        )
    );
    let message = err.message();
    assert!(message.starts_with(
        "The request signature we calculated does not match the signature you provided. Check your AWS \
         Secret Access Key and signing method. Consult the service documentation for details.\n\nThe \
         Canonical String for this request should have been\n'POST\n"
    ));
    assert!(message.ends_with(&format!("'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n")));
    assert!(aws_error_json(&err).starts_with("{\"message\":\"The request signature we calculated"));
    assert!(aws_error_json(&err).contains("\\n\\nThe Canonical String"));
}

#[test]
fn signature_mismatch_message_redacts_the_session_token() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut wire = remote_write(&key);
    wire.body.push(b'!');
    let err = verify(&verifier(&registry), &wire).unwrap_err();
    let token = key.session_token.as_deref().unwrap();
    assert!(err.message().contains("x-amz-security-token:** redacted session token"));
    assert!(!err.message().contains(token));
    assert!(!format!("{err:?} {err}").contains(token));
}

#[test]
fn tampered_body_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.body[4] ^= 0x20;
    expect_signature_mismatch(verify(&verifier(&registry), &wire));
}

#[test]
fn body_not_matching_signed_content_sha256_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"payload");
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let mut wire = sign_with_aws_sigv4(&key, spec);
    verify(&verifier(&registry), &wire).unwrap();
    wire.body = b"payloaD".to_vec();
    let (canonical_request, _) = expect_signature_mismatch(verify(&verifier(&registry), &wire));
    assert!(canonical_request.ends_with(&canonical::sha256_hex(b"payloaD")));
}

#[test]
fn tampered_path_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.path = wire.path.replace("ws-0123abcd", "ws-9999abcd");
    expect_signature_mismatch(verify(&verifier(&registry), &wire));
}

#[test]
fn tampered_query_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let path_and_query = format!("{QUERY_PATH}?{PROMQL_QUERY}");
    let mut wire = sign_with_aws_sigv4(&key, Spec::get(&path_and_query));
    wire.query = wire.query.replace("time=1714564800", "time=1714564801");
    expect_signature_mismatch(verify(&verifier(&registry), &wire));
}

#[test]
fn tampered_signed_header_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("content-encoding", "gzip");
    expect_signature_mismatch(verify(&verifier(&registry), &wire));
}

#[test]
fn unsigned_headers_may_change_and_header_whitespace_is_normalized() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("user-agent", "something-else/1.0");
    wire.set_header("X-Prometheus-Remote-Write-Version", "  0.1.0  ");
    verify(&verifier(&registry), &wire).unwrap();
}

#[test]
fn unknown_access_key_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let key = Credential {
        access_key_id: "AKIANOTREGISTERED000".to_owned(),
        secret_access_key: "x".repeat(40),
        session_token: None,
        expiration: None,
        principal_arn: USER.to_owned(),
    };
    let err = verify(&verifier(&registry), &remote_write(&key)).unwrap_err();
    assert_eq!(err.error_type(), "UnrecognizedClientException");
    assert_eq!(err.message(), "The security token included in the request is invalid.");
    assert_eq!(
        aws_error_json(&err),
        r#"{"message":"The security token included in the request is invalid."}"#
    );
}

#[test]
fn temporary_key_without_session_token_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let mut key = temporary_key(&registry);
    key.session_token = None;
    let err = verify(&verifier(&registry), &remote_write(&key)).unwrap_err();
    assert!(matches!(err, AuthError::InvalidSecurityToken { .. }), "{err:?}");
    assert_eq!(err.error_type(), "UnrecognizedClientException");
}

#[test]
fn temporary_key_with_another_sessions_token_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let mut key = temporary_key(&registry);
    key.session_token = temporary_key(&registry).session_token;
    let err = verify(&verifier(&registry), &remote_write(&key)).unwrap_err();
    assert_eq!(err.error_type(), "UnrecognizedClientException");
    assert_eq!(err.message(), "The security token included in the request is invalid.");
}

#[test]
fn long_term_key_with_a_session_token_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let mut key = static_key(&registry);
    key.session_token = Some("IQoJb3JpZ2luX2VjEforged".to_owned());
    let err = verify(&verifier(&registry), &remote_write(&key)).unwrap_err();
    assert_eq!(err.error_type(), "UnrecognizedClientException");
}

#[test]
fn key_expired_with_registry_expire_is_expired_token() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let wire = remote_write(&key);
    verify(&verifier(&registry), &wire).unwrap();
    assert!(registry.expire(&key.access_key_id));
    let err = verify(&verifier(&registry), &wire).unwrap_err();
    assert_eq!(err, AuthError::ExpiredToken { access_key_id: key.access_key_id.clone() });
    assert_eq!(err.error_type(), "ExpiredTokenException");
    assert_eq!(err.message(), "The security token included in the request is expired");
}

#[test]
fn key_past_its_expiration_is_expired_token() {
    let registry = CredentialRegistry::new();
    let key = registry.issue_temporary(ROLE_SESSION, Duration::from_secs(900), server_time() - minutes(15));
    let err = verify(&verifier(&registry), &remote_write(&key)).unwrap_err();
    assert_eq!(err.error_type(), "ExpiredTokenException");
}

#[test]
fn timestamp_six_minutes_old_is_signature_expired() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = server_time() - minutes(6);
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(
        err.message(),
        "Signature expired: 20240501T115400Z is now earlier than 20240501T115500Z (20240501T120000Z - 5 min.)"
    );
}

#[test]
fn timestamp_six_minutes_ahead_is_signature_not_yet_current() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = server_time() + minutes(6);
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(
        err.message(),
        "Signature not yet current: 20240501T120600Z is still later than 20240501T120500Z \
         (20240501T120000Z + 5 min.)"
    );
}

#[test]
fn timestamp_four_minutes_old_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = server_time() - minutes(4);
    verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap();
}

#[test]
fn timestamp_four_minutes_ahead_verifies() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = server_time() + minutes(4);
    verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap();
}

#[test]
fn wrong_region_in_scope_is_rejected() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.region = "eu-west-1";
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(err.message(), "Credential should be scoped to a valid region.");
}

#[test]
fn wrong_service_in_scope_is_rejected() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.service = "execute-api";
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(err.message(), "Credential should be scoped to correct service: 'aps'.");
}

#[test]
fn missing_authorization_is_missing_authentication_token() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    let err = verify(&verifier(&registry), &wire).unwrap_err();
    assert_eq!(err, AuthError::MissingAuthenticationToken);
    assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(aws_error_json(&err), r#"{"message":"Missing Authentication Token"}"#);
}

#[test]
fn host_not_among_signed_headers_is_rejected_naming_it() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    let authorization = wire.header("authorization").replace("content-type;host;", "content-type;");
    wire.set_header("authorization", &authorization);
    let err = verify(&verifier(&registry), &wire).unwrap_err();
    assert_eq!(err, AuthError::HeaderNotSigned { header: "host" });
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert!(err.message().contains("'Host'"));
}

#[test]
fn x_amz_date_not_among_signed_headers_is_rejected_naming_it() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    let authorization = wire.header("authorization").replace(";x-amz-date;", ";");
    wire.set_header("authorization", &authorization);
    let err = verify(&verifier(&registry), &wire).unwrap_err();
    assert_eq!(err, AuthError::HeaderNotSigned { header: "x-amz-date" });
    assert!(err.message().contains("'X-Amz-Date'"));
}

#[test]
fn garbage_authorization_is_rejected_without_panicking() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let wire = remote_write(&key);
    let garbage = [
        "",
        "garbage",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=é/ü/us-west-2/aps/aws4_request,SignedHeaders=host;x-amz-date,Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/nope, SignedHeaders=host;x-amz-date, Signature=a",
        "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature====",
        "AWS4-HMAC-SHA512 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=a",
    ];
    for value in garbage {
        let mut bad = wire.clone();
        bad.set_header("authorization", value);
        let err = verify(&verifier(&registry), &bad).unwrap_err();
        assert_eq!(err.status(), 403, "{value}");
        assert!(!err.message().is_empty());
        assert!(aws_error_json(&err).starts_with("{\"message\":\""));
    }
    let mut bad = wire.clone();
    bad.set_header("authorization", "garbage");
    let err = verify(&verifier(&registry), &bad).unwrap_err();
    assert_eq!(err.error_type(), "IncompleteSignatureException");
    assert!(
        err.message().contains("Authorization header requires 'Credential' parameter."),
        "{}",
        err.message()
    );
}

#[test]
fn garbage_dates_and_presigned_parameters_are_rejected_without_panicking() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let wire = remote_write(&key);
    for date in ["", "2024", "20240501T120000", "20240501T12000€Z", "99999999T999999Z", "€€€€€€€€€€€€€€€€"]
    {
        let mut bad = wire.clone();
        bad.set_header("x-amz-date", date);
        assert!(verify(&verifier(&registry), &bad).is_err(), "{date}");
    }
    let queries = [
        "X-Amz-Signature=abc",
        "X-Amz-Signature=abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Date=x&X-Amz-SignedHeaders=host&X-Amz-Expires=-1",
        "X-Amz-Signature=abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=x&X-Amz-SignedHeaders=host&X-Amz-Expires=99999999999999999999999",
        "X-Amz-Signature=abc&X-Amz-Algorithm=HMAC&X-Amz-Credential=a&X-Amz-Date=x&X-Amz-SignedHeaders=host&X-Amz-Expires=60",
        "X-Amz-Signature=%FF%FE&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240501%2Fus-west-2%2Faps%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=604800",
    ];
    for query in queries {
        let bad = Wire {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            query: query.to_owned(),
            headers: vec![("host".to_owned(), HOST.to_owned())],
            body: Vec::new(),
        };
        let err = verify(&verifier(&registry), &bad).unwrap_err();
        assert_eq!(err.status(), 403, "{query}");
    }
}

#[test]
fn presigned_payload_constant_is_unsigned_payload() {
    assert_eq!(UNSIGNED_PAYLOAD, "UNSIGNED-PAYLOAD");
}
