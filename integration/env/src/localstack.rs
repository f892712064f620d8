//! LocalStack S3 as a host process from its private venv (no Docker here; see
//! `docs/localstack.md`). It must not reach out to its vendor: certificate
//! download and usage events are switched off.

use std::path::PathBuf;
use std::time::Duration;

use crate::probe::Probe;
use crate::{EnvError, ProcessSpec, Scenario};

/// None: LocalStack is killed at once. Its hypercorn gateway (the one that binds only the
/// address it is given) hangs in shutdown in about one run of three here, and nothing it holds
/// (an in-memory S3 in the scenario's directory) is worth waiting for.
const LOCALSTACK_STOP_GRACE: Duration = Duration::ZERO;

/// How to start LocalStack.
#[derive(Clone, Debug)]
pub struct LocalStackOptions {
    /// The venv made by `scripts/install-localstack.sh`.
    pub venv: PathBuf,
}

/// A started LocalStack.
#[derive(Clone, Debug)]
pub struct LocalStackEndpoint {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// The settings of an S3-only LocalStack on 127.0.0.1:`port` that never calls its vendor,
/// the same for the host process and the container.
pub fn gateway_env(port: u16) -> Vec<(String, String)> {
    vec![
        ("GATEWAY_LISTEN".into(), format!("127.0.0.1:{port}")),
        // The default (twisted) gateway binds every interface whatever GATEWAY_LISTEN
        // names; hypercorn binds the address given (docs/localstack.md).
        ("GATEWAY_SERVER".into(), "hypercorn".into()),
        ("SERVICES".into(), "s3".into()),
        ("DNS_ADDRESS".into(), "0".into()),
        ("SKIP_SSL_CERT_DOWNLOAD".into(), "1".into()),
        ("DISABLE_EVENTS".into(), "1".into()),
    ]
}

/// Starts LocalStack with only S3 and waits until `/_localstack/health` reports S3 available.
pub fn start(scenario: &mut Scenario, options: &LocalStackOptions) -> Result<LocalStackEndpoint, EnvError> {
    let python = options.venv.join("bin/python");
    if !options.venv.join("bin/localstack").is_file() {
        return Err(EnvError::Missing {
            tool: format!("LocalStack venv at {}", options.venv.display()),
            hint: "run `cargo xtask setup` (it runs scripts/install-localstack.sh)".into(),
        });
    }
    let dir = scenario.service_dir("localstack")?;
    let dir_text = dir.display().to_string();
    let spec = |port: u16| ProcessSpec {
        name: "localstack".into(),
        program: python.clone(),
        args: vec!["-m".into(), "localstack.runtime.main".into()],
        env: gateway_env(port)
            .into_iter()
            .chain([
                ("LOCALSTACK_VOLUME_DIR".into(), format!("{dir_text}/volume")),
                ("TMPDIR".into(), dir_text.clone()),
            ])
            .collect(),
        cwd: dir.clone(),
        stop_grace: LOCALSTACK_STOP_GRACE,
    };
    let probe = |port: u16| Probe::Http {
        url: format!("http://127.0.0.1:{port}/_localstack/health"),
        status: 200,
        body_contains: "\"s3\": \"available\"".into(),
    };
    let port = scenario.start_listening_process(Duration::from_secs(90), |port| (spec(port), probe(port)))?;
    Ok(LocalStackEndpoint { url: format!("http://127.0.0.1:{port}") })
}
