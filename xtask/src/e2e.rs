//! `cargo xtask e2e [--release] [ARGS…]`: installs what is missing, then builds and runs the
//! `ampfed-e2e` binary with `ARGS`, which provisions everything, runs the path, prints a
//! summary and checks the snapshots. The scenario's flags are declared once, by that binary:
//! `cargo xtask e2e --help` shows them.

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::{flags, setup};

impl flags::E2e {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let asks_for_help = self.args.iter().any(|a| a == "--help" || a == "-h");
        if !asks_for_help {
            setup::ensure_installed(sh)?;
        }
        let cargo = crate::cargo();
        // `--release` is the build's wherever it stands before a `--`; everything else (and
        // all after a `--`) is the scenario's.
        let end = self.args.iter().position(|a| a == "--").unwrap_or(self.args.len());
        let builds = self.args[..end].iter().any(|a| a == "--release");
        let args: Vec<String> = self
            .args
            .iter()
            .enumerate()
            .filter(|(i, a)| *i > end || (*i < end && *a != "--release"))
            .map(|(_, a)| a.clone())
            .collect();
        let release = (self.release || builds).then_some("--release");
        cmd!(sh, "{cargo} run -q {release...} -p ampfed-e2e --bin ampfed-e2e -- {args...}")
            .quiet()
            .run()
            .context("the end-to-end run failed (its output above names the step and the cause)")?;
        Ok(())
    }
}
