//! `cargo xtask rules lint|install|test`: Prometheus rules files checked as AMP checks them
//! (the AMP mock's own check, `ampfed_aws_mock::rules`), every problem at its file, line and
//! column (the fixtures' span finder, `ampfed_clustersim::fixture::locate`), with a warning
//! for each label a rule selects that no simulated series carries ([`lint`]); installed into
//! a running `up`'s workspace ([`install`], the path's own `steps::rules::install_rules`);
//! evaluated on the simulated series by `promtool test rules` ([`promtool`]).

pub mod lint;
pub mod promtool;
pub mod simulated;

use std::path::Path;
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use anyhow::{bail, Result};
use aws_sdk_amp::error::ProvideErrorMetadata;

use crate::diagnose::amp::Amp;
use crate::failure::{Classify, Failure};
use crate::up::Endpoints;

/// How long a replaced namespace may take to go.
const GONE_WITHIN: Duration = Duration::from_secs(10);

pub use crate::steps::rules::rule_files;

/// What [`install`] did.
#[derive(Clone, Debug)]
pub struct Installed {
    pub workspace: String,
    pub namespaces: usize,
    pub records: Vec<String>,
    /// Namespaces deleted first (`--replace`).
    pub replaced: Vec<String>,
}

/// Lints the files of `dir` (errors: bad input, nothing installed), then installs them into
/// the workspace of `endpoints`, one namespace per file named after it; with `replace`,
/// namespaces of the same names are deleted first, else they make it fail.
pub async fn install(endpoints: &Endpoints, dir: &Path, replace: bool) -> Result<Installed> {
    if !dir.is_dir() {
        return Err(anyhow::anyhow!("{} is not a directory of rules files", dir.display()))
            .classify(Failure::BadInput);
    }
    let files = rule_files(dir).classify(Failure::BadInput)?;
    if files.is_empty() {
        return Err(anyhow::anyhow!("no rules files (*.yaml) in {}", dir.display()))
            .classify(Failure::BadInput);
    }
    let linted = lint::lint(&files, &lint::Labels::none());
    if linted.errors() > 0 {
        return Err(anyhow::anyhow!("{}", linted.to_text().trim_end())).classify(Failure::BadInput);
    }
    let amp = Amp::new(endpoints);
    let control = amp.control();
    let mut replaced = Vec::new();
    for file in &files {
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("rules").to_owned();
        let exists = match control
            .describe_rule_groups_namespace()
            .workspace_id(amp.workspace())
            .name(&name)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.code() == Some("ResourceNotFoundException") => false,
            Err(e) => bail!("describe rule groups namespace {name}: {}", ampfed_aws::error_text(&e)),
        };
        if !exists {
            continue;
        }
        if !replace {
            return Err(anyhow::anyhow!(
                "rule groups namespace {name} already exists in workspace {}: pass --replace to delete it first",
                amp.workspace()
            ))
            .classify(Failure::BadInput);
        }
        control
            .delete_rule_groups_namespace()
            .workspace_id(amp.workspace())
            .name(&name)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("delete rule groups namespace {name}: {}", ampfed_aws::error_text(&e))
            })?;
        Wait::new(format!("rule groups namespace {name} to be deleted"), GONE_WITHIN)
            .until(|| async {
                match control
                    .describe_rule_groups_namespace()
                    .workspace_id(amp.workspace())
                    .name(&name)
                    .send()
                    .await
                {
                    Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Poll::Ready(())),
                    Err(e) => Err(anyhow::anyhow!("{}", ampfed_aws::error_text(&e))),
                    Ok(_) => Ok(Poll::Pending("still there".to_owned())),
                }
            })
            .await
            .map_err(|e| e.into_error(anyhow::Error::msg))?;
        replaced.push(name);
    }
    let (namespaces, records) = crate::steps::rules::install_rules(&control, amp.workspace(), dir).await?;
    Ok(Installed { workspace: amp.workspace().to_owned(), namespaces, records, replaced })
}
