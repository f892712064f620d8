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
    let binary = host_binary(options.binary.as_deref())?;
    let dir = scenario.service_dir("prometheus")?;
    let config = dir.join("prometheus.yml");
    let text = config_text(options);
    std::fs::write(&config, text).map_err(|source| EnvError::Io {
        what: "write",
        path: config.clone(),
        source,
    })?;
    let spec = |port: u16| ProcessSpec {
        name: "prometheus".into(),
        program: binary.clone(),
        args: server_args(&config.display().to_string(), &dir.join("data").display().to_string(), port),
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

/// The configuration file: one-minute intervals and the out-of-order window.
pub fn config_text(options: &PrometheusOptions) -> String {
    format!(
        "# Written by ampfed for one scenario.\nglobal:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nstorage:\n  tsdb:\n    out_of_order_time_window: {}\n",
        options.out_of_order_window
    )
}

/// The server's flags, the same for the host binary and the container: `config` and `data`
/// are paths as the server sees them, and it listens on 127.0.0.1:`port` only.
pub fn server_args(config: &str, data: &str, port: u16) -> Vec<String> {
    vec![
        format!("--config.file={config}"),
        format!("--storage.tsdb.path={data}"),
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
    ]
}

/// The version a Prometheus binary reports (`prometheus --version` → `2.42.0`); `None` when
/// it cannot be run or says something else. Bounded: the output is read once, the binary
/// exits at once.
pub fn binary_version(binary: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    parse_version(&text)
}

/// `prometheus, version 2.42.0+ds (branch: …)` → `2.42.0`.
fn parse_version(text: &str) -> Option<String> {
    let rest = text.split("version ").nth(1)?;
    let version: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (version.split('.').count() == 3 && version.split('.').all(|p| !p.is_empty())).then_some(version)
}

/// The host's Prometheus binary: `binary`, or `prometheus` on `PATH`.
pub fn host_binary(binary: Option<&std::path::Path>) -> Result<PathBuf, EnvError> {
    match binary {
        Some(b) => Ok(b.to_path_buf()),
        None => find_on_path("prometheus").ok_or_else(|| EnvError::Missing {
            tool: "prometheus".into(),
            hint: "run `cargo xtask setup` (it runs `apt-get install -y --no-install-recommends prometheus`)"
                .into(),
        }),
    }
}

/// The first executable named `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_debian_and_upstream_print() {
        let debian = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5+b5)\n  build user: team+pkg-go@tracker.debian.org\n";
        assert_eq!(parse_version(debian).as_deref(), Some("2.42.0"));
        assert_eq!(parse_version("prometheus, version 3.1.0 (branch: HEAD)").as_deref(), Some("3.1.0"));
        assert_eq!(parse_version("prometheus, version 2.42"), None);
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn the_server_listens_on_loopback_with_the_receiver_on() {
        let args = server_args("/c.yml", "/d", 9090);
        assert_eq!(
            args[..3],
            ["--config.file=/c.yml", "--storage.tsdb.path=/d", "--web.listen-address=127.0.0.1:9090"]
        );
        assert!(args.contains(&"--web.enable-remote-write-receiver".to_owned()));
        assert!(config_text(&PrometheusOptions::default()).contains("out_of_order_time_window: 30d"));
    }
}
