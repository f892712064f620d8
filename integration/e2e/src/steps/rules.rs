//! Step "rules": a workspace created and every rules file installed as a rule groups
//! namespace through the AMP API (`aws-sdk-amp`, the platform admin's web identity).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use anyhow::{bail, Context, Result};
use aws_sdk_amp::client::Waiters;
use aws_sdk_amp::primitives::Blob;
use aws_sdk_amp::types::RuleGroupsNamespaceStatusCode;

use crate::env::Env;

/// How long AMP may take to make a workspace or a namespace ACTIVE.
const ACTIVE_WITHIN: Duration = Duration::from_secs(5);

/// What the step installed.
#[derive(Clone, Debug)]
pub struct Installed {
    pub workspace: String,
    pub namespaces: usize,
    /// The record names, in file order.
    pub records: Vec<String>,
}

/// Creates the workspace and installs every `*.yaml` file under `rules_dir`.
pub async fn install(env: &Env, rules_dir: &Path) -> Result<Installed> {
    let amp = env.amp_admin();
    let workspace = create_workspace(&amp).await?;
    let (namespaces, records) = install_rules(&amp, &workspace, rules_dir).await?;
    Ok(Installed { workspace, namespaces, records })
}

fn sdk_error<E: std::error::Error>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", ampfed_aws::error_text(&e))
}

async fn create_workspace(amp: &aws_sdk_amp::Client) -> Result<String> {
    let created = amp.create_workspace().alias("ampfed-e2e").send().await.map_err(sdk_error)?;
    let id = created.workspace_id().to_owned();
    amp.wait_until_workspace_active()
        .workspace_id(&id)
        .wait(ACTIVE_WITHIN)
        .await
        .map_err(sdk_error)
        .with_context(|| format!("workspace {id} did not become ACTIVE"))?;
    Ok(id)
}

/// The `*.yaml` / `*.yml` files of `path`, sorted; or `path` itself when it is a file.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("read the rules directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Installs every `*.yaml` file under `dir` as a rule groups namespace named after the file;
/// returns the namespace count and the record names in file order.
pub async fn install_rules(
    amp: &aws_sdk_amp::Client,
    workspace: &str,
    dir: &Path,
) -> Result<(usize, Vec<String>)> {
    let (names, records) = install_rules_named(amp, workspace, dir, Naming::default()).await?;
    Ok((names.len(), records))
}

/// How rules files become namespaces.
#[derive(Clone, Copy, Debug)]
pub struct Naming<'a> {
    /// Put before each file's name (`e2e --target aws` installs `ampfed-e2e-<file>` into a
    /// workspace that may hold namespaces of its own).
    pub prefix: &'a str,
    /// Update a namespace of that name that exists already (`PutRuleGroupsNamespace`), as a
    /// re-run does; otherwise its existence is an error.
    pub replace: bool,
    /// How long AMP may take to make each namespace ACTIVE.
    pub active_within: Duration,
}

impl Default for Naming<'_> {
    fn default() -> Self {
        Naming { prefix: "", replace: false, active_within: ACTIVE_WITHIN }
    }
}

/// As [`install_rules`], named and waited for as `naming` says; returns the namespaces'
/// names and the record names, in file order.
pub async fn install_rules_named(
    amp: &aws_sdk_amp::Client,
    workspace: &str,
    dir: &Path,
    naming: Naming<'_>,
) -> Result<(Vec<String>, Vec<String>)> {
    let files = rule_files(dir)?;
    if files.is_empty() {
        bail!("no rules files (*.yaml) in {}", dir.display());
    }
    let (mut names, mut records) = (Vec::new(), Vec::new());
    for file in &files {
        let data = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
        let parsed = ampfed_aws_mock::rules::parse(&data)
            .with_context(|| format!("{}: not a valid rules file", file.display()))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("rules");
        let name = format!("{}{stem}", naming.prefix);
        let created = amp
            .create_rule_groups_namespace()
            .workspace_id(workspace)
            .name(&name)
            .data(Blob::new(data.clone()))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if naming.replace && e.as_service_error().is_some_and(|e| e.is_conflict_exception()) => {
                amp.put_rule_groups_namespace()
                    .workspace_id(workspace)
                    .name(&name)
                    .data(Blob::new(data))
                    .send()
                    .await
                    .map_err(sdk_error)
                    .with_context(|| {
                        format!("update rule groups namespace {name} from {}", file.display())
                    })?;
            }
            Err(e) => {
                return Err(sdk_error(e))
                    .with_context(|| format!("create rule groups namespace {name} from {}", file.display()))
            }
        }
        // aws-sdk-amp has no waiter for rule groups namespaces.
        Wait::new(format!("rule groups namespace {name} to become ACTIVE"), naming.active_within)
            .until(|| async {
                let ns = amp
                    .describe_rule_groups_namespace()
                    .workspace_id(workspace)
                    .name(&name)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                let status =
                    ns.rule_groups_namespace().and_then(|n| n.status()).map(|s| s.status_code().clone());
                Ok::<_, anyhow::Error>(match status {
                    Some(RuleGroupsNamespaceStatusCode::Active) => Poll::Ready(()),
                    other => Poll::Pending(format!("status {other:?}")),
                })
            })
            .await
            .map_err(|e| e.into_error(anyhow::Error::msg))?;
        for group in &parsed.groups {
            records.extend(group.rules.iter().filter_map(|r| r.record.clone()));
        }
        names.push(name);
    }
    Ok((names, records))
}
