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
    /// Install what the harness needs and is missing: Prometheus (apt) and the LocalStack,
    /// kubernetes-validate, AWS CLI and pyarrow venvs (pip, pinned).
    Setup(Setup),
    /// Run the whole AMP → rules → ETL → S3 → federation → query path and check the snapshots.
    E2e(E2e),
    /// Run every test, the end-to-end scenarios included (what CI runs).
    Test(Test),
    /// Fuzz a component for a bounded time with cargo-fuzz (not part of `cargo test` or CI).
    Fuzz(Fuzz),
    /// Measure a component in release mode: figures printed and written to target/bench/<name>.json,
    /// optionally compared with an earlier run's (`--compare FILE`).
    Bench(Bench),
    /// Create or delete kind clusters from the cluster fixtures (needs Docker; docs/kind.md).
    Kind(Kind),
    /// Ask the allocation or assets API about a running `up`'s combined ETL.
    Query(Query),
    /// Keep the environment up in the foreground (Prometheus, LocalStack S3, STS and AMP mocks,
    /// SigV4 proxy, a workspace, the bucket) and print the AWS SDKs' exports; Ctrl-C stops it.
    Up(Forwarded),
    /// Stop the environment `cargo xtask up` keeps, and check that nothing of it is left.
    Down(Forwarded),
    /// Tell whether `cargo xtask up` runs, and its endpoints (`--json`, `--exports`).
    Status(Forwarded),
    /// Print the service logs of the running `up`, or of the newest run kept under the cache dir.
    Logs(Forwarded),
    /// Run the cost models over the running `up`'s workspace and ship their ETL to its bucket.
    Etl(Forwarded),
    /// Combine the running `up`'s bucket into federated/combined/.
    Federate(Forwarded),
    /// Check a running `up` as the AMP guide's troubleshooting does: pass, warn or fail and a
    /// fix for each; the exit code says whether all passed (`--json` for CI).
    Diagnose(Forwarded),
    /// Lint Prometheus rules files, install them into a running `up`, or test them on the
    /// simulated series with promtool (`lint`, `install`, `test`).
    Rules(Forwarded),
}

/// A component that has a fuzz target or a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Component {
    /// `ampfed-sigv4`: the SigV4 parser and verifier.
    Sigv4,
    /// `ampfed-proxy`: the signing proxy (benchmark only).
    Proxy,
    /// Remote-write ingest through the proxy and the AMP mock against straight into
    /// Prometheus (benchmark only).
    Ingest,
    /// `ampfed-federation`: the federator over synthetic ETL in an embedded S3 (benchmark only).
    Federation,
    /// `ampfed-api`: `/model/allocation` over 1000 clusters' combined ETL (benchmark only).
    Api,
    /// The AMP mock's routing: signed requests of any method, path, query and body (fuzz only).
    AmpRouting,
    /// The AMP mock's remote write decoding and checks (fuzz only).
    AmpRemoteWrite,
    /// The AMP mock's rules-file checks (fuzz only).
    AmpRules,
    /// The AMP mock's PromQL scoping to a workspace (fuzz only).
    AmpQueryScope,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Setup {}

/// The scenario's own flags are declared by the `ampfed-e2e` binary and passed on as they
/// are: `cargo xtask e2e --help` prints them.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct E2e {
    /// Build the scenario in release mode.
    #[arg(long)]
    pub(crate) release: bool,
    /// The scenario's flags (`--fault wrong-secret`, `--keep`, …), passed to `ampfed-e2e`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
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
    /// Compare the figures this run writes (target/bench/<name>.json) with an earlier run's
    /// JSON, and fail when one regressed beyond --tolerance, e.g.
    /// `cp target/bench/federation.json base.json; …; cargo xtask bench federation --compare base.json`.
    #[arg(long, value_name = "FILE")]
    pub(crate) compare: Option<std::path::PathBuf>,
    /// How far a figure may move the wrong way before it counts as a regression (0.2 = 20 %).
    #[arg(long, default_value_t = 0.2, requires = "compare")]
    pub(crate) tolerance: f64,
    /// Passed to the benchmark binary, e.g. `cargo xtask bench ingest -- --labelled`.
    #[arg(last = true)]
    pub(crate) args: Vec<String>,
}

/// `cargo xtask query TARGET`: Kubecost's allocation or assets API over a running `up`'s bucket.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
cargo xtask query '/model/allocation?window=2026-01-01T00:00:00Z,2026-01-02T00:00:00Z&aggregate=namespace'\n  \
cargo xtask query '/model/allocation?window=yesterday&aggregate=cluster&shareIdle=true' --now 2026-01-02T00:00:00Z\n  \
cargo xtask query '/model/assets?window=7d&aggregate=type' --now 2026-01-08T00:00:00Z --json")]
pub(crate) struct Query {
    /// The request target: `/model/allocation?…` or `/model/assets?…` (docs/allocation-api.md).
    pub(crate) target: String,
    /// Print Kubecost's JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// "Now" for relative windows (today, 7d, lastweek): RFC 3339 or unix seconds.
    #[arg(long)]
    pub(crate) now: Option<String>,
    /// The directory of the running `up` (default: the cache directory).
    #[arg(long, conflicts_with = "federated_store")]
    pub(crate) state_dir: Option<std::path::PathBuf>,
    /// Read the bucket from Kubecost's federated-store.yaml instead of the running `up`.
    #[arg(long, value_name = "FILE")]
    pub(crate) federated_store: Option<std::path::PathBuf>,
}

/// `cargo xtask kind up|down`: the clusters are the fixtures, or `--clusters N` stamped from them.
#[derive(Debug, clap::Args)]
pub(crate) struct Kind {
    /// Create the clusters and deploy them, or delete them.
    #[arg(value_enum)]
    pub(crate) action: KindAction,
    /// Stamp this many clusters from the fixtures, as `cargo xtask e2e --clusters N` does.
    #[arg(long)]
    pub(crate) clusters: Option<usize>,
    /// The AMP endpoint as the kind nodes reach it, `http://HOST:PORT`: `host.docker.internal`
    /// on Docker Desktop, the `kind` network's gateway on Linux (`up` only).
    #[arg(long)]
    pub(crate) amp_url: Option<String>,
    /// The AMP workspace id (`up` only).
    #[arg(long)]
    pub(crate) workspace: Option<String>,
    /// An env file with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
    /// AWS_SESSION_TOKEN, for the clusters' `amp-credentials` Secret (`up` only).
    #[arg(long)]
    pub(crate) credentials: Option<std::path::PathBuf>,
    /// Seconds each `kubectl rollout status` waits.
    #[arg(long, default_value_t = 300)]
    pub(crate) rollout_timeout: u64,
    /// The label each cluster's Prometheus adds to remote-written data (`external_labels`)
    /// and the cost model reads (`PROM_CLUSTER_ID_LABEL`); default `cluster_id`.
    #[arg(long)]
    pub(crate) cluster_label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KindAction {
    /// `kind create cluster`, `kubectl apply`, `kubectl rollout status`, per cluster.
    Up,
    /// `kind delete cluster`, per cluster.
    Down,
}

/// A task whose flags belong to one of the harness's binaries (`ampfed-up`, `ampfed-diagnose`,
/// `ampfed-rules`) and are passed on as they are: `cargo xtask <task> --help` prints them.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Forwarded {
    /// Build the binary optimised.
    #[arg(long)]
    pub(crate) release: bool,
    /// The binary's flags.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}
