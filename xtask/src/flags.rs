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
    /// Fuzz a component for a bounded time with cargo-fuzz (not part of `cargo test` or CI).
    Fuzz(Fuzz),
    /// Measure a component's cost per request in release mode.
    Bench(Bench),
}

/// A component that has a fuzz target or a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Component {
    /// `ampfed-sigv4`: the SigV4 parser and verifier.
    Sigv4,
    /// `ampfed-proxy`: the signing proxy (benchmark only).
    Proxy,
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

#[derive(Debug, clap::Args)]
pub(crate) struct Fuzz {
    /// What to fuzz.
    #[arg(value_enum)]
    pub(crate) component: Component,
    /// How long to fuzz, in seconds (the build before it is not counted).
    #[arg(long, default_value_t = 60)]
    pub(crate) seconds: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Bench {
    /// What to measure.
    #[arg(value_enum)]
    pub(crate) component: Component,
}
