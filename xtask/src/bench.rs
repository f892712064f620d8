//! `cargo xtask bench sigv4`: runs a component's benchmark binary in release mode and lets it
//! print its figures (`sigv4`: verify and sign cost per request and their ratio; `proxy`: the
//! signing proxy's overhead against sending unsigned to the same backend; `ingest`: remote
//! write samples per second through the proxy and the AMP mock against straight into
//! Prometheus, with peak memories, also written to `target/bench/ingest.json`; `federation`:
//! the federator over synthetic ETL, `-- --localstack` on LocalStack; `api`: the allocation
//! query over combined ETL; each also writes `target/bench/<name>.json`).

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Bench {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let (package, bench) = match self.component {
            flags::Component::Sigv4 => ("ampfed-sigv4", "sigv4"),
            flags::Component::Proxy => ("ampfed-proxy", "proxy"),
            flags::Component::Ingest => ("ampfed-aws-mock", "ingest"),
            flags::Component::Federation => ("ampfed-federation", "federation"),
            flags::Component::Api => ("ampfed-api", "allocation"),
            flags::Component::AmpRouting
            | flags::Component::AmpRemoteWrite
            | flags::Component::AmpRules
            | flags::Component::AmpQueryScope => {
                anyhow::bail!("the AMP mock's targets are fuzz-only; bench `sigv4`, `proxy` or `ingest`")
            }
        };
        let cargo = crate::cargo();
        let args = &self.args;
        cmd!(sh, "{cargo} bench -q -p {package} --bench {bench} -- {args...}")
            .run()
            .with_context(|| format!("benchmark {bench} of {package} failed"))?;
        Ok(())
    }
}
