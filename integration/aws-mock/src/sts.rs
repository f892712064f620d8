//! The STS mock (query protocol, XML answers as STS writes them):
//!
//! - `AssumeRoleWithWebIdentity`, unsigned: a token is accepted only for the role it was
//!   trusted for (see `AwsMock::trust_web_identity`).
//! - `AssumeRole` and `GetCallerIdentity`, SigV4-signed for `sts` and verified against the
//!   same credential registry the AMP mock uses; `AssumeRole` follows the role's trust policy
//!   (`AwsMock::trust_assume_role`) and honours `DurationSeconds` (900 to 43200).
//!
//! Issued credentials go into the registry, dated by the mock's clock. Errors are STS's
//! `ErrorResponse` documents (`InvalidIdentityToken`, `ExpiredTokenException`,
//! `AccessDenied`, `SignatureDoesNotMatch`, …) with STS's HTTP statuses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ampfed_sigv4::{AuthError, Caller, Clock, CredentialRegistry, Verifier, VerifierSettings};
use chrono::SecondsFormat;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::account::ACCOUNT_ID;
use crate::request::verify_request;
use crate::sync::lock;

/// Shortest and longest `DurationSeconds` `AssumeRole` accepts.
const DURATION_RANGE: std::ops::RangeInclusive<u64> = 900..=43_200;

/// What the STS mock remembers: trust policies, fault injections, call counts.
#[derive(Debug, Default)]
pub(crate) struct StsState {
    /// Web identity token → the role it may assume.
    web_identity_trust: BTreeMap<String, String>,
    /// Roles whose credentials the STS mock marks expired as soon as it issues them.
    expire_on_issue: Vec<String>,
    /// Role ARN → principals allowed to assume it (`*` for anyone authenticated).
    role_trust: BTreeMap<String, BTreeSet<String>>,
    /// Web identity tokens that are expired.
    expired_tokens: BTreeSet<String>,
    /// Successful calls per action.
    calls: BTreeMap<String, usize>,
}

impl StsState {
    pub(crate) fn trust_web_identity(&mut self, token: &str, role_arn: &str) {
        self.web_identity_trust.insert(token.to_owned(), role_arn.to_owned());
    }

    pub(crate) fn expire_credentials_on_issue(&mut self, role_arn: &str) {
        self.expire_on_issue.push(role_arn.to_owned());
    }

    pub(crate) fn trust_assume_role(&mut self, principal_arn: &str, role_arn: &str) {
        self.role_trust.entry(role_arn.to_owned()).or_default().insert(principal_arn.to_owned());
    }

    pub(crate) fn expire_token(&mut self, token: &str) {
        self.expired_tokens.insert(token.to_owned());
    }

    pub(crate) fn calls(&self, action: &str) -> usize {
        self.calls.get(action).copied().unwrap_or(0)
    }

    /// Whether `caller` may assume `role_arn`: its own ARN, the role its session belongs to,
    /// or `*` is in the role's trust policy.
    fn may_assume(&self, caller: &str, role_arn: &str) -> bool {
        let Some(trusted) = self.role_trust.get(role_arn) else { return false };
        trusted.contains("*")
            || trusted.contains(caller)
            || session_role_arn(caller).is_some_and(|role| trusted.contains(&role))
    }
}

/// The STS mock: its state, the credential registry it issues into and its verifier.
pub(crate) struct StsService {
    /// Lifetime of issued credentials when a request gives no `DurationSeconds`.
    credential_lifetime: Duration,
    registry: CredentialRegistry,
    /// Verifies signed actions: same registry and clock as the AMP verifier, service `sts`.
    verifier: Verifier,
    state: Mutex<StsState>,
}

impl StsService {
    /// An STS in `region` issuing into `registry`, dated by `clock`.
    pub(crate) fn new(
        region: &str,
        credential_lifetime: Duration,
        registry: CredentialRegistry,
        clock: Clock,
    ) -> StsService {
        let verifier = Verifier::new(VerifierSettings::new(region.to_owned(), "sts"), registry.clone())
            .with_clock(clock);
        StsService { credential_lifetime, registry, verifier, state: Mutex::new(StsState::default()) }
    }

    /// The state, locked.
    pub(crate) fn state(&self) -> MutexGuard<'_, StsState> {
        lock(&self.state)
    }
}

/// The wiremock responder of the STS mock.
pub(crate) struct StsResponder(Arc<StsService>);

impl StsResponder {
    pub(crate) fn new(sts: Arc<StsService>) -> StsResponder {
        StsResponder(sts)
    }
}

impl Respond for StsResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

impl StsService {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut params: BTreeMap<String, String> =
            request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let form = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            params
                .extend(form_urlencoded::parse(&request.body).map(|(k, v)| (k.into_owned(), v.into_owned())));
        }
        let action = params.get("Action").cloned();
        let result = match action.as_deref() {
            Some("AssumeRoleWithWebIdentity") => self.assume_role_with_web_identity(&params),
            Some("AssumeRole") => {
                self.authenticate(request).and_then(|caller| self.assume_role(&caller, &params))
            }
            Some("GetCallerIdentity") => {
                self.authenticate(request).map(|caller| get_caller_identity(&caller))
            }
            Some(other) => Err(StsError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
            None => Err(StsError::new(400, "MissingAction", "Missing Action")),
        };
        match result {
            Ok(body) => {
                if let Some(action) = action {
                    *self.state().calls.entry(action).or_default() += 1;
                }
                ResponseTemplate::new(200).set_body_raw(body, "text/xml")
            }
            Err(e) => {
                tracing::info!(
                    action = action.as_deref().unwrap_or(""),
                    code = e.code,
                    "STS request refused"
                );
                e.response()
            }
        }
    }
}

impl StsService {
    fn authenticate(&self, request: &Request) -> Result<Caller, StsError> {
        verify_request(&self.verifier, request).map_err(|e| StsError::auth(&e))
    }

    fn assume_role_with_web_identity(&self, params: &BTreeMap<String, String>) -> Result<String, StsError> {
        let (role_arn, session, token) = (
            required(params, "RoleArn")?,
            required(params, "RoleSessionName")?,
            required(params, "WebIdentityToken")?,
        );
        if !valid_session_name(session) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        if !(4..=20_000).contains(&token.len()) {
            return Err(StsError::validation(
                "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4".to_owned(),
            ));
        }
        let now = self.verifier.now();
        if self.state().expired_tokens.contains(token) {
            return Err(StsError::new(
                400,
                "ExpiredTokenException",
                format!(
                    "Token expired: current date/time {} must be before the expiration date/time{}",
                    now.timestamp(),
                    now.timestamp() - 1
                ),
            ));
        }
        let trusted = self.state().web_identity_trust.get(token).cloned();
        match trusted {
            None => return Err(StsError::new(400, "InvalidIdentityToken", "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.")),
            Some(allowed) if allowed != role_arn => {
                return Err(StsError::new(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
            }
            Some(_) => {}
        }
        let lifetime = duration(params, self.credential_lifetime)?;
        let issued = self.issue(role_arn, session, lifetime);
        Ok(format!(
            r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ampfed:{session}</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
{user_and_credentials}
    <Provider>oidc.ampfed.local</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"#,
            session = xml_escape(session),
            user_and_credentials = issued,
            request_id = request_id(),
        ))
    }

    fn assume_role(&self, caller: &Caller, params: &BTreeMap<String, String>) -> Result<String, StsError> {
        let (role_arn, session) = (required(params, "RoleArn")?, required(params, "RoleSessionName")?);
        if !valid_session_name(session) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        if !self.state().may_assume(&caller.principal_arn, role_arn) {
            return Err(StsError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.principal_arn
                ),
            ));
        }
        let lifetime = duration(params, self.credential_lifetime)?;
        let issued = self.issue(role_arn, session, lifetime);
        Ok(format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
{issued}
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
"#,
            request_id = request_id(),
        ))
    }

    /// Issues credentials for a session of `role_arn`; the `AssumedRoleUser` and
    /// `Credentials` elements of the answer.
    fn issue(&self, role_arn: &str, session: &str, lifetime: Duration) -> String {
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let assumed_arn = format!("arn:aws:sts::{}:assumed-role/{role_name}/{session}", ACCOUNT_ID);
        let now = self.verifier.now();
        let cred = self.registry.issue_temporary(&assumed_arn, lifetime, now);
        if self.state().expire_on_issue.iter().any(|r| r == role_arn) {
            tracing::warn!(role = role_arn, "fault: credentials issued already expired on the server side");
            self.registry.expire(&cred.access_key_id);
        }
        tracing::debug!(role = role_arn, access_key_id = %cred.access_key_id, "issued temporary credentials");
        let expiration = cred.expiration.unwrap_or(now).to_rfc3339_opts(SecondsFormat::Secs, true);
        format!(
            r#"    <AssumedRoleUser>
      <Arn>{assumed_arn}</Arn>
      <AssumedRoleId>{role_id}:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{ak}</AccessKeyId>
      <SecretAccessKey>{sk}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>"#,
            assumed_arn = xml_escape(&assumed_arn),
            role_id = role_id(role_arn),
            session = xml_escape(session),
            ak = cred.access_key_id,
            sk = xml_escape(&cred.secret_access_key),
            token = xml_escape(cred.session_token.as_deref().unwrap_or("")),
        )
    }
}

fn get_caller_identity(caller: &Caller) -> String {
    let user_id = match caller.principal_arn.split_once(":assumed-role/") {
        Some((_, rest)) => {
            let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
            format!("{}:{session}", role_id(role))
        }
        None => format!("AIDA{}", &stable_id(&caller.principal_arn)),
    };
    format!(
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>{arn}</Arn>
    <UserId>{user_id}</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
"#,
        arn = xml_escape(&caller.principal_arn),
        user_id = xml_escape(&user_id),
        account = ACCOUNT_ID,
        request_id = request_id(),
    )
}

/// An STS error answer: `<ErrorResponse>` with `Type`, `Code`, `Message`, `RequestId`.
#[derive(Debug)]
struct StsError {
    status: u16,
    code: &'static str,
    message: String,
}

impl StsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> StsError {
        StsError { status, code, message: message.into() }
    }

    fn validation(message: String) -> StsError {
        StsError::new(400, "ValidationError", message)
    }

    /// How STS (not AMP's front end) words an authentication failure.
    fn auth(e: &AuthError) -> StsError {
        match e {
            AuthError::MissingAuthenticationToken => {
                StsError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
            }
            AuthError::IncompleteSignature { .. } => StsError::new(400, "IncompleteSignature", e.message()),
            AuthError::UnknownAccessKey { .. } | AuthError::InvalidSecurityToken { .. } => {
                StsError::new(403, "InvalidClientTokenId", e.message())
            }
            AuthError::ExpiredToken { .. } => StsError::new(400, "ExpiredToken", e.message()),
            AuthError::AccessDenied { .. } => StsError::new(403, "AccessDenied", e.message()),
            _ => StsError::new(403, "SignatureDoesNotMatch", e.message()),
        }
    }

    fn response(&self) -> ResponseTemplate {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            self.code,
            xml_escape(&self.message),
            request_id()
        );
        ResponseTemplate::new(self.status).set_body_raw(body, "text/xml")
    }
}

fn required<'p>(params: &'p BTreeMap<String, String>, name: &str) -> Result<&'p str, StsError> {
    match params.get(name).map(String::as_str) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => {
            let member = lower_first(name);
            Err(StsError::validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            )))
        }
    }
}

/// `DurationSeconds` if given (900 to 43200), else the mock's configured lifetime.
fn duration(params: &BTreeMap<String, String>, default: Duration) -> Result<Duration, StsError> {
    let Some(raw) = params.get("DurationSeconds") else { return Ok(default) };
    let secs: u64 = raw.parse().map_err(|_| {
        StsError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ))
    })?;
    if secs < *DURATION_RANGE.start() {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {}",
            DURATION_RANGE.start()
        )));
    }
    if secs > *DURATION_RANGE.end() {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {}",
            DURATION_RANGE.end()
        )));
    }
    Ok(Duration::from_secs(secs))
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `arn:aws:iam::<account>:role/<name>` of an assumed-role session ARN.
fn session_role_arn(principal_arn: &str) -> Option<String> {
    let (prefix, rest) = principal_arn.split_once(":assumed-role/")?;
    let account = prefix.rsplit(':').find(|s| !s.is_empty())?;
    let role = rest.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

/// A role's unique id as IAM shows it (`AROA…`), stable per role name.
fn role_id(role: &str) -> String {
    let name = role.rsplit('/').next().unwrap_or(role);
    format!("AROA{}", stable_id(name))
}

/// 17 upper-case characters derived from `s` (FNV-1a), so ids are stable across calls.
fn stable_id(s: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(17);
    let mut h = hash;
    for i in 0..17 {
        if i == 12 {
            h = hash.rotate_left(29);
        }
        out.push(char::from(CHARS[(h & 31) as usize]));
        h >>= 5;
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn request_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let hex: String = (0..32).map(|_| format!("{:x}", rng.gen_range(0..16u8))).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
