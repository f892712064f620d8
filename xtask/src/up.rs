//! `cargo xtask up`, `down`, `status`, `logs`, `etl` and `federate`: build the `ampfed-up` binary (`up` installs what is
//! missing first), then become it (exec), so that Ctrl-C, the exit code and the pid that
//! `down` signals are the binary's own. Their flags are declared once, by that binary:
//! `cargo xtask up --help` shows them.

use std::os::unix::process::CommandExt;

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::{flags, setup};

/// `cargo xtask up`: installs what is missing, then becomes `ampfed-up up`.
pub(crate) fn up(sh: &Shell, task: flags::Forwarded) -> anyhow::Result<()> {
    if !asks_for_help(&task.args) {
        setup::ensure_installed(sh)?;
    }
    exec(sh, "up", task.release, task.args)
}

/// `cargo xtask down|status|logs|etl|federate`: becomes `ampfed-up <command>`.
pub(crate) fn forward(sh: &Shell, command: &str, task: flags::Forwarded) -> anyhow::Result<()> {
    exec(sh, command, task.release, task.args)
}

fn asks_for_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "--help" || a == "-h")
}

/// Builds `ampfed-up` (cargo's own progress shown), then replaces this process with
/// `ampfed-up <command> ARGS`; returns only if that cannot start.
fn exec(sh: &Shell, command: &str, release: bool, args: Vec<String>) -> anyhow::Result<()> {
    let cargo = crate::tools::cargo();
    // `--release` is the build's wherever it stands before a `--`; everything else is the
    // binary's.
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let builds = release || args[..end].iter().any(|a| a == "--release");
    let args: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| *i > end || (*i < end && *a != "--release"))
        .map(|(_, a)| a.clone())
        .collect();
    let release = builds.then_some("--release");
    // cargo's own progress is shown: the first build takes minutes.
    cmd!(sh, "{cargo} build {release...} -p ampfed-e2e --bin ampfed-up")
        .quiet()
        .run()
        .context("building ampfed-up failed (cargo's errors above)")?;
    let error = std::process::Command::new(&cargo)
        .current_dir(sh.current_dir())
        .args(["run", "-q"])
        .args(release)
        .args(["-p", "ampfed-e2e", "--bin", "ampfed-up", "--", command])
        .args(&args)
        .exec();
    Err(error).context("start ampfed-up")
}
