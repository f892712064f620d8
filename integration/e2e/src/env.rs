//! The environment as a value: [`Env::up`] starts every service of the path and
//! [`Env::down`] (or dropping the [`Env`], on an error or Ctrl-C) stops them in reverse order
//! of start. It owns the processes (Prometheus, LocalStack, through an `ampfed_env::Scenario`),
//! the in-process AWS mocks and the signing proxy, and hands out what the steps need: the
//! endpoints, an AMP client with the platform admin's web identity, the ETL store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_common::Cancel;
use ampfed_env::containers::{self, Container, LocalStackImage, PrometheusImage};
use ampfed_env::localstack::{self, LocalStackEndpoint};
use ampfed_env::prometheus::{self, PrometheusEndpoint};
use ampfed_env::Scenario;
use ampfed_federation::{Store, StoreConfig};
use ampfed_prom::Client;
use ampfed_proxy::{ProxyOptions, SigningFault, SigningProxy, WebIdentity, WebIdentityCredentials};
use anyhow::{Context, Result};

use crate::progress::{Progress, StepName};
use crate::providers::{Backend, Providers, S3Provider};

/// The region every endpoint pretends to be in.
pub const REGION: &str = "us-west-2";
/// The central ETL bucket.
pub const BUCKET: &str = "kubecost-federated-etl";
/// The role the signing proxy runs as (IRSA on the cost-analyzer service account).
pub const PROXY_ROLE: &str = "arn:aws:iam::123456789012:role/kubecost-cost-analyzer-amp";
/// The role the platform team installs rules with.
pub const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/ampfed-platform-admin";
/// How long a teardown may take at most: each process gets 10 s to stop before SIGKILL.
pub const TEARDOWN_LIMIT: Duration = Duration::from_secs(30);

/// A fault to inject, to show that the failure is caught and explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// The proxy signs with a secret key that is not the one STS issued.
    WrongSecret,
    /// The STS mock marks the proxy's credentials expired as soon as it issues them.
    ExpiredCredential,
    /// The AMP mock answers a seeded fifth of remote writes with 429 or 503: the run must
    /// still pass, because the sender retries, and store every sample.
    Throttle,
}

/// The share of remote writes [`Fault::Throttle`] refuses, and its seed.
pub const THROTTLE_FRACTION: f64 = 0.2;
pub const THROTTLE_SEED: u64 = 20;

/// What the environment is made of.
#[derive(Clone, Debug)]
pub struct EnvConfig {
    /// The LocalStack venv (`scripts/install-localstack.sh`).
    pub localstack_venv: PathBuf,
    /// What stands behind S3 and the metrics backend.
    pub providers: Providers,
    /// A fault to inject into the signing path.
    pub fault: Option<Fault>,
    /// Keep the scenario directory (logs, Prometheus data) after the run.
    pub keep: bool,
    /// Copy the services' logs here when the environment stops (`None`: not kept).
    pub log_archive: Option<PathBuf>,
    /// Set on Ctrl-C: readiness waits in progress give up.
    pub cancel: Cancel,
}

impl EnvConfig {
    /// The defaults: the cache directory's LocalStack venv, Prometheus from `PATH`, no fault.
    pub fn from_env() -> EnvConfig {
        EnvConfig {
            localstack_venv: ampfed_common::paths::localstack_venv(),
            providers: Providers::default(),
            fault: None,
            keep: false,
            log_archive: None,
            cancel: Cancel::new(),
        }
    }
}

/// Every running service of the path. Fields are stopped in reverse order of start.
pub struct Env {
    proxy: SigningProxy,
    mock: Option<AwsMock>,
    admin: WebIdentity,
    /// The ETL store's server; `None` once stopped.
    s3: Option<S3Service>,
    /// The metrics backend behind the AMP mock.
    backend: BackendService,
    /// The processes and their directory; `None` once stopped.
    processes: Option<Scenario>,
}

impl Env {
    /// Starts the processes (step "environment"), then the AWS mocks and the signing proxy
    /// with password-less credentials (step "aws mock+proxy"). What was started before a
    /// failure is stopped again.
    pub async fn up(config: &EnvConfig, progress: &mut Progress) -> Result<Env> {
        // A kept-up environment (`cargo xtask up`) holds the cache directory: fail fast.
        crate::up::state::refuse_while_an_up_runs()?;
        let processes = progress
            .step(
                StepName::Environment,
                None,
                |_| start_services(config),
                |(_, backend, s3)| format!("backend {}  s3 {}", backend.url, s3.url()),
            )
            .await?;
        let (scenario, backend, s3) = processes;
        let mut guard = StopOnDrop(Some(scenario));
        let (mock, proxy, admin) = progress
            .step(
                StepName::AwsMockProxy,
                None,
                |_| start_aws(config, &backend.url, guard.dir()),
                |(mock, proxy, _)| {
                    format!("sts {}  aps {}  proxy {}", mock.sts_url(), mock.aps_url(), proxy.url())
                },
            )
            .await?;
        Ok(Env { proxy, mock: Some(mock), admin, s3: Some(s3), backend, processes: guard.0.take() })
    }

    /// Stops every service in reverse order of start and waits until they are gone.
    pub async fn down(mut self) -> Result<()> {
        self.stop_in_process();
        if let Some(S3Service::Container(container, _)) = self.s3.take() {
            container.handle.rm().await.context("remove the LocalStack container")?;
        }
        if let Some(container) = self.backend.container.take() {
            container.handle.rm().await.context("remove the Prometheus container")?;
        }
        if let Some(scenario) = self.processes.take() {
            tokio::task::spawn_blocking(move || drop(scenario)).await.context("teardown task")?;
        }
        Ok(())
    }

    /// The AWS mocks (STS and AMP).
    pub fn mock(&self) -> &AwsMock {
        self.mock.as_ref().unwrap_or_else(|| unreachable!("the mock lives until the env is stopped"))
    }

    /// The Prometheus API of `workspace` through the signing proxy, as a user queries AMP.
    pub fn workspace_client(&self, workspace: &str) -> Client {
        Client::new(format!("{}/workspaces/{workspace}", self.proxy.url()), "/api/v1/remote_write")
    }

    /// An AMP client with the platform admin's web identity (through STS).
    pub fn amp_admin(&self) -> aws_sdk_amp::Client {
        let credentials = WebIdentityCredentials::new(self.admin.clone(), Duration::from_secs(60));
        let config = ampfed_aws::sdk_config(&self.mock().aps_url(), REGION)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build();
        aws_sdk_amp::Client::new(&config)
    }

    /// The signing proxy's URL (`http://127.0.0.1:<port>`).
    pub fn proxy_url(&self) -> String {
        self.proxy.url()
    }

    /// The S3 endpoint's URL.
    pub fn s3_url(&self) -> &str {
        self.s3.as_ref().map(S3Service::url).unwrap_or_default()
    }

    /// The metrics backend's URL (unsigned, behind the AMP mock).
    pub fn backend_url(&self) -> &str {
        &self.backend.url
    }

    /// The scenario directory of the processes (logs, Prometheus data); `None` once stopped.
    pub fn scenario_dir(&self) -> Option<&Path> {
        self.processes.as_ref().map(Scenario::dir)
    }

    /// The central ETL bucket.
    pub fn store(&self) -> Store {
        if let Some(S3Service::Bucket(store, _)) = &self.s3 {
            return (**store).clone();
        }
        Store::new(&StoreConfig {
            endpoint: self.s3_url().to_owned(),
            region: REGION.into(),
            bucket: BUCKET.into(),
            access_key_id: S3_KEY.into(),
            secret_access_key: S3_SECRET.into(),
        })
    }

    /// Stops what runs inside this process: the proxy, then the mocks, then an embedded S3.
    fn stop_in_process(&mut self) {
        self.proxy.stop();
        self.mock = None;
        if matches!(self.s3, Some(S3Service::Embedded(_))) {
            self.s3 = None;
        }
    }
}

impl Drop for Env {
    /// On an error or Ctrl-C: stops everything without blocking an async worker thread (the
    /// processes stop on the runtime's blocking pool, which the runtime's shutdown awaits).
    fn drop(&mut self) {
        self.stop_in_process();
        StopOnDrop(self.processes.take());
    }
}

/// Stops a scenario's processes when dropped, off the async worker threads.
struct StopOnDrop(Option<Scenario>);

impl StopOnDrop {
    fn dir(&self) -> &Path {
        self.0.as_ref().map(Scenario::dir).unwrap_or_else(|| Path::new("."))
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(scenario) = self.0.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(scenario))),
            Err(_) => drop(scenario),
        }
    }
}

/// The access key the S3 servers accept (LocalStack takes any; the embedded one this one).
pub const S3_KEY: &str = "test";
pub const S3_SECRET: &str = "test";

/// The server behind the ETL bucket.
enum S3Service {
    Process(LocalStackEndpoint),
    Container(Box<Container<LocalStackImage>>, LocalStackEndpoint),
    Embedded(ampfed_s3::EmbeddedS3),
    /// A bucket the user owns: nothing runs for it.
    Bucket(Box<Store>, String),
}

impl S3Service {
    fn url(&self) -> &str {
        match self {
            S3Service::Process(e) | S3Service::Container(_, e) => &e.url,
            S3Service::Embedded(s3) => s3.endpoint(),
            S3Service::Bucket(_, url) => url,
        }
    }
}

/// The metrics backend: its URL, and the container when one runs it.
struct BackendService {
    url: String,
    container: Option<Container<PrometheusImage>>,
}

/// The processes (owned by a new scenario, started on a thread that may block on readiness
/// probes), then the containers or in-process servers the providers ask for.
async fn start_services(config: &EnvConfig) -> Result<(Scenario, BackendService, S3Service)> {
    let providers = config.providers.clone();
    let prom_options = prometheus::PrometheusOptions::default();
    let ls_options = localstack::LocalStackOptions { venv: config.localstack_venv.clone() };
    let (keep, cancel, archive) = (config.keep, config.cancel.clone(), config.log_archive.clone());
    let host = providers.clone();
    let (scenario, host_prometheus, host_s3) = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut scenario =
            Scenario::new(keep).context("create the scenario directory")?.cancelled_by(&cancel);
        if let Some(dir) = archive {
            scenario = scenario.archive_logs_to(dir);
        }
        let prom = match &host.backend {
            Backend::Host(binary) => Some(
                prometheus::start(
                    &mut scenario,
                    &prometheus::PrometheusOptions {
                        binary: binary.clone(),
                        ..prometheus::PrometheusOptions::default()
                    },
                )
                .context("start Prometheus")?,
            ),
            _ => None,
        };
        let s3 = match host.s3 {
            S3Provider::Localstack => {
                Some(localstack::start(&mut scenario, &ls_options).context("start LocalStack S3")?)
            }
            _ => None,
        };
        Ok((scenario, prom, s3))
    })
    .await
    .context("environment task")??;
    let backend = match (&providers.backend, host_prometheus) {
        (_, Some(PrometheusEndpoint { url })) => BackendService { url, container: None },
        (Backend::Container(binary), None) => {
            let version = prometheus::host_binary(binary.as_deref())
                .ok()
                .and_then(|b| prometheus::binary_version(&b))
                .unwrap_or_else(|| containers::PROMETHEUS_DEFAULT_VERSION.into());
            let (container, endpoint) = containers::start_prometheus(&version, &prom_options)
                .await
                .context("start the Prometheus container")?;
            BackendService { url: endpoint.url, container: Some(container) }
        }
        (Backend::Url(url), None) => {
            answers_queries(url).await?;
            BackendService { url: url.clone(), container: None }
        }
        (Backend::Host(_), None) => unreachable!("the host Prometheus was started above"),
    };
    let s3 = match (providers.s3, host_s3) {
        (_, Some(endpoint)) => S3Service::Process(endpoint),
        (S3Provider::LocalstackContainer, None) => {
            let (container, endpoint) =
                containers::start_localstack().await.context("start the LocalStack container")?;
            S3Service::Container(Box::new(container), endpoint)
        }
        (S3Provider::Embedded, None) => S3Service::Embedded(
            ampfed_s3::EmbeddedS3::start(ampfed_s3::Config::new(S3_KEY, S3_SECRET, REGION))
                .context("start the embedded S3")?,
        ),
        (S3Provider::Bucket, None) => {
            let file = providers.bucket.as_ref().context("--s3 bucket without its federated-store.yaml")?;
            for warning in &file.warnings {
                tracing::warn!("{warning}");
            }
            let store = file.open(|region| {
                ampfed_proxy::chain::resolve_for_process(region)
                    .map(|resolved| resolved.provider)
                    .context("the federated-store.yaml has no keys, and the credential chain found none")
            })?;
            S3Service::Bucket(Box::new(store), file.endpoint_url())
        }
        (S3Provider::Localstack, None) => unreachable!("LocalStack was started above"),
    };
    Ok((scenario, backend, s3))
}

/// A backend given by URL must answer an instant query before the run relies on it.
async fn answers_queries(url: &str) -> Result<()> {
    let probe = format!("{url}/api/v1/query?query=1");
    let answer = tokio::task::spawn_blocking(move || {
        ureq::get(&probe)
            .timeout(Duration::from_secs(5))
            .call()
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    })
    .await
    .context("backend probe task")?;
    match answer {
        Ok(200) => Ok(()),
        Ok(status) => anyhow::bail!("the backend at {url} answered {status} to /api/v1/query; give a Prometheus-compatible API root (--backend-url)"),
        Err(e) => anyhow::bail!("the backend at {url} does not answer /api/v1/query ({e}); start it, or use --backend host"),
    }
}

/// The STS and AMP mocks over the backend, web identities for the proxy and the admin, and
/// the signing proxy in front of AMP.
async fn start_aws(
    config: &EnvConfig,
    backend_url: &str,
    dir: &Path,
) -> Result<(AwsMock, SigningProxy, WebIdentity)> {
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: backend_url.to_owned(),
        credential_lifetime: Duration::from_secs(3600),
    })
    .await;
    let identity_dir = dir.join("identity");
    std::fs::create_dir_all(&identity_dir).with_context(|| format!("create {}", identity_dir.display()))?;
    let proxy_identity = web_identity(&mock, &identity_dir, "cost-analyzer", PROXY_ROLE)?;
    let admin_identity = web_identity(&mock, &identity_dir, "platform-admin", ADMIN_ROLE)?;
    if config.fault == Some(Fault::ExpiredCredential) {
        mock.expire_credentials_on_issue(PROXY_ROLE);
    }
    if config.fault == Some(Fault::Throttle) {
        mock.inject_write_faults(THROTTLE_FRACTION, THROTTLE_SEED);
    }
    let proxy = SigningProxy::start(
        ProxyOptions {
            listen: "127.0.0.1:0".parse().context("listen address")?,
            upstream: mock.aps_url(),
            region: REGION.into(),
            service: "aps".into(),
            fault: (config.fault == Some(Fault::WrongSecret)).then_some(SigningFault::WrongSecret),
        },
        WebIdentityCredentials::new(proxy_identity, Duration::from_secs(60)),
    )
    .await
    .context("start the signing proxy")?;
    Ok((mock, proxy, admin_identity))
}

/// Writes a projected service-account token file and trusts it for `role_arn`.
fn web_identity(mock: &AwsMock, dir: &Path, account: &str, role_arn: &str) -> Result<WebIdentity> {
    let token = random_token(account);
    let token_file = dir.join(format!("{account}.token"));
    write_secret(&token_file, &token)?;
    mock.trust_web_identity(&token, role_arn);
    Ok(WebIdentity {
        role_arn: role_arn.into(),
        token_file,
        session_name: account.into(),
        sts_endpoint: mock.sts_url(),
        region: REGION.into(),
    })
}

/// A web identity token nobody can guess: 32 random bytes, hex, after the account's name.
fn random_token(account: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("ampfed.{account}.{}", hex::encode(bytes))
}

/// Writes `secret` to a new file readable by its owner only (mode 0600 from the start, so
/// there is no moment when others may read it).
fn write_secret(path: &Path, secret: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(secret.as_bytes()).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn token_files_are_random_and_readable_by_the_owner_only() {
        let dir = ampfed_test_support::TempDir::new("e2e-token");
        let (a, b) = (random_token("cost-analyzer"), random_token("cost-analyzer"));
        assert_ne!(a, b);
        assert!(a.len() > 64, "{a}");
        let file = dir.join("cost-analyzer.token");
        write_secret(&file, &a).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), a);
        assert!(write_secret(&file, &b).is_err(), "an existing file is never overwritten");
    }
}
