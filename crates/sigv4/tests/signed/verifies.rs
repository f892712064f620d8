//! What must verify: requests signed by `aws-sigv4` in both forms, with bodies, queries,
//! paths that need double encoding, session tokens, and clock skew within the allowance.

use std::time::Duration;

use ampfed_sigv4::canonical::{self, UNSIGNED_PAYLOAD};
use ampfed_sigv4::VerifierSettings;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, UriPathNormalizationMode,
};
use percent_encoding::utf8_percent_encode;

use crate::*;

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
fn s3_presigned_query_form_with_unsigned_payload_verifies() {
    let registry = CredentialRegistry::new();
    let key = temporary_key(&registry);
    let mut spec =
        Spec::get("/kubecost-etl/federated/combined.json").for_s3().presigned(Duration::from_secs(900));
    spec.unsigned_payload = true;
    let wire = sign_with_aws_sigv4(&key, spec);
    assert!(wire.query.contains("X-Amz-Signature="));
    assert!(wire.query.contains("X-Amz-Security-Token="));
    assert!(!wire.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")));
    let caller = verify(&s3_verifier(&registry), &wire).unwrap();
    assert_eq!(caller.access_key_id, key.access_key_id);
}

#[test]
fn s3_header_form_with_unsigned_payload_verifies_whatever_the_body() {
    // S3 takes the client's word for the payload (`x-amz-content-sha256: UNSIGNED-PAYLOAD`).
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post("/kubecost-etl/cluster-a/allocation.json", b"{\"k\":1}").for_s3();
    spec.unsigned_payload = true;
    spec.settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let mut wire = sign_with_aws_sigv4(&key, spec);
    assert_eq!(wire.header("x-amz-content-sha256"), UNSIGNED_PAYLOAD);
    verify(&s3_verifier(&registry), &wire).unwrap();
    wire.body = b"{\"k\":2}".to_vec();
    verify(&s3_verifier(&registry), &wire).unwrap();
}

#[test]
fn aps_request_claiming_unsigned_payload_but_signed_over_the_body_hash_verifies() {
    // AMP hashes the body itself whatever the header claims; a client that signed the real
    // hash is fine, with the claim signed or added afterwards.
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let body = b"\xff\x06\x00\x00sNaPpY snappy-framed protobuf";
    let mut spec = Spec::post(REMOTE_WRITE, body);
    spec.headers.push(("x-amz-content-sha256", UNSIGNED_PAYLOAD));
    let signed_claim = sign_with_aws_sigv4(&key, spec);
    assert!(signed_claim.header("authorization").contains("x-amz-content-sha256"));
    verify(&verifier(&registry), &signed_claim).unwrap();

    let mut added_claim = remote_write(&key);
    added_claim.set_header("x-amz-content-sha256", UNSIGNED_PAYLOAD);
    verify(&verifier(&registry), &added_claim).unwrap();
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
fn unsigned_headers_may_change_and_header_whitespace_is_normalized() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut wire = remote_write(&key);
    wire.set_header("user-agent", "something-else/1.0");
    wire.set_header("X-Prometheus-Remote-Write-Version", "  0.1.0  ");
    verify(&verifier(&registry), &wire).unwrap();
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
fn presigned_payload_constant_is_unsigned_payload() {
    assert_eq!(UNSIGNED_PAYLOAD, "UNSIGNED-PAYLOAD");
}
