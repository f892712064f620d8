//! The Prometheus backend: Debian's `prometheus` binary on 127.0.0.1, remote-write receiver on,
//! an out-of-order window wide enough for simulated history, data in the scenario directory.

use std::path::PathBuf;
use std::time::Duration;

use crate::probe::Probe;
use crate::{EnvError, ProcessSpec, Scenario};

/// How to start Prometheus.
#[derive(Clone, Debug)]
pub struct PrometheusOptions {
    /// The binary; `None` looks for `prometheus` on `PATH`.
    pub binary: Option<PathBuf>,
    /// Out-of-order window, as a Prometheus duration (`30d`).
    pub out_of_order_window: String,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        PrometheusOptions { binary: None, out_of_order_window: "30d".into() }
    }
}

/// A started Prometheus.
#[derive(Clone, Debug)]
pub struct PrometheusEndpoint {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// Starts Prometheus in `scenario` and waits for `/-/ready`.
pub fn start(scenario: &mut Scenario, options: &PrometheusOptions) -> Result<PrometheusEndpoint, EnvError> {
    let binary = match &options.binary {
        Some(b) => b.clone(),
        None => find_on_path("prometheus").ok_or_else(|| EnvError::Missing {
            tool: "prometheus".into(),
            hint: "run `cargo xtask setup` (it runs `apt-get install -y --no-install-recommends prometheus`)"
                .into(),
        })?,
    };
    let dir = scenario.service_dir("prometheus")?;
    let config = dir.join("prometheus.yml");
    let text = format!(
        "# Written by ampfed for one scenario.\nglobal:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nstorage:\n  tsdb:\n    out_of_order_time_window: {}\n",
        options.out_of_order_window
    );
    std::fs::write(&config, text).map_err(|source| EnvError::Io {
        what: "write",
        path: config.clone(),
        source,
    })?;
    let spec = |port: u16| ProcessSpec {
        name: "prometheus".into(),
        program: binary.clone(),
        args: vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".into(),
            "--enable-feature=exemplar-storage,native-histograms".into(),
            "--storage.tsdb.retention.time=3650d".into(),
            // Keep a week in the head: no head compaction races the backfill of simulated
            // history, so every sample stays in-order in the head and queries are repeatable.
            // (With 2 h blocks, Prometheus 2.42 compacts while history arrives and later
            // writes go through the out-of-order path, and query results varied run to run.)
            "--storage.tsdb.min-block-duration=7d".into(),
            "--storage.tsdb.max-block-duration=7d".into(),
            "--log.level=warn".into(),
        ],
        env: vec![],
        cwd: dir.clone(),
        stop_grace: crate::STOP_GRACE,
    };
    let probe = |port: u16| Probe::Http {
        url: format!("http://127.0.0.1:{port}/-/ready"),
        status: 200,
        body_contains: "Ready".into(),
    };
    let port = scenario.start_listening_process(Duration::from_secs(60), |port| (spec(port), probe(port)))?;
    Ok(PrometheusEndpoint { url: format!("http://127.0.0.1:{port}") })
}

/// The first executable named `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}
