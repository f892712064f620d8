//! The [`Scenario`]: owns every service it started and stops them in reverse order; starts
//! its processes on a thread of its own (see `launcher.rs`), retries a start whose port was
//! taken meanwhile, and reaps what a crashed earlier run left behind.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ampfed_common::wait::{Cancel, Poll, Wait, WaitError};

use crate::launcher::{Jobs, Launcher};
use crate::probe::Probe;
use crate::process::{log_tail, signal_group, Process, ProcessSpec};
use crate::{procfs, EnvError};

/// Something a scenario owns and must stop. `stop` is safe to call twice.
pub trait Service: Send {
    fn name(&self) -> &str;
    fn stop(&mut self);
}

/// Owns the services of one run and their directory.
///
/// **Invariant:** every process the harness starts is owned by a scenario; dropping it (after
/// success, failure or Ctrl-C) stops them all and removes the directory unless `keep` is set.
/// Its processes are forked on the scenario's own launcher thread, which ends only when the
/// scenario is dropped; each has a parent-death signal, so that none outlives the harness
/// process even when that is killed with SIGKILL. Dropping a scenario blocks until its
/// processes are gone (up to [`STOP_GRACE`] each): drop it where blocking is allowed.
pub struct Scenario {
    dir: PathBuf,
    services: Vec<Box<dyn Service>>,
    keep: bool,
    /// Set on Ctrl-C: a readiness wait in progress gives up, so that the service being
    /// started is stopped by its scenario instead of outliving the run.
    cancel: Cancel,
    /// The started processes' ids, by service name.
    pids: Vec<(String, u32)>,
    /// Ports handed out before asking the kernel: a test's way to make a port collide.
    first_ports: VecDeque<u16>,
    /// Where the services' logs are copied when the scenario ends ([`crate::logs::archive`]).
    log_archive: Option<PathBuf>,
    /// Forks and stops every process; declared last, so it is dropped after the services.
    launcher: Launcher,
}

const DIR_PREFIX: &str = "ampfed-scenario-";
const OWNER_FILE: &str = "owner.pid";
const GROUPS_FILE: &str = "process-groups";
/// Written when a scenario is kept on purpose: leftover clean-up never removes it.
const KEPT_FILE: &str = "kept";
/// How long a stopped process may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a process that did not become ready gets after SIGTERM.
const FAILED_START_GRACE: Duration = Duration::from_secs(5);
/// How many ports a listening process is tried on before its start fails.
const PORT_ATTEMPTS: usize = 3;

impl Scenario {
    /// Creates a fresh scenario directory under the system temp dir, after stopping what a
    /// crashed earlier run left behind (its owner process is gone).
    pub fn new(keep: bool) -> Result<Scenario, EnvError> {
        let base = std::env::temp_dir();
        reap_leftovers(&base);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!("{DIR_PREFIX}{}-{nanos}", std::process::id());
        // Made under another name and renamed into place with its owner file, so that the
        // clean-up of a run starting meanwhile never takes it for a crashed run's.
        let staging = base.join(format!(".{name}"));
        let dir = base.join(&name);
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| EnvError::Io { what, path, source }
        };
        fs::create_dir_all(&staging).map_err(io("create", &staging))?;
        let owner = staging.join(OWNER_FILE);
        fs::write(&owner, owner_text(std::process::id() as i32)).map_err(io("write", &owner))?;
        fs::rename(&staging, &dir).map_err(io("rename into place", &dir))?;
        let launcher = Launcher::new()?;
        Ok(Scenario {
            dir,
            services: Vec::new(),
            keep,
            cancel: Cancel::new(),
            pids: Vec::new(),
            first_ports: VecDeque::new(),
            log_archive: None,
            launcher,
        })
    }

    /// Makes readiness waits give up as soon as `cancel` is set.
    pub fn cancelled_by(mut self, cancel: &Cancel) -> Scenario {
        self.cancel = cancel.clone();
        self
    }

    /// Copies the services' logs to `dir` when the scenario ends, whatever the outcome.
    pub fn archive_logs_to(mut self, dir: PathBuf) -> Scenario {
        self.log_archive = Some(dir);
        self
    }

    /// The scenario directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id (also its process group id) of the started process `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.pids.iter().find(|(n, _)| n == name).map(|(_, pid)| *pid)
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
        self.launch(spec, probe, timeout, None).map_err(|failed| match failed {
            Failed::Env(e) => e,
            Failed::PortTaken => unreachable!("no port was given"),
        })
    }

    /// Starts a process that listens on a TCP port of 127.0.0.1: `build` makes its spec and
    /// probe for a port chosen by the kernel; returns the port once the probe passes *and* the
    /// port's listener belongs to the process's group.
    ///
    /// The port is free when chosen but not held: another run may bind it before this process
    /// does. Then the process logs "address already in use" (Prometheus exits, LocalStack
    /// keeps running), and it is stopped and started again on another port, at most
    /// [`PORT_ATTEMPTS`] times. The ownership check keeps the probe from taking the other
    /// run's server, answering on that port, for this one.
    pub fn start_listening_process(
        &mut self,
        timeout: Duration,
        mut build: impl FnMut(u16) -> (ProcessSpec, Probe),
    ) -> Result<u16, EnvError> {
        let mut attempt = 1;
        loop {
            let port = self.choose_port()?;
            let (spec, probe) = build(port);
            match self.launch(&spec, &probe, timeout, Some(port)) {
                Ok(()) => return Ok(port),
                Err(Failed::Env(e)) => return Err(e),
                Err(Failed::PortTaken) => {
                    let log = self.log_path(&spec.name);
                    let kept = log.with_file_name(format!("{}.port-{port}-taken.log", spec.name));
                    let _ = fs::rename(&log, &kept);
                    if attempt == PORT_ATTEMPTS || self.cancel.is_cancelled() {
                        return Err(EnvError::PortTaken {
                            service: spec.name.clone(),
                            attempts: PORT_ATTEMPTS,
                            tail: log_tail(&kept, 20),
                            log: kept,
                        });
                    }
                    tracing::warn!(service = %spec.name, port, "port taken by someone else meanwhile; trying another");
                    attempt += 1;
                }
            }
        }
    }

    /// Stops every service in reverse order of start. Safe to call twice.
    pub fn stop_all(&mut self) {
        while let Some(mut service) = self.services.pop() {
            tracing::debug!(service = service.name(), "stopping");
            service.stop();
        }
    }

    #[cfg(test)]
    pub(crate) fn with_first_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Scenario {
        self.first_ports.extend(ports);
        self
    }

    fn choose_port(&mut self) -> Result<u16, EnvError> {
        match self.first_ports.pop_front() {
            Some(port) => Ok(port),
            None => free_port(),
        }
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join(format!("{name}.log"))
    }

    /// Forks the process on the launcher thread and waits (on this thread) until it is ready.
    fn launch(
        &mut self,
        spec: &ProcessSpec,
        probe: &Probe,
        timeout: Duration,
        port: Option<u16>,
    ) -> Result<(), Failed> {
        if self.services.iter().any(|s| s.name() == spec.name) {
            return Err(Failed::Env(EnvError::Duplicate(spec.name.clone())));
        }
        self.service_dir(&spec.name).map_err(Failed::Env)?;
        let log = self.log_path(&spec.name);
        let jobs = self.launcher.jobs();
        let mut process = jobs
            .run({
                let (spec, log) = (spec.clone(), log.clone());
                move || Process::spawn(&spec, &log)
            })
            .map_err(Failed::Env)?;
        let pid = process.pid().unwrap_or_default();
        self.record_group(pid);
        let port_taken = |port: u16| {
            let needle = format!(":{port}");
            log_tail(&log, 200)
                .lines()
                .any(|l| l.contains(&needle) && l.to_ascii_lowercase().contains("address already in use"))
        };
        let ready = Wait::new(format!("{} to be ready", spec.name), timeout)
            .cancelled_by(&self.cancel)
            .blocking(|| {
                if port.is_some_and(port_taken) {
                    return Err(Failed::PortTaken);
                }
                let seen = match (probe.check(), port) {
                    (Ok(()), None) => return Ok(Poll::Ready(())),
                    (Ok(()), Some(port)) => match procfs::group_listens_on(pid as i32, port) {
                        Some(false) => {
                            format!("127.0.0.1:{port} answers, but no process of {} listens there", spec.name)
                        }
                        _ => return Ok(Poll::Ready(())),
                    },
                    (Err(seen), _) => seen,
                };
                match process.check_alive() {
                    Ok(()) => Ok(Poll::Pending(seen)),
                    Err(_) if port.is_some_and(port_taken) => Err(Failed::PortTaken),
                    Err(exited) => Err(Failed::Env(exited)),
                }
            });
        let last = match ready {
            Ok(()) => {
                if let Some(addresses) =
                    procfs::group_listens_beyond_loopback(pid as i32).filter(|a| !a.is_empty())
                {
                    jobs.run(move || process.stop(FAILED_START_GRACE));
                    return Err(Failed::Env(EnvError::Exposed { service: spec.name.clone(), addresses }));
                }
                tracing::info!(service = %spec.name, "ready");
                self.pids.push((spec.name.clone(), pid));
                self.services.push(Box::new(ProcessService {
                    name: spec.name.clone(),
                    process: Some(process),
                    jobs,
                    stop_grace: spec.stop_grace,
                }));
                return Ok(());
            }
            Err(WaitError::Failed(failed)) => {
                jobs.run(move || process.stop(FAILED_START_GRACE));
                return Err(failed);
            }
            Err(WaitError::TimedOut { last, .. }) => last,
            Err(WaitError::Cancelled { .. }) => "interrupted".to_owned(),
        };
        jobs.run(move || process.stop(FAILED_START_GRACE));
        Err(Failed::Env(EnvError::NotReady {
            service: spec.name.clone(),
            waited_secs: timeout.as_secs(),
            last,
            tail: log_tail(&log, 20),
            log,
        }))
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

/// Why a start did not give a ready process.
enum Failed {
    /// Someone else bound the port first; another port may do.
    PortTaken,
    Env(EnvError),
}

impl Drop for Scenario {
    fn drop(&mut self) {
        self.stop_all();
        // Everything is stopped: nothing in this directory is left for a later run to reap.
        let _ = fs::remove_file(self.dir.join(GROUPS_FILE));
        if let Some(archive) = &self.log_archive {
            if let Err(e) = crate::logs::archive(&self.dir, archive) {
                tracing::warn!("cannot archive the logs: {e}");
            }
        }
        if self.keep {
            let _ = fs::write(self.dir.join(KEPT_FILE), "");
            eprintln!("kept scenario directory {}", self.dir.display());
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            tracing::warn!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// A process of the scenario; stopped on the launcher thread, which forked it.
struct ProcessService {
    name: String,
    process: Option<Process>,
    jobs: Jobs,
    stop_grace: Duration,
}

impl Service for ProcessService {
    fn name(&self) -> &str {
        &self.name
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let grace = self.stop_grace;
            self.jobs.run(move || process.stop(grace));
        }
    }
}

/// `<pid> <start time>`: the owner process, unmistakable even after its pid is reused.
fn owner_text(pid: i32) -> String {
    match procfs::start_time(pid) {
        Some(started) => format!("{pid} {started}"),
        None => pid.to_string(),
    }
}

/// Whether the owner recorded in `text` still runs (the same process, not a reused pid).
fn owner_alive(text: &str) -> bool {
    let mut fields = text.split_whitespace();
    let Some(pid) = fields.next().and_then(|p| p.parse::<i32>().ok()) else { return false };
    match fields.next().and_then(|s| s.parse::<u64>().ok()) {
        Some(started) => procfs::start_time(pid) == Some(started),
        None => Path::new(&format!("/proc/{pid}")).exists(),
    }
}

/// Kills what scenarios whose owner no longer runs (a crash or a SIGKILL skipped their
/// clean-up) left running, and removes their directories unless they were kept.
///
/// What identifies a leftover is its working directory: every process a scenario starts runs
/// inside the scenario's directory, and so do the children it forks. A recorded process group
/// is killed only while some process of that group, leader or not, runs inside the directory:
/// a group whose leader exited (its pid perhaps reused since) but whose members live on is
/// still found, and a recycled group id, whose processes run elsewhere, is never signalled.
/// Processes inside the directory outside every recorded group (one that left its group, or a
/// lost record) are killed one by one. Kept directories are left alone, with what runs there.
fn reap_leftovers(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else { return };
    let me = std::process::id() as i32;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_ours || path.join(KEPT_FILE).exists() {
            continue;
        }
        if owner_alive(&fs::read_to_string(path.join(OWNER_FILE)).unwrap_or_default()) {
            continue;
        }
        let groups: Vec<i32> = fs::read_to_string(path.join(GROUPS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .collect();
        // The process table is read for each leftover, after it was found: one read for the
        // whole walk could predate a directory renamed into place meanwhile (a scenario's
        // directory is staged under another name), and its processes would not be seen
        // inside it, so the directory would be removed with them left running.
        let inside: Vec<procfs::ProcessInfo> = procfs::processes()
            .into_iter()
            .filter(|p| {
                p.pid != me
                    && p.cwd.as_ref().is_some_and(|cwd| cwd.starts_with(&path))
                    && procfs::has_child_marker(p.pid)
            })
            .collect();
        let mut signalled = Vec::new();
        for process in &inside {
            if groups.contains(&process.pgrp) {
                if !signalled.contains(&process.pgrp) {
                    tracing::warn!(
                        "stopping process group {} left by a crashed run in {}",
                        process.pgrp,
                        path.display()
                    );
                    signal_group(process.pgrp, libc::SIGKILL);
                    signalled.push(process.pgrp);
                }
            } else {
                tracing::warn!(
                    "stopping process {} left by a crashed run in {}",
                    process.pid,
                    path.display()
                );
                // SAFETY: kill(2) has no memory effects.
                unsafe {
                    libc::kill(process.pid, libc::SIGKILL);
                }
            }
        }
        let _ = fs::remove_file(path.join(GROUPS_FILE));
        let _ = fs::remove_dir_all(&path);
    }
}

/// A free TCP port on 127.0.0.1, chosen by the kernel. Nothing holds it once this returns:
/// start listeners with [`Scenario::start_listening_process`], which copes with losing it.
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
            .env(crate::procfs::CHILD_MARKER.0, crate::procfs::CHILD_MARKER.1)
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
    fn a_process_the_harness_did_not_start_is_never_killed_by_the_clean_up() {
        // Someone's shell (or `less` on a log) working in a crashed run's directory.
        let staging = std::env::temp_dir().join(format!("ampfed-staging-foreign-{}", std::process::id()));
        let base = std::env::temp_dir().join(format!("{DIR_PREFIX}crashed-foreign-{}", std::process::id()));
        fs::create_dir_all(&staging).unwrap();
        let mut bystander = std::process::Command::new("/bin/sleep")
            .arg("30")
            .current_dir(&staging)
            .env_remove(crate::procfs::CHILD_MARKER.0)
            .process_group(0)
            .spawn()
            .unwrap();
        fs::write(staging.join(OWNER_FILE), "999999999").unwrap();
        fs::write(staging.join(GROUPS_FILE), format!("{}\n", bystander.id())).unwrap();
        fs::rename(&staging, &base).unwrap();
        let _next = Scenario::new(false).unwrap();
        assert_eq!(bystander.try_wait().unwrap(), None, "a process without the marker was killed");
        bystander.kill().unwrap();
        bystander.wait().unwrap();
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
            stop_grace: STOP_GRACE,
        };
        let probe =
            Probe::Http { url: "http://127.0.0.1:1/".into(), status: 200, body_contains: String::new() };
        let err = scenario.start_process(&spec, &probe, Duration::from_secs(20)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exited during start-up") && text.contains("boom"), "{text}");
    }

    /// Gone, or a zombie nobody reaps (PID 1 here does not).
    fn is_dead(pid: i32) -> bool {
        procfs::pgrp(pid).is_none()
    }

    #[test]
    fn a_crashed_runs_group_is_killed_when_its_leader_exited_but_a_member_runs_on() {
        let staging = std::env::temp_dir().join(format!("ampfed-staging-member-{}", std::process::id()));
        let base = std::env::temp_dir().join(format!("{DIR_PREFIX}crashed-member-{}", std::process::id()));
        fs::create_dir_all(&staging).unwrap();
        // The leader starts a member in its group and exits; the member runs on.
        let mut leader = std::process::Command::new("/bin/sh")
            .args(["-c", "tail -f /dev/null >/dev/null 2>&1 & echo $!"])
            .current_dir(&staging)
            .env(crate::procfs::CHILD_MARKER.0, crate::procfs::CHILD_MARKER.1)
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut leader.stdout.take().unwrap(), &mut out).unwrap();
        leader.wait().unwrap();
        let member: i32 = out.trim().parse().unwrap();
        assert_eq!(procfs::pgrp(member), Some(leader.id() as i32), "the member is in the leader's group");
        fs::write(staging.join(OWNER_FILE), "999999999").unwrap();
        fs::write(staging.join(GROUPS_FILE), format!("{}\n", leader.id())).unwrap();
        fs::rename(&staging, &base).unwrap();
        let _next = Scenario::new(false).unwrap();
        let died = Wait::new("the member to be killed", Duration::from_secs(10)).blocking(|| {
            Ok::<_, ()>(if is_dead(member) { Poll::Ready(()) } else { Poll::Pending("running".into()) })
        });
        if died.is_err() {
            signal_group(leader.id() as i32, libc::SIGKILL);
            panic!("the member of a crashed run's group was left running");
        }
        assert!(!base.exists());
    }

    #[test]
    fn an_owner_whose_pid_was_reused_counts_as_gone() {
        let me = std::process::id() as i32;
        assert!(owner_alive(&owner_text(me)));
        assert!(owner_alive(&me.to_string()), "an owner file without a start time");
        let started = procfs::start_time(me).unwrap();
        assert!(!owner_alive(&format!("{me} {}", started + 1)), "another process under the same pid");
        assert!(!owner_alive("") && !owner_alive("999999999 1"));
    }

    /// A server on 127.0.0.1 that answers every request with 200 "Ready": another run's
    /// service, on the port this one meant to use.
    fn someone_else_on_a_port() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let serving = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            for mut stream in serving.incoming().flatten() {
                let mut buf = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nReady");
            }
        });
        (listener, port)
    }

    fn ready_probe(port: u16) -> Probe {
        Probe::Http { url: format!("http://127.0.0.1:{port}/"), status: 200, body_contains: "Ready".into() }
    }

    /// A shell standing in for a server that finds its port taken: it says so the way
    /// Prometheus does, then exits (`exits`) or runs on as LocalStack does.
    fn port_taken_spec(dir: &Path, port: u16, exits: bool) -> ProcessSpec {
        let then = if exits { "exit 1" } else { "exec tail -f /dev/null" };
        ProcessSpec {
            name: "taken".into(),
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                format!("echo 'listen tcp 127.0.0.1:{port}: bind: address already in use'; {then}"),
            ],
            env: vec![],
            cwd: dir.to_owned(),
            stop_grace: STOP_GRACE,
        }
    }

    #[test]
    fn a_port_taken_on_every_attempt_fails_with_the_log() {
        let (_held, port) = someone_else_on_a_port();
        for exits in [true, false] {
            let mut scenario = Scenario::new(false).unwrap().with_first_ports([port; PORT_ATTEMPTS]);
            let dir = scenario.dir().to_owned();
            let mut asked = Vec::new();
            let err = scenario
                .start_listening_process(Duration::from_secs(20), |p| {
                    asked.push(p);
                    (port_taken_spec(&dir, p, exits), ready_probe(p))
                })
                .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, EnvError::PortTaken { attempts: PORT_ATTEMPTS, .. }), "{text}");
            assert!(text.contains("address already in use"), "{text}");
            assert_eq!(asked, [port; PORT_ATTEMPTS]);
        }
    }

    #[test]
    fn another_programs_answer_on_the_port_is_not_taken_for_the_process() {
        let (_held, port) = someone_else_on_a_port();
        let mut scenario = Scenario::new(false).unwrap().with_first_ports([port]);
        let dir = scenario.dir().to_owned();
        let idle = |_| ProcessSpec {
            name: "idle".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exec tail -f /dev/null".into()],
            env: vec![],
            cwd: dir.clone(),
            stop_grace: STOP_GRACE,
        };
        let err = scenario
            .start_listening_process(Duration::from_secs(2), |p| (idle(p), ready_probe(p)))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not ready") && text.contains("no process of idle listens there"), "{text}");
    }

    #[test]
    fn prometheus_starts_on_another_port_when_its_first_is_taken() {
        let (_held, taken) = someone_else_on_a_port();
        let mut scenario = Scenario::new(false).unwrap().with_first_ports([taken]);
        let prom = crate::prometheus::start(&mut scenario, &Default::default()).unwrap();
        assert_ne!(prom.url, format!("http://127.0.0.1:{taken}"));
        let first = scenario.dir().join(format!("prometheus/prometheus.port-{taken}-taken.log"));
        let log = fs::read_to_string(&first).unwrap_or_default();
        assert!(log.contains("address already in use"), "{}: {log}", first.display());
        let ready = ureq::get(&format!("{}/-/ready", prom.url)).call().unwrap().into_string().unwrap();
        assert!(ready.contains("Ready"), "{ready}");
    }
}
