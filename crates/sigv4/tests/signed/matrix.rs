//! The rejection matrix: every row of `docs/sigv4.md`'s table and the issue's
//! extra cases, one test per case. Each asserts the HTTP status, the `x-amzn-ErrorType` and
//! the message (exactly, or the fixed part of it where the message quotes the request), and
//! that the JSON body carries that message. Just-inside skew cases sit next to their
//! just-outside twins and must be accepted.

use std::time::Duration;

use ampfed_sigv4::canonical;
use ampfed_sigv4::{aws_error_json, AuthError, Caller, Credential, CredentialRegistry, VerifierSettings};
use aws_sigv4::http_request::PayloadChecksumKind;

use crate::*;

/// The fixed start of every signature-mismatch message (AMP's wording).
const MISMATCH: &str =
    "The request signature we calculated does not match the signature you provided. Check \
                        your AWS Secret Access Key and signing method. Consult the service documentation for \
                        details.\n\nThe Canonical String for this request should have been\n'";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// How much of the message a case pins down.
enum Message<'a> {
    Exact(&'a str),
    StartsWith(&'a str),
}

/// Asserts that `result` is a rejection with status 403, `error_type` and `message`, and that
/// the JSON body is `{"message": <the same message>}`. Returns the error for further checks.
fn assert_rejected(result: Result<Caller, AuthError>, error_type: &str, message: Message<'_>) -> AuthError {
    let err = match result {
        Ok(caller) => panic!("accepted as {caller:?}; expected {error_type}"),
        Err(err) => err,
    };
    assert_eq!(err.status(), 403, "{err:?}");
    assert_eq!(err.error_type(), error_type, "{err:?}");
    let actual = err.message();
    match message {
        Message::Exact(expected) => assert_eq!(actual, expected),
        Message::StartsWith(prefix) => {
            assert!(actual.starts_with(prefix), "message {actual:?} does not start with {prefix:?}")
        }
    }
    let body: serde_json::Value =
        serde_json::from_str(&aws_error_json(&err)).expect("the error body is JSON");
    assert_eq!(body, serde_json::json!({ "message": actual }));
    err
}

/// `verify` at the fixed server time with a custom skew allowance.
fn verify_with_skew(
    registry: &CredentialRegistry,
    skew: chrono::Duration,
    wire: &Wire,
) -> Result<Caller, AuthError> {
    let mut settings = VerifierSettings::aps(REGION);
    settings.max_skew = skew;
    verify(&verifier_with(registry, settings), wire)
}

/// A remote write signed `offset` away from the server's clock.
fn remote_write_at(key: &Credential, offset: chrono::Duration) -> Wire {
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = server_time() + offset;
    sign_with_aws_sigv4(key, spec)
}

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn unsigned_remote_write(key: &Credential) -> Wire {
    let mut wire = remote_write(key);
    wire.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    wire
}

// --- Missing signature -----------------------------------------------------------------

#[test]
fn no_authorization_header_is_missing_authentication_token() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let wire = unsigned_remote_write(&key);
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "MissingAuthenticationTokenException",
        Message::Exact("Missing Authentication Token"),
    );
    assert_eq!(aws_error_json(&err), r#"{"message":"Missing Authentication Token"}"#);
}

#[test]
fn presigned_without_x_amz_signature_is_missing_authentication_token() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = sign_with_aws_sigv4(&key, Spec::get(QUERY_PATH).presigned(Duration::from_secs(60)));
    wire.query =
        wire.query.split('&').filter(|p| !p.starts_with("X-Amz-Signature=")).collect::<Vec<_>>().join("&");
    assert!(wire.query.contains("X-Amz-Credential="));
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "MissingAuthenticationTokenException",
        Message::Exact("Missing Authentication Token"),
    );
}

#[test]
fn both_authorization_header_and_presigned_signature_is_incomplete_signature() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.query = "X-Amz-Signature=abc".to_owned();
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "IncompleteSignatureException",
        Message::Exact(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string \
             parameter or the Authorization header should be specified",
        ),
    );
}

// --- Keys and session tokens -------------------------------------------------------------

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
    let err = assert_rejected(
        verify(&verifier(&registry), &remote_write(&key)),
        "UnrecognizedClientException",
        Message::Exact(INVALID_TOKEN),
    );
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
    let err = assert_rejected(
        verify(&verifier(&registry), &remote_write(&key)),
        "UnrecognizedClientException",
        Message::Exact(INVALID_TOKEN),
    );
    assert!(matches!(err, AuthError::InvalidSecurityToken { .. }), "{err:?}");
}

#[test]
fn temporary_key_with_another_sessions_token_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let mut key = temporary_key(&registry);
    key.session_token = temporary_key(&registry).session_token;
    assert_rejected(
        verify(&verifier(&registry), &remote_write(&key)),
        "UnrecognizedClientException",
        Message::Exact(INVALID_TOKEN),
    );
}

#[test]
fn long_term_key_with_a_session_token_is_unrecognized_client() {
    let registry = CredentialRegistry::new();
    let mut key = static_key(&registry);
    key.session_token = Some("IQoJb3JpZ2luX2VjEforged".to_owned());
    assert_rejected(
        verify(&verifier(&registry), &remote_write(&key)),
        "UnrecognizedClientException",
        Message::Exact(INVALID_TOKEN),
    );
}

#[test]
fn key_expired_with_registry_expire_is_expired_token() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let wire = remote_write(&key);
    verify(&verifier(&registry), &wire).unwrap();
    assert!(registry.expire(&key.access_key_id));
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "ExpiredTokenException",
        Message::Exact("The security token included in the request is expired"),
    );
    assert_eq!(err, AuthError::ExpiredToken { access_key_id: key.access_key_id.clone() });
}

#[test]
fn key_past_its_expiration_is_expired_token() {
    let registry = CredentialRegistry::new();
    let key = registry.issue_temporary(ROLE_SESSION, Duration::from_secs(900), server_time() - minutes(15));
    assert_rejected(
        verify(&verifier(&registry), &remote_write(&key)),
        "ExpiredTokenException",
        Message::Exact("The security token included in the request is expired"),
    );
}

#[test]
fn access_denied_reads_like_amp() {
    // The verifier authenticates; callers that check permissions answer with this error.
    let err = AuthError::AccessDenied {
        principal_arn: ROLE_SESSION.to_owned(),
        action: "aps:RemoteWrite".to_owned(),
        resource: "arn:aws:aps:us-west-2:123456789012:workspace/ws-0123abcd".to_owned(),
    };
    assert_rejected(
        Err(err),
        "AccessDeniedException",
        Message::Exact(
            "User: arn:aws:sts::123456789012:assumed-role/kubecost-amp/kubecost is not authorized to perform: \
             aps:RemoteWrite on resource: arn:aws:aps:us-west-2:123456789012:workspace/ws-0123abcd",
        ),
    );
}

// --- Signature mismatch --------------------------------------------------------------------

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

    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
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
    assert_eq!(
        err.message(),
        format!(
            "{MISMATCH}{expected_canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    );
    assert!(aws_error_json(&err).contains("\\n\\nThe Canonical String"));
}

#[test]
fn signature_mismatch_message_redacts_the_session_token() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut wire = remote_write(&key);
    wire.body.push(b'!');
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
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
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    let (canonical_request, _) = expect_signature_mismatch(Err(err));
    assert!(canonical_request.ends_with(&canonical::sha256_hex(&wire.body)));
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
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    let (canonical_request, _) = expect_signature_mismatch(Err(err));
    assert!(canonical_request.ends_with(&canonical::sha256_hex(b"payloaD")));
}

// --- Payload hash: `UNSIGNED-PAYLOAD` (and `STREAMING-…`) only for S3 -----------------------

/// Asserts a signature mismatch whose canonical request ends with the hash of `body`: the
/// server used the body's own hash, not the client's claim.
fn assert_mismatch_over_body_hash(result: Result<Caller, AuthError>, body: &[u8]) {
    let err = assert_rejected(result, "InvalidSignatureException", Message::StartsWith(MISMATCH));
    let (canonical_request, _) = expect_signature_mismatch(Err(err));
    assert!(
        canonical_request.ends_with(&format!("\n{}", canonical::sha256_hex(body))),
        "{canonical_request}"
    );
}

#[test]
fn aps_header_form_signed_over_unsigned_payload_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let body = b"samples the signature does not cover";
    let mut spec = Spec::post(REMOTE_WRITE, body);
    spec.unsigned_payload = true;
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert_eq!(wire.header("x-amz-content-sha256"), canonical::UNSIGNED_PAYLOAD);
    assert_mismatch_over_body_hash(verify(&verifier(&registry), &wire), body);
    // The same request is fine for S3, which takes the client's word for the payload.
    let mut spec = Spec::post(REMOTE_WRITE, body);
    spec.unsigned_payload = true;
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    verify(&s3_verifier(&registry), &sign_with_aws_sigv4(&key, spec.for_s3())).unwrap();
}

#[test]
fn aps_presigned_over_unsigned_payload_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(900));
    spec.unsigned_payload = true;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert!(!wire.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256")));
    assert_mismatch_over_body_hash(verify(&verifier(&registry), &wire), b"");
}

#[test]
fn aps_streaming_payload_marker_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let body = b"5\r\nhello\r\n0\r\n\r\n";
    let mut spec = Spec::post(REMOTE_WRITE, body);
    spec.precomputed_payload = Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert_eq!(wire.header("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    assert_mismatch_over_body_hash(verify(&verifier(&registry), &wire), body);
}

#[test]
fn s3_request_claiming_unsigned_payload_but_signed_over_the_body_hash_is_signature_mismatch() {
    // The mirror image of `verifies::aps_request_claiming_unsigned_payload_but_signed_over_the_body_hash_verifies`:
    // S3 honours the claim, so the canonical request holds `UNSIGNED-PAYLOAD`.
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = sign_with_aws_sigv4(&key, Spec::post("/kubecost-etl/a.json", b"{}").for_s3());
    wire.set_header("x-amz-content-sha256", canonical::UNSIGNED_PAYLOAD);
    let err = assert_rejected(
        verify(&s3_verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    let (canonical_request, _) = expect_signature_mismatch(Err(err));
    assert!(canonical_request.ends_with("\nUNSIGNED-PAYLOAD"), "{canonical_request}");
}

#[test]
fn tampered_path_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.path = wire.path.replace("ws-0123abcd", "ws-9999abcd");
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(&format!("{MISMATCH}POST\n/workspaces/ws-9999abcd")),
    );
}

#[test]
fn tampered_query_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let path_and_query = format!("{QUERY_PATH}?{PROMQL_QUERY}");
    let mut wire = sign_with_aws_sigv4(&key, Spec::get(&path_and_query));
    wire.query = wire.query.replace("time=1714564800", "time=1714564801");
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    assert!(err.message().contains("&time=1714564801\n"), "{}", err.message());
}

#[test]
fn tampered_signed_header_value_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("content-encoding", "gzip");
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    assert!(err.message().contains("\ncontent-encoding:gzip\n"), "{}", err.message());
}

#[test]
fn header_added_to_signed_headers_after_signing_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("user-agent", "kubecost-cost-model/2.4");
    let authorization = wire.header("authorization").replace(";x-amz-date;", ";user-agent;x-amz-date;");
    wire.set_header("authorization", &authorization);
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    let (canonical_request, _) = expect_signature_mismatch(Err(err));
    assert!(
        canonical_request.contains("\nuser-agent:kubecost-cost-model/2.4\nx-amz-date:"),
        "{canonical_request}"
    );
    assert!(canonical_request.contains(";host;user-agent;x-amz-date;"), "{canonical_request}");
}

#[test]
fn signed_header_removed_after_signing_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.headers.retain(|(n, _)| n != "x-prometheus-remote-write-version");
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(MISMATCH),
    );
    assert!(err.message().contains("\nx-prometheus-remote-write-version:\n"), "{}", err.message());
}

// --- Duplicated and garbage Authorization --------------------------------------------------

#[test]
fn duplicated_authorization_header_is_incomplete_signature() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    verify(&verifier(&registry), &wire).unwrap();
    let authorization = wire.header("authorization").to_owned();
    wire.headers.push(("Authorization".to_owned(), authorization.clone()));
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "IncompleteSignatureException",
        Message::Exact(&format!(
            "Only one Authorization header is allowed, got 2. Authorization={0}, {0}",
            ampfed_sigv4::redact_signatures(&authorization)
        )),
    );
}

#[test]
fn second_authorization_header_from_another_key_is_incomplete_signature() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let other =
        registry.register_static("AKIAOTHEREXAMPLE0000", "another-secret-another-secret-0000000000", USER);
    let mut wire = remote_write(&key);
    let second = remote_write(&other).header("authorization").to_owned();
    wire.headers.push(("authorization".to_owned(), second));
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "IncompleteSignatureException",
        Message::StartsWith(
            "Only one Authorization header is allowed, got 2. Authorization=AWS4-HMAC-SHA256 ",
        ),
    );
}

/// One test per garbage `Authorization` value: the request is a correctly signed remote
/// write whose `Authorization` is replaced; each must be rejected with the given type and
/// message (`{auth}` stands for the value itself).
macro_rules! garbage_authorization {
    ($($name:ident: $value:expr => $error_type:literal, $message:expr;)*) => {$(
        #[test]
        fn $name() {
            let registry = CredentialRegistry::new();
            let key = static_key(&registry);
            let mut wire = remote_write(&key);
            wire.set_header("authorization", $value);
            let message = $message.replace("{auth}", &ampfed_sigv4::redact_signatures($value));
            assert_rejected(verify(&verifier(&registry), &wire), $error_type, Message::Exact(&message));
        }
    )*};
}

const MISSING_ALL: &str =
    "Authorization header requires 'Credential' parameter. Authorization header requires \
                           'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
                           Authorization={auth}";

garbage_authorization! {
    garbage_authorization_empty: "" => "IncompleteSignatureException", MISSING_ALL;
    garbage_authorization_word: "garbage" => "IncompleteSignatureException", MISSING_ALL;
    garbage_authorization_bearer_token: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x" => "IncompleteSignatureException", MISSING_ALL;
    garbage_authorization_algorithm_only: "AWS4-HMAC-SHA256" => "IncompleteSignatureException", MISSING_ALL;
    garbage_authorization_other_algorithm: "AWS4-HMAC-SHA512 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=a" => "IncompleteSignatureException", MISSING_ALL;
    garbage_authorization_missing_signature: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date" => "IncompleteSignatureException", "Authorization header requires 'Signature' parameter. Authorization={auth}";
    garbage_authorization_empty_parameters: "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=" => "IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got ''";
    garbage_authorization_credential_without_scope: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE, SignedHeaders=host, Signature=00" => "IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIAIOSFODNN7EXAMPLE'";
    garbage_authorization_empty_scope_elements: "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature====" => "InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request', not ''.";
    garbage_authorization_wrong_terminator: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/nope, SignedHeaders=host;x-amz-date, Signature=a" => "InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request', not 'nope'.";
    garbage_authorization_short_scope_date: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024/us-west-2/aps/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz" => "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '2024' != '20240501', from '20240501T120000Z'.";
    garbage_authorization_non_ascii_scope: "AWS4-HMAC-SHA256 Credential=é/ü/us-west-2/aps/aws4_request,SignedHeaders=host;x-amz-date,Signature=" => "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'ü' != '20240501', from '20240501T120000Z'.";
}

#[test]
fn garbage_authorization_non_hex_signature_is_signature_mismatch() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240501/us-west-2/aps/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=zz",
    );
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::StartsWith(&format!(
            "{MISMATCH}POST\n{REMOTE_WRITE}\n\nhost:127.0.0.1:9090\nx-amz-date:20240501T120000Z\n\nhost;x-amz-date\n"
        )),
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
        let err = verify(&verifier(&registry), &bad).unwrap_err();
        assert_eq!(err.status(), 403, "{date}");
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
fn malformed_x_amz_date_is_rejected_naming_the_format() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("x-amz-date", "2024-05-01T12:00:00Z");
    assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::Exact(
            "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
        ),
    );
}

// --- Scope ---------------------------------------------------------------------------------

#[test]
fn wrong_region_in_scope_is_invalid_signature() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.region = "eu-west-1";
    assert_rejected(
        verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)),
        "InvalidSignatureException",
        Message::Exact("Credential should be scoped to a valid region."),
    );
}

#[test]
fn wrong_service_in_scope_is_invalid_signature() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.service = "execute-api";
    assert_rejected(
        verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)),
        "InvalidSignatureException",
        Message::Exact("Credential should be scoped to correct service: 'aps'."),
    );
}

#[test]
fn host_not_among_signed_headers_is_rejected_naming_it() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    let authorization = wire.header("authorization").replace("content-type;host;", "content-type;");
    wire.set_header("authorization", &authorization);
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::Exact("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
    );
    assert_eq!(err, AuthError::HeaderNotSigned { header: "host" });
}

#[test]
fn x_amz_date_not_among_signed_headers_is_rejected_naming_it() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    let authorization = wire.header("authorization").replace(";x-amz-date;", ";");
    wire.set_header("authorization", &authorization);
    let err = assert_rejected(
        verify(&verifier(&registry), &wire),
        "InvalidSignatureException",
        Message::Exact("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
    );
    assert_eq!(err, AuthError::HeaderNotSigned { header: "x-amz-date" });
}

// --- Clock skew (5 minutes by default, a setting) ------------------------------------------

#[test]
fn timestamp_six_minutes_old_is_signature_expired() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify(&verifier(&registry), &remote_write_at(&key, -minutes(6))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature expired: 20240501T115400Z is now earlier than 20240501T115500Z (20240501T120000Z - 5 min.)",
        ),
    );
}

#[test]
fn timestamp_six_minutes_ahead_is_signature_not_yet_current() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify(&verifier(&registry), &remote_write_at(&key, minutes(6))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature not yet current: 20240501T120600Z is still later than 20240501T120500Z \
             (20240501T120000Z + 5 min.)",
        ),
    );
}

#[test]
fn timestamp_exactly_five_minutes_old_is_just_inside_and_accepted() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    verify(&verifier(&registry), &remote_write_at(&key, -minutes(5))).unwrap();
}

#[test]
fn timestamp_five_minutes_and_one_second_old_is_just_outside_and_signature_expired() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify(&verifier(&registry), &remote_write_at(&key, -minutes(5) - seconds(1))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature expired: 20240501T115459Z is now earlier than 20240501T115500Z (20240501T120000Z - 5 min.)",
        ),
    );
}

#[test]
fn timestamp_exactly_five_minutes_ahead_is_just_inside_and_accepted() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    verify(&verifier(&registry), &remote_write_at(&key, minutes(5))).unwrap();
}

#[test]
fn timestamp_five_minutes_and_one_second_ahead_is_just_outside_and_not_yet_current() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify(&verifier(&registry), &remote_write_at(&key, minutes(5) + seconds(1))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature not yet current: 20240501T120501Z is still later than 20240501T120500Z \
             (20240501T120000Z + 5 min.)",
        ),
    );
}

#[test]
fn skew_setting_of_fifteen_minutes_accepts_fifteen_minutes_either_way() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    verify_with_skew(&registry, minutes(15), &remote_write_at(&key, -minutes(15))).unwrap();
    verify_with_skew(&registry, minutes(15), &remote_write_at(&key, minutes(15))).unwrap();
}

#[test]
fn skew_setting_of_fifteen_minutes_rejects_one_second_more_in_the_past() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify_with_skew(&registry, minutes(15), &remote_write_at(&key, -minutes(15) - seconds(1))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature expired: 20240501T114459Z is now earlier than 20240501T114500Z (20240501T120000Z - 15 min.)",
        ),
    );
}

#[test]
fn skew_setting_of_fifteen_minutes_rejects_one_second_more_ahead() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    assert_rejected(
        verify_with_skew(&registry, minutes(15), &remote_write_at(&key, minutes(15) + seconds(1))),
        "InvalidSignatureException",
        Message::Exact(
            "Signature not yet current: 20240501T121501Z is still later than 20240501T121500Z \
             (20240501T120000Z + 15 min.)",
        ),
    );
}

#[test]
fn skew_setting_of_ninety_seconds_rejects_six_minutes_that_the_default_would_not() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let wire = remote_write_at(&key, -minutes(4));
    verify(&verifier(&registry), &wire).unwrap();
    assert_rejected(
        verify_with_skew(&registry, seconds(90), &wire),
        "InvalidSignatureException",
        Message::Exact(
            "Signature expired: 20240501T115600Z is now earlier than 20240501T115830Z (20240501T120000Z - 90 sec.)",
        ),
    );
}

// --- Presigned expiry ----------------------------------------------------------------------

#[test]
fn presigned_request_at_exactly_x_amz_expires_is_just_inside_and_accepted() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(60));
    spec.time = server_time() - seconds(60);
    verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap();
}

#[test]
fn presigned_request_used_after_x_amz_expires_is_signature_expired() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(60));
    spec.time = server_time() - seconds(61);
    let err = assert_rejected(
        verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)),
        "InvalidSignatureException",
        Message::Exact(
            "Signature expired: 20240501T115859Z is now earlier than 20240501T115900Z (20240501T120000Z - 1 min.)",
        ),
    );
    assert!(matches!(err, AuthError::SignatureExpired { .. }), "{err:?}");
}

#[test]
fn presigned_request_valid_for_an_hour_is_still_rejected_when_signed_in_the_future() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::get(QUERY_PATH).presigned(Duration::from_secs(3600));
    spec.time = server_time() + minutes(6);
    assert_rejected(
        verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)),
        "InvalidSignatureException",
        Message::StartsWith(
            "Signature not yet current: 20240501T120600Z is still later than 20240501T120500Z",
        ),
    );
}
