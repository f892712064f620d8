//! The command line, declared in one place.

use clap::{Parser, Subcommand};

/// ampfed's tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
pub(crate) struct Xtask {
    #[command(subcommand)]
    pub(crate) task: Task,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Task {
    /// Install what the harness needs and is missing: Prometheus (apt) and the LocalStack venv (pip, pinned).
    Setup(Setup),
    /// Run the whole AMP → rules → ETL → S3 → federation → query path and check the snapshots.
    E2e(E2e),
    /// Run every test, the end-to-end scenarios included (what CI runs).
    Test(Test),
}

#[derive(Debug, clap::Args)]
pub(crate) struct Setup {}

#[derive(Debug, clap::Args)]
pub(crate) struct E2e {
    /// Inject a fault (wrong-secret, expired-credential); the run must fail at the proxy's first signed call.
    #[arg(long)]
    pub(crate) fault: Option<String>,
    /// Keep the scenario directory (service logs, Prometheus data) after the run.
    #[arg(long)]
    pub(crate) keep: bool,
    /// Build the scenario in release mode.
    #[arg(long)]
    pub(crate) release: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Test {
    /// Extra arguments for `cargo test` (after `--`).
    #[arg(last = true)]
    pub(crate) rest: Vec<String>,
}
