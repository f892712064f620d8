//! `down`: stops the `up` a state file names (SIGTERM, a bounded wait, SIGKILL past it), then
//! checks that nothing of it is left: no process it started (those carrying the harness's
//! child marker and its run id, or working in its scenario directory), and no port of its
//! services accepting connections. A state left by a killed `up` is found the same way and
//! cleaned.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait, WaitError};
use anyhow::{anyhow, Result};

use super::state::{Files, State, RUN_ID_VAR};

/// How long a killed `up`'s processes and ports get to go (its children die with it).
const LEFTOVER_WAIT: Duration = Duration::from_secs(20);
/// How long an `up` gets after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// What `down` found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// No `up` ran and no state was left.
    NothingRan,
    /// The `up` stopped on SIGTERM within the wait.
    Stopped { pid: u32 },
    /// The `up` did not stop within the wait and was killed.
    Killed { pid: u32 },
    /// The state was left by an `up` that no longer runs; it was removed.
    StaleCleaned { pid: u32 },
}

/// Stops the `up` of `files` and verifies that nothing of it is left; `timeout` bounds the
/// wait after SIGTERM.
pub fn down(files: &Files, timeout: Duration) -> Result<Stopped> {
    let Some(state) = files.read_state()? else {
        // Credentials without a state: what an `up` killed between its two writes left.
        files.remove_secrets();
        return Ok(Stopped::NothingRan);
    };
    let stopped = if state.runs() {
        signal(state.pid, libc::SIGTERM);
        match wait_gone(&state, timeout) {
            Ok(()) => Stopped::Stopped { pid: state.pid },
            Err(_) => {
                eprintln!(
                    "warning: up (pid {}) did not stop within {} s of SIGTERM; killing it",
                    state.pid,
                    timeout.as_secs()
                );
                signal(state.pid, libc::SIGKILL);
                wait_gone(&state, KILL_WAIT)
                    .map_err(|e| anyhow!("up (pid {}) still runs after SIGKILL: {e}", state.pid))?;
                Stopped::Killed { pid: state.pid }
            }
        }
    } else {
        Stopped::StaleCleaned { pid: state.pid }
    };
    nothing_left(&state, LEFTOVER_WAIT)?;
    // What the `up` did not remove itself (killed), unless another `up` has claimed the
    // directory since.
    match files.read_state() {
        Ok(Some(now)) if now.run_id != state.run_id => {}
        _ => files.remove_run_files(),
    }
    Ok(stopped)
}

/// Waits until the process of `state` no longer runs.
fn wait_gone(state: &State, timeout: Duration) -> Result<(), WaitError<std::convert::Infallible>> {
    Wait::new(format!("up (pid {}) to stop", state.pid), timeout)
        .blocking(|| Ok(if state.runs() { Poll::Pending("it still runs".into()) } else { Poll::Ready(()) }))
}

/// Waits until no process of the run of `state` is left and none of its ports accepts a
/// connection; kills leftover processes that carry its marks once the wait is over.
pub fn nothing_left(state: &State, timeout: Duration) -> Result<()> {
    let look = || -> Result<Poll<()>, std::convert::Infallible> {
        let left = leftovers(state);
        let open = open_ports(&state.ports);
        Ok(if left.is_empty() && open.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending(describe(&left, &open))
        })
    };
    match Wait::new("nothing of the up to be left", timeout).blocking(look) {
        Ok(()) => return Ok(()),
        Err(WaitError::Failed(never)) => match never {},
        Err(_) => {}
    }
    let left = leftovers(state);
    for pid in &left {
        eprintln!("warning: killing process {pid}, left by up (pid {})", state.pid);
        signal(*pid, libc::SIGKILL);
    }
    Wait::new("the up's leftover processes to be gone", KILL_WAIT)
        .blocking(look)
        .map_err(|e| anyhow!("something of up (pid {}) is left: {e}", state.pid))?;
    Ok(())
}

fn describe(left: &[u32], open: &[u16]) -> String {
    let mut parts = Vec::new();
    if !left.is_empty() {
        let pids: Vec<String> = left.iter().map(u32::to_string).collect();
        parts.push(format!("processes {} still run", pids.join(", ")));
    }
    if !open.is_empty() {
        let ports: Vec<String> = open.iter().map(u16::to_string).collect();
        parts.push(format!("127.0.0.1 ports {} accept connections", ports.join(", ")));
    }
    parts.join("; ")
}

/// The processes of the run of `state` that still run: they carry the harness's child marker
/// and the run's id, or the marker and a working directory in the run's scenario directory.
pub fn leftovers(state: &State) -> Vec<u32> {
    use ampfed_env::procfs;
    let run_id = format!("{RUN_ID_VAR}={}", state.run_id);
    let mut found: Vec<u32> = procfs::pids()
        .into_iter()
        .filter_map(|pid| u32::try_from(pid).ok())
        .filter(|&pid| pid != std::process::id() && pid != state.pid)
        .filter(|&pid| super::state::process_start(pid).is_some())
        .filter(|&pid| {
            if !procfs::has_child_marker(pid as i32) {
                return false;
            }
            let in_scenario = state.scenario_dir.as_deref().is_some_and(|dir| works_in(pid, dir));
            procfs::has_env(pid as i32, &run_id) || in_scenario
        })
        .collect();
    found.sort_unstable();
    found
}

fn works_in(pid: u32, dir: &Path) -> bool {
    fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
}

/// The ports among `ports` on which something on 127.0.0.1 accepts a connection.
pub fn open_ports(ports: &[u16]) -> Vec<u16> {
    ports
        .iter()
        .copied()
        .filter(|&port| {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        })
        .collect()
}

/// Sends `signal` to process `pid`; one that is gone is fine.
fn signal(pid: u32, signal: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    if pid > 1 {
        // SAFETY: kill(2) has no memory effects.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::Phase;
    use super::*;

    #[test]
    fn a_listening_port_is_open_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(open_ports(&[port]), [port]);
        drop(listener);
        assert_eq!(open_ports(&[port]), Vec::<u16>::new());
    }

    #[test]
    fn a_stale_state_is_cleaned_and_nothing_of_it_is_left() {
        let dir = ampfed_test_support::TempDir::new("up-stale");
        let files = Files::new(dir.path());
        let state = State {
            pid: 999_999_999,
            process_start: Some(1),
            started_at: "2026-01-01T00:00:00Z".into(),
            run_id: "not-a-run".into(),
            phase: Phase::Running,
            endpoints_file: Some(files.endpoints()),
            scenario_dir: Some(dir.join("scenario")),
            ports: vec![],
        };
        files.write_state(&state).unwrap();
        files.write_token("t").unwrap();
        assert_eq!(down(&files, Duration::from_secs(1)).unwrap(), Stopped::StaleCleaned { pid: 999_999_999 });
        assert_eq!(files.read_state().unwrap(), None);
        assert!(!files.token().exists());
        assert_eq!(down(&files, Duration::from_secs(1)).unwrap(), Stopped::NothingRan);
    }
}
