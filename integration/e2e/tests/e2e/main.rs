//! The end-to-end scenarios, in one test binary. Each starts its own Prometheus, LocalStack,
//! AWS mock and proxy, and stops them when it ends. Needs `cargo xtask setup` (or
//! `cargo xtask test`, which runs it).

mod faults;
mod happy_path;
mod oracle;

use ampfed_e2e::{scenario, Fault, Options, Outcome};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// Runs the scenario with the repository's fixtures and an optional fault.
fn run(fault: Option<Fault>) -> anyhow::Result<Outcome> {
    let options = Options { fault, ..Options::from_env() };
    runtime().block_on(scenario::run(&options))
}

/// The error chain as one string, as the binary prints it.
fn chain(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join("\n  caused by: ")
}
