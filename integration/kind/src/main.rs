//! `ampfed-kind-plan up|down`: renders the kind configs and manifests of the clusters into
//! `--out` (for `up`) and prints the steps of `cargo xtask kind up|down`, one line each (see
//! `ampfed_kind::plan`). It runs nothing: the xtask runs the printed steps. Input it cannot
//! use becomes a `fail` step after the Docker check, so it always prints a plan.

use std::path::PathBuf;
use std::process::ExitCode;

use ampfed_kind::plan::{self, UpCluster, UpSettings};
use ampfed_kind::stack::DEFAULT_CLUSTER_LABEL;
use ampfed_kind::{render, scale, AmpTarget, Options, Step};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Action {
    /// Create the clusters and deploy the fixtures' workloads and the Kubecost stack.
    Up,
    /// Delete the clusters.
    Down,
}

/// Renders the kind clusters and prints the steps that bring them up or down.
#[derive(Debug, Parser)]
#[command(name = "ampfed-kind-plan")]
struct Cli {
    #[arg(value_enum)]
    action: Action,
    /// Where the clusters' files and the kubeconfig go.
    #[arg(long)]
    out: PathBuf,
    /// The cluster fixtures (default: the repository's `fixtures/clusters`).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// Stamp this many clusters from the fixtures, as the simulator's `--clusters` does
    /// (default: the fixtures as they are).
    #[arg(long)]
    clusters: Option<usize>,
    /// The AMP endpoint as the kind nodes reach it, `http://HOST:PORT` (`up` only).
    #[arg(long)]
    amp_url: Option<String>,
    /// The AMP workspace id (`up` only).
    #[arg(long)]
    workspace: Option<String>,
    /// An env file with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN (`up` only).
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// Seconds each `kubectl rollout status` waits.
    #[arg(long, default_value_t = 300)]
    rollout_timeout: u64,
    /// The external label that names the cluster on remote-written samples, and that the cost
    /// model filters by (`up` only).
    #[arg(long, default_value = DEFAULT_CLUSTER_LABEL)]
    cluster_label: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Input the plan cannot use is reported as its last step, after the Docker check: on a
    // machine without Docker that is what to fix first.
    let steps = plan_of(&cli).unwrap_or_else(|reason| plan::refused(&reason));
    let lines: Result<Vec<String>, _> = steps.iter().map(Step::to_line).collect();
    match lines {
        Ok(lines) => {
            println!("{}", lines.join("\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plan_of(cli: &Cli) -> Result<Vec<Step>, String> {
    let dir = cli.fixtures.clone().unwrap_or_else(|| ampfed_common::paths::fixtures_dir().join("clusters"));
    let fixtures = ampfed_clustersim::load_clusters_dir(&dir).map_err(|e| e.to_string())?;
    let clusters = scale(&fixtures, cli.clusters);
    if clusters.is_empty() {
        return Err(format!("no clusters: {} holds no fixtures, or --clusters is 0", dir.display()));
    }
    let kubeconfig = cli.out.join("kubeconfig");
    match cli.action {
        Action::Down => {
            let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            Ok(plan::down(&names, &kubeconfig))
        }
        Action::Up => {
            let (Some(url), Some(workspace), Some(credentials)) =
                (&cli.amp_url, &cli.workspace, &cli.credentials)
            else {
                return Err("`kind up` needs --amp-url (the AMP endpoint as the kind nodes reach it), \
                            --workspace and --credentials (an env file with the AWS keys)"
                    .to_owned());
            };
            let options = Options {
                cluster_label: cli.cluster_label.clone(),
                ..Options::new(AmpTarget::new(url, workspace).map_err(|e| e.to_string())?)
            };
            if !credentials.is_file() {
                return Err(format!(
                    "--credentials {} is not a file; give an env file with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY lines",
                    credentials.display()
                ));
            }
            let mut rendered = Vec::new();
            for c in &clusters {
                let r = render(c, &options).map_err(|e| e.to_string())?;
                let files = r.write(&cli.out).map_err(|e| e.to_string())?;
                rendered.push((r, files));
            }
            let up: Vec<UpCluster<'_>> = rendered
                .iter()
                .map(|(r, files)| UpCluster {
                    name: &r.name,
                    files,
                    rollouts: &r.rollouts,
                    gpu_workers: &r.gpu_workers,
                })
                .collect();
            let settings = UpSettings {
                kubeconfig: &kubeconfig,
                credentials,
                create_wait_secs: 300,
                rollout_timeout_secs: cli.rollout_timeout,
            };
            Ok(plan::up(&up, &settings))
        }
    }
}
