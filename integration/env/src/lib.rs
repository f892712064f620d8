//! Services the harness starts and owns: the [`Scenario`], the [`Service`] contract, readiness
//! [`probe`]s, and one constructor per dependency ([`prometheus`], [`localstack`]), and the same
//! two as containers where a Docker engine answers ([`containers`]).
//!
//! Only this crate starts processes. Every process gets its own process group, its own
//! directory under the scenario directory and a log file; the scenario stops them in reverse
//! order when dropped and removes its directory. A process dies with the harness process that
//! owns it, also when that one is killed with SIGKILL (its parent-death signal), and what a
//! crashed run left anyway is reaped by the next scenario.

pub mod containers;
pub mod localstack;
pub mod logs;
pub mod probe;
pub mod procfs;
pub mod prometheus;

mod launcher;
mod process;
mod scenario;

pub use process::{Process, ProcessSpec};
pub use scenario::{free_port, Scenario, Service, STOP_GRACE};

/// The project's paths (workspace root, cache directory, fixtures), from their one home.
pub use ampfed_common::paths;

use std::path::PathBuf;

/// Errors of the environment layer.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cannot start {service} ({program}): {source}")]
    Spawn { service: String, program: String, source: std::io::Error },
    #[error("{service} is not ready after {waited_secs} s (last probe: {last}); its log {}:\n{tail}", log.display())]
    NotReady { service: String, waited_secs: u64, last: String, log: PathBuf, tail: String },
    #[error("{service} exited during start-up ({status}); its log {}:\n{tail}", log.display())]
    Exited { service: String, status: String, log: PathBuf, tail: String },
    #[error("{tool} not found: {hint}")]
    Missing { tool: String, hint: String },
    #[error("a service named {0} is already in the scenario")]
    Duplicate(String),
    #[error("{service} found its port taken by another program {attempts} times in a row; its last log {}:\n{tail}", log.display())]
    PortTaken { service: String, attempts: usize, log: PathBuf, tail: String },
    #[error("{service} listens beyond 127.0.0.1 ({}); it was stopped: every server of the harness must listen on loopback only", addresses.join(", "))]
    Exposed { service: String, addresses: Vec<String> },
    #[error("the {service} container: {message}")]
    Container { service: String, message: String },
    #[error("cannot start the thread that starts processes: {0}")]
    Launcher(std::io::Error),
}
