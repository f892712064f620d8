//! `ampfed-e2e`: runs the end-to-end scenario and checks its snapshots. `cargo xtask e2e`
//! installs what is missing and then runs this binary.

use std::process::ExitCode;
use std::time::Instant;

use ampfed_e2e::env::TEARDOWN_LIMIT;
use ampfed_e2e::{path, snapshots, Fault, Options, Outcome};
use clap::Parser;

/// Runs the AMP → rules → ETL → S3 → federation → query path on this machine.
#[derive(Debug, Parser)]
#[command(
    name = "ampfed-e2e",
    after_help = "Run through `cargo xtask e2e [--release] [FLAGS]`, which installs what is missing first; \
`--release` builds the scenario optimised.\n\nExamples:\n  \
cargo xtask e2e\n  \
cargo xtask e2e --fault wrong-secret     # must fail with InvalidSignatureException\n  \
cargo xtask e2e --keep                   # keep logs and Prometheus data, print where"
)]
struct Args {
    /// Inject a fault; the run must then fail at the proxy's first signed call.
    #[arg(long, value_enum)]
    fault: Option<Fault>,
    /// Keep the scenario directory (service logs, Prometheus data) after the run.
    #[arg(long)]
    keep: bool,
    /// The Prometheus binary (default: `prometheus` on PATH).
    #[arg(long)]
    prometheus: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMPFED_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut options = Options { show_progress: true, ..Options::from_env() };
    options.env.fault = args.fault;
    options.env.keep = args.keep;
    options.env.prometheus = args.prometheus;
    let cancel = options.env.cancel.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    eprintln!("ampfed e2e{}", args.fault.map(|f| format!(" (fault: {f:?})")).unwrap_or_default());
    let result = runtime.block_on(async {
        tokio::select! {
            r = path::run(&options) => Some(r),
            _ = interrupted() => {
                cancel.cancel();
                None
            }
        }
    });
    // The path's future has been dropped here: its environment is stopping on the blocking
    // pool, which the shutdown waits for.
    runtime.shutdown_timeout(TEARDOWN_LIMIT);
    match result {
        None => {
            eprintln!("interrupted: all services stopped");
            ExitCode::from(130)
        }
        Some(Err(e)) => {
            eprintln!("\nerror: {}", ampfed_common::errors::report(e.as_ref()));
            ExitCode::FAILURE
        }
        Some(Ok(outcome)) => {
            // insta prints each difference itself; keep its panics from adding backtraces.
            let default_hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let compared = snapshots::compare(&outcome);
            std::panic::set_hook(default_hook);
            let ok = compared.is_ok();
            print_summary(&outcome, ok, started.elapsed().as_secs_f64());
            if ok {
                ExitCode::SUCCESS
            } else {
                let differ = compared.err().unwrap_or_default().join(", ");
                eprintln!("\nerror: snapshots differ: {differ} (diffs above); review the integration/e2e/snapshots/*.snap.new files with `cargo insta review` (cargo install cargo-insta), or delete them to discard");
                ExitCode::FAILURE
            }
        }
    }
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

fn print_summary(outcome: &Outcome, snapshots_ok: bool, total: f64) {
    let s = &outcome.summary;
    eprintln!("\nsummary");
    eprintln!("  clusters        {} ({})", s.clusters.len(), s.clusters.join(", "));
    eprintln!(
        "  written         {} series, {} samples (remote write through the SigV4 proxy)",
        s.series_written, s.samples_written
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
    eprintln!(
        "  snapshots       {} {}",
        snapshots::NAMES.len(),
        if snapshots_ok { "match" } else { "DIFFER" }
    );
    eprintln!("  step times");
    let slowest = s.steps.iter().map(|(_, d)| *d).max().unwrap_or_default();
    for (name, took) in &s.steps {
        let mark = if *took == slowest { "  ← slowest" } else { "" };
        eprintln!("    {:<16} {:>6.1} s{mark}", name.as_str(), took.as_secs_f64());
    }
    eprintln!("  total           {total:.1} s");
}
