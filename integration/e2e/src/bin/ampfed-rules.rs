//! `ampfed-rules lint|install|test`: Prometheus rules files linted (every problem at its file,
//! line and column, warnings for labels no simulated series carries), installed into a
//! running `up`'s AMP workspace, and turned into a `promtool test rules` unit test over the
//! simulated series. `cargo xtask rules …` builds and runs it (and, for `test`, promtool).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use ampfed_clustersim::LabelStyle;
use ampfed_e2e::rules_cmd::{self, lint, promtool, simulated};
use ampfed_e2e::up::Files;
use ampfed_e2e::{classify, Failure};
use clap::{Parser, Subcommand};

/// Lint, install and test Prometheus recording rules for AMP.
#[derive(Debug, Parser)]
#[command(
    name = "ampfed-rules",
    bin_name = "cargo xtask rules",
    after_help = "\
Exit codes: 0 pass, 1 a check failed, 2 bad input or usage, 3 the environment failed.

Examples:
  cargo xtask rules lint --label-style modern              # the guide's container_name rules warn
  cargo xtask up & cargo xtask status --wait 300 && cargo xtask rules install
  cargo xtask rules test                                   # promtool on the simulated series"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Simulated {
    /// The cAdvisor label style of every simulated cluster [default: each fixture's own].
    #[arg(long, value_name = "STYLE", value_parser = ["modern", "legacy", "both"])]
    label_style: Option<String>,
    /// The fixtures (clusters/, prices/) the series are simulated from.
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// The cluster label the simulated series carry.
    #[arg(long, value_name = "NAME", default_value = "cluster_id")]
    cluster_label: String,
}

impl Simulated {
    fn style(&self) -> Option<LabelStyle> {
        self.label_style.as_deref().and_then(|s| s.parse().ok())
    }

    fn fixtures(&self) -> PathBuf {
        self.fixtures.clone().unwrap_or_else(ampfed_common::paths::fixtures_dir)
    }

    fn source(&self) -> String {
        match &self.label_style {
            Some(style) => format!("--label-style {style}"),
            None => "each fixture's label style".to_owned(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check rules files as AMP does on upload, every problem as file:line:column, and warn of
    /// labels a rule selects that no simulated series carries.
    #[command(after_help = "\
Errors are what AMP refuses (YAML shape, names, durations, PromQL); each reads \
`file:line:column: `field.path`: message; expected …`. Warnings (`file:line:column: warning: …`) \
name a label a rule selects or groups by that the simulated series of some cluster lack, such as \
the guide's `container_name` on clusters with modern cAdvisor labels (`container`, `pod`).
Exit codes: 0 no error (warnings allowed unless --deny-warnings), 1 errors found, 2 a file is \
missing or the fixtures are broken.

Examples:
  cargo xtask rules lint                                    # fixtures/rules/*.yaml
  cargo xtask rules lint my-rules.yaml --label-style modern
  cargo xtask rules lint rules/*.yaml --json --deny-warnings")]
    Lint {
        /// Rules files or directories of them [default: fixtures/rules].
        files: Vec<PathBuf>,
        #[command(flatten)]
        simulated: Simulated,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Install every rules file of a directory into the running `up`'s AMP workspace, one rule
    /// groups namespace per file (named after it), through aws-sdk-amp.
    #[command(after_help = "\
The files are linted first: with an error nothing is installed (exit 2). A namespace that \
exists already fails the install (exit 2) unless --replace deletes it first.
Exit codes: 0 installed, 2 bad rules or usage, 3 no running `up` or AMP refused.

Examples:
  cargo xtask rules install                                 # fixtures/rules
  cargo xtask rules install my-rules/ --replace
  cargo xtask rules install --endpoints /tmp/up2/endpoints.json")]
    Install {
        /// The directory of rules files [default: fixtures/rules].
        dir: Option<PathBuf>,
        /// Delete namespaces of the same names first.
        #[arg(long)]
        replace: bool,
        /// The endpoints file of the running `up` [default: <state dir>/endpoints.json].
        #[arg(long, value_name = "FILE")]
        endpoints: Option<PathBuf>,
        /// The directory of the running `up` [default: the cache directory].
        #[arg(long, value_name = "DIR", conflicts_with = "endpoints")]
        state_dir: Option<PathBuf>,
    },
    /// Write a `promtool test rules` unit test that evaluates the rules on the first minutes of
    /// the simulated clusters: each record must produce a series.
    #[command(after_help = "\
`cargo xtask rules test` writes the test into target/ampfed-cache/rules-test/ and runs \
`promtool test rules` on it (Debian's prometheus package ships promtool; `cargo xtask setup` \
installs it); a record that produces nothing fails as `expr: \"absent(<record>)\"`.
Exit codes: 0 every record produced a series, 1 some did not, 2 bad rules or usage, 3 promtool \
is missing.

Examples:
  cargo xtask rules test                                    # fixtures/rules, each fixture's labels
  cargo xtask rules test --label-style modern               # the guide's container_name rules fail
  cargo xtask rules test my-rules.yaml --minutes 30")]
    Test {
        /// Rules files or directories of them [default: fixtures/rules].
        files: Vec<PathBuf>,
        #[command(flatten)]
        simulated: Simulated,
        /// Minutes of simulated series to evaluate on (at least 6: rate()[5m] needs two samples).
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(i64).range(6..=240))]
        minutes: i64,
        /// Where the test file goes.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMPFED_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Args::parse().command {
        Command::Lint { files, simulated, json, deny_warnings } => {
            run_lint(files, &simulated, json, deny_warnings)
        }
        Command::Install { dir, replace, endpoints, state_dir } => {
            run_install(dir, replace, endpoints, state_dir)
        }
        Command::Test { files, simulated, minutes, out } => run_test(files, &simulated, minutes, out),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", ampfed_common::errors::report(e.as_ref()));
            ExitCode::from(classify(&e).exit_code())
        }
    }
}

/// The rules files named (directories expanded), or fixtures/rules; a missing one is bad input.
fn expand(paths: Vec<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    use ampfed_e2e::failure::Classify;
    let paths =
        if paths.is_empty() { vec![ampfed_common::paths::fixtures_dir().join("rules")] } else { paths };
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(anyhow::anyhow!("{}: no such file or directory", path.display()))
                .classify(Failure::BadInput);
        }
        files.extend(rules_cmd::rule_files(&path).classify(Failure::BadInput)?);
    }
    if files.is_empty() {
        return Err(anyhow::anyhow!("no rules files (*.yaml)")).classify(Failure::BadInput);
    }
    Ok(files)
}

fn labels(simulated: &Simulated) -> anyhow::Result<lint::Labels> {
    use ampfed_e2e::failure::Classify;
    // One hour shows every series kind the fixtures make (pods, nodes, volumes, jobs).
    let sims = simulated::simulate(&simulated.fixtures(), simulated.style(), &simulated.cluster_label, 3600)
        .classify(Failure::BadInput)?;
    Ok(lint::Labels::new(simulated::labels(&sims), simulated.source()))
}

fn run_lint(
    files: Vec<PathBuf>,
    simulated: &Simulated,
    json: bool,
    deny_warnings: bool,
) -> anyhow::Result<u8> {
    let files = expand(files)?;
    let linted = lint::lint(&files, &labels(simulated)?);
    if json {
        println!("{}", linted.to_json());
    } else {
        print!("{}", linted.to_text());
    }
    Ok(u8::from(linted.errors() > 0 || (deny_warnings && linted.warnings() > 0)))
}

fn run_install(
    dir: Option<PathBuf>,
    replace: bool,
    endpoints: Option<PathBuf>,
    state_dir: Option<PathBuf>,
) -> anyhow::Result<u8> {
    use ampfed_e2e::failure::Classify;
    let dir = dir.unwrap_or_else(|| ampfed_common::paths::fixtures_dir().join("rules"));
    let file = endpoints
        .unwrap_or_else(|| state_dir.map(Files::new).unwrap_or_else(Files::in_cache_dir).endpoints());
    let endpoints = std::fs::read(&file)
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
        .map_err(|e| {
            e.context(format!("read the endpoints file {} (is `cargo xtask up` running?)", file.display()))
        })
        .classify(Failure::Environment)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let installed = runtime.block_on(rules_cmd::install(&endpoints, &dir, replace))?;
    for name in &installed.replaced {
        println!("replaced rule groups namespace {name}");
    }
    println!(
        "installed {} rule groups namespace(s) into workspace {}: {} recording rules",
        installed.namespaces,
        installed.workspace,
        installed.records.len()
    );
    Ok(0)
}

fn run_test(
    files: Vec<PathBuf>,
    simulated: &Simulated,
    minutes: i64,
    out: Option<PathBuf>,
) -> anyhow::Result<u8> {
    use ampfed_e2e::failure::Classify;
    let files = expand(files)?;
    let linted = lint::lint(&files, &lint::Labels::none());
    if linted.errors() > 0 {
        print!("{}", linted.to_text());
        return Ok(2);
    }
    let mut records = BTreeSet::new();
    for file in &files {
        let data = std::fs::read(file)?;
        let parsed =
            ampfed_aws_mock::rules::parse(&data).map_err(anyhow::Error::from).classify(Failure::BadInput)?;
        records.extend(parsed.groups.iter().flat_map(|g| &g.rules).filter_map(|r| r.record.clone()));
    }
    let sims =
        simulated::simulate(&simulated.fixtures(), simulated.style(), &simulated.cluster_label, minutes * 60)
            .classify(Failure::BadInput)?;
    let out = out.unwrap_or_else(|| ampfed_common::paths::cache_dir().join("rules-test"));
    let written = promtool::write_test(&files, &records, &sims, minutes, &out)?;
    println!(
        "{}: {} records over {} series of {} cluster(s), {} minutes ({})",
        written.path.display(),
        written.records.len(),
        written.series,
        sims.len(),
        minutes,
        simulated.source()
    );
    Ok(0)
}
