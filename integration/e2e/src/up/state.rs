//! The files of a kept-up environment, in its directory (the cache directory unless
//! `--state-dir` moves it): the lock (`up.lock`, held with `flock(2)` for as long as `up`
//! runs, so that a killed `up` frees it at once), the state (`up.json`: pid, start, phase and
//! what `down` verifies), the endpoints (`endpoints.json`: URLs, workspace, bucket and
//! credentials) and the web identity token; whether the process a state names still runs; and
//! the refusal of a run of the path while an `up` holds the cache directory.
//!
//! This module knows nothing of the environment itself (no `crate::env`): `env.rs` asks it
//! whether an `up` runs.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Held with `flock(2)` by the running `up`; never removed (removing a lock file races).
pub const LOCK_FILE: &str = "up.lock";
/// The running `up`'s [`State`].
pub const STATE_FILE: &str = "up.json";
/// The [`Endpoints`], mode 0600: they hold credentials.
pub const ENDPOINTS_FILE: &str = "endpoints.json";
/// The web identity token that [`WebIdentityFile`] names, mode 0600.
pub const TOKEN_FILE: &str = "up-web-identity.token";
/// Set in the environment of `up` (and so of every process it starts) to its run id: what
/// `down` looks for to tell that nothing of that run is left.
pub const RUN_ID_VAR: &str = "AMPFED_UP_RUN";

/// Whether this process holds an `up` lock: then its own environment is the `up`'s, which
/// [`refuse_while_an_up_runs`] lets through.
static THIS_PROCESS_IS_UP: AtomicBool = AtomicBool::new(false);

/// The files of one `up` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Files {
        Files { dir: dir.into() }
    }

    /// The files in the cache directory (`ampfed_common::paths::cache_dir()`).
    pub fn in_cache_dir() -> Files {
        Files::new(ampfed_common::paths::cache_dir())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn endpoints(&self) -> PathBuf {
        self.dir.join(ENDPOINTS_FILE)
    }

    pub fn token(&self) -> PathBuf {
        self.dir.join(TOKEN_FILE)
    }

    /// The recorded state; `None` when there is none.
    pub fn read_state(&self) -> Result<Option<State>> {
        read_json(&self.state())
    }

    /// Records `state` (written whole to a temp file, then renamed into place).
    pub fn write_state(&self, state: &State) -> Result<()> {
        write_private(&self.state(), &serde_json::to_vec_pretty(state)?)
    }

    /// The endpoints of the running `up`; `None` when there are none.
    pub fn read_endpoints(&self) -> Result<Option<Endpoints>> {
        read_json(&self.endpoints())
    }

    /// Writes the endpoints, readable by their owner only from the start.
    pub fn write_endpoints(&self, endpoints: &Endpoints) -> Result<()> {
        write_private(&self.endpoints(), &serde_json::to_vec_pretty(endpoints)?)
    }

    /// Writes the web identity token, readable by its owner only from the start.
    pub fn write_token(&self, token: &str) -> Result<()> {
        write_private(&self.token(), token.as_bytes())
    }

    /// Removes the files holding credentials: the endpoints and the token.
    pub fn remove_secrets(&self) {
        let _ = fs::remove_file(self.endpoints());
        let _ = fs::remove_file(self.token());
    }

    /// Removes every file of a run but the lock.
    pub fn remove_run_files(&self) {
        self.remove_secrets();
        let _ = fs::remove_file(self.state());
    }
}

/// How far the `up` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Starting its services; no endpoints yet.
    Starting,
    /// Every service ready, the endpoints written.
    Running,
}

/// What a running `up` records about itself, for `status` and `down`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The `up` process.
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/<pid>/stat`): with the pid, it
    /// names one process even after the pid is reused.
    pub process_start: Option<u64>,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// Inherited by every process it starts ([`RUN_ID_VAR`]).
    pub run_id: String,
    pub phase: Phase,
    /// Set once running.
    pub endpoints_file: Option<PathBuf>,
    /// The scenario directory of its processes (logs, Prometheus data), once running.
    pub scenario_dir: Option<PathBuf>,
    /// The ports of its services on 127.0.0.1, once running.
    pub ports: Vec<u16>,
}

impl State {
    /// A starting `up`: this process, now.
    pub fn starting(run_id: &str) -> State {
        let pid = std::process::id();
        State {
            pid,
            process_start: process_start(pid),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            run_id: run_id.to_owned(),
            phase: Phase::Starting,
            endpoints_file: None,
            scenario_dir: None,
            ports: Vec::new(),
        }
    }

    /// Whether the process this state names still runs (a zombie does not).
    pub fn runs(&self) -> bool {
        match (process_start(self.pid), self.process_start) {
            (Some(now), Some(recorded)) => now == recorded,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// When `pid` started, in clock ticks since boot; `None` when it does not run or is a zombie.
pub fn process_start(pid: u32) -> Option<u64> {
    ampfed_env::procfs::running_since(i32::try_from(pid).ok()?)
}

/// Where a kept-up environment answers, and with which credentials: the `endpoints.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The region every endpoint pretends to be in; signatures must be scoped to it.
    pub region: String,
    /// The AMP mock (control and data plane), SigV4 on every request.
    pub amp_url: String,
    /// The STS mock.
    pub sts_url: String,
    /// LocalStack S3.
    pub s3_url: String,
    /// The SigV4 signing proxy in front of AMP (it signs with its own web identity).
    pub proxy_url: String,
    /// The Prometheus backend behind the AMP mock, unsigned.
    pub backend_url: String,
    /// The AMP workspace created for this `up`.
    pub workspace_id: String,
    /// The ETL bucket on LocalStack.
    pub bucket: String,
    /// Long-lived keys, valid as long as this `up` runs.
    pub credentials: Keys,
    /// A web identity to assume a role with through STS (clients refresh what STS issues).
    pub web_identity: WebIdentityFile,
}

impl Endpoints {
    /// The ETL store with the long-lived keys.
    pub fn store_config(&self) -> ampfed_federation::StoreConfig {
        ampfed_federation::StoreConfig {
            endpoint: self.s3_url.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key_id: self.credentials.access_key_id.clone(),
            secret_access_key: self.credentials.secret_access_key.clone(),
        }
    }

    /// The workspace's Prometheus API through the signing proxy, as a cost model queries AMP.
    pub fn workspace_client(&self) -> ampfed_prom::Client {
        ampfed_prom::Client::new(
            format!("{}/workspaces/{}", self.proxy_url, self.workspace_id),
            "/api/v1/remote_write",
        )
    }
}

/// An access key as the SDKs take it. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `None`: a long-lived key.
    pub session_token: Option<String>,
    /// The IAM principal the mocks know the key as.
    pub principal_arn: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("session_token", &self.session_token.as_ref().map(|_| "** redacted **"))
            .field("principal_arn", &self.principal_arn)
            .finish()
    }
}

/// A role to assume with a web identity token, as `AWS_ROLE_ARN` and
/// `AWS_WEB_IDENTITY_TOKEN_FILE` name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebIdentityFile {
    pub role_arn: String,
    pub token_file: PathBuf,
    pub session_name: String,
}

/// The `up` lock, held until dropped (or until the process ends, however it ends).
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

impl Lock {
    /// Takes the lock of `files` without waiting; `None` when another process holds it.
    pub fn try_acquire(files: &Files) -> Result<Option<Lock>> {
        fs::create_dir_all(files.dir()).with_context(|| format!("create {}", files.dir().display()))?;
        let path = files.lock();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        // SAFETY: flock(2) on a descriptor this function owns; no memory is involved.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if taken != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(error).with_context(|| format!("lock {}", path.display()));
        }
        THIS_PROCESS_IS_UP.store(true, Ordering::SeqCst);
        Ok(Some(Lock { _file: file }))
    }
}

/// Fails, naming it and saying how to stop it, when an `up` other than this process runs on
/// the cache directory: a run of the path (`cargo xtask e2e`) must not share it. An `up`
/// itself (this process holds a lock) passes.
pub fn refuse_while_an_up_runs() -> Result<()> {
    if THIS_PROCESS_IS_UP.load(Ordering::SeqCst) {
        return Ok(());
    }
    let files = Files::in_cache_dir();
    let Ok(Some(state)) = files.read_state() else { return Ok(()) };
    if state.pid != std::process::id() && state.runs() {
        bail!(
            "`cargo xtask up` is running on the cache directory {} (pid {}, since {}): stop it with \
             `cargo xtask down` first, or set AMPFED_CACHE_DIR to another directory",
            files.dir().display(),
            state.pid,
            state.started_at
        );
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not what `up` writes; remove it", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Writes `bytes` to `path` through a new temp file of mode 0600 renamed into place, so that
/// a reader sees the old or the new file whole and nobody else may ever read it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("create {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("write {}", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("rename {} to {}", temp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn files_are_private_and_round_trip() {
        let dir = ampfed_test_support::TempDir::new("up-state");
        let files = Files::new(dir.path());
        assert_eq!(files.read_state().unwrap(), None);
        let mut state = State::starting("run-1");
        files.write_state(&state).unwrap();
        state.phase = Phase::Running;
        state.ports = vec![1, 2];
        files.write_state(&state).unwrap();
        assert_eq!(files.read_state().unwrap(), Some(state));
        files.write_token("secret").unwrap();
        for file in [files.state(), files.token()] {
            assert_eq!(
                fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                file.display()
            );
        }
        files.remove_run_files();
        assert_eq!(files.read_state().unwrap(), None);
        assert!(!files.token().exists());
    }

    #[test]
    fn this_process_runs_and_a_made_up_one_does_not() {
        let me = State::starting("run-2");
        assert!(me.runs());
        let reused = State { process_start: me.process_start.map(|t| t + 1), ..me.clone() };
        assert!(!reused.runs(), "a reused pid is not the same process");
        assert!(!State { pid: 999_999_999, ..me }.runs());
    }

    #[test]
    fn the_lock_is_exclusive_and_freed_on_drop() {
        let dir = ampfed_test_support::TempDir::new("up-lock");
        let files = Files::new(dir.path());
        let held = Lock::try_acquire(&files).unwrap().expect("a free lock");
        assert!(Lock::try_acquire(&files).unwrap().is_none(), "a second holder");
        drop(held);
        assert!(Lock::try_acquire(&files).unwrap().is_some());
    }

    #[test]
    fn a_key_never_shows_its_secret() {
        let keys = Keys {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "s3cr3t".into(),
            session_token: Some("t0k3n".into()),
            principal_arn: "arn:aws:iam::123456789012:user/u".into(),
        };
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("AKIAEXAMPLE") && !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }
}
