//! `ampfed-e2e`: runs the end-to-end scenario and checks its snapshots. `cargo xtask e2e`
//! installs what is missing and then runs this binary.

use std::process::ExitCode;
use std::time::Instant;

use ampfed_clustersim::LabelStyle;
use ampfed_e2e::aws_target::{self, AwsFlags};
use ampfed_e2e::env::TEARDOWN_LIMIT;
use ampfed_e2e::providers::{ProviderFlags, Target};
use ampfed_e2e::report::{self, Report, SnapshotResult};
use ampfed_e2e::{path, sim, snapshots, Failure, Fault, Options, Outcome};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

/// mimalloc: the federator and the API decode and encode many small objects on several
/// threads, where glibc's malloc spent about a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the AMP → rules → ETL → S3 → federation → query path on this machine.
#[derive(Debug, Parser)]
#[command(
    name = "ampfed-e2e",
    after_help = "Run through `cargo xtask e2e [--release] [FLAGS]`, which installs what is missing first; \
`--release` builds the scenario optimised.\n\nExamples:\n  \
cargo xtask e2e\n  \
cargo xtask e2e --fault wrong-secret     # must fail with InvalidSignatureException\n  \
cargo xtask e2e --fault throttle         # a fifth of writes get 429/503; must pass (retries)\n  \
cargo xtask e2e --clusters 100           # 100 clusters stamped from the fixtures; no snapshots\n  \
cargo xtask e2e --clusters 100 --seed 7  # other stamped sizes, the same for the same seed\n  \
cargo xtask e2e --days 3 --epoch 2026-02-27   # three UTC days across a month end; no snapshots\n  \
cargo xtask e2e --cluster-label cluster --label-style legacy   # no snapshots\n  \
cargo xtask e2e --keep                   # keep logs and Prometheus data, print where\n  \
cargo xtask e2e --s3 embedded            # the in-process S3: same snapshots, faster\n  \
cargo xtask e2e --backend url --backend-url http://127.0.0.1:8428   # your own backend; no snapshots\n  \
cargo xtask e2e --s3 localstack-container --backend container       # with Docker\n  \
cargo xtask e2e --json --junit target/e2e.xml   # for CI\n  \
cargo xtask e2e --review                 # a person accepts or rejects each changed snapshot\n  \
cargo xtask e2e --target aws --workspace-id ws-… --federated-store store.yaml --duration 10m\n  \
                                         # real AMP and S3, samples stamped now; no snapshots\n\n\
Exit codes: 0 passed; 1 a check failed (samples lost, clusters missing, idle off the node cost, \
snapshots differ); 2 bad input or usage (fixtures, rules, flags; nothing started); 3 the \
environment failed (a service did not start or answer); 130 interrupted."
)]
struct Args {
    /// Inject a fault: the signing faults must fail at the proxy's first signed call; the
    /// throttle must pass, every sample stored.
    #[arg(long, value_enum)]
    fault: Option<Fault>,
    /// Stamp N clusters from the fixtures (names like cluster-a-007, sizes varied by a seeded
    /// hash); every check runs, the snapshots (made for the fixtures) are not compared.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    clusters: Option<u32>,
    /// Seed the stamping of --clusters N: another seed, other sizes (nodes, replicas); the
    /// same seed, the same clusters.
    #[arg(long, value_name = "N", requires = "clusters", default_value_t = ampfed_clustersim::stamp::DEFAULT_SEED)]
    seed: u64,
    /// Keep the scenario directory (service logs, Prometheus data) after the run, and when a
    /// step or check fails, keep the failed environment up (as `cargo xtask up` does: status,
    /// logs, diagnose and down find it) until Ctrl-C or `cargo xtask down`.
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    providers: ProviderFlags,
    /// Simulate N UTC days (1–31); the cost model ships one daily ETL set per cluster and day.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(sim::MAX_DAYS)))]
    days: u32,
    /// The first simulated day: a UTC midnight as 2026-01-01, 2026-01-01T00:00:00Z or unix seconds.
    #[arg(long, value_name = "DATE", default_value = "2026-01-01", value_parser = sim::parse_epoch)]
    epoch: i64,
    /// The label the clusters' Prometheus attaches to remote-written data (Kubecost's
    /// `promClusterIDLabel`), e.g. cluster or alpha_eksctl_io_cluster_name.
    #[arg(long, value_name = "NAME", default_value = sim::CLUSTER_LABEL)]
    cluster_label: String,
    /// cAdvisor's label style on every cluster (default: each fixture's own `label_style`):
    /// modern (container, pod), legacy (container_name, pod_name) or both.
    #[arg(long, value_name = "STYLE")]
    label_style: Option<LabelStyle>,
    /// Print the result as JSON on stdout (steps, timings, counts, snapshots, the failure and
    /// its kind); the human output stays on stderr.
    #[arg(long)]
    json: bool,
    /// When snapshots differ, show each difference and ask whether to accept it (a person's
    /// step: refused under CI or without a terminal; CI never writes snapshots).
    #[arg(long, conflicts_with = "json")]
    review: bool,
    /// Write a JUnit XML report (a test case per step and per snapshot) to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// What to run against: local (the mocks on this machine, a virtual clock) or aws (an
    /// existing AMP workspace and bucket, in wall-clock mode: --workspace-id, --federated-store).
    #[arg(long, value_enum, default_value_t = Target::Local)]
    target: Target,
    #[command(flatten)]
    aws: AwsFlags,
}

/// Flags that mean nothing against AWS (its services are not started or faulted here, and its
/// clock is the wall clock), refused with `--target aws`.
const LOCAL_ONLY: &[&str] =
    &["fault", "keep", "review", "days", "epoch", "backend", "backend_url", "prometheus"];
/// Flags that mean nothing against the local mocks.
const AWS_ONLY: &[&str] =
    &["workspace_id", "region", "role_arn", "amp_url", "duration", "rules_wait", "keep_rules"];

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMPFED_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let wrong: Vec<&str> = match args.target {
        Target::Aws => LOCAL_ONLY.iter().copied().filter(|id| given(id)).collect(),
        Target::Local => AWS_ONLY.iter().copied().filter(|id| given(id)).collect(),
    };
    if let Some(id) = wrong.first() {
        let flag = format!("--{}", id.replace('_', "-"));
        match args.target {
            Target::Aws => eprintln!(
                "error: {flag} is not used with --target aws (AWS's services and clock are its own)"
            ),
            Target::Local => eprintln!("error: {flag} is used only with --target aws"),
        }
        return ExitCode::from(2);
    }
    if args.target == Target::Aws {
        if given("s3") && args.providers.s3 != ampfed_e2e::S3Provider::Bucket {
            eprintln!(
                "error: --target aws writes to the bucket of --federated-store (--s3 bucket), not --s3 {}",
                args.providers.s3.as_str()
            );
            return ExitCode::from(2);
        }
        return run_against_aws(&args);
    }
    if args.review {
        if let Err(why) = can_review() {
            eprintln!("error: --review {why}; run it in a terminal, or review the *.snap.new files with `cargo insta review`");
            return ExitCode::from(2);
        }
    }
    let mut options = Options { show_progress: true, ..Options::from_env() };
    options.env.fault = args.fault;
    options.env.keep = args.keep;
    options.env.providers = match args.providers.resolve() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    options.clusters = args.clusters.map(|n| n as usize);
    options.sim = sim::Settings {
        epoch: args.epoch,
        days: args.days,
        cluster_label: args.cluster_label.clone(),
        label_style: args.label_style,
        seed: args.seed,
    };
    if let Err(e) = options.sim.config().check() {
        eprintln!("error: {e} (given by --cluster-label, --days or --epoch)");
        return ExitCode::from(2);
    }
    // The snapshots are made for the fixtures over the default day and labels.
    let compare_snapshots = options.clusters.is_none()
        && options.sim == sim::Settings::default()
        && options.env.providers.snapshots_apply();
    let cancel = options.env.cancel.clone();
    let Some(runtime) = new_runtime() else { return ExitCode::FAILURE };
    // One run per cache directory (its logs, venvs and an `up`'s state live there): a second
    // `e2e` or an `up` fails fast while this one runs. The tests call the path directly, each
    // in its own scenario directory, and run in parallel.
    // With --keep the claim is an `up`'s (state and endpoints once kept), so that `status`,
    // `logs` and `down` find a failed run's environment.
    let files = ampfed_e2e::up::Files::in_cache_dir();
    let _lock = if args.keep {
        let run_id = ampfed_e2e::up::new_run_id();
        // Before any thread starts: every process of the run inherits it (what `down` checks).
        std::env::set_var(ampfed_e2e::up::state::RUN_ID_VAR, &run_id);
        match ampfed_e2e::up::claim(&files, &run_id) {
            Ok(claim) => {
                options.keep_on_failure = Some(ampfed_e2e::up::KeepOnFailure::new(claim));
                None
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(Failure::Environment.exit_code());
            }
        }
    } else {
        match ampfed_e2e::up::Lock::try_acquire(&files) {
            Ok(Some(lock)) => Some(lock),
            Ok(None) => {
                eprintln!(
                "error: another `cargo xtask e2e` or `cargo xtask up` runs on the cache directory {}: wait for it, stop an up with `cargo xtask down`, or set AMPFED_CACHE_DIR to another directory",
                ampfed_common::paths::cache_dir().display()
            );
                return ExitCode::from(Failure::Environment.exit_code());
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(Failure::Environment.exit_code());
            }
        }
    };
    // Each run's service logs are kept under <cache>/logs/<UTC time>-<pid>; the oldest go.
    let logs_dir = ampfed_env::logs::next_run();
    options.env.log_archive = Some(logs_dir.clone());
    let started = Instant::now();
    eprintln!(
        "ampfed e2e{}{}",
        args.fault.map(|f| format!(" (fault: {f:?})")).unwrap_or_default(),
        args.clusters.map(|n| format!(" ({n} stamped clusters)")).unwrap_or_default()
    );
    eprintln!("providers: {}", options.env.providers);
    let result = until_interrupted(runtime, path::run(&options), &cancel);
    let total = started.elapsed().as_secs_f64();
    let (report, code) = match result {
        None => match options.keep_on_failure.as_ref().and_then(|k| k.failure()) {
            Some((code, text)) => {
                eprintln!("the kept environment is stopped; the run had failed: {text}");
                return ExitCode::from(code);
            }
            None => {
                eprintln!("interrupted: all services stopped");
                return ExitCode::from(130);
            }
        },
        Some(Err(e)) => {
            let report = Report::failed(&e, total);
            print_logs(&logs_dir);
            eprintln!("\nerror: {}", report::redact(&ampfed_common::errors::report(e.as_ref())));
            (report, None)
        }
        Some(Ok(outcome)) if !compare_snapshots => {
            print_summary(&outcome, Snapshots::NotCompared, total);
            (Report::passed(&outcome, SnapshotResult::NotCompared, total), None)
        }
        Some(Ok(outcome)) => {
            // insta prints each difference itself; keep its panics from adding backtraces.
            let default_hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let compared = snapshots::compare(&outcome);
            std::panic::set_hook(default_hook);
            let state = match &compared {
                Ok(()) => Snapshots::Match,
                Err(differ) => Snapshots::Differ(differ.len()),
            };
            print_summary(&outcome, state, total);
            match compared {
                Ok(()) => (Report::passed(&outcome, SnapshotResult::Match, total), None),
                Err(differ) if args.review => {
                    let left = review(&differ);
                    let report = Report::passed(
                        &outcome,
                        if left.is_empty() {
                            SnapshotResult::Match
                        } else {
                            SnapshotResult::Differ(left.iter().map(|d| (*d).to_owned()).collect())
                        },
                        total,
                    );
                    let line = (!left.is_empty())
                        .then(|| format!("snapshots still differ: {} (rejected in review)", left.join(", ")));
                    (report, line)
                }
                Err(differ) => {
                    let names = differ.join(", ");
                    let report = Report::passed(
                        &outcome,
                        SnapshotResult::Differ(differ.iter().map(|d| (*d).to_owned()).collect()),
                        total,
                    );
                    let line = format!("snapshots differ: {names} (diffs above); review the integration/e2e/snapshots/*.snap.new files with `cargo insta review` (cargo install cargo-insta), or delete them to discard");
                    (report, Some(line))
                }
            }
        }
    };
    finish(&args, report, code)
}

/// Prints the JSON and writes the JUnit report if asked, then the last line; the exit code.
fn finish(args: &Args, report: Report, code: Option<String>) -> ExitCode {
    if args.json {
        print!("{}", report.to_json());
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, report.to_junit()) {
            eprintln!("error: cannot write the JUnit report {}: {e}", path.display());
            return ExitCode::from(Failure::Environment.exit_code());
        }
    }
    if let Some(line) = code {
        eprintln!("\nerror: {line}");
    }
    ExitCode::from(report.exit_code)
}

/// `--target aws`: the path in wall-clock mode against the workspace and bucket given.
fn run_against_aws(args: &Args) -> ExitCode {
    let bucket = match &args.providers.federated_store {
        None => None,
        Some(path) => match ampfed_federation::config::read(path) {
            Ok(store) => Some(store),
            Err(e) => {
                eprintln!("error: --federated-store: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut options = match args.aws.check(bucket) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    options.clusters = args.clusters.map(|n| n as usize);
    options.cluster_label = args.cluster_label.clone();
    options.label_style = args.label_style;
    options.seed = args.seed;
    options.show_progress = true;
    for warning in &options.bucket.warnings {
        eprintln!("warning: {warning}");
    }
    let Some(runtime) = new_runtime() else { return ExitCode::FAILURE };
    let started = Instant::now();
    eprintln!("ampfed e2e against AWS (wall clock: {} s of samples stamped now)", options.duration.as_secs());
    eprintln!(
        "providers: s3 your bucket {} at {} · backend AMP workspace {} · clusters simulator · target aws (wall clock)",
        options.bucket.bucket,
        options.bucket.endpoint_url(),
        options.workspace_id
    );
    let result = until_interrupted(runtime, aws_target::run(&options), &options.cancel);
    let total = started.elapsed().as_secs_f64();
    let (report, code) = match result {
        None => {
            eprintln!("interrupted: the proxy is stopped; the ampfed-e2e-* rule namespaces may be left (delete them with `aws amp delete-rule-groups-namespace`)");
            return ExitCode::from(130);
        }
        Some(Err(e)) => {
            let report = Report::failed(&e, total);
            eprintln!("\nerror: {}", report::redact(&ampfed_common::errors::report(e.as_ref())));
            (report, None)
        }
        Some(Ok(outcome)) => {
            print_summary(&outcome, Snapshots::NotCompared, total);
            (Report::passed(&outcome, SnapshotResult::NotCompared, total), None)
        }
    };
    finish(args, report, code)
}

/// The async runtime, or `None` after saying why there is none.
fn new_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// Runs `run` to its end, or until a signal (then `cancel` is set and `None` returned); then
/// shuts the runtime down: a dropped path's environment stops on the blocking pool, which the
/// shutdown waits for (at most [`TEARDOWN_LIMIT`]).
fn until_interrupted<T>(
    runtime: tokio::runtime::Runtime,
    run: impl std::future::Future<Output = T>,
    cancel: &ampfed_common::Cancel,
) -> Option<T> {
    let result = runtime.block_on(async {
        tokio::select! {
            r = run => Some(r),
            _ = interrupted() => {
                cancel.cancel();
                None
            }
        }
    });
    runtime.shutdown_timeout(TEARDOWN_LIMIT);
    result
}

/// Ctrl-C (SIGINT), SIGTERM, or SIGHUP (the terminal closed): each stops the run the same way.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        /// The next delivery of `signal`; never, if it could not be listened for.
        async fn next(signal: &mut Option<Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let mut term = signal(SignalKind::terminate()).ok();
        let mut hangup = signal(SignalKind::hangup()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = next(&mut term) => {}
            _ = next(&mut hangup) => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Why this process cannot ask a person, if it cannot.
fn can_review() -> Result<(), &'static str> {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        return Err("is refused under CI (CI is set)");
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err("needs a terminal on stdin to ask");
    }
    Ok(())
}

/// Asks about each differing snapshot (insta printed its diff above): `a` accepts the new
/// one, anything else keeps the reviewed one. Returns those not accepted.
fn review(differ: &[&'static str]) -> Vec<&'static str> {
    let mut left = Vec::new();
    for name in differ {
        let (snap, new) = snapshots::files(name);
        if !new.is_file() {
            eprintln!("{name}: no {} to review", new.display());
            left.push(*name);
            continue;
        }
        eprint!("\n{name}: accept the new snapshot into {}? [a]ccept / [r]eject (default): ", snap.display());
        let mut answer = String::new();
        // One line of at most a few bytes; a closed stdin counts as "reject".
        let _ = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer);
        let accepted = matches!(answer.trim(), "a" | "A" | "accept" | "y" | "yes");
        let result = if accepted { snapshots::accept(name) } else { snapshots::reject(name) };
        match (accepted, result) {
            (true, Ok(())) => eprintln!("{name}: accepted"),
            (false, Ok(())) => {
                eprintln!("{name}: rejected (the reviewed snapshot stays)");
                left.push(*name);
            }
            (_, Err(e)) => {
                eprintln!("{name}: {e}");
                left.push(*name);
            }
        }
    }
    left
}

/// Lines of each service log printed after a failure.
const LOG_TAIL_LINES: usize = 12;

/// After a failure: where the services' logs are, and their last lines.
fn print_logs(dir: &std::path::Path) {
    let tails = ampfed_env::logs::tails(dir, LOG_TAIL_LINES);
    if tails.is_empty() {
        return;
    }
    eprintln!("\nservice logs (kept in {}; `cargo xtask logs` prints them):", dir.display());
    for (path, tail) in tails {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        eprintln!("--- {name} (last {LOG_TAIL_LINES} lines)");
        if tail.trim().is_empty() {
            eprintln!("    (empty)");
        }
        for line in tail.lines() {
            eprintln!("    {}", report::redact(line));
        }
    }
}

/// What became of the snapshots.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Snapshots {
    Match,
    /// How many differ.
    Differ(usize),
    /// `--clusters N`: the snapshots describe the fixtures, not stamped clusters.
    NotCompared,
}

/// Clusters listed by name in the summary; more are elided.
const LISTED_CLUSTERS: usize = 6;

fn print_summary(outcome: &Outcome, snapshots_state: Snapshots, total: f64) {
    let s = &outcome.summary;
    eprintln!("\nsummary");
    let mut names = s.clusters.iter().take(LISTED_CLUSTERS).cloned().collect::<Vec<_>>().join(", ");
    if s.clusters.len() > LISTED_CLUSTERS {
        names.push_str(&format!(", … {}", s.clusters.last().map(String::as_str).unwrap_or_default()));
    }
    eprintln!("  clusters        {} ({names})", s.clusters.len());
    eprintln!(
        "  written         {} series, {} samples (remote write through the SigV4 proxy); {} stored, {} retries",
        s.series_written, s.samples_written, s.samples_stored, s.write_retries
    );
    eprintln!(
        "  rules           {} installed in {} namespace(s); {} series recorded",
        s.rules_installed, s.rule_namespaces, s.rule_series_recorded
    );
    eprintln!("  ETL objects     {} per-cluster, {} combined", s.etl_objects.len(), s.combined_objects.len());
    eprintln!(
        "  rows queried    {} allocations → {} namespaces, {} clusters",
        s.rows_queried,
        outcome.by_namespace.len(),
        outcome.by_cluster.len()
    );
    match snapshots_state {
        Snapshots::NotCompared => {
            eprintln!("  snapshots       not compared (they describe the fixtures' clusters on the default day and labels)")
        }
        Snapshots::Match => eprintln!("  snapshots       {} match", snapshots::NAMES.len()),
        Snapshots::Differ(n) => {
            eprintln!("  snapshots       {n} of {} DIFFER", snapshots::NAMES.len())
        }
    }
    eprintln!("  step times");
    let slowest = s.steps.iter().map(|(_, d)| *d).max().unwrap_or_default();
    for (name, took) in &s.steps {
        let mark = if *took == slowest { "  ← slowest" } else { "" };
        eprintln!("    {:<16} {:>6.1} s{mark}", name.as_str(), took.as_secs_f64());
    }
    eprintln!("  total           {total:.1} s");
}
