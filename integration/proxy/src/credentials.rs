//! Web identity credentials: token file + role ARN → STS `AssumeRoleWithWebIdentity` →
//! temporary credentials, cached and refreshed ahead of their expiry.
//!
//! STS is reached at a configured endpoint (the thing awslabs' proxy cannot do), without
//! touching the process environment. The type also implements the SDK's `ProvideCredentials`
//! so `aws-sdk-amp` clients get their credentials the same way.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use tokio::sync::Mutex;

use crate::ProxyError;

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

/// Cached web identity credentials, shared by clones.
#[derive(Clone)]
pub struct WebIdentityCredentials {
    identity: WebIdentity,
    sts: aws_sdk_sts::Client,
    cached: Arc<Mutex<Option<Credentials>>>,
    refresh_ahead: Duration,
}

impl fmt::Debug for WebIdentityCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the cached secret.
        f.debug_struct("WebIdentityCredentials")
            .field("role_arn", &self.identity.role_arn)
            .finish_non_exhaustive()
    }
}

impl WebIdentityCredentials {
    /// A provider that refreshes `refresh_ahead` before expiry (the Rust SDK uses about 10 s).
    pub fn new(identity: WebIdentity, refresh_ahead: Duration) -> WebIdentityCredentials {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(identity.region.clone()))
            .endpoint_url(identity.sts_endpoint.clone())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        WebIdentityCredentials {
            identity,
            sts: aws_sdk_sts::Client::from_conf(config),
            cached: Arc::new(Mutex::new(None)),
            refresh_ahead,
        }
    }

    /// The role these credentials are for.
    pub fn role_arn(&self) -> &str {
        &self.identity.role_arn
    }

    /// Current credentials, from the cache or freshly assumed.
    pub async fn get(&self) -> Result<Credentials, ProxyError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = c.expiry().is_none_or(|exp| SystemTime::now() + self.refresh_ahead < exp);
            if fresh {
                return Ok(c.clone());
            }
            tracing::debug!(role = %self.identity.role_arn, "credentials expire soon; refreshing");
        }
        let creds = self.assume().await?;
        *cached = Some(creds.clone());
        Ok(creds)
    }

    async fn assume(&self) -> Result<Credentials, ProxyError> {
        let path = &self.identity.token_file;
        let token = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| ProxyError::TokenFile { path: path.display().to_string(), source })?;
        let sts_error =
            |message: String| ProxyError::Sts { role_arn: self.identity.role_arn.clone(), message };
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.identity.role_arn)
            .role_session_name(&self.identity.session_name)
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| sts_error(aws_sdk_sts::error::DisplayErrorContext(&e).to_string()))?;
        let c = out.credentials().ok_or_else(|| sts_error("the answer holds no credentials".into()))?;
        let expiry = SystemTime::try_from(*c.expiration())
            .map_err(|e| sts_error(format!("bad Expiration {:?}: {e}", c.expiration())))?;
        tracing::info!(role = %self.identity.role_arn, access_key_id = c.access_key_id(), "assumed role with web identity");
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expiry),
            "ampfed-web-identity",
        ))
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
