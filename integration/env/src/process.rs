//! A child process in its own process group, logged to a file, stopped with SIGTERM then SIGKILL,
//! and killed by the kernel when the thread that started it ends (its parent-death signal).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::EnvError;

/// How to start one process.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// How long the process gets between SIGTERM and SIGKILL when the scenario stops it
    /// (`STOP_GRACE` unless it is known to stop faster or to hang); zero: SIGKILL at once.
    pub stop_grace: std::time::Duration,
}

/// A running child process owned by a scenario.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Option<Child>,
    /// The process group, kept after the leader exits: its children may still run.
    pgid: i32,
    group_signalled: bool,
    log: PathBuf,
    /// Where it was started: a group member working there is one of ours.
    cwd: PathBuf,
}

impl Process {
    /// Starts the process in a new process group with stdout and stderr going to `log`.
    ///
    /// The child gets SIGKILL from the kernel as soon as the *thread* calling this ends
    /// (`PR_SET_PDEATHSIG`), so that it never outlives its owner, even one killed with SIGKILL.
    /// Call it from a thread that lives as long as the process: a [`crate::Scenario`] starts
    /// its processes on a thread of its own; a test's own thread is fine too.
    pub fn spawn(spec: &ProcessSpec, log: &Path) -> Result<Process, EnvError> {
        let io_err = |what| move |source| EnvError::Io { what, path: log.to_owned(), source };
        let out = File::create(log).map_err(io_err("create log"))?;
        let err = out.try_clone().map_err(io_err("open log"))?;
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(crate::procfs::CHILD_MARKER.0, crate::procfs::CHILD_MARKER.1)
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal will come.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| EnvError::Spawn {
            service: spec.name.clone(),
            program: spec.program.display().to_string(),
            source,
        })?;
        tracing::debug!(service = %spec.name, pid = child.id(), "started");
        let pgid = child.id() as i32;
        Ok(Process {
            name: spec.name.clone(),
            child: Some(child),
            pgid,
            group_signalled: false,
            log: log.to_owned(),
            cwd: spec.cwd.clone(),
        })
    }

    /// The process id (also its process group id), if it still runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Fails with the log's tail if the process has already exited.
    pub fn check_alive(&mut self) -> Result<(), EnvError> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(EnvError::Exited {
                    service: self.name.clone(),
                    status: status.to_string(),
                    log: self.log.clone(),
                    tail: log_tail(&self.log, 20),
                });
            }
        }
        Ok(())
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL after `grace`. Safe to call twice,
    /// and also after the leader exited by itself (its children are still killed).
    pub fn stop(&mut self, grace: Duration) {
        let pgid = self.pgid;
        let Some(mut child) = self.child.take() else {
            if !self.group_signalled {
                self.group_signalled = true;
                self.kill_leftover_members();
            }
            return;
        };
        self.group_signalled = true;
        if grace.is_zero() {
            // Nothing to save: killed at once, as its spec asks.
            signal_group(pgid, libc::SIGKILL);
            let _ = child.wait();
            tracing::debug!(service = %self.name, "killed");
            return;
        }
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => {
                    tracing::warn!(service = %self.name, "did not stop within {grace:?}; killing it");
                    signal_group(pgid, libc::SIGKILL);
                    let _ = child.wait();
                    break;
                }
            }
        }
        // Children that outlived the leader still belong to the group.
        self.kill_leftover_members();
        tracing::debug!(service = %self.name, "stopped");
    }

    /// Kills what is left of the group once its leader has been reaped. The group id is free
    /// for reuse once the group is empty, so it is signalled only while a member still works
    /// in this process's directory: a recycled group is never hit.
    fn kill_leftover_members(&self) {
        let ours = crate::procfs::processes().into_iter().any(|p| {
            p.pgrp == self.pgid
                && p.cwd.as_ref().is_some_and(|c| c.starts_with(&self.cwd))
                && crate::procfs::has_child_marker(p.pid)
        });
        if ours {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Sends `signal` to a process group; a group that no longer exists is fine.
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    // The seek may land inside a multi-byte character: decode lossily.
    let buf = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = buf.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
