//! LocalStack S3 as a host process from its private venv (no Docker here; see
//! `docs/localstack.md`). It must not reach out to its vendor: certificate
//! download and usage events are switched off.

use std::path::PathBuf;
use std::time::Duration;

use crate::probe::Probe;
use crate::{free_port, EnvError, ProcessSpec, Scenario};

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
    let port = free_port()?;
    let dir_text = dir.display().to_string();
    let spec = ProcessSpec {
        name: "localstack".into(),
        program: python,
        args: vec!["-m".into(), "localstack.runtime.main".into()],
        env: vec![
            ("GATEWAY_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("SERVICES".into(), "s3".into()),
            ("DNS_ADDRESS".into(), "0".into()),
            ("LOCALSTACK_VOLUME_DIR".into(), format!("{dir_text}/volume")),
            ("SKIP_SSL_CERT_DOWNLOAD".into(), "1".into()),
            ("DISABLE_EVENTS".into(), "1".into()),
            ("TMPDIR".into(), dir_text.clone()),
        ],
        cwd: dir,
    };
    let url = format!("http://127.0.0.1:{port}");
    let probe = Probe::Http {
        url: format!("{url}/_localstack/health"),
        status: 200,
        body_contains: "\"s3\": \"available\"".into(),
    };
    scenario.start_process(&spec, &probe, Duration::from_secs(90))?;
    Ok(LocalStackEndpoint { url })
}
