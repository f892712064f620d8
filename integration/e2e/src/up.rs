//! A kept-up environment, behind `cargo xtask up`, `down` and `status`: the same [`Env`] as
//! the path (Prometheus, LocalStack S3, the STS and AMP mocks, the signing proxy), plus an AMP
//! workspace, the ETL bucket and credentials that stay valid while it runs (long-lived keys
//! in the mocks' credential registry, and a web identity that clients refresh through STS),
//! kept running in the foreground until a signal.
//!
//! [`claim`] takes the directory's lock (a second `up` fails fast, naming the first) and
//! cleans what a killed `up` left; [`serve`] brings the environment up, writes the endpoints
//! and the state (`state`), prints the exports (`exports`) and waits; [`stop::down`] stops it
//! from another process and checks that nothing is left; [`status`] reads the files.

pub mod exports;
pub mod jobs;
pub mod state;
pub mod stop;

use std::path::PathBuf;
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_amp::client::Waiters;
use rand::Rng;

use crate::env::{Env, EnvConfig, BUCKET, REGION};
use crate::progress::{Progress, StepName};

pub use exports::CredentialStyle;
pub use state::{Endpoints, Files, Keys, Lock, Phase, State, WebIdentityFile};
pub use stop::{down, Stopped};

/// The role the exported web identity may assume.
pub const UP_ROLE: &str = "arn:aws:iam::123456789012:role/ampfed-up";
/// The IAM user the long-lived keys belong to.
pub const UP_USER: &str = "arn:aws:iam::123456789012:user/ampfed-up";
/// A role both of `up`'s identities may assume (STS AssumeRole), for clients that sign with an
/// assumed role, as `e2e --target aws --role-arn` does.
pub const UP_ASSUMABLE_ROLE: &str = "arn:aws:iam::123456789012:role/ampfed-up-operator";
/// The alias of the workspace `up` creates.
pub const WORKSPACE_ALIAS: &str = "ampfed-up";
/// How long the workspace may take to become ACTIVE.
const ACTIVE_WITHIN: Duration = Duration::from_secs(5);
/// How long what a killed `up` left gets to go before a new one starts.
const STALE_WAIT: Duration = Duration::from_secs(20);

/// How to keep the environment up.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Where the lock, state and endpoints live.
    pub files: Files,
    /// What the environment is made of (faults are not offered here).
    pub env: EnvConfig,
    /// Draw the environment's steps on stderr.
    pub show_progress: bool,
    /// Which credentials the printed exports hand out (the endpoints file has both).
    pub credentials: CredentialStyle,
    /// Evaluate the installed rules on the wall clock while `up` runs, as AMP does.
    pub wall_clock_rules: bool,
}

/// What `up --load` puts into the environment before it is published: the simulated
/// clusters (prepared and checked before anything starts) and the rules.
pub struct Load {
    pub prepared: crate::steps::remote_write::Prepared,
    pub settings: crate::sim::Settings,
    pub rules_dir: PathBuf,
}

/// What a load did, for the first lines `up` prints.
fn loaded_summary(filled: &crate::steps::Filled, settings: &crate::sim::Settings) -> String {
    let window = settings.window();
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    format!(
        "ampfed up: loaded {} clusters ({} samples), {} ETL objects, {} combined; try:\n  cargo xtask query '/model/allocation?window={},{}&aggregate=namespace'\n",
        filled.written.clusters.len(),
        filled.written.samples,
        filled.shipped.etl_objects.len(),
        filled.federated.objects_written.len(),
        iso(window.start),
        iso(window.end),
    )
}

/// The directory claimed by this process: the lock is held and the state written until it is
/// dropped, which removes the state. Drop it after every service has stopped.
#[derive(Debug)]
pub struct Claim {
    files: Files,
    state: State,
    /// The state an `up` that no longer runs had left, now cleaned.
    pub stale: Option<State>,
    _lock: Lock,
}

impl Claim {
    /// The state this `up` recorded.
    pub fn state(&self) -> &State {
        &self.state
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.files.remove_run_files();
    }
}

/// Claims `files` for this process, run `run_id`: fails at once when another `up` holds it,
/// naming it; cleans the state (and waits for the processes) of an `up` that was killed.
pub fn claim(files: &Files, run_id: &str) -> Result<Claim> {
    let Some(lock) = Lock::try_acquire(files)? else {
        let holder = match files.read_state() {
            Ok(Some(state)) => format!(
                "pid {}, since {}, {}",
                state.pid,
                state.started_at,
                match state.phase {
                    Phase::Starting => "still starting".to_owned(),
                    Phase::Running => format!("endpoints in {}", files.endpoints().display()),
                }
            ),
            _ => format!("a `cargo xtask e2e` or an `up` holds {}", files.lock().display()),
        };
        bail!(
            "an `up` is already running on {} ({holder}): stop it with `cargo xtask down` \
             (`--state-dir {}`), or keep another one in another --state-dir",
            files.dir().display(),
            files.dir().display()
        );
    };
    let stale = files.read_state().unwrap_or_else(|e| {
        tracing::warn!("ignoring an unreadable state: {e:#}");
        None
    });
    if let Some(old) = &stale {
        if old.runs() {
            bail!(
                "up (pid {}) runs without holding {}; stop it with `cargo xtask down`",
                old.pid,
                files.lock().display()
            );
        }
        stop::nothing_left(old, STALE_WAIT).context("clean up after an up that was killed")?;
    }
    files.remove_run_files();
    let state = State::starting(run_id);
    files.write_state(&state)?;
    Ok(Claim { files: files.clone(), state, stale, _lock: lock })
}

/// `e2e --keep`: the run holds a claim of the cache directory, and when it fails after its
/// environment came up, it keeps that environment running as an `up` does (state, endpoints,
/// exports; `status`, `logs`, `down` work), until a signal or `cargo xtask down`.
#[derive(Clone, Debug)]
pub struct KeepOnFailure {
    claim: std::sync::Arc<std::sync::Mutex<Option<Claim>>>,
    failure: std::sync::Arc<std::sync::Mutex<Option<(u8, String)>>>,
}

impl KeepOnFailure {
    pub fn new(claim: Claim) -> KeepOnFailure {
        KeepOnFailure {
            claim: std::sync::Arc::new(std::sync::Mutex::new(Some(claim))),
            failure: std::sync::Arc::default(),
        }
    }

    /// The exit code and message of the failure a kept environment was kept for.
    pub fn failure(&self) -> Option<(u8, String)> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keeps `env` after `error`: publishes it as an `up` (in `workspace`, the run's, when it
    /// had one) and waits forever; the run ends when its future is dropped (a signal), which
    /// stops the environment and removes the state. Returns at once if the claim is gone.
    pub async fn hold(&self, env: Env, workspace: Option<String>, error: &anyhow::Error) {
        let Some(mut claim) = self.claim.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let text = crate::report::redact(&ampfed_common::errors::report(error.as_ref()));
        let code = crate::failure::classify(error).exit_code();
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some((code, text.clone()));
        let published = match provision(&env, &claim.files, workspace).await {
            Ok(endpoints) => publish(&env, &mut claim, &endpoints).map(|()| endpoints),
            Err(e) => Err(e),
        };
        match published {
            Ok(endpoints) => {
                eprintln!("\nerror: {text}");
                eprint!("{}", describe(&endpoints, claim.state(), CredentialStyle::Keys, ""));
                eprintln!(
                    "\nampfed e2e --keep: the failed environment stays up (pid {}) for you to look at: \
                     `cargo xtask status --exports`, `cargo xtask logs`, `cargo xtask diagnose`; \
                     stop it with Ctrl-C or `cargo xtask down`.",
                    claim.state().pid
                );
            }
            Err(e) => {
                eprintln!("warning: cannot keep the failed environment up: {e:#}");
                return;
            }
        }
        // Dropped in reverse order when the future is: the environment stops, then the
        // claim removes the state.
        let _claim = claim;
        let _env = env;
        std::future::pending::<()>().await;
    }
}

/// How a served `up` ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Stopped by a signal while starting: what had started is stopping on the runtime's
    /// blocking pool (shut the runtime down with [`crate::env::TEARDOWN_LIMIT`]).
    InterruptedWhileStarting,
    /// Ran until a signal, then stopped every service.
    Stopped,
}

/// Brings the environment up for `claim`, writes the endpoints, prints the exports on stdout
/// and runs until `stop` resolves (the first signal), then stops everything.
pub async fn serve(
    options: &UpOptions,
    claim: &mut Claim,
    stop: &mut (impl std::future::Future<Output = ()> + Unpin),
    load: Option<Load>,
) -> Result<Served> {
    let mut progress = Progress::new(options.show_progress);
    let cancel = options.env.cancel.clone();
    let env = tokio::select! {
        env = Env::up(&options.env, &mut progress) => env?,
        _ = &mut *stop => {
            cancel.cancel();
            return Ok(Served::InterruptedWhileStarting);
        }
    };
    let provisioned = tokio::select! {
        done = provision_and_load(&env, &claim.files, load, &mut progress) => Some(done),
        _ = &mut *stop => None,
    };
    let outcome = match provisioned {
        None => Ok(Served::InterruptedWhileStarting),
        Some(Err(e)) => Err(e),
        Some(Ok((endpoints, loaded))) => match publish(&env, claim, &endpoints) {
            Err(e) => Err(e),
            Ok(()) => {
                // Stopped when dropped, at the end of this block: before the teardown.
                let _ruler = options.wall_clock_rules.then(|| env.mock().ruler().run_wall_clock());
                print!("{}", describe(&endpoints, claim.state(), options.credentials, "# "));
                print!("{}", exports::shell(&endpoints, options.credentials));
                if let Some(summary) = &loaded {
                    eprint!("{summary}");
                }
                use std::io::Write;
                let _ = std::io::stdout().flush();
                eprintln!(
                    "\nampfed up: running (pid {}). Stop it with Ctrl-C or `cargo xtask down`.",
                    claim.state().pid
                );
                (&mut *stop).await;
                Ok(Served::Stopped)
            }
        },
    };
    claim.files.remove_secrets();
    eprintln!("ampfed up: stopping every service");
    let stopped =
        progress.step(StepName::Teardown, None, |_| env.down(), |_| "every service stopped".to_owned()).await;
    match (outcome, stopped) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Ok(served), Ok(())) => Ok(served),
    }
}

/// Provisions, then loads the simulated clusters into the workspace when asked.
async fn provision_and_load(
    env: &Env,
    files: &Files,
    load: Option<Load>,
    progress: &mut Progress,
) -> Result<(Endpoints, Option<String>)> {
    let endpoints = provision(env, files, None).await?;
    let Some(load) = load else { return Ok((endpoints, None)) };
    let amp = env.amp_admin();
    let workspace = endpoints.workspace_id.clone();
    progress
        .step(
            StepName::Rules,
            None,
            |_| crate::steps::rules::install_rules(&amp, &workspace, &load.rules_dir),
            |(namespaces, records)| format!("{namespaces} namespace(s), {} rules", records.len()),
        )
        .await?;
    let filled = crate::steps::fill(env, &workspace, load.prepared, &load.settings, progress).await?;
    Ok((endpoints, Some(loaded_summary(&filled, &load.settings))))
}

/// The workspace (`workspace`, or a new one), the bucket, long-lived keys and a web identity,
/// as the endpoints file says.
async fn provision(env: &Env, files: &Files, workspace: Option<String>) -> Result<Endpoints> {
    let workspace_id = match workspace {
        Some(id) => id,
        None => {
            let amp = env.amp_admin();
            let created = amp.create_workspace().alias(WORKSPACE_ALIAS).send().await.map_err(sdk_error)?;
            let workspace_id = created.workspace_id().to_owned();
            amp.wait_until_workspace_active()
                .workspace_id(&workspace_id)
                .wait(ACTIVE_WITHIN)
                .await
                .map_err(sdk_error)
                .with_context(|| format!("workspace {workspace_id} did not become ACTIVE"))?;
            workspace_id
        }
    };
    env.store().ensure_bucket().await.context("create the ETL bucket")?;
    let mock = env.mock();
    let keys = long_lived_keys();
    mock.registry().register_static(&keys.access_key_id, &keys.secret_access_key, &keys.principal_arn);
    let token = format!("ampfed.up.{}", hex::encode(rand::random::<[u8; 32]>()));
    files.write_token(&token)?;
    mock.trust_web_identity(&token, UP_ROLE);
    mock.trust_assume_role(UP_USER, UP_ASSUMABLE_ROLE);
    mock.trust_assume_role(UP_ROLE, UP_ASSUMABLE_ROLE);
    Ok(Endpoints {
        region: REGION.into(),
        amp_url: mock.aps_url(),
        sts_url: mock.sts_url(),
        s3_url: env.s3_url().to_owned(),
        proxy_url: env.proxy_url(),
        backend_url: env.backend_url().to_owned(),
        workspace_id,
        bucket: BUCKET.into(),
        credentials: keys,
        web_identity: WebIdentityFile {
            role_arn: UP_ROLE.into(),
            token_file: files.token(),
            session_name: "ampfed-up".into(),
        },
    })
}

/// Writes the endpoints, then records the state as running with what `down` checks.
fn publish(env: &Env, claim: &mut Claim, endpoints: &Endpoints) -> Result<()> {
    claim.files.write_endpoints(endpoints)?;
    let urls = [
        &endpoints.amp_url,
        &endpoints.sts_url,
        &endpoints.s3_url,
        &endpoints.proxy_url,
        &endpoints.backend_url,
    ];
    let ports = urls
        .iter()
        .map(|url| port_of(url).ok_or_else(|| anyhow!("no port in {url}")))
        .collect::<Result<Vec<u16>>>()?;
    claim.state.phase = Phase::Running;
    claim.state.endpoints_file = Some(claim.files.endpoints());
    claim.state.scenario_dir = env.scenario_dir().map(PathBuf::from);
    claim.state.ports = ports;
    claim.files.write_state(&claim.state)
}

/// The port of `http://127.0.0.1:<port>`.
fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// A long-lived key of the mocks' own: `AKIA` and 16 base32 characters (LocalStack takes any
/// `AKIA` key for its default account, the one the bucket is in), a 40-character secret.
fn long_lived_keys() -> Keys {
    const KEY_ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
    };
    Keys {
        access_key_id: format!("AKIA{}", pick(KEY_ID, 16)),
        secret_access_key: pick(SECRET, 40),
        session_token: None,
        principal_arn: UP_USER.into(),
    }
}

fn sdk_error<E: std::error::Error>(e: E) -> anyhow::Error {
    anyhow!("{}", ampfed_aws::error_text(&e))
}

/// A run id nobody else has: what every process of this `up` inherits.
pub fn new_run_id() -> String {
    format!("{}-{}", std::process::id(), hex::encode(rand::random::<[u8; 8]>()))
}

/// What runs, as lines each starting with `prefix` (`"# "` makes them shell comments).
pub fn describe(endpoints: &Endpoints, state: &State, style: CredentialStyle, prefix: &str) -> String {
    let file = state.endpoints_file.as_ref().map(|f| f.display().to_string()).unwrap_or_default();
    let credentials = match style {
        CredentialStyle::Keys => format!(
            "{} (long-lived, valid while up runs; secret in the endpoints file)",
            endpoints.credentials.access_key_id
        ),
        CredentialStyle::WebIdentity => format!(
            "role {} with the web identity token {}",
            endpoints.web_identity.role_arn,
            endpoints.web_identity.token_file.display()
        ),
    };
    let lines = [
        format!("ampfed up: running, pid {} since {}; endpoints in {file}", state.pid, state.started_at),
        format!("  AMP          {}  (workspace {})", endpoints.amp_url, endpoints.workspace_id),
        format!("  STS          {}", endpoints.sts_url),
        format!("  S3           {}  (bucket {})", endpoints.s3_url, endpoints.bucket),
        format!("  SigV4 proxy  {}  (in front of AMP)", endpoints.proxy_url),
        format!("  Prometheus   {}  (the backend, unsigned)", endpoints.backend_url),
        format!("  region       {}", endpoints.region),
        format!("  credentials  {credentials}"),
        "In another shell: eval \"$(cargo xtask status --exports)\"".to_owned(),
    ];
    lines.iter().map(|l| format!("{prefix}{l}\n")).collect()
}

/// What `status` finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// No `up` runs; `stale` is the state a killed one left, if any.
    NotRunning { stale: Option<State> },
    /// An `up` runs and is still starting its services.
    Starting(State),
    /// An `up` runs with every service ready.
    Running(State, Box<Endpoints>),
}

/// Reads the state and endpoints of `files` and checks that their `up` runs.
pub fn status(files: &Files) -> Result<Status> {
    let Some(state) = files.read_state()? else { return Ok(Status::NotRunning { stale: None }) };
    if !state.runs() {
        return Ok(Status::NotRunning { stale: Some(state) });
    }
    if state.phase == Phase::Starting {
        return Ok(Status::Starting(state));
    }
    match files.read_endpoints()? {
        Some(endpoints) => Ok(Status::Running(state, Box::new(endpoints))),
        // Between the two writes, or while stopping.
        None => Ok(Status::Starting(state)),
    }
}

/// Waits at most `timeout` for the `up` of `files` to be running (it may not have started
/// yet: its build may still run); a look that cannot read the files fails at once.
pub fn wait_running(files: &Files, timeout: Duration) -> Result<(State, Endpoints)> {
    Wait::new(format!("an up running on {}", files.dir().display()), timeout)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .blocking(|| {
            Ok(match status(files)? {
                Status::Running(state, endpoints) => Poll::Ready((state, *endpoints)),
                Status::Starting(state) => Poll::Pending(format!("up (pid {}) is starting", state.pid)),
                Status::NotRunning { stale: Some(state) } => {
                    Poll::Pending(format!("not running (the state of pid {} is stale)", state.pid))
                }
                Status::NotRunning { stale: None } => Poll::Pending("not running".into()),
            })
        })
        .map_err(|e| e.into_error(|message| anyhow!(message)))
}

/// The status as JSON: `running`, `phase`, the state and the endpoints.
pub fn status_json(files: &Files, status: &Status) -> serde_json::Value {
    let dir = files.dir().display().to_string();
    match status {
        Status::NotRunning { stale } => serde_json::json!({
            "running": false,
            "state_dir": dir,
            "stale": stale,
        }),
        Status::Starting(state) => serde_json::json!({
            "running": true,
            "phase": state.phase,
            "state_dir": dir,
            "state": state,
            "endpoints": null,
        }),
        Status::Running(state, endpoints) => serde_json::json!({
            "running": true,
            "phase": state.phase,
            "state_dir": dir,
            "state": state,
            "endpoints": endpoints,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_aws_keys_and_differ() {
        let (a, b) = (long_lived_keys(), long_lived_keys());
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with("AKIA"), "{}", a.access_key_id);
        assert_eq!(a.secret_access_key.len(), 40);
    }

    #[test]
    fn ports_are_read_from_the_urls() {
        assert_eq!(port_of("http://127.0.0.1:4566"), Some(4566));
        assert_eq!(port_of("http://127.0.0.1:4566/"), Some(4566));
        assert_eq!(port_of("http://127.0.0.1"), None);
    }

    #[test]
    fn a_second_claim_fails_fast_naming_the_first_and_a_dropped_one_cleans_up() {
        let dir = ampfed_test_support::TempDir::new("up-claim");
        let files = Files::new(dir.path());
        let first = claim(&files, "run-a").unwrap();
        assert_eq!(first.stale, None);
        let err = format!("{:#}", claim(&files, "run-b").unwrap_err());
        assert!(
            err.contains("already running") && err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(matches!(status(&files).unwrap(), Status::Starting(_)));
        drop(first);
        assert_eq!(files.read_state().unwrap(), None);
        assert_eq!(status(&files).unwrap(), Status::NotRunning { stale: None });
    }

    #[test]
    fn a_killed_ups_state_is_cleaned_by_the_next_claim() {
        let dir = ampfed_test_support::TempDir::new("up-claim-stale");
        let files = Files::new(dir.path());
        let dead = State { pid: 999_999_999, ..State::starting("run-dead") };
        files.write_state(&dead).unwrap();
        files.write_token("t").unwrap();
        assert_eq!(status(&files).unwrap(), Status::NotRunning { stale: Some(dead.clone()) });
        let next = claim(&files, "run-next").unwrap();
        assert_eq!(next.stale, Some(dead));
        assert!(!files.token().exists());
        assert_eq!(next.state().run_id, "run-next");
    }
}
