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
        // `--release` is the build's, wherever it stands; everything else is the scenario's.
        let (builds, args): (Vec<String>, Vec<String>) =
            self.args.into_iter().partition(|a| a == "--release");
        let release = (self.release || !builds.is_empty()).then_some("--release");
        cmd!(sh, "{cargo} run -q {release...} -p ampfed-e2e --bin ampfed-e2e -- {args...}")
            .quiet()
            .run()
            .context("the end-to-end run failed (its output above names the step and the cause)")?;
        Ok(())
    }
}
