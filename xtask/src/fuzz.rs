//! `cargo xtask fuzz sigv4 [--seconds N]`: runs the cargo-fuzz target of a component for a
//! bounded time. Not part of `cargo test` or CI. Components: `sigv4` (the verifier), and the
//! AMP mock's request surface, `amp-routing`, `amp-remote-write`, `amp-rules` and
//! `amp-query-scope` (targets in `integration/aws-mock/fuzz`; a target with a token list in
//! that crate's `dict/` gets it as libFuzzer's `-dict`).
//!
//! cargo-fuzz needs nightly-only compiler flags (`-Z sanitizer=address`, sanitizer coverage);
//! this machine has a stable toolchain, so the build runs with `RUSTC_BOOTSTRAP=1`. The
//! corpus and any crash artifacts stay under the fuzz crate (`corpus/`, `artifacts/`, both
//! ignored by git).

use anyhow::{bail, Context};
use xshell::{cmd, Shell};

use crate::flags;

/// How cargo-fuzz is installed when it is missing.
const INSTALL: &str = "cargo install cargo-fuzz --locked";

/// The AMP mock's cargo-fuzz crate.
const AMP_FUZZ: &str = "integration/aws-mock/fuzz";

impl flags::Fuzz {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let (fuzz_dir, target) = match self.component {
            flags::Component::Sigv4 => ("crates/sigv4/fuzz", "verify"),
            flags::Component::Proxy => anyhow::bail!("the proxy has no fuzz target; fuzz `sigv4`"),
            flags::Component::Ingest => anyhow::bail!("ingest is a benchmark only; fuzz `amp-remote-write`"),
            flags::Component::Federation => anyhow::bail!("federation is a benchmark only; fuzz `sigv4`"),
            flags::Component::Api => anyhow::bail!("api is a benchmark only; fuzz `sigv4`"),
            flags::Component::AmpRouting => (AMP_FUZZ, "routing"),
            flags::Component::AmpRemoteWrite => (AMP_FUZZ, "remote_write"),
            flags::Component::AmpRules => (AMP_FUZZ, "rules"),
            flags::Component::AmpQueryScope => (AMP_FUZZ, "scope_query"),
        };
        let cargo = crate::tools::cargo();
        let installed =
            cmd!(sh, "{cargo} fuzz --version").quiet().ignore_stdout().ignore_stderr().run().is_ok();
        if !installed {
            bail!("cargo-fuzz is not installed; install it with `{INSTALL}`");
        }
        if self.seconds == 0 {
            bail!("--seconds must be at least 1");
        }
        let seconds = self.seconds.to_string();
        let dict = crate::tools::project_root().join(fuzz_dir).join("dict").join(format!("{target}.dict"));
        let dict: Vec<String> =
            if dict.exists() { vec![format!("-dict={}", dict.display())] } else { Vec::new() };
        let _bootstrap = sh.push_env("RUSTC_BOOTSTRAP", "1");
        cmd!(sh, "{cargo} fuzz run --fuzz-dir {fuzz_dir} {target} -- -max_total_time={seconds} {dict...}")
            .run()
            .with_context(|| {
                format!("fuzz target {target} failed (a crashing input is saved under {fuzz_dir}/artifacts)")
            })?;
        Ok(())
    }
}
