//! `cargo xtask query TARGET [--json] [--now TIME] [--federated-store FILE]`: asks Kubecost's
//! allocation or assets API (`ampfed-api`) about the combined ETL in the bucket of a running
//! `cargo xtask up`, and prints a table (or Kubecost's JSON). The bucket, its endpoint and
//! region come from the `endpoints.json` that `up` writes, or from Kubecost's
//! `federated-store.yaml` with `--federated-store`; the API itself is the `ampfed-api` binary.

use std::path::PathBuf;

use anyhow::{bail, Context};
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Query {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let mut args = match &self.federated_store {
            Some(file) => vec!["--federated-store".to_owned(), file.display().to_string()],
            None => self.up_bucket()?,
        };
        let target =
            if self.target.starts_with('/') { self.target.clone() } else { format!("/{}", self.target) };
        args.extend(["--query".to_owned(), target]);
        if let Some(now) = &self.now {
            args.extend(["--now".to_owned(), now.clone()]);
        }
        if self.json {
            args.push("--json".to_owned());
        }
        let cargo = crate::tools::cargo();
        cmd!(sh, "{cargo} run -q -p ampfed-api --bin ampfed-api -- {args...}")
            .quiet()
            .run()
            .context("the query failed (the API's answer above says why)")?;
        Ok(())
    }

    /// `ampfed-api`'s flags for the bucket of the running `up`.
    fn up_bucket(&self) -> anyhow::Result<Vec<String>> {
        let dir = self.state_dir.clone().unwrap_or_else(ampfed_common::paths::cache_dir);
        let file: PathBuf = dir.join("endpoints.json");
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!("read {}: start the environment first with `cargo xtask up`", file.display())
        })?;
        let endpoints: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not the JSON `up` writes", file.display()))?;
        let field = |name: &str| -> anyhow::Result<String> {
            match endpoints.get(name).and_then(|v| v.as_str()) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => bail!("{} has no `{name}`; restart `cargo xtask up`", file.display()),
            }
        };
        let (s3, bucket, region) = (field("s3_url")?, field("bucket")?, field("region")?);
        Ok(vec!["--endpoint".to_owned(), s3, "--bucket".to_owned(), bucket, "--region".to_owned(), region])
    }
}
