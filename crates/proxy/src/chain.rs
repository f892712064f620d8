//! The standard AWS credential chain, by hand (no `aws-config`), as the proxy binary uses it:
//!
//! 1. environment keys: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` [+ `AWS_SESSION_TOKEN`];
//! 2. web identity: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` [+ `AWS_ROLE_SESSION_NAME`],
//!    exchanged at STS ([`sts_endpoint`]: the configured endpoint, else
//!    `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`);
//! 3. the shared credentials file: profile `AWS_PROFILE` (else `default`) of
//!    `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`).
//!
//! The environment is read from an [`Env`] value, never from the process directly, so tests
//! can give each case its own. A source that is half configured (a key id without its
//! secret, a role without a token file) is an error rather than a silent fall-through; when
//! nothing is configured the error names every source that was tried.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ampfed_common::{system_clock, Clock};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::credentials::{WebIdentity, WebIdentityCredentials};

/// A snapshot of environment variables; empty values count as unset.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    /// Values may be secrets: only the names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env").field("names", &self.vars.keys().collect::<Vec<_>>()).finish()
    }
}

impl Env {
    /// The process environment (variables that are not UTF-8 are left out).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly `pairs`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Settings of the chain that do not come from the environment.
#[derive(Clone)]
pub struct ChainOptions {
    /// The region STS clients use.
    pub region: String,
    /// The STS endpoint given on the command line; wins over the environment.
    pub sts_endpoint: Option<String>,
    /// How long before expiry temporary credentials are refreshed.
    pub refresh_ahead: Duration,
    /// The clock of the credential caches.
    pub clock: Clock,
}

impl fmt::Debug for ChainOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainOptions")
            .field("region", &self.region)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("refresh_ahead", &self.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl ChainOptions {
    /// Options for `region`: STS from the environment, refresh 60 s ahead, system clock.
    pub fn new(region: impl Into<String>) -> ChainOptions {
        ChainOptions {
            region: region.into(),
            sts_endpoint: None,
            refresh_ahead: Duration::from_secs(60),
            clock: system_clock(),
        }
    }

    /// Uses `endpoint` for STS whatever the environment says.
    pub fn sts_endpoint(mut self, endpoint: Option<String>) -> ChainOptions {
        self.sts_endpoint = endpoint;
        self
    }

    /// Refreshes temporary credentials `refresh_ahead` before they expire.
    pub fn refresh_ahead(mut self, refresh_ahead: Duration) -> ChainOptions {
        self.refresh_ahead = refresh_ahead;
        self
    }

    /// Replaces the clock of the credential caches.
    pub fn clock(mut self, clock: Clock) -> ChainOptions {
        self.clock = clock;
        self
    }
}

/// Which link of the chain the credentials came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged at `sts_endpoint`.
    WebIdentity { role_arn: String, sts_endpoint: String },
    /// A profile of the shared credentials file.
    Profile { name: String, path: PathBuf },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => f.write_str("environment (AWS_ACCESS_KEY_ID)"),
            Source::WebIdentity { role_arn, sts_endpoint } => {
                write!(f, "web identity (role {role_arn}, STS {sts_endpoint})")
            }
            Source::Profile { name, path } => write!(f, "profile {name} of {}", path.display()),
        }
    }
}

/// What the chain found.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Where the credentials come from.
    pub source: Source,
    /// The provider to sign with.
    pub provider: SharedCredentialsProvider,
}

/// Why the chain found no credentials.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("no AWS credentials found; tried:\n{}", tried.iter().map(|t| format!("  - {t}")).collect::<Vec<_>>().join("\n"))]
    NotFound { tried: Vec<String> },
    #[error("{source_name} credentials are misconfigured: {reason}")]
    Misconfigured { source_name: &'static str, reason: String },
    #[error("no STS endpoint usable: {0}")]
    StsEndpoint(String),
}

/// [`resolve`] over this process's environment with the default options for `region`.
pub fn resolve_for_process(region: &str) -> Result<Resolved, ChainError> {
    resolve(&Env::from_process(), &ChainOptions::new(region.to_owned()))
}

/// Walks the chain: environment keys, web identity, shared credentials file.
pub fn resolve(env: &Env, options: &ChainOptions) -> Result<Resolved, ChainError> {
    let mut tried = Vec::new();

    match (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => {
            let creds = Credentials::new(
                key,
                secret,
                env.get("AWS_SESSION_TOKEN").map(str::to_owned),
                None,
                "environment",
            );
            return Ok(Resolved {
                source: Source::Environment,
                provider: SharedCredentialsProvider::new(creds),
            });
        }
        (Some(_), None) => {
            return Err(misconfigured(
                "environment",
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            ))
        }
        (None, Some(_)) => {
            return Err(misconfigured(
                "environment",
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            ))
        }
        (None, None) => {
            tried.push("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into())
        }
    }

    match (env.get("AWS_ROLE_ARN"), env.get("AWS_WEB_IDENTITY_TOKEN_FILE")) {
        (Some(role_arn), Some(token_file)) => {
            let sts_endpoint = sts_endpoint(env, options)?;
            let identity = WebIdentity {
                role_arn: role_arn.to_owned(),
                token_file: PathBuf::from(token_file),
                session_name: env.get("AWS_ROLE_SESSION_NAME").unwrap_or("ampfed-sigv4-proxy").to_owned(),
                sts_endpoint: sts_endpoint.clone(),
                region: options.region.clone(),
            };
            let provider = WebIdentityCredentials::new(identity, options.refresh_ahead)
                .with_clock(options.clock.clone());
            return Ok(Resolved {
                source: Source::WebIdentity { role_arn: role_arn.to_owned(), sts_endpoint },
                provider: SharedCredentialsProvider::new(provider),
            });
        }
        (Some(_), None) => {
            return Err(misconfigured(
                "web identity",
                "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not",
            ))
        }
        (None, Some(_)) => {
            return Err(misconfigured(
                "web identity",
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
            ))
        }
        (None, None) => {
            tried.push("web identity: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are not set".into())
        }
    }

    let profile = env.get("AWS_PROFILE").unwrap_or("default");
    match credentials_file(env) {
        None => {
            tried.push("shared credentials file: neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set".into())
        }
        Some(path) => match std::fs::read_to_string(&path) {
            Err(e) => tried.push(format!("shared credentials file: cannot read {}: {e}", path.display())),
            Ok(text) => match profile_credentials(&parse_ini(&text), profile, &path)? {
                Some(creds) => {
                    return Ok(Resolved {
                        source: Source::Profile { name: profile.to_owned(), path },
                        provider: SharedCredentialsProvider::new(creds),
                    })
                }
                None => tried
                    .push(format!("shared credentials file: {} has no profile [{profile}]", path.display())),
            },
        },
    }
    Err(ChainError::NotFound { tried })
}

/// Where STS is: `options.sts_endpoint`, else `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
/// else the regional endpoint — which needs TLS, and this build's STS client speaks only
/// plain HTTP, so that case is an error asking for an endpoint.
pub fn sts_endpoint(env: &Env, options: &ChainOptions) -> Result<String, ChainError> {
    let configured = options
        .sts_endpoint
        .clone()
        .or_else(|| env.get("AWS_ENDPOINT_URL_STS").map(str::to_owned))
        .or_else(|| env.get("AWS_ENDPOINT_URL").map(str::to_owned));
    let endpoint = configured.unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", options.region));
    if endpoint.starts_with("http://") {
        Ok(endpoint)
    } else {
        Err(ChainError::StsEndpoint(format!(
            "{endpoint} needs TLS, which this build's STS client does not speak; \
             pass --sts-endpoint http://… or set AWS_ENDPOINT_URL_STS"
        )))
    }
}

fn misconfigured(source_name: &'static str, reason: &str) -> ChainError {
    ChainError::Misconfigured { source_name, reason: reason.to_owned() }
}

/// `AWS_SHARED_CREDENTIALS_FILE`, else `$HOME/.aws/credentials`.
fn credentials_file(env: &Env) -> Option<PathBuf> {
    env.get("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|home| Path::new(home).join(".aws").join("credentials")))
}

/// Section name → key → value. Keys are lower-cased; `#` and `;` start comment lines;
/// a later duplicate key wins, as in the SDKs.
pub fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            // The config file writes `[profile x]`; the credentials file writes `[x]`.
            let name = name.strip_prefix("profile ").map(str::trim).unwrap_or(name);
            sections.entry(name.to_owned()).or_default();
            current = Some(name.to_owned());
            continue;
        }
        let (Some(section), Some((key, value))) = (current.as_ref(), line.split_once('=')) else { continue };
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    sections
}

fn profile_credentials(
    ini: &BTreeMap<String, BTreeMap<String, String>>,
    profile: &str,
    path: &Path,
) -> Result<Option<Credentials>, ChainError> {
    let Some(section) = ini.get(profile) else { return Ok(None) };
    let get = |k: &str| section.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(key), Some(secret)) => Ok(Some(Credentials::new(
            key,
            secret,
            get("aws_session_token").map(str::to_owned),
            None,
            "profile",
        ))),
        _ => Err(misconfigured(
            "shared credentials file",
            &format!(
                "profile [{profile}] of {} lacks aws_access_key_id or aws_secret_access_key \
                 (role_arn, source_profile, sso and credential_process are not supported)",
                path.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_keys_and_comments() {
        let ini = parse_ini(
            "# c\n[default]\naws_access_key_id = AKIA1\n; c\nAWS_Secret_Access_Key=s1\n\n[profile dev]\naws_access_key_id=AKIA2\n",
        );
        assert_eq!(ini["default"]["aws_access_key_id"], "AKIA1");
        assert_eq!(ini["default"]["aws_secret_access_key"], "s1");
        assert_eq!(ini["dev"]["aws_access_key_id"], "AKIA2");
    }

    #[test]
    fn nothing_configured_names_every_source() {
        let env = Env::from_pairs([("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ampfed/credentials")]);
        let err = resolve(&env, &ChainOptions::new("us-west-2")).unwrap_err().to_string();
        assert!(err.contains("environment: AWS_ACCESS_KEY_ID"), "{err}");
        assert!(err.contains("web identity: AWS_ROLE_ARN"), "{err}");
        assert!(err.contains("/nonexistent/ampfed/credentials"), "{err}");
    }

    #[test]
    fn environment_wins_and_half_configurations_are_errors() {
        let env = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
        ]);
        assert_eq!(resolve(&env, &ChainOptions::new("r")).unwrap().source, Source::Environment);
        let half = Env::from_pairs([("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")]);
        assert!(resolve(&half, &ChainOptions::new("r"))
            .unwrap_err()
            .to_string()
            .contains("AWS_WEB_IDENTITY_TOKEN_FILE"));
    }

    #[test]
    fn sts_endpoint_precedence_and_tls_refusal() {
        let env =
            Env::from_pairs([("AWS_ENDPOINT_URL_STS", "http://sts.env"), ("AWS_ENDPOINT_URL", "http://all")]);
        let flag = ChainOptions::new("r").sts_endpoint(Some("http://flag".into()));
        assert_eq!(sts_endpoint(&env, &flag).unwrap(), "http://flag");
        assert_eq!(sts_endpoint(&env, &ChainOptions::new("r")).unwrap(), "http://sts.env");
        let err = sts_endpoint(&Env::default(), &ChainOptions::new("eu-west-1")).unwrap_err().to_string();
        assert!(err.contains("https://sts.eu-west-1.amazonaws.com"), "{err}");
    }
}
