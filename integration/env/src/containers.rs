//! LocalStack and Prometheus as containers, for users whose machine has a Docker engine: two
//! small testcontainers [`Image`]s and a check that an engine answers.
//!
//! Both containers run on the host's network namespace and are told to listen on
//! 127.0.0.1:`port` (the same settings as the host processes: [`localstack::gateway_env`],
//! [`prometheus::server_args`]), so nothing is published beyond loopback, which a port
//! mapping (`-p`, bound to every interface by Docker) would do. The images are pinned: LocalStack
//! to the version of the host venv, Prometheus to the host's version when one is installed,
//! so the snapshots hold whichever provider ran. A container is removed when its handle is
//! dropped. Not run on the machine that builds ampfed (it has no Docker engine): the images'
//! settings are unit-tested, the engine check is tested against a socket that is not one.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testcontainers::core::{CopyToContainer, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};

use crate::localstack::{self, LocalStackEndpoint};
use crate::prometheus::{self, PrometheusEndpoint, PrometheusOptions};
use crate::{free_port, EnvError};

/// LocalStack's image; the tag is the version `scripts/versions.sh` pins for the venv.
pub const LOCALSTACK_IMAGE: &str = "localstack/localstack";
pub const LOCALSTACK_TAG: &str = "4.9.2";
/// Prometheus's image; the tag when the host has no Prometheus (Debian 12's version).
pub const PROMETHEUS_IMAGE: &str = "prom/prometheus";
pub const PROMETHEUS_DEFAULT_VERSION: &str = "2.42.0";
/// Where the configuration is copied to inside the Prometheus container.
const PROMETHEUS_CONFIG: &str = "/etc/ampfed/prometheus.yml";
/// How long pulling and starting a container may take.
const STARTUP_LIMIT: Duration = Duration::from_secs(300);
/// How long the engine gets to answer its ping.
const PING_LIMIT: Duration = Duration::from_secs(3);
/// The label every ampfed container carries, for `docker ps --filter label=…`.
pub const LABEL: &str = "io.ampfed.service";

/// Where the Docker engine's API is: `DOCKER_HOST` (`unix://` only) or the default socket.
pub fn docker_socket() -> Result<PathBuf, EnvError> {
    socket_from(std::env::var("DOCKER_HOST").ok().as_deref())
}

fn socket_from(docker_host: Option<&str>) -> Result<PathBuf, EnvError> {
    match docker_host {
        None | Some("") => Ok(PathBuf::from("/var/run/docker.sock")),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) => Ok(PathBuf::from(path)),
            None => Err(EnvError::Missing {
                tool: format!("a Docker engine on a unix socket (DOCKER_HOST={host})"),
                hint: "ampfed talks to a local engine only: unset DOCKER_HOST or point it at unix:///path/to/docker.sock".into(),
            }),
        },
    }
}

/// Whether a Docker engine answers `GET /_ping` on `socket` within [`PING_LIMIT`]; the error
/// says what to use instead.
pub fn docker_answers(socket: &Path) -> Result<(), EnvError> {
    let missing = |why: String| EnvError::Missing {
        tool: format!("a Docker engine at {} ({why})", socket.display()),
        hint: "start Docker, or choose the host providers: --s3 localstack (or embedded) --backend host"
            .into(),
    };
    let mut stream = UnixStream::connect(socket).map_err(|e| missing(e.to_string()))?;
    stream.set_read_timeout(Some(PING_LIMIT)).map_err(|e| missing(e.to_string()))?;
    stream.set_write_timeout(Some(PING_LIMIT)).map_err(|e| missing(e.to_string()))?;
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .map_err(|e| missing(format!("ping: {e}")))?;
    let mut answer = Vec::new();
    // The answer to a ping is a few hundred bytes; read at most 4 KiB.
    stream.take(4096).read_to_end(&mut answer).map_err(|e| missing(format!("ping: {e}")))?;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.") && text.contains(" 200 ") && text.trim_end().ends_with("OK") {
        Ok(())
    } else {
        Err(missing(format!("it answered {:?}", text.lines().next().unwrap_or_default())))
    }
}

/// LocalStack with S3 only, listening on 127.0.0.1:`port` of the host network.
#[derive(Clone, Debug)]
pub struct LocalStackImage {
    port: u16,
    env: Vec<(String, String)>,
}

impl LocalStackImage {
    pub fn new(port: u16) -> LocalStackImage {
        LocalStackImage { port, env: localstack::gateway_env(port) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Image for LocalStackImage {
    fn name(&self) -> &str {
        LOCALSTACK_IMAGE
    }

    fn tag(&self) -> &str {
        LOCALSTACK_TAG
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stdout("Ready.")]
    }

    fn env_vars(&self) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Prometheus with the host process's flags, listening on 127.0.0.1:`port` of the host
/// network, its configuration copied in.
#[derive(Clone, Debug)]
pub struct PrometheusImage {
    tag: String,
    port: u16,
    args: Vec<String>,
    config: CopyToContainer,
}

impl PrometheusImage {
    /// `version` as the host binary reports it (`2.42.0`); the image tag is `v<version>`.
    pub fn new(version: &str, port: u16, options: &PrometheusOptions) -> PrometheusImage {
        PrometheusImage {
            tag: format!("v{version}"),
            port,
            args: prometheus::server_args(PROMETHEUS_CONFIG, "/prometheus", port),
            config: CopyToContainer::new(prometheus::config_text(options).into_bytes(), PROMETHEUS_CONFIG),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }
}

impl Image for PrometheusImage {
    fn name(&self) -> &str {
        PROMETHEUS_IMAGE
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stderr("Server is ready to receive web requests.")]
    }

    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        self.args.iter().map(String::as_str)
    }

    fn copy_to_sources(&self) -> impl IntoIterator<Item = &CopyToContainer> {
        std::iter::once(&self.config)
    }
}

/// A running container; dropping it removes the container.
pub struct Container<I: Image> {
    pub handle: ContainerAsync<I>,
}

fn container_error(service: &str, e: impl std::fmt::Display) -> EnvError {
    EnvError::Container { service: service.into(), message: e.to_string() }
}

/// Starts LocalStack in a container (after checking that an engine answers).
pub async fn start_localstack() -> Result<(Container<LocalStackImage>, LocalStackEndpoint), EnvError> {
    docker_answers(&docker_socket()?)?;
    let port = free_port().map_err(|e| container_error("localstack", e))?;
    let handle = LocalStackImage::new(port)
        .with_network("host")
        .with_label(LABEL, "localstack")
        .with_startup_timeout(STARTUP_LIMIT)
        .start()
        .await
        .map_err(|e| container_error("localstack", e))?;
    Ok((Container { handle }, LocalStackEndpoint { url: format!("http://127.0.0.1:{port}") }))
}

/// Starts Prometheus in a container pinned to `version` (after checking that an engine
/// answers).
pub async fn start_prometheus(
    version: &str,
    options: &PrometheusOptions,
) -> Result<(Container<PrometheusImage>, PrometheusEndpoint), EnvError> {
    docker_answers(&docker_socket()?)?;
    let port = free_port().map_err(|e| container_error("prometheus", e))?;
    let handle = PrometheusImage::new(version, port, options)
        .with_network("host")
        .with_label(LABEL, "prometheus")
        .with_startup_timeout(STARTUP_LIMIT)
        .start()
        .await
        .map_err(|e| container_error("prometheus", e))?;
    Ok((Container { handle }, PrometheusEndpoint { url: format!("http://127.0.0.1:{port}") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_is_read_as_a_unix_socket_only() {
        assert_eq!(socket_from(None).unwrap(), PathBuf::from("/var/run/docker.sock"));
        assert_eq!(
            socket_from(Some("unix:///run/user/1000/docker.sock")).unwrap(),
            PathBuf::from("/run/user/1000/docker.sock")
        );
        let e = socket_from(Some("tcp://10.0.0.1:2375")).unwrap_err().to_string();
        assert!(e.contains("DOCKER_HOST=tcp://10.0.0.1:2375") && e.contains("unset DOCKER_HOST"), "{e}");
    }

    #[test]
    fn a_missing_engine_is_reported_with_the_host_providers_to_use_instead() {
        let dir = ampfed_test_support::TempDir::new("env-docker");
        let e = docker_answers(&dir.join("docker.sock")).unwrap_err().to_string();
        assert!(e.contains("a Docker engine at") && e.contains("--s3 localstack"), "{e}");
    }

    #[test]
    fn a_socket_that_is_not_an_engine_is_refused() {
        let dir = ampfed_test_support::TempDir::new("env-docker");
        let path = dir.join("fake.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            conn.write_all(b"HTTP/1.1 404 Not Found\r\n\r\nnope").unwrap();
        });
        let e = docker_answers(&path).unwrap_err().to_string();
        server.join().unwrap();
        assert!(e.contains("404 Not Found"), "{e}");
    }

    #[test]
    fn localstack_listens_on_loopback_with_s3_only_at_the_venv_version() {
        let image = LocalStackImage::new(4566);
        assert_eq!((image.name(), image.tag()), ("localstack/localstack", "4.9.2"));
        let env: Vec<(String, String)> = image
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.into().into_owned(), v.into().into_owned()))
            .collect();
        assert!(env.contains(&("GATEWAY_LISTEN".into(), "127.0.0.1:4566".into())));
        assert!(env.contains(&("SERVICES".into(), "s3".into())));
        // The venv is pinned to the same LocalStack.
        let pins =
            std::fs::read_to_string(crate::paths::workspace_root().join("scripts/versions.sh")).unwrap();
        assert!(
            pins.contains(&format!("localstack-core[runtime]=={LOCALSTACK_TAG} ")),
            "versions.sh and LOCALSTACK_TAG differ"
        );
    }

    #[test]
    fn prometheus_gets_the_host_flags_and_the_host_version() {
        let image = PrometheusImage::new("2.42.0", 9091, &PrometheusOptions::default());
        assert_eq!((image.name(), image.tag()), ("prom/prometheus", "v2.42.0"));
        let cmd: Vec<String> = image.cmd().into_iter().map(|a| a.into().into_owned()).collect();
        assert_eq!(cmd, prometheus::server_args("/etc/ampfed/prometheus.yml", "/prometheus", 9091));
        assert!(cmd.contains(&"--web.listen-address=127.0.0.1:9091".to_owned()));
        assert_eq!(image.copy_to_sources().into_iter().count(), 1);
    }
}
