//! The path, step by step: [`run`] brings the [`Env`] up, runs each step with its typed
//! inputs, takes the environment down, and builds the [`Outcome`] from the steps' outputs.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::env::{Env, EnvConfig};
use crate::failure::{Classify, Failure};
use crate::outcome::{Outcome, Summary};
use crate::progress::{Progress, StepName};
use crate::steps::{fill, query, remote_write, rules, Filled};

/// How to run the path.
#[derive(Clone, Debug)]
pub struct Options {
    /// What the environment is made of.
    pub env: EnvConfig,
    /// The fixtures: `clusters/`, `prices/`, `rules/`.
    pub fixtures: PathBuf,
    /// Draw spinners and bars (only on a terminal).
    pub show_progress: bool,
    /// Stamp this many clusters from the fixtures instead of running the fixtures as they are.
    pub clusters: Option<usize>,
    /// The simulated window, cluster label and label style.
    pub sim: crate::sim::Settings,
    /// `--keep`: a failed run keeps its environment up under this claim (see
    /// [`crate::up::KeepOnFailure`]).
    pub keep_on_failure: Option<crate::up::KeepOnFailure>,
}

impl Options {
    /// The defaults: the repository's fixtures, the default environment, no drawing.
    pub fn from_env() -> Options {
        Options {
            env: EnvConfig::from_env(),
            fixtures: ampfed_common::paths::fixtures_dir(),
            show_progress: false,
            clusters: None,
            sim: crate::sim::Settings::default(),
            keep_on_failure: None,
        }
    }
}

/// Runs the whole path. Everything it starts is owned by the [`Env`], which stops it when
/// this function returns, fails, or its future is dropped (Ctrl-C).
pub async fn run(options: &Options) -> Result<Outcome> {
    let mut progress = Progress::new(options.show_progress);
    // The fixtures are loaded and checked before anything starts: a broken one fails at once.
    let settings = &options.sim;
    let prepared = remote_write::prepare(&options.fixtures, options.clusters, settings)
        .with_context(|| StepName::RemoteWrite.failed())
        .classify(Failure::BadInput)?;
    check_rules(&options.fixtures.join("rules"))
        .with_context(|| StepName::Rules.failed())
        .classify(Failure::BadInput)?;
    let env = Env::up(&options.env, &mut progress).await.classify(Failure::Environment)?;
    let mut workspace = None;
    let ran = steps(&env, options, prepared, &mut progress, &mut workspace).await;
    let (installed, Filled { written, evaluated, shipped, federated }, answers) = match ran {
        Ok(parts) => parts,
        Err(e) => {
            if let Some(keep) = &options.keep_on_failure {
                keep.hold(env, workspace, &e).await;
            }
            return Err(e);
        }
    };

    progress.step(StepName::Teardown, None, |_| env.down(), |()| "all services stopped".into()).await?;

    let summary = Summary {
        clusters: written.clusters,
        series_written: written.series,
        samples_written: written.samples,
        samples_stored: written.stored,
        write_retries: written.retries,
        rule_namespaces: installed.namespaces,
        rules_installed: installed.records.len(),
        rule_series_recorded: evaluated.series_written,
        etl_objects: shipped.etl_objects,
        asset_objects: shipped.asset_objects,
        combined_objects: federated.objects_written,
        combined_asset_objects: federated.asset_objects_written,
        rows_queried: answers.combined.allocations.len(),
        steps: progress.times().to_vec(),
    };
    Ok(answers.into_outcome(summary))
}

/// The rules files are checked as AMP checks them on upload, before anything starts: an
/// error names its file, line and field (`cargo xtask rules lint` prints the warnings too).
pub(crate) fn check_rules(dir: &std::path::Path) -> Result<()> {
    let files = crate::rules_cmd::rule_files(dir)?;
    if files.is_empty() {
        anyhow::bail!("no rules files (*.yaml) in {}", dir.display());
    }
    let linted = crate::rules_cmd::lint::lint(&files, &crate::rules_cmd::lint::Labels::none());
    let errors: Vec<String> = linted
        .findings
        .iter()
        .filter(|f| f.severity == crate::rules_cmd::lint::Severity::Error)
        .map(ToString::to_string)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} error(s) in the rules:\n{}", errors.len(), errors.join("\n"))
    }
}

/// The steps after the environment is up; `workspace_out` gets the workspace as soon as
/// there is one (for `--keep` after a failure).
async fn steps(
    env: &Env,
    options: &Options,
    prepared: remote_write::Prepared,
    progress: &mut Progress,
    workspace_out: &mut Option<String>,
) -> Result<(rules::Installed, Filled, query::Answers)> {
    let settings = &options.sim;
    let rules_dir = options.fixtures.join("rules");

    let installed = progress
        .step(
            StepName::Rules,
            None,
            |_| rules::install(env, &rules_dir),
            |r| {
                format!("workspace {}: {} namespace(s), {} rules", r.workspace, r.namespaces, r.records.len())
            },
        )
        .await?;
    *workspace_out = Some(installed.workspace.clone());
    let workspace = installed.workspace.as_str();

    let filled = fill(env, workspace, prepared, settings, progress).await?;

    let answers = progress
        .step(
            StepName::Query,
            None,
            |_| query::query(env, workspace, &installed.records, settings),
            |a| {
                format!(
                    "{} allocations → {} namespaces, {} clusters; {} record names",
                    a.combined.allocations.len(),
                    a.by_namespace.len(),
                    a.by_cluster.len(),
                    a.rule_series.len()
                )
            },
        )
        .await?;

    Ok((installed, filled, answers))
}
