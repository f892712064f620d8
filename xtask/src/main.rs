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
mod tools;
mod up;

use anyhow::Context;
use clap::Parser;
use xshell::Shell;

fn main() -> std::process::ExitCode {
    // Errors print as one chain, without a backtrace even when RUST_BACKTRACE is set: the
    // task's own output already says which step failed.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A scenario that printed its own cause: pass its exit code on, add nothing.
        Err(e) if e.downcast_ref::<tools::ChildExit>().is_some() => {
            std::process::ExitCode::from(e.downcast_ref::<tools::ChildExit>().map_or(1, |c| c.0))
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    let sh = Shell::new().context("create a shell")?;
    sh.change_dir(tools::project_root());
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
