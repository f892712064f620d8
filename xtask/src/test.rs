//! `cargo xtask test`: installs what is missing, then runs every test of the workspace,
//! the end-to-end suite included. Snapshots are only checked, never written, under CI.

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::{flags, setup};

impl flags::Test {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        setup::ensure_installed(sh)?;
        let cargo = crate::tools::cargo();
        let rest = self.rest;
        let _insta = std::env::var_os("CI").is_some().then(|| sh.push_env("INSTA_UPDATE", "no"));
        cmd!(sh, "{cargo} test --workspace -- {rest...}").run().context("tests failed")?;
        Ok(())
    }
}
