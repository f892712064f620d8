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
//!
//! The last section feeds extreme times and durations (`X-Amz-Date` in the year 0 or 9999,
//! `X-Amz-Expires` past `u64`, negative, server clocks at chrono's ends, any credential
//! lifetime) and checks that each is answered without an overflow.

use std::sync::Arc;
use std::time::Duration;

use ampfed_sigv4::{AuthError, Caller, Credential, CredentialRegistry, Verifier, VerifierSettings};
use aws_sigv4::http_request::{SignatureLocation, SigningSettings};
use chrono::{DateTime, Utc};
use percent_encoding::utf8_percent_encode;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed};

use crate::*;

/// Cases per property: enough to reach every part and form, few enough for debug builds.
const CASES: u32 = 96;

/// The cases' seed: fixed, so that a CI run that gates on this suite is the same run every
/// time; `PROPTEST_RNG_SEED=<n>` explores others (a failure prints the seed to re-run).
const SEED: u64 = 0x5167_7634;

/// The properties' config: `cases` of them, nothing written on failure, the seed [`SEED`]
/// unless `PROPTEST_RNG_SEED` names another.
fn config(cases: u32) -> Config {
    let defaults = Config::default();
    let rng_seed = match defaults.rng_seed {
        RngSeed::Fixed(n) => RngSeed::Fixed(n),
        RngSeed::Random => RngSeed::Fixed(SEED),
    };
    Config { cases, failure_persistence: None, rng_seed, ..defaults }
}

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
    #![proptest_config(config(CASES))]

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

// --- Extreme times and durations from the request ------------------------------------------
//
// `X-Amz-Date`, `X-Amz-Expires` and the scope date come from the client; the server clock and
// credential expiries may sit anywhere chrono can represent. Every combination must end in an
// answer (here a 403, the signatures being made up), never an overflow panic in debug builds
// or a wrapped value in release builds.

/// `x-amz-date`-shaped values: any digits (so impossible months and days too), and the edges.
fn extreme_amz_date() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=9999, 0u32..=99, 0u32..=99, 0u32..=99, 0u32..=99, 0u32..=99).prop_map(
            |(year, month, day, hour, minute, second)| {
                format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
            }
        ),
        prop::sample::select(vec![
            "99991231T235959Z",
            "00000101T000000Z",
            "99999999T999999Z",
            "00000000T000000Z",
            "19700101T000000Z",
            "19691231T235959Z",
            "20240501T120000Z",
        ])
        .prop_map(str::to_owned),
    ]
}

/// `X-Amz-Expires` values: any integer, numbers too big for any integer type, signs, junk.
fn extreme_expires() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{19,40}",
        prop::sample::select(vec![
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "-9223372036854775808",
            "-1",
            "-0",
            "0",
            "604800",
            "604801",
            "+60",
            " 60",
            "1e9",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Server clocks from the first to the last instant chrono represents.
fn extreme_server_time() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    prop_oneof![
        Just(min),
        Just(max),
        Just(server_time()),
        Just(DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").unwrap().with_timezone(&Utc)),
        (min.timestamp()..=max.timestamp()).prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap()),
    ]
}

/// A request with a made-up signature whose scope date agrees with `amz_date`, so the time
/// checks are reached, in the header or the presigned form.
fn made_up_request(key: &Credential, amz_date: &str, expires: &str, presigned: bool) -> Wire {
    let scope_date = amz_date.get(..8).unwrap_or("20240501");
    let credential = format!("{}/{scope_date}/{REGION}/aps/aws4_request", key.access_key_id);
    let signature = "0".repeat(64);
    let mut headers = vec![("host".to_owned(), HOST.to_owned())];
    let query = if presigned {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={}\
             &X-Amz-SignedHeaders=host&X-Amz-Signature={signature}",
            utf8_percent_encode(&credential, QUERY_SET),
            utf8_percent_encode(expires, QUERY_SET),
        )
    } else {
        headers.push(("x-amz-date".to_owned(), amz_date.to_owned()));
        headers.push((
            "authorization".to_owned(),
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature={signature}"),
        ));
        String::new()
    };
    Wire { method: "GET".to_owned(), path: QUERY_PATH.to_owned(), query, headers, body: Vec::new() }
}

fn end_of_9999() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").unwrap().with_timezone(&Utc)
}

proptest! {
    #![proptest_config(config(CASES * 2))]

    #[test]
    fn extreme_dates_expiries_and_clocks_are_answered_without_overflow(
        amz_date in extreme_amz_date(),
        expires in extreme_expires(),
        now in extreme_server_time(),
        presigned in any::<bool>(),
        max_skew_minutes in prop_oneof![Just(5i64), Just(15), 0i64..=1_000_000],
    ) {
        let registry = CredentialRegistry::new();
        let key = static_key(&registry);
        let wire = made_up_request(&key, &amz_date, &expires, presigned);
        let mut settings = VerifierSettings::aps(REGION);
        settings.max_skew = chrono::Duration::minutes(max_skew_minutes);
        let verifier = Verifier::new(settings, registry.clone()).with_clock(Arc::new(move || now));
        let result = verify(&verifier, &wire);
        prop_assert!(result.is_err(), "a made-up signature was {}", describe(&result));
        let err = result.unwrap_err();
        prop_assert_eq!(err.status(), 403);
        prop_assert!(!err.message().is_empty());
    }

    #[test]
    fn temporary_credentials_of_any_lifetime_at_any_time_expire_without_overflow(
        lifetime_secs in any::<u64>(),
        issued in extreme_server_time(),
        checked in extreme_server_time(),
    ) {
        let registry = CredentialRegistry::new();
        let key = registry.issue_temporary(ROLE_SESSION, Duration::from_secs(lifetime_secs), issued);
        let expiration = key.expiration.unwrap();
        prop_assert!(expiration >= issued);
        let expected_expired = expiration <= checked;
        prop_assert_eq!(registry.is_expired(&key.access_key_id, checked), expected_expired);
    }
}

#[test]
fn x_amz_expires_past_u64_or_negative_is_refused_by_name() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    for (expires, message) in [
        ("18446744073709551615", "X-Amz-Expires must be less than a week (in seconds) that is 604800"),
        ("604801", "X-Amz-Expires must be less than a week (in seconds) that is 604800"),
        ("18446744073709551616", "X-Amz-Expires should be a number"),
        ("-1", "X-Amz-Expires should be a number"),
        ("-9223372036854775808", "X-Amz-Expires should be a number"),
    ] {
        let wire = made_up_request(&key, "20240501T120000Z", expires, true);
        let err = verify(&verifier(&registry), &wire).unwrap_err();
        assert_eq!(
            (err.error_type(), err.message().as_str()),
            ("IncompleteSignatureException", message),
            "{expires}"
        );
    }
}

#[test]
fn requests_signed_at_the_end_of_the_year_9999_verify_on_a_clock_there() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let now = end_of_9999();
    let verifier = verifier(&registry).with_clock(Arc::new(move || now));
    let mut header_form = Spec::post(REMOTE_WRITE, b"x");
    header_form.time = now;
    verify(&verifier, &sign_with_aws_sigv4(&key, header_form)).unwrap();
    // A week of validity from the last second of 9999 reaches past it.
    let mut presigned = Spec::get(QUERY_PATH).presigned(Duration::from_secs(604_800));
    presigned.time = now;
    verify(&verifier, &sign_with_aws_sigv4(&key, presigned)).unwrap();
}

#[test]
fn a_request_from_the_year_9999_is_not_yet_current_on_todays_clock_and_the_message_says_so() {
    let registry = CredentialRegistry::new();
    let key = static_key(&registry);
    let mut spec = Spec::post(REMOTE_WRITE, b"x");
    spec.time = end_of_9999();
    let err = verify(&verifier(&registry), &sign_with_aws_sigv4(&key, spec)).unwrap_err();
    assert!(
        err.message().starts_with("Signature not yet current: 99991231T235959Z is still later than"),
        "{}",
        err.message()
    );
    // And the other way round: today's request on a clock at the end of 9999 has expired.
    let now = end_of_9999();
    let err =
        verify(&verifier(&registry).with_clock(Arc::new(move || now)), &remote_write(&key)).unwrap_err();
    assert!(
        err.message().starts_with("Signature expired: 20240501T120000Z is now earlier than 99991231T235459Z"),
        "{}",
        err.message()
    );
}
