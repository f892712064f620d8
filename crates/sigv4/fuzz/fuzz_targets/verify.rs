//! Fuzzes `ampfed_sigv4`'s request parsing, canonicalisation and `Verifier::verify`.
//!
//! Input: one mode byte, then fields separated by NUL: method, path, query, header lines
//! (`name:value`, newline-separated), and the rest is the body. Modes:
//! - 0: the request as given (Authorization, presigned parameters and all come from the input).
//! - 1: a well-formed `Authorization` prefix for the registered key is added, with the
//!   input's SignedHeaders and Signature, so the fuzzer reaches the scope, skew, key and
//!   signature checks without first having to guess the credential.
//! - 2: as 1 for the presigned form: `X-Amz-*` parameters for the registered key are put in
//!   front of the input's query.
//! - 3: round trip: the request is signed with the `canonical` module (host and x-amz-date
//!   signed) and must verify; a rejection there is a bug, not just a crash.
//!
//! In every mode `verify` must not panic and a rejection must carry a status and message.

#![no_main]

use std::sync::Arc;

use ampfed_sigv4::canonical;
use ampfed_sigv4::{aws_error_json, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};
use libfuzzer_sys::fuzz_target;

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20240501T120000Z";
const SCOPE: &str = "20240501/us-west-2/aps/aws4_request";
const HOST: &str = "127.0.0.1:9090";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut fields = rest.splitn(5, |b| *b == 0);
    let mut text = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let method = text();
    let path = text();
    let mut query = text();
    let header_block = text();
    let body = fields.next().unwrap_or_default().to_vec();
    let mut headers: Vec<(String, String)> = header_block
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();

    // The parser-level pieces on raw input.
    let _ = canonical::canonical_uri(&path, true);
    let _ = canonical::canonical_uri(&path, false);
    let _ = canonical::canonical_query(&query);
    let _ = canonical::canonical_headers(&headers, &header_block.replace('\n', ";"));
    let _ = canonical::parse_amz_date(&header_block);

    let registry = CredentialRegistry::new();
    registry.register_static(KEY_ID, SECRET, "arn:aws:iam::123456789012:user/fuzz");
    let now = canonical::parse_amz_date(AMZ_DATE).expect("a valid date");
    let verifier =
        Verifier::new(VerifierSettings::aps("us-west-2"), registry).with_clock(Arc::new(move || now));

    match mode % 4 {
        1 => {
            let (signed_headers, signature) = header_block.split_once('\n').unwrap_or((&header_block, ""));
            headers.push(("host".to_owned(), HOST.to_owned()));
            headers.push(("x-amz-date".to_owned(), AMZ_DATE.to_owned()));
            headers.push((
                "authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={KEY_ID}/{SCOPE}, SignedHeaders={signed_headers}, \
                     Signature={signature}"
                ),
            ));
        }
        2 => {
            headers.push(("host".to_owned(), HOST.to_owned()));
            query = format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={KEY_ID}%2F{}&X-Amz-Date={AMZ_DATE}&\
                 X-Amz-Expires=300&X-Amz-SignedHeaders=host&{query}",
                SCOPE.replace('/', "%2F")
            );
        }
        3 => {
            round_trip(&verifier, &method, &path, &query, &body);
            return;
        }
        _ => {}
    }

    let req = IncomingRequest { method: &method, path: &path, query: &query, headers: &headers, body: &body };
    if let Err(err) = verifier.verify(&req) {
        assert_eq!(err.status(), 403);
        assert!(!err.message().is_empty());
        assert!(aws_error_json(&err).starts_with("{\"message\":\""));
    }
});

/// Signs the request with the `canonical` module the way a client would and checks that the
/// verifier accepts it.
fn round_trip(verifier: &Verifier, method: &str, path: &str, query: &str, body: &[u8]) {
    let has_signature_param = query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default();
        key.contains("Signature") || key.contains("%")
    });
    if has_signature_param {
        // A query that might decode to X-Amz-Signature is the other auth mechanism.
        return;
    }
    let mut headers =
        vec![("host".to_owned(), HOST.to_owned()), ("x-amz-date".to_owned(), AMZ_DATE.to_owned())];
    let unsigned = IncomingRequest { method, path, query, headers: &headers, body };
    let creq = canonical::canonical_request(&unsigned, "host;x-amz-date", &canonical::sha256_hex(body), true);
    let to_sign = canonical::string_to_sign(AMZ_DATE, SCOPE, &creq);
    let key = canonical::signing_key(SECRET, "20240501", "us-west-2", "aps");
    let signature = canonical::signature(&key, &to_sign);
    headers.push((
        "authorization".to_owned(),
        format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/{SCOPE}, SignedHeaders=host;x-amz-date, Signature={signature}"),
    ));
    let req = IncomingRequest { method, path, query, headers: &headers, body };
    if let Err(err) = verifier.verify(&req) {
        panic!("a request signed with the canonical module was rejected: {err:?}\n{}", err.message());
    }
}
