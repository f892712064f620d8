//! `cargo xtask diagnose [--release] [ARGS…]`: builds the `ampfed-diagnose` binary and becomes
//! it (exec), so that its report and exit code (0 pass, 1 a check failed, 2 usage, 3 the
//! environment) are the task's. Its flags are declared once, by that binary:
//! `cargo xtask diagnose --help` shows them.

use std::os::unix::process::CommandExt;

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::flags;

/// `cargo xtask diagnose`: becomes `ampfed-diagnose`.
pub(crate) fn run(sh: &Shell, task: flags::Forwarded) -> anyhow::Result<()> {
    exec_e2e_bin(sh, "ampfed-diagnose", task.release, &task.args)
}

/// Builds the `ampfed-e2e` binary `bin` (cargo's own progress shown), then replaces this
/// process with `bin ARGS`; returns only if that cannot start.
pub(crate) fn exec_e2e_bin(sh: &Shell, bin: &str, release: bool, args: &[String]) -> anyhow::Result<()> {
    let cargo = crate::tools::cargo();
    let release = release.then_some("--release");
    cmd!(sh, "{cargo} build -q {release...} -p ampfed-e2e --bin {bin}")
        .quiet()
        .run()
        .with_context(|| format!("building {bin} failed (cargo's errors above)"))?;
    let error = std::process::Command::new(&cargo)
        .current_dir(sh.current_dir())
        .args(["run", "-q"])
        .args(release)
        .args(["-p", "ampfed-e2e", "--bin", bin, "--"])
        .args(args)
        .exec();
    Err(error).with_context(|| format!("start {bin}"))
}
