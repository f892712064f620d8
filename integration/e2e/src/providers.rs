//! Which implementation stands behind each part of the environment: the S3 store, the metrics
//! backend, the clusters and the target. Chosen by flags, validated before anything starts,
//! and printed as one line (`providers: …`) so that a log says what ran.

use std::fmt;
use std::path::PathBuf;

/// Where the ETL bucket lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum S3Provider {
    /// LocalStack as a host process from the pinned venv (`cargo xtask setup`).
    #[default]
    Localstack,
    /// LocalStack as a container (testcontainers; needs a Docker engine).
    LocalstackContainer,
    /// ampfed's in-process S3 server (SigV4-verified, in memory): the fastest.
    Embedded,
    /// A bucket you own (AWS S3, MinIO, …), named by a Kubecost `federated-store.yaml`
    /// (`--federated-store FILE`); nothing is started for it.
    Bucket,
}

impl S3Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            S3Provider::Localstack => "localstack",
            S3Provider::LocalstackContainer => "localstack-container",
            S3Provider::Embedded => "embedded",
            S3Provider::Bucket => "bucket",
        }
    }
}

/// What the AMP mock stores samples in and queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The host's Prometheus (`--prometheus`, or `prometheus` on PATH).
    #[default]
    Host,
    /// Prometheus in a container pinned to the host's version (testcontainers; needs Docker).
    Container,
    /// A Prometheus-compatible server you run, at `--backend-url`.
    Url,
}

/// What the path runs against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The local mocks: STS and AMP on this machine, a virtual clock (the default).
    #[default]
    Local,
    /// An AMP workspace and a bucket that exist (AWS, or what answers as it does), in
    /// wall-clock mode: the clusters stream samples stamped now (`--workspace-id`,
    /// `--federated-store`, `--duration`).
    Aws,
}

/// The metrics backend, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The host binary; `None` looks on `PATH`.
    Host(Option<PathBuf>),
    /// A container; its tag follows the host binary's version when there is one.
    Container(Option<PathBuf>),
    /// A server the user runs: its API root (`http://127.0.0.1:8428`).
    Url(String),
}

impl Default for Backend {
    fn default() -> Self {
        Backend::Host(None)
    }
}

/// The provider flags, shared by `ampfed-e2e` and `ampfed-up`.
#[derive(Clone, Debug, clap::Args)]
pub struct ProviderFlags {
    /// Where the ETL bucket lives: localstack (host process, the default), localstack-container
    /// (needs Docker) or embedded (in-process, fastest; the same results).
    #[arg(long, value_enum, default_value_t = S3Provider::Localstack, value_name = "PROVIDER")]
    pub s3: S3Provider,
    /// The metrics backend: host (Prometheus on PATH or --prometheus), container (Prometheus at
    /// the host's version; needs Docker) or url (a Prometheus-compatible server you run, given by
    /// --backend-url; snapshots are not compared).
    #[arg(long, value_enum, default_value_t = BackendKind::Host, value_name = "KIND")]
    pub backend: BackendKind,
    /// The API root of your backend for --backend url (it must accept remote write at
    /// /api/v1/write and samples of the simulated days), e.g. http://127.0.0.1:8428.
    #[arg(long, value_name = "URL")]
    pub backend_url: Option<String>,
    /// The Prometheus binary (default: `prometheus` on PATH).
    #[arg(long, value_name = "PATH")]
    pub prometheus: Option<PathBuf>,
    /// For --s3 bucket: Kubecost's federated-store.yaml naming your bucket (`type: S3`,
    /// `config: {bucket, endpoint, region, insecure, access_key, secret_key}`; without keys, the
    /// credential chain: environment keys, web identity, shared credentials file).
    #[arg(long, value_name = "FILE")]
    pub federated_store: Option<PathBuf>,
}

impl ProviderFlags {
    pub fn resolve(&self) -> Result<Providers, ProviderError> {
        let mut providers = Providers::from_flags(
            self.s3,
            self.backend,
            self.backend_url.as_deref(),
            self.prometheus.clone(),
        )?;
        providers.bucket = match (self.s3, &self.federated_store) {
            (S3Provider::Bucket, None) => return Err(ProviderError::MissingStoreFile),
            (S3Provider::Bucket, Some(path)) => Some(
                ampfed_federation::config::read(path).map_err(|e| ProviderError::StoreFile(e.to_string()))?,
            ),
            (_, Some(_)) => return Err(ProviderError::StoreFileWithoutBucket),
            (_, None) => None,
        };
        Ok(providers)
    }
}

/// Every provider of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Providers {
    pub s3: S3Provider,
    pub backend: Backend,
    /// With [`S3Provider::Bucket`]: the bucket, read from its `federated-store.yaml`.
    pub bucket: Option<ampfed_federation::config::FederatedStore>,
}

/// A provider flag that makes no sense.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error(
        "--backend url needs --backend-url URL (e.g. --backend url --backend-url http://127.0.0.1:8428)"
    )]
    MissingUrl,
    #[error("--backend-url is used only with --backend url (got --backend {0})")]
    UrlWithoutUrlBackend(&'static str),
    #[error("--backend-url {url}: {why}; give the server's Prometheus API root, e.g. http://127.0.0.1:9090")]
    BadUrl { url: String, why: String },
    #[error("--prometheus is the host binary; it does not go with --backend url")]
    BinaryWithUrl,
    #[error("--s3 bucket needs --federated-store FILE (Kubecost's federated-store.yaml naming your bucket)")]
    MissingStoreFile,
    #[error("--federated-store is used only with --s3 bucket")]
    StoreFileWithoutBucket,
    #[error("--federated-store: {0}")]
    StoreFile(String),
}

impl Providers {
    /// Resolves the flags: `--backend`, `--backend-url`, `--prometheus`.
    pub fn from_flags(
        s3: S3Provider,
        backend: BackendKind,
        backend_url: Option<&str>,
        prometheus: Option<PathBuf>,
    ) -> Result<Providers, ProviderError> {
        let backend = match (backend, backend_url) {
            (BackendKind::Url, None) => return Err(ProviderError::MissingUrl),
            (BackendKind::Url, Some(url)) => {
                if prometheus.is_some() {
                    return Err(ProviderError::BinaryWithUrl);
                }
                Backend::Url(check_url(url)?)
            }
            (other, Some(_)) => {
                return Err(ProviderError::UrlWithoutUrlBackend(match other {
                    BackendKind::Host => "host",
                    _ => "container",
                }))
            }
            (BackendKind::Host, None) => Backend::Host(prometheus),
            (BackendKind::Container, None) => Backend::Container(prometheus),
        };
        Ok(Providers { s3, backend, bucket: None })
    }

    /// Whether the snapshots describe what this run computes: any S3 provider gives the same
    /// objects, and the container runs the host's Prometheus version; another engine at a URL
    /// differs in details (Prometheus 3 ranges are left-open, MetricsQL's `rate` does not
    /// extrapolate), so it runs the checks without the snapshots.
    pub fn snapshots_apply(&self) -> bool {
        !matches!(self.backend, Backend::Url(_))
    }
}

/// A URL the mock can forward to: `http`, a host, no query; the trailing `/` dropped.
fn check_url(url: &str) -> Result<String, ProviderError> {
    let bad = |why: &str| ProviderError::BadUrl { url: url.into(), why: why.into() };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(bad("only http:// is supported (the backend sits behind the AMP mock on this machine)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a query or fragment is not part of an API root"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl fmt::Display for Providers {
    /// `s3 embedded · backend host prometheus (PATH) · clusters simulator · target local mocks`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s3 = match self.s3 {
            S3Provider::Localstack => "LocalStack (host process, venv)",
            S3Provider::LocalstackContainer => "LocalStack (container)",
            S3Provider::Embedded => "embedded (in-process)",
            S3Provider::Bucket => "your bucket",
        };
        let s3 = match (&self.bucket, self.s3) {
            (Some(b), S3Provider::Bucket) => format!("{s3} {} at {}", b.bucket, b.endpoint_url()),
            _ => s3.to_owned(),
        };
        let backend = match &self.backend {
            Backend::Host(Some(path)) => format!("Prometheus {}", path.display()),
            Backend::Host(None) => "Prometheus (host, from PATH)".into(),
            Backend::Container(_) => "Prometheus (container, the host's version)".into(),
            Backend::Url(url) => format!("{url} (yours; snapshots not compared)"),
        };
        write!(f, "s3 {s3} · backend {backend} · clusters simulator · target local mocks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_host_processes() {
        let p = Providers::from_flags(S3Provider::default(), BackendKind::default(), None, None).unwrap();
        assert_eq!(p, Providers::default());
        assert!(p.snapshots_apply());
        assert_eq!(
            p.to_string(),
            "s3 LocalStack (host process, venv) · backend Prometheus (host, from PATH) · clusters simulator · target local mocks"
        );
    }

    #[test]
    fn a_url_backend_is_checked_and_skips_the_snapshots() {
        let p = Providers::from_flags(
            S3Provider::Embedded,
            BackendKind::Url,
            Some("http://127.0.0.1:8428/"),
            None,
        )
        .unwrap();
        assert_eq!(p.backend, Backend::Url("http://127.0.0.1:8428".into()));
        assert!(!p.snapshots_apply());
        assert!(p.to_string().starts_with("s3 embedded (in-process) · backend http://127.0.0.1:8428 (yours"));
    }

    #[test]
    fn inconsistent_flags_are_refused_with_what_to_write() {
        let url = |u: &str| Providers::from_flags(S3Provider::Localstack, BackendKind::Url, Some(u), None);
        assert_eq!(
            Providers::from_flags(S3Provider::Localstack, BackendKind::Url, None, None),
            Err(ProviderError::MissingUrl)
        );
        assert_eq!(
            Providers::from_flags(S3Provider::Localstack, BackendKind::Host, Some("http://x"), None),
            Err(ProviderError::UrlWithoutUrlBackend("host"))
        );
        assert_eq!(
            Providers::from_flags(
                S3Provider::Localstack,
                BackendKind::Url,
                Some("http://x:1"),
                Some("/bin/p".into())
            ),
            Err(ProviderError::BinaryWithUrl)
        );
        for (bad, why) in [
            ("https://mimir.example/prometheus", "only http://"),
            ("127.0.0.1:9090", "relative URL without a base"),
            ("http://127.0.0.1:9090/?x=1", "a query or fragment"),
        ] {
            let e = url(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("API root"), "{bad}: {e}");
        }
    }
}
