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
        // Against AWS nothing local runs: no Prometheus or LocalStack to install.
        let against_aws = self.args.windows(2).any(|w| w[0] == "--target" && w[1] == "aws")
            || self.args.iter().any(|a| a == "--target=aws");
        if !asks_for_help && !against_aws {
            if let Err(e) = setup::ensure_installed(sh) {
                // Exit code 3: the environment could not be set up.
                eprintln!("error: {e:#}");
                return Err(crate::tools::ChildExit(3).into());
            }
        }
        let cargo = crate::tools::cargo();
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
        // The build shows cargo's own progress; the scenario's last line is the cause and the
        // fix, and its exit code (0 pass, 1 check, 2 bad input, 3 environment) is ours.
        cmd!(sh, "{cargo} build {release...} -p ampfed-e2e --bin ampfed-e2e")
            .quiet()
            .run()
            .context("building the scenario failed (cargo's errors above)")?;
        let status = std::process::Command::new(&cargo)
            .current_dir(sh.current_dir())
            .args(["run", "-q"])
            .args(release)
            .args(["-p", "ampfed-e2e", "--bin", "ampfed-e2e", "--"])
            .args(&args)
            .status()
            .context("start the scenario")?;
        match status.code() {
            Some(0) => Ok(()),
            Some(code) => Err(crate::tools::ChildExit(u8::try_from(code).unwrap_or(1)).into()),
            None => Err(crate::tools::ChildExit(130).into()),
        }
    }
}
