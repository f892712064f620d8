//! The end-to-end scenarios, in one test binary. Each run of the path starts its own
//! Prometheus, LocalStack, AWS mocks and proxy, and stops them when it ends; the run without a
//! fault happens once and every test that reads it shares it. Needs `cargo xtask setup` (or
//! `cargo xtask test`, which runs it).

mod bad_input;
mod diagnose;
mod faults;
mod happy_path;
mod multi_day;
mod oracle;
mod providers;
mod rules;
mod stamped;
mod stored;

use ampfed_e2e::{path, Fault, Options, Outcome};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// The path without a fault, run once for every test of the binary that reads it.
fn happy() -> &'static Outcome {
    static RUN: std::sync::OnceLock<Result<Outcome, String>> = std::sync::OnceLock::new();
    match RUN.get_or_init(|| run(None).map_err(|e| chain(&e))) {
        Ok(outcome) => outcome,
        Err(e) => panic!("e2e failed: {e}"),
    }
}

/// Runs the path with the repository's fixtures and an optional fault.
fn run(fault: Option<Fault>) -> anyhow::Result<Outcome> {
    run_with(fault, None)
}

/// Runs the path with an optional fault, stamping `clusters` clusters if given.
fn run_with(fault: Option<Fault>, clusters: Option<usize>) -> anyhow::Result<Outcome> {
    run_options(fault, clusters, ampfed_e2e::sim::Settings::default())
}

/// Runs the path with every option given.
fn run_options(
    fault: Option<Fault>,
    clusters: Option<usize>,
    sim: ampfed_e2e::sim::Settings,
) -> anyhow::Result<Outcome> {
    let mut options = Options::from_env();
    options.env.fault = fault;
    options.clusters = clusters;
    options.sim = sim;
    runtime().block_on(path::run(&options))
}

/// The error chain as one string, as the binary prints it.
fn chain(e: &anyhow::Error) -> String {
    ampfed_common::errors::report(e.as_ref())
}
