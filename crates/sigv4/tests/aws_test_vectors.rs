//! The official AWS SigV4 test suite (`aws-signing-test-suite/v4/*`, shipped inside the
//! `aws-sigv4` crate package), run against the verifier: every case, in both forms, must
//! verify at the vector's timestamp, and the canonical request and string to sign that
//! `ampfed_sigv4::canonical` computes from the signed request as received must equal the
//! vector's files.
//!
//! The folder is located at test time with `cargo metadata` (the package's `manifest_path`);
//! nothing is copied into the repository. Each case and form is its own named trial
//! (`get-vanilla::header`, `get-vanilla::query`, …), run by `libtest-mimic`, so the output
//! lists them and `cargo test -p ampfed-sigv4 --test aws_test_vectors -- get-utf8` filters.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ampfed_sigv4::canonical;
use ampfed_sigv4::{Credential, CredentialRegistry, IncomingRequest, Verifier, VerifierSettings};
use ampfed_test_support::run_bounded;
use chrono::{DateTime, Utc};
use libtest_mimic::{Arguments, Failed, Trial};

/// The suite has 40 cases in aws-sigv4 1.6.4; fewer means the folder is not what we think.
const MIN_CASES: usize = 40;
/// Longest `cargo metadata` may take (it reads the lock file; no build).
const METADATA_LIMIT: Duration = Duration::from_secs(120);
/// Principal the vectors' key is registered for.
const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/aws-test-vector";
/// The secret of `AKIDEXAMPLE`, used by every case that has a context.json; needed for the
/// cases without one.
const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let trials = match suite_dir() {
        Ok(dir) => trials(&dir),
        Err(err) => vec![Trial::test("locate-aws-signing-test-suite", move || Err(err.into()))],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// The two forms a vector is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `Authorization` header: `header-*.txt`.
    Header,
    /// Presigned query: `query-*.txt`.
    Query,
}

impl Form {
    fn prefix(self) -> &'static str {
        match self {
            Form::Header => "header",
            Form::Query => "query",
        }
    }
}

/// `aws-signing-test-suite/v4` inside the `aws-sigv4` package this workspace resolves.
fn suite_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = run_bounded(
        Command::new(&cargo).args(["metadata", "--format-version", "1", "--manifest-path"]).arg(&manifest),
        METADATA_LIMIT,
    )
    .map_err(|e| format!("run {cargo} metadata: {e}"))?;
    if !output.success() {
        return Err(format!("cargo metadata failed: {}", output.stderr));
    }
    let metadata: serde_json::Value =
        serde_json::from_str(&output.stdout).map_err(|e| format!("parse cargo metadata: {e}"))?;
    let packages = metadata["packages"].as_array().ok_or("cargo metadata has no packages")?;
    let mut found: Vec<PathBuf> = packages
        .iter()
        .filter(|package| package["name"] == "aws-sigv4")
        .filter_map(|package| package["manifest_path"].as_str())
        .filter_map(|manifest_path| Path::new(manifest_path).parent())
        .map(|dir| dir.join("aws-signing-test-suite/v4"))
        .filter(|dir| dir.is_dir())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| {
        "no aws-sigv4 package with aws-signing-test-suite/v4 in cargo metadata; run `cargo fetch`".to_owned()
    })
}

/// One trial per case and form, plus a guard on the suite's size.
fn trials(dir: &Path) -> Vec<Trial> {
    let mut cases: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();

    let count = cases.len();
    let shown = dir.display().to_string();
    let mut trials = vec![Trial::test("suite-has-every-case", move || {
        if count >= MIN_CASES {
            Ok(())
        } else {
            Err(format!("{shown} has {count} cases, expected at least {MIN_CASES}").into())
        }
    })];
    for case in cases {
        let case_dir = dir.join(&case);
        if case_dir.join("context.json").is_file() {
            for form in [Form::Header, Form::Query] {
                let case_dir = case_dir.clone();
                trials.push(Trial::test(format!("{case}::{}", form.prefix()), move || {
                    run_case(&case_dir, form).map_err(Failed::from)
                }));
            }
        } else {
            // Cases without context.json come from other SDKs' bug reports and only have the
            // header form; see `run_case_without_context` for what each can check.
            trials.push(Trial::test(format!("{case}::header"), move || {
                run_case_without_context(&case_dir).map_err(Failed::from)
            }));
        }
    }
    trials
}

/// What context.json says about a case.
struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    region: String,
    service: String,
    timestamp: DateTime<Utc>,
    normalize: bool,
    omit_session_token: bool,
}

fn read_context(case_dir: &Path) -> Result<Context, String> {
    let text = read(&case_dir.join("context.json"))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("context.json: {e}"))?;
    let string = |value: &serde_json::Value, what: &str| {
        value.as_str().map(str::to_owned).ok_or_else(|| format!("context.json: no {what}"))
    };
    let timestamp = string(&json["timestamp"], "timestamp")?;
    Ok(Context {
        access_key_id: string(&json["credentials"]["access_key_id"], "access_key_id")?,
        secret_access_key: string(&json["credentials"]["secret_access_key"], "secret_access_key")?,
        token: json["credentials"]["token"].as_str().map(str::to_owned),
        region: string(&json["region"], "region")?,
        service: string(&json["service"], "service")?,
        timestamp: DateTime::parse_from_rfc3339(&timestamp)
            .map_err(|e| format!("context.json timestamp {timestamp}: {e}"))?
            .with_timezone(&Utc),
        normalize: json["normalize"].as_bool().unwrap_or(true),
        omit_session_token: json["omit_session_token"].as_bool().unwrap_or(false),
    })
}

/// A request as the server receives it.
#[derive(Debug)]
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

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// Parses a vector's `*.txt` request: request line (the target taken as written, spaces and
/// UTF-8 included, the `HTTP/1.1` version optional), headers (values stripped of surrounding
/// whitespace and folded continuation lines joined with a space, as HTTP parsers do), a blank
/// line, the body.
fn parse_request(text: &str) -> Result<Wire, String> {
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.lines();
    let request_line = lines.next().ok_or("empty request")?;
    let (method, rest) =
        request_line.split_once(' ').ok_or_else(|| format!("bad request line {request_line:?}"))?;
    let target = match rest.rsplit_once(' ') {
        Some((target, version)) if version.starts_with("HTTP/") => target,
        _ => rest,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let (_, value) =
                headers.last_mut().ok_or_else(|| format!("continuation without header: {line:?}"))?;
            value.push(' ');
            value.push_str(line.trim_start());
        } else {
            let (name, value) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?}"))?;
            headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
        }
    }
    Ok(Wire {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    })
}

/// Reads a vector file, trimmed as the AWS suite's own runner trims it.
fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|text| text.replace("\r\n", "\n").trim().to_owned())
        .map_err(|e| format!("read {}: {e}", path.display()))
}

/// Reads a request file untrimmed (a body may end in whitespace).
fn read_request(path: &Path) -> Result<Wire, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    parse_request(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn ensure_eq(what: &str, expected: &str, actual: &str) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{what} differs\n--- expected (vector)\n{expected}\n--- actual (ours)\n{actual}\n---"))
    }
}

/// The client's signed headers, credential and date as presented in `form`.
struct Presented {
    signed_headers: String,
    scope_date: String,
    amz_date: String,
}

fn presented(wire: &Wire, form: Form) -> Result<Presented, String> {
    let (signed_headers, credential, amz_date) = match form {
        Form::Header => {
            let authorization = wire.header("authorization").ok_or("no Authorization header")?.trim();
            let field = |name: &str| {
                authorization
                    .split([',', ' '])
                    .find_map(|part| part.trim().strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
                    .map(str::to_owned)
                    .ok_or_else(|| format!("no {name} in {authorization}"))
            };
            let amz_date = wire.header("x-amz-date").ok_or("no X-Amz-Date header")?.trim().to_owned();
            (field("SignedHeaders")?, field("Credential")?, amz_date)
        }
        Form::Query => (
            wire.param("X-Amz-SignedHeaders").ok_or("no X-Amz-SignedHeaders")?,
            wire.param("X-Amz-Credential").ok_or("no X-Amz-Credential")?,
            wire.param("X-Amz-Date").ok_or("no X-Amz-Date")?,
        ),
    };
    let scope_date =
        credential.split('/').nth(1).ok_or_else(|| format!("bad credential {credential}"))?.to_owned();
    Ok(Presented { signed_headers, scope_date, amz_date })
}

/// The canonical request our `canonical` module computes for a received request: the
/// client's SignedHeaders, the body's hash (or the `x-amz-content-sha256` it claims), and
/// for a presigned request whose session token was added after signing, the query without it.
fn our_canonical_request(wire: &Wire, presented: &Presented, normalize: bool, omit_token: bool) -> String {
    let payload_hash = wire
        .header("x-amz-content-sha256")
        .map(str::to_owned)
        .unwrap_or_else(|| canonical::sha256_hex(&wire.body));
    let query = if omit_token {
        canonical::canonical_query_without(&wire.query, &["X-Amz-Security-Token"])
    } else {
        canonical::canonical_query(&wire.query)
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        wire.method,
        canonical::canonical_uri(&wire.path, normalize),
        query,
        canonical::canonical_headers(&wire.headers, &presented.signed_headers),
        presented.signed_headers,
        payload_hash
    )
}

fn verifier_for(
    credential: Credential,
    region: &str,
    service: &str,
    normalize: bool,
    now: DateTime<Utc>,
) -> Verifier {
    let registry = CredentialRegistry::new();
    registry.register(credential);
    let mut settings = VerifierSettings::new(region, service);
    settings.normalize_path = normalize;
    Verifier::new(settings, registry).with_clock(Arc::new(move || now))
}

fn run_case(case_dir: &Path, form: Form) -> Result<(), String> {
    let context = read_context(case_dir)?;
    let unsigned = read_request(&case_dir.join("request.txt"))?;
    let wire = read_request(&case_dir.join(format!("{}-signed-request.txt", form.prefix())))?;

    // The signed request is the vector's request plus the signature: same method, body and
    // headers (the signer only adds).
    ensure_eq("method", &unsigned.method, &wire.method)?;
    ensure_eq("body", &String::from_utf8_lossy(&unsigned.body), &String::from_utf8_lossy(&wire.body))?;
    for (name, value) in &unsigned.headers {
        if !wire.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value) {
            return Err(format!("signed request lacks the request's header {name}:{value}"));
        }
    }

    let presented = presented(&wire, form)?;
    let creq = our_canonical_request(&wire, &presented, context.normalize, context.omit_session_token);
    let expected_creq = read(&case_dir.join(format!("{}-canonical-request.txt", form.prefix())))?;
    ensure_eq("canonical request", &expected_creq, &creq)?;

    let scope = canonical::credential_scope(&presented.scope_date, &context.region, &context.service);
    let sts = canonical::string_to_sign(&presented.amz_date, &scope, &creq);
    let expected_sts = read(&case_dir.join(format!("{}-string-to-sign.txt", form.prefix())))?;
    ensure_eq("string to sign", &expected_sts, &sts)?;

    let credential = Credential {
        access_key_id: context.access_key_id.clone(),
        secret_access_key: context.secret_access_key.clone(),
        session_token: context.token.clone(),
        expiration: None,
        principal_arn: PRINCIPAL.to_owned(),
    };
    let key = canonical::signing_key(
        &context.secret_access_key,
        &presented.scope_date,
        &context.region,
        &context.service,
    );
    let expected_signature = read(&case_dir.join(format!("{}-signature.txt", form.prefix())))?;
    ensure_eq("signature", &expected_signature, &canonical::signature(&key, &sts))?;

    let verifier =
        verifier_for(credential, &context.region, &context.service, context.normalize, context.timestamp);
    let caller = verifier.verify(&wire.incoming()).map_err(|e| {
        format!("verify at {}: {} ({})\n{}", context.timestamp, e, e.error_type(), e.message())
    })?;
    ensure_eq("caller", &context.access_key_id, &caller.access_key_id)
}

/// The two cases without context.json (`double-encode-path`, `double-url-encode`) carry only
/// header-form files. What each can check:
/// - `double-url-encode`: everything — its request is signed by `AKIDEXAMPLE` (the suite's
///   example secret) for `lambda` in `us-east-2` at its own `X-Amz-Date`, so the canonical
///   request, the string to sign and verification at that time are all checked.
/// - `double-encode-path`: its files disagree with each other (the canonical request is dated
///   20210511T154045Z, the request 20150830T123600Z) and its key `ANOTREAL` has no known
///   secret, so only the canonical request is checked, computed with the canonical file's
///   date; the signature cannot be verified.
///
/// Any other case without context.json fails, so a new one is noticed and handled.
fn run_case_without_context(case_dir: &Path) -> Result<(), String> {
    let case = case_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut wire = read_request(&case_dir.join("header-signed-request.txt"))?;
    let presented = presented(&wire, Form::Header)?;
    let expected_creq = read(&case_dir.join("header-canonical-request.txt"))?;
    match case.as_str() {
        "double-encode-path" => {
            let canonical_date = expected_creq
                .lines()
                .find_map(|line| line.strip_prefix("x-amz-date:"))
                .ok_or("no x-amz-date in the canonical request")?
                .to_owned();
            for (name, value) in &mut wire.headers {
                if name.eq_ignore_ascii_case("x-amz-date") {
                    *value = canonical_date.clone();
                }
            }
            let creq = our_canonical_request(&wire, &presented, true, false);
            ensure_eq("canonical request", &expected_creq, &creq)
        }
        "double-url-encode" => {
            let creq = our_canonical_request(&wire, &presented, true, false);
            ensure_eq("canonical request", &expected_creq, &creq)?;
            let credential = wire
                .header("authorization")
                .and_then(|a| a.split("Credential=").nth(1))
                .and_then(|c| c.split(',').next())
                .ok_or("no credential")?
                .to_owned();
            let scope: Vec<&str> = credential.split('/').collect();
            let [access_key_id, date, region, service, _] = scope[..] else {
                return Err(format!("bad credential {credential}"));
            };
            let sts = canonical::string_to_sign(
                &presented.amz_date,
                &canonical::credential_scope(date, region, service),
                &creq,
            );
            ensure_eq("string to sign", &read(&case_dir.join("header-string-to-sign.txt"))?, &sts)?;
            let now = canonical::parse_amz_date(&presented.amz_date).ok_or("bad X-Amz-Date")?;
            let credential = Credential {
                access_key_id: access_key_id.to_owned(),
                secret_access_key: EXAMPLE_SECRET.to_owned(),
                session_token: None,
                expiration: None,
                principal_arn: PRINCIPAL.to_owned(),
            };
            verifier_for(credential, region, service, true, now)
                .verify(&wire.incoming())
                .map(|_| ())
                .map_err(|e| format!("verify at {now}: {e}\n{}", e.message()))
        }
        other => Err(format!(
            "{other} has no context.json and this runner does not know what it can check; add it to \
             run_case_without_context"
        )),
    }
}
