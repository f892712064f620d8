//! Verify and sign cost per request (`cargo xtask bench sigv4`, release mode).
//!
//! A remote-write-shaped request (POST, protobuf headers, temporary credentials with a
//! session token) is signed by `aws-sigv4` and verified by `ampfed_sigv4::Verifier`, with an
//! empty body and a 64 KiB body. Verify is measured cold (a new verifier per request, so the
//! signing key is derived every time, as the signer does) and warm (one verifier whose
//! derived-key cache already holds the key). Each figure is the median of several batches
//! of a bounded number of iterations; the whole run takes a few seconds.
//!
//! The proxy's overhead against sending unsigned to the same backend is not measured here:
//! it needs the proxy and a backend, and belongs to the proxy's benchmark (see
//! [`proxy_overhead_vs_unsigned`]).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ampfed_sigv4::{Credential, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use chrono::{DateTime, Utc};

const REGION: &str = "us-west-2";
const HOST: &str = "127.0.0.1:9090";
const PATH: &str = "/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef/api/v1/remote_write";
/// Batches per figure; the median batch is reported.
const BATCHES: usize = 7;

fn main() {
    let now: DateTime<Utc> =
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").expect("a valid time").with_timezone(&Utc);
    let registry = CredentialRegistry::new();
    let key = registry.issue_temporary(
        "arn:aws:sts::123456789012:assumed-role/kubecost-amp/kubecost",
        Duration::from_secs(3600),
        now,
    );

    println!("sigv4 cost per request (release, median of {BATCHES} batches)");
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>12} {:>12}",
        "body", "sign", "verify cold", "verify warm", "cold/sign", "warm/sign"
    );
    for (label, body, iterations) in [("empty", Vec::new(), 4000), ("64 KiB", vec![0x5a_u8; 64 * 1024], 400)]
    {
        let headers = signed_headers(&key, &body, now);
        let request =
            IncomingRequest { method: "POST", path: PATH, query: "", headers: &headers, body: &body };

        let sign_cost = per_iteration(iterations, || {
            black_box(signed_headers(&key, black_box(&body), now));
        });
        let cold = per_iteration(iterations, || {
            let verifier = verifier(&registry, now);
            black_box(verifier.verify(black_box(&request)).expect("verifies"));
        });
        let warm_verifier = verifier(&registry, now);
        warm_verifier.verify(&request).expect("verifies");
        let warm = per_iteration(iterations, || {
            black_box(warm_verifier.verify(black_box(&request)).expect("verifies"));
        });
        println!(
            "{label:<10} {:>14} {:>14} {:>14} {:>12.2} {:>12.2}",
            micros(sign_cost),
            micros(cold),
            micros(warm),
            cold.as_secs_f64() / sign_cost.as_secs_f64(),
            warm.as_secs_f64() / sign_cost.as_secs_f64(),
        );
    }
    proxy_overhead_vs_unsigned();
}

/// The proxy's overhead as a ratio against sending unsigned to the same backend belongs to
/// the proxy (`ampfed-proxy`): it needs the proxy, a backend and real connections. This
/// benchmark only says where that figure comes from.
fn proxy_overhead_vs_unsigned() {
    println!("proxy overhead vs unsigned: see `cargo xtask bench proxy` (needs the proxy and a backend)");
}

fn verifier(registry: &CredentialRegistry, now: DateTime<Utc>) -> Verifier {
    Verifier::new(VerifierSettings::aps(REGION), registry.clone()).with_clock(Arc::new(move || now))
}

/// Signs the request with `aws-sigv4` and returns the headers the server receives.
fn signed_headers(key: &Credential, body: &[u8], now: DateTime<Utc>) -> Vec<(String, String)> {
    let content_length = body.len().to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("host".to_owned(), HOST.to_owned()),
        ("content-type".to_owned(), "application/x-protobuf".to_owned()),
        ("content-encoding".to_owned(), "snappy".to_owned()),
        ("x-prometheus-remote-write-version".to_owned(), "0.1.0".to_owned()),
        ("content-length".to_owned(), content_length),
    ];
    let identity = aws_credential_types::Credentials::new(
        key.access_key_id.clone(),
        key.secret_access_key.clone(),
        key.session_token.clone(),
        None,
        "bench",
    )
    .into();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(now.timestamp().unsigned_abs());
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("aps")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let uri = format!("http://{HOST}{PATH}");
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("signs").into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    headers
}

/// Median time per call of `f` over `BATCHES` batches of `iterations` calls, after a warm-up batch.
fn per_iteration(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut batches: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .collect();
    batches.sort();
    batches[BATCHES / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
