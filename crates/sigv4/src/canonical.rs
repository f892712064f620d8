//! The pieces of Signature Version 4 rebuilt from a request as received: canonical URI,
//! query and headers, the canonical request, the string to sign, the derived signing key
//! and the signature.
//!
//! Everything here follows what the `aws-sigv4` crate (the Rust SDK's signer) does, so its
//! signatures verify: the path is normalised and encoded a second time for non-S3
//! services; query pairs are parsed as form data, re-encoded keeping only RFC 3986
//! unreserved characters and sorted on the encoded form; header values are trimmed, runs
//! of spaces collapsed and repeated headers joined with commas.

use std::borrow::Cow;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

pub use crate::date::{format_amz_date, parse_amz_date};
use crate::request::IncomingRequest;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash used by presigned requests and clients that do not hash the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The query parameter that carries a presigned request's signature; never part of the
/// canonical query.
pub const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// Query encoding: everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Second path encoding (the signer's "greedy label" set): as the query, but `/` is kept.
/// `%` is encoded, which is what makes `%3D` on the wire `%253D` in the canonical URI.
const PATH_DOUBLE_SET: &AsciiSet = &QUERY_SET.remove(b'/');
/// Single path encoding: the wire path is used as is; only bytes that cannot appear in a
/// URI (controls, space, non-ASCII and a few others) are encoded.
const PATH_SINGLE_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The canonical URI for `raw_path`, the path exactly as received (percent-encoded).
///
/// With `normalize` (every service but S3) dot segments are removed and empty segments
/// collapsed, then the result is percent-encoded again (so `%` becomes `%25`). Without it
/// (S3) the path is used as received.
pub fn canonical_uri(raw_path: &str, normalize: bool) -> String {
    let path: Cow<'_, str> = if raw_path.is_empty() {
        Cow::Borrowed("/")
    } else if raw_path.starts_with('/') {
        Cow::Borrowed(raw_path)
    } else {
        Cow::Owned(format!("/{raw_path}"))
    };
    if normalize {
        let normalized = normalize_path(&path);
        utf8_percent_encode(&normalized, PATH_DOUBLE_SET).to_string()
    } else {
        utf8_percent_encode(&path, PATH_SINGLE_SET).to_string()
    }
}

/// Removes dot segments (RFC 3986 §5.2.4) and empty segments from an absolute path,
/// keeping a trailing slash, as the `aws-sigv4` signer does.
fn normalize_path(path: &str) -> Cow<'_, str> {
    if !(path.contains('.') || path.contains("//")) {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut result = String::with_capacity(path.len());
    for segment in &segments {
        result.push('/');
        result.push_str(segment);
    }
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"].iter().any(|end| path.ends_with(end));
    if result.is_empty() || (ends_with_slash && !result.ends_with('/')) {
        result.push('/');
    }
    Cow::Owned(result)
}

/// The canonical query string for `raw_query` (the query as received, without `?`):
/// pairs decoded as form data (`+` is a space), re-encoded keeping only unreserved
/// characters, sorted by key then value, every pair written `key=value`. The presigned
/// form's `X-Amz-Signature` is left out.
pub fn canonical_query(raw_query: &str) -> String {
    canonical_query_without(raw_query, &[])
}

/// [`canonical_query`] leaving out the parameters named in `excluded` as well (exact,
/// case-sensitive names), e.g. an `X-Amz-Security-Token` appended after signing.
pub fn canonical_query_without(raw_query: &str, excluded: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(key, _)| key != SIGNATURE_PARAM && !excluded.contains(&key.as_ref()))
        .map(|(key, value)| (encode_query_component(&key), encode_query_component(&value)))
        .collect();
    pairs.sort();
    let mut query = String::with_capacity(raw_query.len() + 16);
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            query.push('&');
        }
        query.push_str(key);
        query.push('=');
        query.push_str(value);
    }
    query
}

/// Trims spaces and tabs at both ends and collapses inner runs of spaces into one.
pub fn normalize_header_value(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches(|c| c == ' ' || c == '\t');
    if !trimmed.contains("  ") {
        return Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut previous_space = false;
    for c in trimmed.chars() {
        if c == ' ' {
            if !previous_space {
                out.push(c);
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
    Cow::Owned(out)
}

/// The canonical headers block: one `name:value\n` line per name in `signed_headers` (the
/// client's `;`-separated list, in its order), each value normalised and the values of
/// repeated headers joined with `,` in the order received. A signed header that was not
/// received gets an empty value (and so, in practice, a signature mismatch).
pub fn canonical_headers(headers: &[(String, String)], signed_headers: &str) -> String {
    let mut block = String::new();
    for name in signed_headers.split(';') {
        block.push_str(name);
        block.push(':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(received, _)| received.eq_ignore_ascii_case(name)) {
            if !first {
                block.push(',');
            }
            block.push_str(&normalize_header_value(value));
            first = false;
        }
        block.push('\n');
    }
    block
}

/// The canonical request for `req`, using only the headers named in `signed_headers`
/// (`host;x-amz-date;…`) and the given payload hash (hex SHA-256 of the body,
/// `UNSIGNED-PAYLOAD`, or a `STREAMING-…` marker).
pub fn canonical_request(
    req: &IncomingRequest<'_>,
    signed_headers: &str,
    payload_hash: &str,
    normalize_path: bool,
) -> String {
    assemble_canonical_request(req, &canonical_query(req.query), signed_headers, payload_hash, normalize_path)
}

/// The canonical request for `req` with an already canonical query string.
pub(crate) fn assemble_canonical_request(
    req: &IncomingRequest<'_>,
    canonical_query: &str,
    signed_headers: &str,
    payload_hash: &str,
    normalize_path: bool,
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path, normalize_path),
        canonical_query,
        canonical_headers(req.headers, signed_headers),
        signed_headers,
        payload_hash
    )
}

/// The credential scope `yyyymmdd/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign: algorithm, `x-amz-date` (`20150830T123600Z`), scope and the hex
/// SHA-256 of the canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The derived signing key for a secret, a scope date (`yyyymmdd`), a region and a service.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret_access_key}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The hex signature of `string_to_sign` under a derived signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Query-encodes one key or value as the canonical query does (a signer building a query
/// already in canonical form uses it too).
pub fn encode_query_component(value: &str) -> String {
    utf8_percent_encode(value, QUERY_SET).to_string()
}

/// Percent-encodes a path (an S3 bucket and key) as the signer's greedy label encoding does:
/// everything but RFC 3986 unreserved characters and `/` (so `%` itself becomes `%25`).
pub fn encode_path(path: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(path, PATH_DOUBLE_SET)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// HMAC-SHA256 without a fallible constructor: the key is brought to the block size first
/// (hashed when longer, zero-padded), which is exactly what HMAC does itself.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_path_is_encoded_twice() {
        assert_eq!(
            canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D", true),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
        assert_eq!(
            canonical_uri("/workspaces/ws-1/api/v1/remote_write", true),
            "/workspaces/ws-1/api/v1/remote_write"
        );
    }

    #[test]
    fn normalization_removes_dot_segments_and_collapses_slashes() {
        assert_eq!(canonical_uri("/example/..", true), "/");
        assert_eq!(canonical_uri("/example1/example2/../..", true), "/");
        assert_eq!(canonical_uri("/./", true), "/");
        assert_eq!(canonical_uri("//example//", true), "/example/");
        assert_eq!(canonical_uri("/example/./", true), "/example/");
        assert_eq!(canonical_uri("", true), "/");
    }

    #[test]
    fn unnormalized_path_is_kept_as_received() {
        assert_eq!(canonical_uri("//example//", false), "//example//");
        assert_eq!(canonical_uri("/a%3Db/./c", false), "/a%3Db/./c");
        assert_eq!(canonical_uri("/example space/", false), "/example%20space/");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(
            canonical_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(canonical_query("b=2&a=x+y&a=%2F&c"), "a=%2F&a=x%20y&b=2&c=");
        assert_eq!(canonical_query("X-Amz-Signature=abc&k=v"), "k=v");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("My-Header1".to_owned(), " value2 ".to_owned()),
            ("my-header1".to_owned(), "\"a   b   c\"".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        assert_eq!(
            canonical_headers(&headers, "host;my-header1;x-amz-date"),
            "host:example.amazonaws.com\nmy-header1:value2,\"a b c\"\nx-amz-date:20150830T123600Z\n"
        );
    }

    #[test]
    fn get_vanilla_test_vector_signature() {
        // The AWS suite's get-vanilla case, shipped inside aws-sigv4.
        let headers = vec![
            ("Host".to_owned(), "example.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let req = IncomingRequest { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
        let creq = canonical_request(&req, "host;x-amz-date", &sha256_hex(b""), true);
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts =
            string_to_sign("20150830T123600Z", &credential_scope("20150830", "us-east-1", "service"), &creq);
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        assert_eq!(signature(&key, &sts), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    }

    #[test]
    fn hmac_matches_rfc_4231_with_a_long_key() {
        // RFC 4231 test case 6: a 131-byte key is hashed first.
        let key = [0xaa_u8; 131];
        let mac = hmac_sha256(&key, b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
}
