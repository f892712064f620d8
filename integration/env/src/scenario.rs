//! The [`Scenario`]: owns every service it started and stops them in reverse order.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ampfed_common::wait::{Cancel, Poll, Wait, WaitError};

use crate::probe::Probe;
use crate::process::{log_tail, signal_group, Process, ProcessSpec};
use crate::EnvError;

/// Something a scenario owns and must stop. `stop` is safe to call twice.
pub trait Service: Send {
    fn name(&self) -> &str;
    fn stop(&mut self);
}

/// Owns the services of one run and their directory.
///
/// **Invariant:** every process the harness starts is owned by a scenario; dropping it (after
/// success, failure or Ctrl-C) stops them all and removes the directory unless `keep` is set.
pub struct Scenario {
    dir: PathBuf,
    services: Vec<Box<dyn Service>>,
    keep: bool,
    /// Set on Ctrl-C: a readiness wait in progress gives up, so that the service being
    /// started is stopped by its scenario instead of outliving the run.
    cancel: Cancel,
}

const DIR_PREFIX: &str = "ampfed-scenario-";
const OWNER_FILE: &str = "owner.pid";
const GROUPS_FILE: &str = "process-groups";
/// Written when a scenario is kept on purpose: leftover clean-up never removes it.
const KEPT_FILE: &str = "kept";

impl Scenario {
    /// Creates a fresh scenario directory under the system temp dir, after stopping what a
    /// crashed earlier run left behind (its owner process is gone).
    pub fn new(keep: bool) -> Result<Scenario, EnvError> {
        let base = std::env::temp_dir();
        reap_leftovers(&base);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = base.join(format!("{DIR_PREFIX}{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|source| EnvError::Io {
            what: "create",
            path: dir.clone(),
            source,
        })?;
        let owner = dir.join(OWNER_FILE);
        fs::write(&owner, std::process::id().to_string()).map_err(|source| EnvError::Io {
            what: "write",
            path: owner,
            source,
        })?;
        Ok(Scenario { dir, services: Vec::new(), keep, cancel: Cancel::new() })
    }

    /// Makes readiness waits give up as soon as `cancel` is set.
    pub fn cancelled_by(mut self, cancel: &Cancel) -> Scenario {
        self.cancel = cancel.clone();
        self
    }

    /// The scenario directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A directory of the scenario's own for service `name`.
    pub fn service_dir(&self, name: &str) -> Result<PathBuf, EnvError> {
        let dir = self.dir.join(name);
        fs::create_dir_all(&dir).map_err(|source| EnvError::Io {
            what: "create",
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Takes ownership of a service; names must be unique.
    pub fn add(&mut self, service: Box<dyn Service>) -> Result<(), EnvError> {
        if self.services.iter().any(|s| s.name() == service.name()) {
            return Err(EnvError::Duplicate(service.name().to_owned()));
        }
        self.services.push(service);
        Ok(())
    }

    /// Starts a process, waits until `probe` passes, and owns it. A failed start stops what
    /// it started and says why, with the tail of the process's log.
    pub fn start_process(
        &mut self,
        spec: &ProcessSpec,
        probe: &Probe,
        timeout: Duration,
    ) -> Result<(), EnvError> {
        if self.services.iter().any(|s| s.name() == spec.name) {
            return Err(EnvError::Duplicate(spec.name.clone()));
        }
        let log = self.service_dir(&spec.name)?.join(format!("{}.log", spec.name));
        let mut process = Process::spawn(spec, &log)?;
        if let Some(pid) = process.pid() {
            self.record_group(pid);
        }
        let ready = Wait::new(format!("{} to be ready", spec.name), timeout)
            .cancelled_by(&self.cancel)
            .blocking(|| match probe.check() {
                Ok(()) => Ok(Poll::Ready(())),
                Err(seen) => process.check_alive().map(|()| Poll::Pending(seen)),
            });
        let last = match ready {
            Ok(()) => {
                tracing::info!(service = %spec.name, "ready");
                self.services.push(Box::new(ProcessService { name: spec.name.clone(), process }));
                return Ok(());
            }
            Err(WaitError::Failed(exited)) => return Err(exited),
            Err(WaitError::TimedOut { last, .. }) => last,
            Err(WaitError::Cancelled { .. }) => "interrupted".to_owned(),
        };
        process.stop(Duration::from_secs(5));
        Err(EnvError::NotReady {
            service: spec.name.clone(),
            waited_secs: timeout.as_secs(),
            last,
            tail: log_tail(&log, 20),
            log,
        })
    }

    /// Stops every service in reverse order of start. Safe to call twice.
    pub fn stop_all(&mut self) {
        while let Some(mut service) = self.services.pop() {
            tracing::debug!(service = service.name(), "stopping");
            service.stop();
        }
    }

    fn record_group(&self, pgid: u32) {
        let path = self.dir.join(GROUPS_FILE);
        let appended = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{pgid}"));
        if let Err(e) = appended {
            tracing::warn!("cannot record process group in {}: {e}", path.display());
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        self.stop_all();
        // Everything is stopped: nothing in this directory is left for a later run to reap.
        let _ = fs::remove_file(self.dir.join(GROUPS_FILE));
        if self.keep {
            let _ = fs::write(self.dir.join(KEPT_FILE), "");
            eprintln!("kept scenario directory {}", self.dir.display());
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            tracing::warn!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

struct ProcessService {
    name: String,
    process: Process,
}

impl Service for ProcessService {
    fn name(&self) -> &str {
        &self.name
    }

    fn stop(&mut self) {
        self.process.stop(Duration::from_secs(10));
    }
}

/// Kills the process groups of scenarios whose owner is no longer running (a crash or a
/// SIGKILL skipped their clean-up), and removes their directories unless they were kept. A
/// group is killed only while its leader still runs inside that scenario's directory, so a
/// recycled process group id is never hit.
fn reap_leftovers(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_ours {
            continue;
        }
        let owner = fs::read_to_string(path.join(OWNER_FILE)).ok().and_then(|s| s.trim().parse::<u32>().ok());
        let owner_alive = owner.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if owner_alive {
            continue;
        }
        let groups = fs::read_to_string(path.join(GROUPS_FILE)).unwrap_or_default();
        for pgid in groups.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let cwd = fs::read_link(format!("/proc/{pgid}/cwd")).ok();
            if cwd.is_some_and(|cwd| cwd.starts_with(&path)) {
                tracing::warn!("stopping process group {pgid} left by a crashed run in {}", path.display());
                signal_group(pgid, libc::SIGKILL);
            }
        }
        let _ = fs::remove_file(path.join(GROUPS_FILE));
        if !path.join(KEPT_FILE).exists() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// A free TCP port on 127.0.0.1, chosen by the kernel.
pub fn free_port() -> Result<u16, EnvError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| EnvError::Io {
        what: "bind a free port on",
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    listener.local_addr().map(|a| a.port()).map_err(|source| EnvError::Io {
        what: "read the port of",
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    struct Flag(String, std::sync::Arc<std::sync::Mutex<Vec<String>>>);
    impl Service for Flag {
        fn name(&self) -> &str {
            &self.0
        }
        fn stop(&mut self) {
            self.1.lock().unwrap().push(self.0.clone());
        }
    }

    #[test]
    fn stops_in_reverse_order_refuses_duplicates_and_removes_its_dir() {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut scenario = Scenario::new(false).unwrap();
        let dir = scenario.dir().to_owned();
        scenario.add(Box::new(Flag("a".into(), log.clone()))).unwrap();
        scenario.add(Box::new(Flag("b".into(), log.clone()))).unwrap();
        assert!(matches!(scenario.add(Box::new(Flag("a".into(), log.clone()))), Err(EnvError::Duplicate(_))));
        drop(scenario);
        assert_eq!(*log.lock().unwrap(), ["b", "a"]);
        assert!(!dir.exists());
    }

    #[test]
    fn a_kept_scenario_survives_the_next_runs_clean_up() {
        let scenario = Scenario::new(true).unwrap();
        let dir = scenario.dir().to_owned();
        drop(scenario);
        // Its owner is gone now, as after any kept run.
        fs::write(dir.join(OWNER_FILE), "999999999").unwrap();
        let _next = Scenario::new(false).unwrap();
        assert!(dir.join(KEPT_FILE).exists(), "the kept directory was removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_crashed_runs_processes_are_killed_and_its_directory_removed() {
        // Built under another name and renamed into place, so that a clean-up running in a
        // parallel test never sees it half made.
        let staging = std::env::temp_dir().join(format!("ampfed-staging-{}", std::process::id()));
        let base = std::env::temp_dir().join(format!("{DIR_PREFIX}crashed-{}", std::process::id()));
        fs::create_dir_all(&staging).unwrap();
        // A process group started inside the crashed scenario's directory, owner long gone.
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("30")
            .current_dir(&staging)
            .process_group(0)
            .spawn()
            .unwrap();
        fs::write(staging.join(OWNER_FILE), "999999999").unwrap();
        fs::write(staging.join(GROUPS_FILE), format!("{}\n", child.id())).unwrap();
        fs::rename(&staging, &base).unwrap();
        let _next = Scenario::new(false).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the leftover process was not killed");
        assert!(!base.exists());
    }

    #[test]
    fn a_process_that_exits_during_start_up_fails_fast_with_its_log() {
        let mut scenario = Scenario::new(false).unwrap();
        let spec = ProcessSpec {
            name: "false".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "echo boom; exit 3".into()],
            env: vec![],
            cwd: scenario.dir().to_owned(),
        };
        let probe =
            Probe::Http { url: "http://127.0.0.1:1/".into(), status: 200, body_contains: String::new() };
        let err = scenario.start_process(&spec, &probe, Duration::from_secs(20)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exited during start-up") && text.contains("boom"), "{text}");
    }
}
