//! `ampfed-up up|down|status`: keeps the environment of the path up in the foreground, stops
//! it from another shell, and tells whether it runs and where. `cargo xtask up`, `down` and
//! `status` install what is missing and run this binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ampfed_e2e::env::TEARDOWN_LIMIT;
use ampfed_e2e::providers::ProviderFlags;
use ampfed_e2e::up::{self, exports, CredentialStyle, Files, Served, Status, Stopped, UpOptions};
use ampfed_e2e::EnvConfig;
use clap::{Parser, Subcommand};

/// mimalloc: the federator and the API decode and encode many small objects on several
/// threads, where glibc's malloc spent about a third of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code of `status` when no `up` is running (or it is still starting).
const NOT_RUNNING: u8 = 3;

/// Keeps the path's environment up: Prometheus, LocalStack S3, the STS and AMP mocks and the
/// SigV4 proxy, with an AMP workspace, the ETL bucket and credentials for any AWS SDK.
#[derive(Debug, Parser)]
#[command(
    name = "ampfed-up",
    bin_name = "cargo xtask",
    after_help = "Run through `cargo xtask up`, `cargo xtask down` and `cargo xtask status`."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct StateDir {
    /// Where the lock, the state (up.json) and the endpoints (endpoints.json) live; one `up`
    /// at a time per directory [default: the cache directory, target/ampfed-cache or
    /// $AMPFED_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl StateDir {
    fn files(&self) -> Files {
        self.state_dir.clone().map(Files::new).unwrap_or_else(Files::in_cache_dir)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring the environment up and keep it running in the foreground until Ctrl-C, SIGTERM or
    /// `cargo xtask down`; print its endpoints and the shell exports for the AWS SDKs.
    #[command(after_help = "\
Writes <state dir>/endpoints.json (mode 0600: AMP, STS, S3, proxy and Prometheus URLs, region, \
workspace id, bucket, long-lived keys and a web identity) and prints, on stdout, shell comments \
and exports that any AWS SDK or the AWS CLI reads as they are: AWS_ENDPOINT_URL_AMP, \
AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_S3, AWS_REGION (and AWS_DEFAULT_REGION), and \
AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY or, with --credentials web-identity, AWS_ROLE_ARN + \
AWS_WEB_IDENTITY_TOKEN_FILE. The credentials stay valid as long as it runs. A second `up` on \
the same state directory, or a `cargo xtask e2e` on the same cache directory, fails at once; \
the state a killed `up` left is cleaned by the next one.

Examples:
  cargo xtask up                                   # runs until Ctrl-C
  cargo xtask up --credentials web-identity        # exports a role and a token file instead of keys
  cargo xtask up --load                            # with the fixtures' clusters, rules, ETL: a demo
  cargo xtask up --load --clusters 20              # 20 stamped clusters
  cargo xtask up --wall-clock-rules                # rules evaluated on the wall clock, as AMP does
  cargo xtask up > up.env &                        # in the background; stdout is shell text
  cargo xtask status --wait 300 && . up.env        # ...then, once it runs
  aws amp list-workspaces; aws s3 ls               # with the exports, as against AWS
  cargo xtask down")]
    Up {
        #[command(flatten)]
        dir: StateDir,
        /// The credentials the printed exports hand out; the endpoints file holds both.
        #[arg(long, value_enum, default_value_t = CredentialStyle::Keys)]
        credentials: CredentialStyle,
        #[command(flatten)]
        providers: ProviderFlags,
        /// Keep the scenario directory (service logs, Prometheus data) after it stops.
        #[arg(long)]
        keep: bool,
        /// Before publishing the endpoints, load the simulated clusters as the e2e does: their
        /// rules, samples (remote write through the proxy), recorded series, ETL and the
        /// federated ETL, so that `cargo xtask query` and `diagnose` have data.
        #[arg(long)]
        load: bool,
        /// With --load: N clusters stamped from the fixtures instead of the fixtures.
        #[arg(long, value_name = "N", requires = "load", value_parser = clap::value_parser!(u32).range(1..=10_000))]
        clusters: Option<u32>,
        /// Evaluate the installed recording rules on the wall clock, as AMP does (each group at
        /// its interval boundary, the results written back): for clients that stream samples
        /// stamped now, such as `cargo xtask e2e --target aws` pointed at this environment.
        #[arg(long)]
        wall_clock_rules: bool,
    },
    /// Stop the running `up` (SIGTERM, then SIGKILL after --timeout) and check that nothing of
    /// it is left: no process it started, no port of its services open.
    #[command(after_help = "\
Also cleans the state an `up` that was killed left. Exits 0 once nothing is left, whether an \
`up` ran or not.

Examples:
  cargo xtask down
  cargo xtask down --timeout 120
  cargo xtask down --state-dir /tmp/ampfed-up-2")]
    Down {
        #[command(flatten)]
        dir: StateDir,
        /// Seconds the `up` gets to stop after SIGTERM before it is killed.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
    /// Run each cluster's cost model over the running `up`'s workspace and ship its daily and
    /// hourly ETL to the bucket (the e2e's "cost model" step).
    #[command(after_help = "\
Exits 0 when every cluster shipped, 1 when a check failed (the hours do not add up to the day), \
2 on bad flags, 3 when no `up` runs or AMP or S3 refused.

Examples:
  cargo xtask up --load                 # in another shell: data to compute from
  cargo xtask etl                       # every cluster with samples on 2026-01-01
  cargo xtask etl --clusters cluster-a --epoch 2026-01-01 --days 1")]
    Etl {
        #[command(flatten)]
        dir: StateDir,
        /// The clusters (comma-separated); default: those with samples in the window.
        #[arg(long, value_delimiter = ',', value_name = "NAMES")]
        clusters: Option<Vec<String>>,
        /// The first UTC day: 2026-01-01, RFC 3339 or unix seconds.
        #[arg(long, value_name = "DATE", default_value = "2026-01-01", value_parser = ampfed_e2e::sim::parse_epoch)]
        epoch: i64,
        /// How many UTC days.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(ampfed_e2e::sim::MAX_DAYS)))]
        days: u32,
        /// The label that names the cluster on the samples (Kubecost's promClusterIDLabel).
        #[arg(long, value_name = "NAME", default_value = ampfed_e2e::sim::CLUSTER_LABEL)]
        cluster_label: String,
    },
    /// Combine the running `up`'s bucket into federated/combined/ (the e2e's "federation"
    /// step): incremental, under its lease.
    #[command(after_help = "\
Exits 0 when every window combined cleanly, 1 when objects were quarantined, a cluster misses a \
window or two sources claim one cluster id, 3 when no `up` runs or S3 refused.

Examples:
  cargo xtask etl && cargo xtask federate
  cargo xtask federate --json")]
    Federate {
        #[command(flatten)]
        dir: StateDir,
        /// Print the federator's report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the service logs: a running `up`'s, or else the newest run's kept under
    /// <cache>/logs (every e2e and up run archives its logs there; the newest 10 are kept).
    #[command(after_help = "\
Exits 0 when it printed logs, 3 when there are none.

Examples:
  cargo xtask logs                      # the running up's logs, or the last run's
  cargo xtask logs prometheus --lines 200
  cargo xtask logs --list               # every kept run and its log files")]
    Logs {
        #[command(flatten)]
        dir: StateDir,
        /// Only this service's log (prometheus, localstack).
        service: Option<String>,
        /// The last N lines of each log.
        #[arg(long, value_name = "N", default_value_t = 40)]
        lines: usize,
        /// List the kept runs and their logs instead of printing them.
        #[arg(long)]
        list: bool,
    },
    /// Tell whether an `up` runs, and its endpoints. Exits 0 when it runs and is ready, 3 when
    /// not (or still starting).
    #[command(after_help = "\
Examples:
  cargo xtask status
  eval \"$(cargo xtask status --exports)\"           # this shell now talks to the mocks
  cargo xtask status --json | jq -r .endpoints.workspace_id
  cargo xtask status --wait 300                     # until a starting `up` is ready (CI)")]
    Status {
        #[command(flatten)]
        dir: StateDir,
        /// Print the status, state and endpoints as JSON.
        #[arg(long, conflicts_with = "exports")]
        json: bool,
        /// Print only the shell exports (nothing when no `up` runs), for `eval`.
        #[arg(long)]
        exports: bool,
        /// The credentials the exports hand out.
        #[arg(long, value_enum, default_value_t = CredentialStyle::Keys)]
        credentials: CredentialStyle,
        /// Wait at most SECS for an `up` to be running and ready.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMPFED_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match Args::parse().command {
        Command::Up { dir, credentials, providers, keep, load, clusters, wall_clock_rules } => {
            let providers = match providers.resolve() {
                Ok(p)
                    if matches!(p.s3, ampfed_e2e::S3Provider::Embedded | ampfed_e2e::S3Provider::Bucket) =>
                {
                    eprintln!("error: --s3 {} does not take the keys `up` hands out to clients: use --s3 localstack (or localstack-container)", p.s3.as_str());
                    return ExitCode::from(2);
                }
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            // The fixtures are checked before anything starts.
            let load = match load.then(|| prepare_load(clusters)).transpose() {
                Ok(load) => load,
                Err(e) => {
                    eprintln!("error: {}", ampfed_common::errors::report(e.as_ref()));
                    return ExitCode::from(2);
                }
            };
            eprintln!("providers: {providers}");
            let log_archive = Some(ampfed_env::logs::next_run());
            let env = EnvConfig { providers, keep, log_archive, ..EnvConfig::from_env() };
            let show_progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            run_up(UpOptions { files: dir.files(), env, show_progress, credentials, wall_clock_rules }, load)
        }
        Command::Etl { dir, clusters, epoch, days, cluster_label } => {
            let settings = ampfed_e2e::sim::Settings { epoch, days, cluster_label, ..Default::default() };
            if let Err(e) = settings.config().check() {
                eprintln!("error: {e} (given by --cluster-label, --days or --epoch)");
                return ExitCode::from(2);
            }
            run_job(&dir.files(), Job::Etl(clusters, settings))
        }
        Command::Federate { dir, json } => run_job(&dir.files(), Job::Federate { json }),
        Command::Down { dir, timeout } => run_down(&dir.files(), Duration::from_secs(timeout)),
        Command::Logs { dir, service, lines, list } => {
            run_logs(&dir.files(), service.as_deref(), lines, list)
        }
        Command::Status { dir, json, exports, credentials, wait } => {
            run_status(&dir.files(), json, exports, credentials, wait.map(Duration::from_secs))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", ampfed_common::errors::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The repository's fixtures (or `clusters` stamped from them), simulated and checked.
fn prepare_load(clusters: Option<u32>) -> anyhow::Result<up::Load> {
    let fixtures = ampfed_common::paths::fixtures_dir();
    let settings = ampfed_e2e::sim::Settings::default();
    let prepared =
        ampfed_e2e::steps::remote_write::prepare(&fixtures, clusters.map(|n| n as usize), &settings)?;
    Ok(up::Load { prepared, settings, rules_dir: fixtures.join("rules") })
}

fn run_up(options: UpOptions, load: Option<up::Load>) -> anyhow::Result<ExitCode> {
    // Before any thread starts: every process this `up` starts inherits it, which is how
    // `down` tells that none is left.
    let run_id = up::new_run_id();
    std::env::set_var(up::state::RUN_ID_VAR, &run_id);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let files = options.files.clone();
    let served = runtime.block_on(async {
        // Listening before anything is claimed: a SIGTERM from `down` always finds the handler.
        let mut stop = Box::pin(interrupted()?);
        let mut claim = up::claim(&files, &run_id)?;
        if let Some(stale) = &claim.stale {
            eprintln!(
                "ampfed up: cleaned the state of an up that no longer runs (pid {}, since {})",
                stale.pid, stale.started_at
            );
        }
        eprintln!("ampfed up: starting the environment (state in {})", files.dir().display());
        let served = up::serve(&options, &mut claim, &mut stop, load).await;
        anyhow::Ok((claim, served))
    });
    // What had started when a signal came during start-up is stopping on the blocking pool.
    runtime.shutdown_timeout(TEARDOWN_LIMIT);
    let (claim, served) = served?;
    drop(claim);
    match served? {
        Served::InterruptedWhileStarting => {
            eprintln!("ampfed up: interrupted while starting; all services stopped")
        }
        Served::Stopped => eprintln!("ampfed up: stopped; all services stopped"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `etl` or `federate`.
enum Job {
    Etl(Option<Vec<String>>, ampfed_e2e::sim::Settings),
    Federate { json: bool },
}

fn run_job(files: &Files, job: Job) -> anyhow::Result<ExitCode> {
    let endpoints = match up::status(files)? {
        Status::Running(_, endpoints) => *endpoints,
        other => {
            eprintln!(
                "error: no `up` runs on {} ({other:?}): start one with `cargo xtask up --load`",
                files.dir().display()
            );
            return Ok(ExitCode::from(3));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match job {
            Job::Etl(clusters, settings) => {
                let (clusters, shipped) = up::jobs::etl(&endpoints, clusters, &settings).await?;
                println!(
                    "{} clusters ({}): {} daily allocation, {} daily asset and {} hourly ETL objects shipped to s3://{}",
                    clusters.len(),
                    clusters.join(", "),
                    shipped.etl_objects.len(),
                    shipped.asset_objects.len(),
                    shipped.hourly_objects.len(),
                    endpoints.bucket
                );
                anyhow::Ok(ExitCode::SUCCESS)
            }
            Job::Federate { json } => {
                let report = up::jobs::federate(&endpoints).await?;
                let problems = up::jobs::problems(&report);
                if json {
                    let value = serde_json::json!({
                        "clusters": report.clusters,
                        "objects_read": report.objects_read,
                        "objects_written": report.objects_written,
                        "asset_objects_written": report.asset_objects_written,
                        "hourly_objects_written": report.hourly_objects_written.len(),
                        "windows_recombined": report.recombined.len(),
                        "windows_unchanged": report.skipped.len(),
                        "problems": problems,
                    });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!(
                        "{} clusters, {} objects read; {} daily and {} hourly allocation sets combined ({} windows recombined, {} unchanged)",
                        report.clusters.len(),
                        report.objects_read,
                        report.objects_written.len(),
                        report.hourly_objects_written.len(),
                        report.recombined.len(),
                        report.skipped.len()
                    );
                }
                for p in &problems {
                    eprintln!("problem: {p}");
                }
                Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    });
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {}", ampfed_e2e::report::redact(&ampfed_common::errors::report(e.as_ref())));
            Ok(ExitCode::from(ampfed_e2e::classify(&e).exit_code()))
        }
    }
}

fn run_logs(files: &Files, service: Option<&str>, lines: usize, list: bool) -> anyhow::Result<ExitCode> {
    use ampfed_env::logs;
    let archive = logs::archive_base();
    if list {
        let runs = logs::runs(&archive);
        for run in &runs {
            let files: Vec<String> = logs::find(run)
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            println!("{}  {}", run.display(), files.join(" "));
        }
        return Ok(ExitCode::from(if runs.is_empty() { 3 } else { 0 }));
    }
    let running = files.read_state()?.filter(|s| s.runs()).and_then(|s| s.scenario_dir);
    let (dir, what) = match running {
        Some(dir) => (dir, "the running up"),
        None => match logs::runs(&archive).pop() {
            Some(dir) => (dir, "the newest kept run"),
            None => {
                eprintln!("no logs: no up runs and no run was kept under {}", archive.display());
                return Ok(ExitCode::from(3));
            }
        },
    };
    let tails: Vec<_> = logs::tails(&dir, lines)
        .into_iter()
        .filter(|(path, _)| {
            service.is_none_or(|s| path.file_stem().is_some_and(|n| n.to_string_lossy().starts_with(s)))
        })
        .collect();
    if tails.is_empty() {
        eprintln!("no {} log in {} ({what})", service.unwrap_or("service"), dir.display());
        return Ok(ExitCode::from(3));
    }
    eprintln!("logs of {what}: {}", dir.display());
    for (path, tail) in tails {
        println!("==> {} <==", path.display());
        println!("{}", ampfed_e2e::report::redact(&tail));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_down(files: &Files, timeout: Duration) -> anyhow::Result<ExitCode> {
    let message = match up::down(files, timeout)? {
        Stopped::NothingRan => format!("no up was running on {}", files.dir().display()),
        Stopped::Stopped { pid } => format!("stopped up (pid {pid}); nothing of it is left"),
        Stopped::Killed { pid } => {
            format!("killed up (pid {pid}), which did not stop in time; nothing of it is left")
        }
        Stopped::StaleCleaned { pid } => {
            format!("up (pid {pid}) was no longer running; cleaned its state, nothing of it is left")
        }
    };
    eprintln!("{message}");
    Ok(ExitCode::SUCCESS)
}

fn run_status(
    files: &Files,
    json: bool,
    exports_only: bool,
    credentials: CredentialStyle,
    wait: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    if let Some(timeout) = wait {
        up::wait_running(files, timeout)?;
    }
    let status = up::status(files)?;
    let running = matches!(status, Status::Running(..));
    if json {
        println!("{}", serde_json::to_string_pretty(&up::status_json(files, &status))?);
    } else {
        match &status {
            Status::Running(state, endpoints) => {
                if exports_only {
                    print!("{}", exports::shell(endpoints, credentials));
                } else {
                    print!("{}", up::describe(endpoints, state, credentials, ""));
                    print!("{}", exports::shell(endpoints, credentials));
                }
            }
            Status::Starting(state) => {
                eprintln!("up (pid {}, since {}) is starting; no endpoints yet", state.pid, state.started_at)
            }
            Status::NotRunning { stale: Some(state) } => eprintln!(
                "not running: the state in {} is stale (up pid {} no longer runs); `cargo xtask down` cleans it",
                files.dir().display(),
                state.pid
            ),
            Status::NotRunning { stale: None } => eprintln!("not running (no up on {})", files.dir().display()),
        }
    }
    Ok(if running { ExitCode::SUCCESS } else { ExitCode::from(NOT_RUNNING) })
}

/// The first Ctrl-C (SIGINT), SIGTERM (`cargo xtask down`) or SIGHUP (the terminal closed).
fn interrupted() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
    })
}
