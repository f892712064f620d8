//! `cargo xtask setup`: installs Prometheus and the LocalStack venv when missing, through the
//! scripts in `scripts/` (which hold the pinned versions). Idempotent and quick when done.

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Setup {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        ensure_installed(sh)
    }
}

/// The cache directory (`AMPFED_CACHE_DIR`, else `target/ampfed-cache`).
pub(crate) fn cache_dir() -> std::path::PathBuf {
    match std::env::var_os("AMPFED_CACHE_DIR") {
        Some(d) if !d.is_empty() => d.into(),
        _ => crate::project_root().join("target/ampfed-cache"),
    }
}

pub(crate) fn ensure_installed(sh: &Shell) -> anyhow::Result<()> {
    cmd!(sh, "bash scripts/install-prometheus.sh").run().context("install Prometheus")?;
    let venv = cache_dir().join("localstack-venv");
    cmd!(sh, "bash scripts/install-localstack.sh {venv}").run().context("install the LocalStack venv")?;
    Ok(())
}
