//! `cargo xtask setup`: installs Prometheus and the LocalStack, kubernetes-validate, AWS CLI and
//! pyarrow venvs when missing, through the scripts in `scripts/` (which hold the pinned
//! versions). Idempotent and quick when done.

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Setup {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        ensure_installed(sh)
    }
}

pub(crate) fn ensure_installed(sh: &Shell) -> anyhow::Result<()> {
    cmd!(sh, "bash scripts/install-prometheus.sh").run().context("install Prometheus")?;
    let venv = ampfed_common::paths::localstack_venv();
    cmd!(sh, "bash scripts/install-localstack.sh {venv}").run().context("install the LocalStack venv")?;
    cmd!(sh, "bash scripts/install-kube-validate.sh").run().context("install kubernetes-validate")?;
    // The AWS CLI v1 venv: the `cargo xtask up` tests run it against the exports.
    cmd!(sh, "bash scripts/install-awscli.sh").run().context("install the AWS CLI venv")?;
    // The pyarrow venv: the API's test reads the bucket with it, independently of the Rust side.
    cmd!(sh, "bash scripts/install-pyarrow.sh").run().context("install the pyarrow venv")?;
    Ok(())
}
