//! Temporary credentials from STS, cached and refreshed ahead of their expiry.
//!
//! - [`WebIdentityCredentials`]: token file + role ARN → `AssumeRoleWithWebIdentity`.
//! - [`AssumeRoleCredentials`]: other credentials → `AssumeRole` (the proxy's `--role-arn`).
//!
//! STS is reached at a configured endpoint (the thing awslabs' proxy cannot do), without
//! touching the process environment. Both types implement the SDK's `ProvideCredentials`, so
//! `aws-sdk-*` clients can use them too. Their clock is injectable
//! ([`WebIdentityCredentials::with_clock`]): it decides when the cache is stale and dates the
//! STS requests that are signed. `Debug` never prints a secret or a token.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ampfed_common::clock::system_time;
use ampfed_common::{system_clock, Clock};
use aws_credential_types::provider::{
    self, error::CredentialsError, ProvideCredentials, SharedCredentialsProvider,
};
use aws_credential_types::Credentials;
use aws_sdk_sts::config::IdentityCache;
use tokio::sync::Mutex;

use crate::error::ProxyError;

/// Where a workload's identity comes from.
#[derive(Clone, Debug)]
pub struct WebIdentity {
    /// `AWS_ROLE_ARN`.
    pub role_arn: String,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`: re-read on every refresh, as the SDKs do.
    pub token_file: PathBuf,
    /// `AWS_ROLE_SESSION_NAME`.
    pub session_name: String,
    /// The STS endpoint (`AWS_ENDPOINT_URL_STS`).
    pub sts_endpoint: String,
    /// The region of the STS client.
    pub region: String,
}

/// A role to assume with other credentials (`sts:AssumeRole`).
#[derive(Clone, Debug)]
pub struct AssumeRole {
    /// The role to assume.
    pub role_arn: String,
    /// The session name (`RoleSessionName`).
    pub session_name: String,
    /// The STS endpoint.
    pub sts_endpoint: String,
    /// The region of the STS client (and of its signature).
    pub region: String,
}

/// Cached web identity credentials, shared by clones.
#[derive(Clone)]
pub struct WebIdentityCredentials {
    identity: WebIdentity,
    sts: aws_sdk_sts::Client,
    cache: Cache,
}

impl fmt::Debug for WebIdentityCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the cached secret.
        f.debug_struct("WebIdentityCredentials")
            .field("role_arn", &self.identity.role_arn)
            .field("sts_endpoint", &self.identity.sts_endpoint)
            .finish_non_exhaustive()
    }
}

impl WebIdentityCredentials {
    /// A provider that refreshes `refresh_ahead` before expiry (the Rust SDK uses about 10 s).
    pub fn new(identity: WebIdentity, refresh_ahead: Duration) -> WebIdentityCredentials {
        let clock = system_clock();
        WebIdentityCredentials {
            sts: sts_client(&identity.sts_endpoint, &identity.region, &clock, None),
            identity,
            cache: Cache::new(refresh_ahead, clock),
        }
    }

    /// Replaces the clock deciding when credentials are stale.
    pub fn with_clock(mut self, clock: Clock) -> WebIdentityCredentials {
        self.sts = sts_client(&self.identity.sts_endpoint, &self.identity.region, &clock, None);
        self.cache = Cache::new(self.cache.refresh_ahead, clock);
        self
    }

    /// The role these credentials are for.
    pub fn role_arn(&self) -> &str {
        &self.identity.role_arn
    }

    /// How many times STS was asked for credentials so far (clones share the count).
    pub fn fetches(&self) -> usize {
        self.cache.fetches()
    }

    /// Current credentials, from the cache or freshly assumed.
    pub async fn get(&self) -> Result<Credentials, ProxyError> {
        self.cache.get(&self.identity.role_arn, || self.assume()).await
    }

    async fn assume(&self) -> Result<Credentials, ProxyError> {
        let path = &self.identity.token_file;
        let token = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| ProxyError::TokenFile { path: path.display().to_string(), source })?;
        let sts_error = |message: String| ProxyError::Sts {
            action: "AssumeRoleWithWebIdentity",
            role_arn: self.identity.role_arn.clone(),
            message,
        };
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.identity.role_arn)
            .role_session_name(&self.identity.session_name)
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| sts_error(ampfed_aws::error_text(&e)))?;
        let creds = temporary(out.credentials(), "ampfed-web-identity").map_err(sts_error)?;
        tracing::info!(
            role = %self.identity.role_arn,
            access_key_id = creds.access_key_id(),
            "assumed role with web identity"
        );
        Ok(creds)
    }
}

impl ProvideCredentials for WebIdentityCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.get().await.map_err(CredentialsError::provider_error)
        })
    }
}

/// Cached credentials of a role assumed with other credentials, shared by clones.
#[derive(Clone)]
pub struct AssumeRoleCredentials {
    role: AssumeRole,
    base: SharedCredentialsProvider,
    sts: aws_sdk_sts::Client,
    cache: Cache,
}

impl fmt::Debug for AssumeRoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleCredentials")
            .field("role_arn", &self.role.role_arn)
            .field("sts_endpoint", &self.role.sts_endpoint)
            .finish_non_exhaustive()
    }
}

impl AssumeRoleCredentials {
    /// Assumes `role` with the credentials of `base` (which sign the `AssumeRole` call),
    /// refreshing `refresh_ahead` before expiry.
    pub fn new(
        base: impl ProvideCredentials + 'static,
        role: AssumeRole,
        refresh_ahead: Duration,
    ) -> AssumeRoleCredentials {
        let base = SharedCredentialsProvider::new(base);
        let clock = system_clock();
        AssumeRoleCredentials {
            sts: sts_client(&role.sts_endpoint, &role.region, &clock, Some(base.clone())),
            role,
            base,
            cache: Cache::new(refresh_ahead, clock),
        }
    }

    /// Replaces the clock deciding when credentials are stale and dating the signed STS calls.
    pub fn with_clock(mut self, clock: Clock) -> AssumeRoleCredentials {
        self.sts = sts_client(&self.role.sts_endpoint, &self.role.region, &clock, Some(self.base.clone()));
        self.cache = Cache::new(self.cache.refresh_ahead, clock);
        self
    }

    /// The role these credentials are for.
    pub fn role_arn(&self) -> &str {
        &self.role.role_arn
    }

    /// How many times STS was asked for credentials so far (clones share the count).
    pub fn fetches(&self) -> usize {
        self.cache.fetches()
    }

    /// Current credentials, from the cache or freshly assumed.
    pub async fn get(&self) -> Result<Credentials, ProxyError> {
        self.cache.get(&self.role.role_arn, || self.assume()).await
    }

    async fn assume(&self) -> Result<Credentials, ProxyError> {
        let sts_error = |message: String| ProxyError::Sts {
            action: "AssumeRole",
            role_arn: self.role.role_arn.clone(),
            message,
        };
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role.role_arn)
            .role_session_name(&self.role.session_name)
            .send()
            .await
            .map_err(|e| sts_error(ampfed_aws::error_text(&e)))?;
        let creds = temporary(out.credentials(), "ampfed-assume-role").map_err(sts_error)?;
        tracing::info!(role = %self.role.role_arn, access_key_id = creds.access_key_id(), "assumed role");
        Ok(creds)
    }
}

impl ProvideCredentials for AssumeRoleCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.get().await.map_err(CredentialsError::provider_error)
        })
    }
}

/// One set of credentials at a time, replaced `refresh_ahead` before it expires.
#[derive(Clone)]
struct Cache {
    cached: Arc<Mutex<Option<Credentials>>>,
    refresh_ahead: Duration,
    clock: Clock,
    fetches: Arc<AtomicUsize>,
}

impl Cache {
    fn new(refresh_ahead: Duration, clock: Clock) -> Cache {
        Cache { cached: Arc::default(), refresh_ahead, clock, fetches: Arc::default() }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The cached credentials if they are fresh, else `fetch`'s. Callers wait for one fetch
    /// instead of each starting their own. When a refresh fails while the cached credentials
    /// have not expired yet, those are used and the next call tries again.
    async fn get<F, Fut>(&self, role_arn: &str, fetch: F) -> Result<Credentials, ProxyError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Credentials, ProxyError>>,
    {
        let mut cached = self.cached.lock().await;
        let now = system_time(&self.clock);
        if let Some(c) = cached.as_ref() {
            // Checked: a refresh-ahead past the end of time (a flag's u64::MAX) means the
            // credentials are always due for a refresh, not an overflow.
            let fresh = |exp: SystemTime| now.checked_add(self.refresh_ahead).is_some_and(|due| due < exp);
            if c.expiry().is_none_or(fresh) {
                return Ok(c.clone());
            }
            tracing::debug!(role = %role_arn, "credentials expire soon; refreshing");
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match fetch().await {
            Ok(creds) => {
                *cached = Some(creds.clone());
                Ok(creds)
            }
            Err(e) => match cached.as_ref() {
                Some(c) if c.expiry().is_some_and(|exp| now < exp) => {
                    tracing::warn!(role = %role_arn, "refresh failed, the current credentials are still valid: {e}");
                    Ok(c.clone())
                }
                _ => Err(e),
            },
        }
    }
}

/// An STS client for `endpoint` over plain HTTP, on `clock`; signed with `credentials` if given.
fn sts_client(
    endpoint: &str,
    region: &str,
    clock: &Clock,
    credentials: Option<SharedCredentialsProvider>,
) -> aws_sdk_sts::Client {
    // Region, endpoint, the latest behaviour version and a plain-HTTP client.
    let mut config = ampfed_aws::sdk_config(endpoint, region)
        .time_source(ClockSource(clock.clone()))
        // A stalled STS must not hold every proxied request (they wait on the credential
        // cache's lock) forever.
        .timeout_config(
            aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .operation_attempt_timeout(std::time::Duration::from_secs(10))
                .operation_timeout(std::time::Duration::from_secs(30))
                .build(),
        );
    if let Some(credentials) = credentials {
        // The base provider caches (or is static); a second cache would only hide refreshes.
        config = config.credentials_provider(credentials).identity_cache(IdentityCache::no_cache());
    }
    aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(&config.build()).build())
}

/// The SDK's view of a [`Clock`].
struct ClockSource(Clock);

impl fmt::Debug for ClockSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClockSource")
    }
}

impl aws_smithy_async::time::TimeSource for ClockSource {
    fn now(&self) -> SystemTime {
        system_time(&self.0)
    }
}

/// The SDK credentials of an STS answer's `Credentials` element.
fn temporary(
    c: Option<&aws_sdk_sts::types::Credentials>,
    provider: &'static str,
) -> Result<Credentials, String> {
    let c = c.ok_or_else(|| "the answer holds no credentials".to_owned())?;
    let expiry = SystemTime::try_from(*c.expiration()).map_err(|e| format!("bad Expiration: {e}"))?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        Some(expiry),
        provider,
    ))
}
