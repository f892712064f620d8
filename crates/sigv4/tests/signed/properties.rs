//! Property tests: random requests (method, path, query, headers, body, key kind, form)
//! signed by `aws-sigv4` verify, and any single-byte change to a signed part (body, path,
//! query, a signed header's value) is rejected, without a panic.
//!
//! "Single-byte change" avoids the few changes that leave the request's meaning, and so its
//! canonical form, the same: the hex digits of a query's percent escape (`%2F` and `%2f`
//! decode alike) are not touched, and generated paths have no `.`/`..` or empty segments
//! (which normalisation removes). Replacement bytes in the path, query and headers are
//! ASCII letters and digits, so the request stays one an HTTP server would hand over; body
//! bytes may become anything. The case count is kept small so debug test runs stay fast.

use std::time::Duration;

use ampfed_sigv4::{AuthError, Caller, Credential, CredentialRegistry};
use aws_sigv4::http_request::{SignatureLocation, SigningSettings};
use percent_encoding::utf8_percent_encode;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

use crate::*;

/// Cases per property: enough to reach every part and form, few enough for debug builds.
const CASES: u32 = 96;

/// A request to sign, as generated.
#[derive(Debug, Clone)]
struct Generated {
    method: &'static str,
    /// Path segments, each already a valid (possibly percent-encoded) URI segment.
    segments: Vec<String>,
    /// Decoded query pairs; encoded onto the wire with the unreserved set.
    query: Vec<(String, String)>,
    /// Extra headers (names `x-…`), values printable ASCII with spaces.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    temporary_key: bool,
    presigned: bool,
}

impl Generated {
    fn path_and_query(&self) -> String {
        let mut out = format!("/{}", self.segments.join("/"));
        for (index, (key, value)) in self.query.iter().enumerate() {
            out.push(if index == 0 { '?' } else { '&' });
            out.push_str(&utf8_percent_encode(key, QUERY_SET).to_string());
            out.push('=');
            out.push_str(&utf8_percent_encode(value, QUERY_SET).to_string());
        }
        out
    }

    /// Signs with `aws-sigv4` (header or presigned form) under a fresh key.
    fn sign(&self, registry: &CredentialRegistry) -> (Credential, Wire) {
        let key = if self.temporary_key { temporary_key(registry) } else { static_key(registry) };
        let path_and_query = self.path_and_query();
        let mut settings = SigningSettings::default();
        if self.presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let spec = Spec {
            method: self.method,
            path_and_query: &path_and_query,
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            body: &self.body,
            settings,
            ..Spec::get("/")
        };
        let wire = sign_with_aws_sigv4(&key, spec);
        (key, wire)
    }
}

fn segment() -> impl Strategy<Value = String> {
    // A first character that is not a dot keeps `.` and `..` segments out.
    prop_oneof![
        4 => "[A-Za-z0-9_~@=:-][A-Za-z0-9._~@=:-]{0,9}",
        1 => "[A-Za-z0-9]{0,3}%[0-9A-F]{2}[A-Za-z0-9]{0,3}",
    ]
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        prop::collection::vec(segment(), 0..4),
        prop::collection::vec(("[A-Za-z0-9_.~-]{1,8}", "[A-Za-z0-9 _.~+/:=&é€-]{0,10}"), 0..4),
        prop::collection::vec(("x-[a-z]{1,8}", "[ -~]{0,20}"), 0..4),
        prop::collection::vec(any::<u8>(), 0..256),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(method, segments, query, headers, body, temporary_key, presigned)| Generated {
            method,
            segments,
            query,
            headers,
            body,
            temporary_key,
            presigned,
        })
}

/// Which signed part to change.
#[derive(Debug, Clone, Copy)]
enum Part {
    Body,
    Path,
    Query,
    SignedHeader,
}

fn part() -> impl Strategy<Value = Part> {
    prop::sample::select(vec![Part::Body, Part::Path, Part::Query, Part::SignedHeader])
}

/// A letter or digit other than `original`, picked by `pick`.
fn other_alphanumeric(original: u8, pick: u8) -> u8 {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let candidate = ALNUM[usize::from(pick) % ALNUM.len()];
    if candidate != original {
        candidate
    } else {
        ALNUM[(usize::from(pick) + 1) % ALNUM.len()]
    }
}

/// Replaces the byte at `at` of an ASCII-only position in `text` with a different letter or digit.
fn replace_ascii(text: &mut String, at: usize, pick: u8) {
    let mut bytes = std::mem::take(text).into_bytes();
    bytes[at] = other_alphanumeric(bytes[at], pick);
    *text = String::from_utf8(bytes).expect("an ASCII byte was replaced by an ASCII byte");
}

/// Changes one byte of `part` in `wire`; `None` if that part has no byte to change (an empty
/// body, or a query with nothing outside percent escapes).
fn mutate(wire: &mut Wire, part: Part, position: Index, pick: u8) -> Option<String> {
    match part {
        Part::Body => {
            if wire.body.is_empty() {
                return None;
            }
            let at = position.index(wire.body.len());
            wire.body[at] = wire.body[at].wrapping_add(pick.max(1));
            Some(format!("body[{at}]"))
        }
        Part::Path => {
            // Generated paths are ASCII and never empty (at least `/`).
            let at = position.index(wire.path.len());
            replace_ascii(&mut wire.path, at, pick);
            Some(format!("path[{at}]"))
        }
        Part::Query => {
            let bytes = wire.query.as_bytes();
            let eligible: Vec<usize> = (0..bytes.len())
                .filter(|&i| {
                    let in_escape = (i >= 1 && bytes[i - 1] == b'%') || (i >= 2 && bytes[i - 2] == b'%');
                    bytes[i].is_ascii() && !in_escape && bytes[i] != b'%'
                })
                .collect();
            if eligible.is_empty() {
                return None;
            }
            let at = eligible[position.index(eligible.len())];
            replace_ascii(&mut wire.query, at, pick);
            Some(format!("query[{at}]"))
        }
        Part::SignedHeader => {
            // `host`, the generated `x-…` headers and (header form) `x-amz-date` and
            // `x-amz-security-token` are signed; empty values have no byte to change.
            let candidates: Vec<usize> = wire
                .headers
                .iter()
                .enumerate()
                .filter(|(_, (name, value))| (name == "host" || name.starts_with("x-")) && !value.is_empty())
                .map(|(i, _)| i)
                .collect();
            let header = *candidates.get(position.index(candidates.len().max(1)))?;
            let (name, value) = &mut wire.headers[header];
            let at = position.index(value.len());
            replace_ascii(value, at, pick);
            Some(format!("header {name}[{at}]"))
        }
    }
}

fn describe(result: &Result<Caller, AuthError>) -> String {
    match result {
        Ok(caller) => format!("accepted as {}", caller.access_key_id),
        Err(err) => format!("{} {}", err.error_type(), err.message()),
    }
}

proptest! {
    #![proptest_config(Config { cases: CASES, failure_persistence: None, ..Config::default() })]

    #[test]
    fn requests_signed_by_aws_sigv4_verify(request in generated()) {
        let registry = CredentialRegistry::new();
        let (key, wire) = request.sign(&registry);
        let result = verify(&verifier(&registry), &wire);
        prop_assert!(result.is_ok(), "{request:?} → {}", describe(&result));
        prop_assert_eq!(result.unwrap().access_key_id, key.access_key_id);
    }

    #[test]
    fn any_single_byte_change_to_a_signed_part_is_rejected(
        request in generated(),
        part in part(),
        position in any::<Index>(),
        pick in any::<u8>(),
    ) {
        let registry = CredentialRegistry::new();
        let (_, mut wire) = request.sign(&registry);
        prop_assume!(verify(&verifier(&registry), &wire).is_ok());
        let Some(changed) = mutate(&mut wire, part, position, pick) else {
            return Ok(());
        };
        let result = verify(&verifier(&registry), &wire);
        prop_assert!(result.is_err(), "{request:?}: changing {changed} was {}", describe(&result));
        let err = result.unwrap_err();
        prop_assert_eq!(err.status(), 403);
        prop_assert!(!err.message().is_empty());
    }
}
