//! The project's task runner (`cargo xtask <task>`): thin, one module per task. The work lives
//! in the crates under `crates/` (components) and `integration/` (the harness); tasks install
//! what a fresh machine lacks and call them.

mod bench;
mod diagnose;
mod e2e;
mod flags;
mod fuzz;
mod kind;
mod query;
mod rules;
mod setup;
mod test;
#[cfg(test)]
mod tidy;
mod up;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use xshell::Shell;

fn main() -> std::process::ExitCode {
    // Errors print as one chain, without a backtrace even when RUST_BACKTRACE is set: the
    // task's own output already says which step failed.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A scenario that printed its own cause: pass its exit code on, add nothing.
        Err(e) if e.downcast_ref::<ChildExit>().is_some() => {
            std::process::ExitCode::from(e.downcast_ref::<ChildExit>().map_or(1, |c| c.0))
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A child task that ended with this exit code after printing its own error.
#[derive(Debug)]
pub(crate) struct ChildExit(pub(crate) u8);

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exited with code {}", self.0)
    }
}

impl std::error::Error for ChildExit {}

fn run() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    let sh = Shell::new().context("create a shell")?;
    sh.change_dir(project_root());
    match flags.task {
        flags::Task::Setup(cmd) => cmd.run(&sh),
        flags::Task::E2e(cmd) => cmd.run(&sh),
        flags::Task::Test(cmd) => cmd.run(&sh),
        flags::Task::Fuzz(cmd) => cmd.run(&sh),
        flags::Task::Bench(cmd) => cmd.run(&sh),
        flags::Task::Kind(cmd) => cmd.run(&sh),
        flags::Task::Query(cmd) => cmd.run(&sh),
        flags::Task::Up(cmd) => up::up(&sh, cmd),
        flags::Task::Down(cmd) => up::forward(&sh, "down", cmd),
        flags::Task::Status(cmd) => up::forward(&sh, "status", cmd),
        flags::Task::Logs(cmd) => up::forward(&sh, "logs", cmd),
        flags::Task::Etl(cmd) => up::forward(&sh, "etl", cmd),
        flags::Task::Federate(cmd) => up::forward(&sh, "federate", cmd),
        flags::Task::Diagnose(cmd) => diagnose::run(&sh, cmd),
        flags::Task::Rules(cmd) => rules::run(&sh, cmd),
    }
}

/// The workspace root.
pub(crate) fn project_root() -> PathBuf {
    ampfed_common::paths::workspace_root()
}

/// The cargo that runs us, so nested builds share its toolchain.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
