//! `cargo xtask e2e`: installs what is missing, then runs the `ampfed-e2e` binary, which
//! provisions everything, runs the path, prints a summary and checks the snapshots.

use anyhow::{bail, Context};
use xshell::{cmd, Shell};

use crate::{flags, setup};

const FAULTS: [&str; 2] = ["wrong-secret", "expired-credential"];

impl flags::E2e {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        if let Some(f) = &self.fault {
            if !FAULTS.contains(&f.as_str()) {
                bail!("unknown fault {f:?}: use one of {}", FAULTS.join(", "));
            }
        }
        setup::ensure_installed(sh)?;
        let cargo = crate::cargo();
        let release = self.release.then_some("--release");
        let mut args: Vec<String> = Vec::new();
        if let Some(f) = &self.fault {
            args.extend(["--fault".into(), f.clone()]);
        }
        if self.keep {
            args.push("--keep".into());
        }
        cmd!(sh, "{cargo} run -q {release...} -p ampfed-e2e --bin ampfed-e2e -- {args...}")
            .quiet()
            .run()
            .context("the end-to-end run failed (its output above names the step and the cause)")?;
        Ok(())
    }
}
