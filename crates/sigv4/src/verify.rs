//! Server-side SigV4 verification, behaving like an AWS front end.
//!
//! [`Verifier::verify`] takes a request as received ([`IncomingRequest`]), finds the
//! signature (the `Authorization` header or the presigned `X-Amz-*` query parameters),
//! checks the credential scope, the signed headers, the clock skew and the key (known, not
//! expired, with its session token), rebuilds the canonical request from the request using
//! only the client's `SignedHeaders`, and compares signatures in constant time. Failures
//! are [`AuthError`]s carrying AWS's error types and messages.
//!
//! Checks run in this order: signature present and parsable, scope terminator, region,
//! service, `host`/`x-amz-date` signed, `x-amz-date` well formed and matching the scope
//! date, clock skew (and presigned expiry), access key known, session token, expiry,
//! signature.
//!
//! The payload hash in the canonical request is the body's own for every service but S3;
//! only S3 honours `UNSIGNED-PAYLOAD` and `STREAMING-…` markers (see [`VerifierSettings`]).
//! Times and durations from the request are compared with checked arithmetic: an
//! `X-Amz-Date` in the year 9999 or an `X-Amz-Expires` past `u64` is refused, never
//! overflowed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use ampfed_common::Clock;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::canonical::{
    assemble_canonical_request, canonical_query, canonical_query_without, credential_scope,
    encode_query_component, sha256_hex, signature, signing_key, string_to_sign, ALGORITHM, SIGNATURE_PARAM,
    UNSIGNED_PAYLOAD,
};
use crate::date::parse_amz_date;
use crate::error::AuthError;
use crate::registry::{CredentialRegistry, KeyState};
use crate::request::IncomingRequest;

/// The presigned form's session token parameter.
const SECURITY_TOKEN_PARAM: &str = "X-Amz-Security-Token";
/// Longest validity AWS accepts for a presigned request: seven days.
const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;
/// Derived keys kept before the cache is emptied (keys change daily; this only bounds memory).
const KEY_CACHE_LIMIT: usize = 1024;

/// What the endpoint is and how strict it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierSettings {
    /// The endpoint's region, e.g. `us-west-2`.
    pub region: String,
    /// The endpoint's signing name: `aps` for AMP, `sts` for STS, `s3` for S3. Only `s3`
    /// takes `UNSIGNED-PAYLOAD` (and `STREAMING-…`) payload hashes; for the others the
    /// verifier hashes the body itself.
    pub service: String,
    /// Allowed difference between `x-amz-date` and the server's clock (AMP: 5 minutes).
    pub max_skew: chrono::Duration,
    /// Normalise the path and encode it a second time (every service but S3); without it the
    /// path is used as received (S3).
    pub normalize_path: bool,
}

impl VerifierSettings {
    /// Settings for `service` in `region`: 5 minutes of skew, path normalisation unless the
    /// service is `s3`.
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        let service = service.into();
        let normalize_path = service != "s3";
        Self { region: region.into(), service, max_skew: chrono::Duration::minutes(5), normalize_path }
    }

    /// Settings for AMP (`aps`) in `region`.
    pub fn aps(region: impl Into<String>) -> Self {
        Self::new(region, "aps")
    }
}

impl Default for VerifierSettings {
    /// AMP in `us-east-1`.
    fn default() -> Self {
        Self::aps("us-east-1")
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The principal the key belongs to.
    pub principal_arn: String,
}

/// Verifies SigV4 signatures against a [`CredentialRegistry`]. Cheap to clone; clones share
/// the registry and the derived-key cache.
#[derive(Clone)]
pub struct Verifier {
    settings: VerifierSettings,
    registry: CredentialRegistry,
    clock: Clock,
    key_cache: Arc<Mutex<HashMap<KeyCacheKey, [u8; 32]>>>,
}

/// (secret, date, region, service).
type KeyCacheKey = (String, String, String, String);

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.settings)
            .field("registry", &self.registry)
            .finish()
    }
}

/// How the client presented its signature.
#[derive(Debug, PartialEq, Eq)]
enum Form {
    Header,
    Presigned { expires_secs: u64 },
}

/// The signature and its context, as the client presented them.
struct Presented {
    form: Form,
    credential: String,
    signed_headers: String,
    signature: String,
    amz_date: String,
    security_token: Option<String>,
}

impl Verifier {
    /// A verifier for the endpoint described by `settings`, accepting the keys in `registry`,
    /// with the system clock.
    pub fn new(settings: VerifierSettings, registry: CredentialRegistry) -> Self {
        Self { settings, registry, clock: ampfed_common::system_clock(), key_cache: Arc::default() }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The endpoint's settings.
    pub fn settings(&self) -> &VerifierSettings {
        &self.settings
    }

    /// The registry keys are looked up in.
    pub fn registry(&self) -> &CredentialRegistry {
        &self.registry
    }

    /// The server's time now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Authenticates `req`: the caller on success, AWS's error otherwise.
    pub fn verify(&self, req: &IncomingRequest<'_>) -> Result<Caller, AuthError> {
        let now = self.now();
        let presented = presented_signature(req)?;

        let scope: Vec<&str> = presented.credential.split('/').collect();
        let [access_key_id, scope_date, scope_region, scope_service, terminator] = scope[..] else {
            return Err(AuthError::IncompleteSignature {
                detail: format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. \
                     keyid/date/region/service/term, got '{}'",
                    presented.credential
                ),
            });
        };
        if terminator != "aws4_request" {
            return Err(AuthError::WrongTerminator { terminator: terminator.to_owned() });
        }
        if scope_region != self.settings.region {
            return Err(AuthError::WrongRegion {
                scope_region: scope_region.to_owned(),
                expected: self.settings.region.clone(),
            });
        }
        if scope_service != self.settings.service {
            return Err(AuthError::WrongService {
                scope_service: scope_service.to_owned(),
                expected: self.settings.service.clone(),
            });
        }

        let signed = |name: &str| presented.signed_headers.split(';').any(|h| h.eq_ignore_ascii_case(name));
        if !signed("host") {
            return Err(AuthError::HeaderNotSigned { header: "host" });
        }
        if presented.form == Form::Header && !signed("x-amz-date") {
            return Err(AuthError::HeaderNotSigned { header: "x-amz-date" });
        }

        let request_time = parse_amz_date(&presented.amz_date)
            .ok_or_else(|| AuthError::MalformedDate { value: presented.amz_date.clone() })?;
        if presented.amz_date.get(..8) != Some(scope_date) {
            return Err(AuthError::ScopeDateMismatch {
                scope_date: scope_date.to_owned(),
                amz_date: presented.amz_date.clone(),
            });
        }
        self.check_time(&presented.form, request_time, now)?;

        let (credential, expired) = match self.registry.state(access_key_id, now) {
            KeyState::Unknown => {
                return Err(AuthError::UnknownAccessKey { access_key_id: access_key_id.to_owned() })
            }
            KeyState::Expired(credential) => (credential, true),
            KeyState::Valid(credential) => (credential, false),
        };
        let token_ok = match (credential.session_token.as_deref(), presented.security_token.as_deref()) {
            (None, None) => true,
            (Some(expected), Some(got)) => bool::from(expected.as_bytes().ct_eq(got.as_bytes())),
            _ => false,
        };
        if !token_ok {
            return Err(AuthError::InvalidSecurityToken { access_key_id: access_key_id.to_owned() });
        }
        if expired {
            return Err(AuthError::ExpiredToken { access_key_id: access_key_id.to_owned() });
        }

        let client_declared = payload_is_client_declared(&self.settings.service);
        let (payload_hashes, body_hash_ok) = payload_hashes(req, &presented.form, client_declared);
        let queries = canonical_queries(req, &presented.form);
        let scope = credential_scope(scope_date, scope_region, scope_service);
        let key = self.derived_key(&credential.secret_access_key, scope_date, scope_region, scope_service);
        let mut reported = None;
        for query in &queries {
            for payload_hash in &payload_hashes {
                let canonical = assemble_canonical_request(
                    req,
                    query,
                    &presented.signed_headers,
                    payload_hash,
                    self.settings.normalize_path,
                );
                let to_sign = string_to_sign(&presented.amz_date, &scope, &canonical);
                let expected = signature(&key, &to_sign);
                let matches = bool::from(expected.as_bytes().ct_eq(presented.signature.as_bytes()));
                if matches && body_hash_ok {
                    return Ok(Caller {
                        access_key_id: credential.access_key_id,
                        principal_arn: credential.principal_arn,
                    });
                }
                if reported.is_none() {
                    reported = Some((canonical, to_sign));
                }
            }
        }
        let (canonical, to_sign) = reported.unwrap_or_default();
        Err(AuthError::SignatureMismatch {
            canonical_request: redact_token(canonical, presented.security_token.as_deref()),
            string_to_sign: to_sign,
        })
    }

    fn check_time(
        &self,
        form: &Form,
        request_time: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let skew = self.settings.max_skew;
        if request_time > now.checked_add_signed(skew).unwrap_or(DateTime::<Utc>::MAX_UTC) {
            return Err(AuthError::SignatureNotYetCurrent { request_time, server_time: now, allowed: skew });
        }
        let allowed = match form {
            Form::Header => skew,
            // At most MAX_PRESIGNED_EXPIRES_SECS (checked when parsing); converted without a
            // cast or an unchecked constructor all the same.
            Form::Presigned { expires_secs } => {
                i64::try_from((*expires_secs).min(MAX_PRESIGNED_EXPIRES_SECS))
                    .ok()
                    .and_then(chrono::Duration::try_seconds)
                    .unwrap_or(chrono::Duration::weeks(1))
            }
        };
        if request_time < now.checked_sub_signed(allowed).unwrap_or(DateTime::<Utc>::MIN_UTC) {
            return Err(AuthError::SignatureExpired { request_time, server_time: now, allowed });
        }
        Ok(())
    }

    fn derived_key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let cache_key = (secret.to_owned(), date.to_owned(), region.to_owned(), service.to_owned());
        let mut cache = self.key_cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = cache.get(&cache_key) {
            return *key;
        }
        let key = signing_key(secret, date, region, service);
        if cache.len() >= KEY_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(cache_key, key);
        key
    }
}

/// The first header named `name` (any case).
fn header<'r>(req: &IncomingRequest<'r>, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .find(|(received, _)| received.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Finds the signature in the `Authorization` header or the presigned query parameters.
fn presented_signature(req: &IncomingRequest<'_>) -> Result<Presented, AuthError> {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(req.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());

    match (header(req, "authorization"), param(SIGNATURE_PARAM)) {
        (None, None) => Err(AuthError::MissingAuthenticationToken),
        (Some(_), Some(_)) => Err(AuthError::IncompleteSignature {
            detail: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature \
                     query string parameter or the Authorization header should be specified"
                .to_owned(),
        }),
        (Some(authorization), None) => {
            let all: Vec<&str> = req
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                .map(|(_, value)| value.as_str())
                .collect();
            if all.len() > 1 {
                // A proxy would join them with commas into one value that names two
                // credentials and two signatures; refuse rather than pick one.
                return Err(AuthError::IncompleteSignature {
                    detail: format!(
                        "Only one Authorization header is allowed, got {}. Authorization={}",
                        all.len(),
                        redact_signatures(&all.join(", "))
                    ),
                });
            }
            let (credential, signed_headers, signature) = parse_authorization(authorization)?;
            let amz_date = header(req, "x-amz-date").ok_or_else(|| AuthError::IncompleteSignature {
                detail: format!(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
                     Authorization={}",
                    redact_signatures(authorization)
                ),
            })?;
            Ok(Presented {
                form: Form::Header,
                credential,
                signed_headers,
                signature,
                amz_date: amz_date.to_owned(),
                security_token: header(req, "x-amz-security-token").map(str::to_owned),
            })
        }
        (None, Some(signature)) => {
            let required =
                ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"];
            let [Some(algorithm), Some(credential), Some(amz_date), Some(signed_headers), Some(expires)] =
                required.map(param)
            else {
                return Err(AuthError::IncompleteSignature {
                    detail: "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
                             X-Amz-Expires parameters."
                        .to_owned(),
                });
            };
            if algorithm != ALGORITHM {
                return Err(AuthError::IncompleteSignature {
                    detail: format!("X-Amz-Algorithm only supports \"{ALGORITHM}\""),
                });
            }
            let expires_secs = expires.parse::<u64>().map_err(|_| AuthError::IncompleteSignature {
                detail: "X-Amz-Expires should be a number".to_owned(),
            })?;
            if expires_secs > MAX_PRESIGNED_EXPIRES_SECS {
                return Err(AuthError::IncompleteSignature {
                    detail: format!(
                        "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECS}"
                    ),
                });
            }
            let security_token = param(SECURITY_TOKEN_PARAM)
                .or_else(|| header(req, "x-amz-security-token").map(str::to_owned));
            Ok(Presented {
                form: Form::Presigned { expires_secs },
                credential,
                signed_headers,
                signature,
                amz_date,
                security_token,
            })
        }
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` into its three values.
fn parse_authorization(value: &str) -> Result<(String, String, String), AuthError> {
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    // HTTP servers strip optional whitespace around a header value; callers that build an
    // `IncomingRequest` by hand may not.
    let value = value.trim_matches([' ', '\t']);
    if let Some(rest) = value.strip_prefix(ALGORITHM).filter(|rest| rest.starts_with([' ', '\t'])) {
        for part in rest.split(',') {
            let Some((key, val)) = part.trim().split_once('=') else { continue };
            let slot = match key.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            *slot = Some(val.trim().to_owned());
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => {
            Ok((credential, signed_headers, signature))
        }
        (credential, signed_headers, signature) => {
            let mut detail = String::new();
            for (present, name) in [
                (credential.is_some(), "Credential"),
                (signature.is_some(), "Signature"),
                (signed_headers.is_some(), "SignedHeaders"),
            ] {
                if !present {
                    detail.push_str(&format!("Authorization header requires '{name}' parameter. "));
                }
            }
            detail.push_str(&format!("Authorization={}", redact_signatures(value)));
            Err(AuthError::IncompleteSignature { detail })
        }
    }
}

/// The payload hashes to try, and whether a claimed `x-amz-content-sha256` agrees with the body.
///
/// Only S3 (`client_declared`) takes the client's word for the payload, as AWS does:
///
/// - `x-amz-content-sha256: UNSIGNED-PAYLOAD` or a `STREAMING-…` marker: used as it is for
///   S3 (the chunk signatures of streaming uploads are not checked); every other service
///   hashes the body itself and uses that hash, so a signature over the marker does not match.
/// - `x-amz-content-sha256` with a hex hash: the body's hash, and the claim must agree with it.
/// - Presigned without the header: for S3 `UNSIGNED-PAYLOAD`, then the body's hash (what
///   `aws-sigv4` puts there when given the body); for other services the body's hash.
/// - Otherwise: the body's hash.
fn payload_hashes(req: &IncomingRequest<'_>, form: &Form, client_declared: bool) -> (Vec<String>, bool) {
    let is_marker = |claimed: &str| claimed == UNSIGNED_PAYLOAD || claimed.starts_with("STREAMING-");
    match header(req, "x-amz-content-sha256") {
        Some(claimed) if is_marker(claimed) && client_declared => (vec![claimed.to_owned()], true),
        Some(claimed) if is_marker(claimed) => (vec![sha256_hex(req.body)], true),
        Some(claimed) => {
            let actual = sha256_hex(req.body);
            let agrees = claimed == actual;
            (vec![actual], agrees)
        }
        None if client_declared && matches!(form, Form::Presigned { .. }) => {
            (vec![UNSIGNED_PAYLOAD.to_owned(), sha256_hex(req.body)], true)
        }
        None => (vec![sha256_hex(req.body)], true),
    }
}

/// Whether `service` takes the payload hash the client declares (`UNSIGNED-PAYLOAD`,
/// `STREAMING-…`) instead of hashing the body itself: S3 only.
fn payload_is_client_declared(service: &str) -> bool {
    service == "s3"
}

/// The canonical query strings to try: the whole query (less `X-Amz-Signature`) and, for a
/// presigned request, also without `X-Amz-Security-Token`, which some signers append after
/// signing (the AWS suite's `post-sts-header-after`).
fn canonical_queries(req: &IncomingRequest<'_>, form: &Form) -> Vec<String> {
    let whole = canonical_query(req.query);
    if matches!(form, Form::Presigned { .. }) {
        let without_token = canonical_query_without(req.query, &[SECURITY_TOKEN_PARAM]);
        if without_token != whole {
            return vec![whole, without_token];
        }
    }
    vec![whole]
}

/// Replaces the session token (raw, as in headers, and query-encoded) in a canonical request
/// shown in an error message.
fn redact_token(canonical: String, token: Option<&str>) -> String {
    let Some(token) = token.filter(|token| !token.is_empty()) else { return canonical };
    let replacement = format!("** redacted session token (length={}) **", token.len());
    canonical.replace(&encode_query_component(token), &replacement).replace(token, &replacement)
}

/// The Authorization text quoted back in error messages, with every `Signature=` value
/// replaced: error bodies travel into clients' logs, and signatures count as secrets here.
pub fn redact_signatures(authorization: &str) -> String {
    let mut out = String::with_capacity(authorization.len());
    let mut rest = authorization;
    while let Some(at) = rest.find("Signature=") {
        let value_start = at + "Signature=".len();
        out.push_str(&rest[..value_start]);
        let value_len = rest[value_start..].find([',', ' ']).unwrap_or(rest.len() - value_start);
        if value_len > 0 {
            out.push_str("<redacted>");
        }
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_parsing_tolerates_missing_spaces_and_reports_missing_parts() {
        let parsed = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=A/b/c/d/aws4_request,SignedHeaders=host,Signature=ab",
        );
        assert_eq!(parsed, Ok(("A/b/c/d/aws4_request".to_owned(), "host".to_owned(), "ab".to_owned())));
        // Surrounding whitespace (as in the AWS suite's double-url-encode file) is not part of it.
        let padded = parse_authorization(
            " AWS4-HMAC-SHA256 Credential=A/b/c/d/aws4_request, SignedHeaders=host, Signature=ab\t",
        );
        assert_eq!(padded, parsed);
        let Err(AuthError::IncompleteSignature { detail }) =
            parse_authorization("AWS4-HMAC-SHA256 Signature=ab")
        else {
            panic!("expected an incomplete signature");
        };
        assert_eq!(
            detail,
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Signature=<redacted>"
        );
    }
}
