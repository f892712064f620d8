//! `ampfed-up` (behind `cargo xtask up|down|status`) as a user runs it: the binary kept up in
//! the background, its exports handed to the AWS CLI, a second `up` refused, `down` leaving
//! nothing behind, and a killed `up`'s state cleaned by the next one. Each test keeps its own
//! `up` in a state directory of its own. Needs `cargo xtask setup` (Prometheus, LocalStack
//! and the AWS CLI venv; `cargo xtask test` runs it).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ampfed_common::wait::{Poll, Wait};
use ampfed_e2e::up::{self, Endpoints, Files, State, Status};
use ampfed_env::{Process, ProcessSpec};
use ampfed_test_support::{run_bounded, Finished, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_ampfed-up");
/// Prometheus and LocalStack start in 10–60 s here; two `up`s may start at once.
const READY_WITHIN: Duration = Duration::from_secs(240);
/// What "fails fast" means for a second `up`.
const FAST: Duration = Duration::from_secs(15);

/// An `ampfed-up up` running in the background, with its state directory and log.
struct Up {
    process: Process,
    files: Files,
    log: PathBuf,
}

impl Up {
    /// Starts `ampfed-up up --state-dir <dir>/state` and waits until it runs and is ready.
    fn start(dir: &Path, name: &str, args: &[&str]) -> (Up, State, Endpoints) {
        let state_dir = dir.join("state");
        let log = dir.join(format!("{name}.log"));
        let mut all = vec!["up".to_owned(), "--state-dir".into(), state_dir.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        let spec = ProcessSpec {
            name: name.into(),
            program: BIN.into(),
            args: all,
            env: vec![],
            cwd: dir.to_owned(),
            stop_grace: Duration::from_secs(40),
        };
        let process = Process::spawn(&spec, &log).expect("start ampfed-up");
        let mut up = Up { process, files: Files::new(state_dir), log };
        let (state, endpoints) = up.wait_running();
        (up, state, endpoints)
    }

    fn wait_running(&mut self) -> (State, Endpoints) {
        let (files, log, process) = (&self.files, &self.log, &mut self.process);
        Wait::new("ampfed-up to be running", READY_WITHIN)
            .backoff(Duration::from_millis(200), Duration::from_secs(1))
            .blocking(|| {
                if let Err(exited) = process.check_alive() {
                    return Err(format!("{exited}"));
                }
                Ok(match up::status(files).map_err(|e| format!("{e:#}"))? {
                    Status::Running(state, endpoints) => Poll::Ready((state, *endpoints)),
                    other => Poll::Pending(format!("{other:?}")),
                })
            })
            .unwrap_or_else(|e| panic!("{e}; its log:\n{}", fs::read_to_string(log).unwrap_or_default()))
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Runs `ampfed-up ARGS` to its end.
fn ampfed_up(args: &[&str], limit: Duration) -> Finished {
    run_bounded(Command::new(BIN).args(args), limit).unwrap_or_else(|e| panic!("ampfed-up {args:?}: {e}"))
}

/// The processes of `up`'s run that still run: the harness's child marker and the run id in
/// their environment (zombies have none left).
fn processes_of_run(run_id: &str) -> Vec<u32> {
    let wanted = ["AMPFED_HARNESS_CHILD=1".to_owned(), format!("{}={run_id}", up::state::RUN_ID_VAR)];
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let entries: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
        if wanted.iter().all(|w| entries.contains(&w.as_bytes())) {
            found.push(pid);
        }
    }
    found
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_secs(1)).is_ok()
}

/// Nothing of the run of `state` is left: no marked process of the run, every port refused.
fn assert_nothing_left(state: &State, within: Duration) {
    Wait::new("nothing of the up to be left", within)
        .blocking(|| {
            let left = processes_of_run(&state.run_id);
            let open: Vec<u16> = state.ports.iter().copied().filter(|&p| accepts(p)).collect();
            Ok::<_, String>(if left.is_empty() && open.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("processes {left:?} run, ports {open:?} accept connections"))
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The variables `export K='v'` lines set, in order.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .map(|assignment| {
            let (name, quoted) = assignment.split_once('=').expect("NAME=value");
            let value = quoted.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).expect("a quoted value");
            (name.to_owned(), value.replace(r"'\''", "'"))
        })
        .collect()
}

/// The AWS CLI from the venv `cargo xtask setup` made.
fn aws_cli() -> PathBuf {
    let aws = ampfed_common::paths::cache_dir().join("awscli-venv/bin/aws");
    assert!(
        aws.is_file(),
        "{} is missing: run `cargo xtask setup` (scripts/install-awscli.sh)",
        aws.display()
    );
    aws
}

/// Runs `aws ARGS` with nothing of this machine's AWS set-up but `vars` (a home of its own).
fn aws(home: &Path, vars: &[(String, String)], args: &[&str]) -> String {
    fs::create_dir_all(home).unwrap();
    let mut cmd = Command::new(aws_cli());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .args(args)
        .args(["--output", "json"]);
    let done = run_bounded(&mut cmd, Duration::from_secs(60)).unwrap_or_else(|e| panic!("aws {args:?}: {e}"));
    assert!(done.success(), "aws {args:?}: {}\n{}", done.status, done.stderr);
    done.stdout
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[test]
fn up_serves_the_aws_cli_refuses_a_second_up_and_down_leaves_nothing() {
    let dir = TempDir::new("up-main");
    // With --load: the fixtures' clusters go through the whole path before it is published.
    let (mut first, state, endpoints) = Up::start(&dir, "up", &["--load"]);
    let state_dir = first.files.dir().display().to_string();
    assert_eq!(mode(&first.files.endpoints()), 0o600);
    assert_eq!(mode(&endpoints.web_identity.token_file), 0o600);
    assert_eq!(state.ports.len(), 5, "{state:?}");
    assert!(state.ports.iter().all(|&p| accepts(p)), "{state:?}");
    let printed = first.log();
    assert!(
        printed.contains("export AWS_ENDPOINT_URL_AMP=") && printed.contains("# ampfed up: running"),
        "{printed}"
    );
    assert!(printed.contains("ampfed up: loaded 3 clusters"), "{printed}");

    // A second `up` on the same state directory fails at once, naming the first.
    let started = Instant::now();
    let second = ampfed_up(&["up", "--state-dir", &state_dir], Duration::from_secs(60));
    assert!(!second.success(), "a second up started:\n{}", second.stderr);
    assert!(started.elapsed() < FAST, "took {:?}", started.elapsed());
    assert!(
        second.stderr.contains("already running") && second.stderr.contains(&format!("pid {}", state.pid)),
        "{}",
        second.stderr
    );

    // `status`: human, JSON and exports.
    let status = ampfed_up(&["status", "--state-dir", &state_dir], Duration::from_secs(30));
    assert!(status.success(), "{}", status.stderr);
    assert!(status.stdout.contains(&endpoints.workspace_id), "{}", status.stdout);
    let json = ampfed_up(&["status", "--state-dir", &state_dir, "--json"], Duration::from_secs(30));
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["running"], true);
    assert_eq!(json["endpoints"]["workspace_id"], endpoints.workspace_id.as_str());
    assert_eq!(json["endpoints"]["bucket"], "kubecost-federated-etl");
    let exports = ampfed_up(&["status", "--state-dir", &state_dir, "--exports"], Duration::from_secs(30));
    let keys = parse_exports(&exports.stdout);
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    for name in [
        "AWS_ENDPOINT_URL_AMP",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
    ] {
        assert!(names.contains(&name), "{name} not exported: {}", exports.stdout);
    }

    // The AWS CLI reaches the mocks with the exports alone: long-lived keys…
    let home = dir.join("home");
    let workspaces = aws(&home, &keys, &["amp", "list-workspaces"]);
    assert!(workspaces.contains(&endpoints.workspace_id), "{workspaces}");
    let buckets = aws(&home, &keys, &["s3", "ls"]);
    assert!(buckets.contains("kubecost-federated-etl"), "{buckets}");
    let combined =
        aws(&home, &keys, &["s3", "ls", "s3://kubecost-federated-etl/federated/combined/", "--recursive"]);
    assert!(
        combined.contains("federated/combined/etl/allocations/1d/1767225600-1767312000.parquet"),
        "{combined}"
    );
    // The last two steps again, as commands against the running `up`.
    let etl = ampfed_up(&["etl", "--state-dir", &state_dir], Duration::from_secs(300));
    assert!(etl.success(), "{}", etl.stderr);
    assert!(
        etl.stdout.contains(
            "3 clusters (cluster-a, cluster-b, cluster-c): 3 daily allocation, 3 daily asset and 144 hourly"
        ),
        "{}",
        etl.stdout
    );
    let federate = ampfed_up(&["federate", "--state-dir", &state_dir, "--json"], Duration::from_secs(300));
    assert!(federate.success(), "{}", federate.stderr);
    let report: serde_json::Value = serde_json::from_str(&federate.stdout).unwrap();
    assert_eq!(report["clusters"], serde_json::json!(["cluster-a", "cluster-b", "cluster-c"]), "{report}");
    // The cost models wrote the same bytes again: nothing to recombine.
    assert_eq!(report["windows_recombined"], 0, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let caller = aws(&home, &keys, &["sts", "get-caller-identity"]);
    assert!(caller.contains(up::UP_USER), "{caller}");
    // …and a web identity, which the CLI exchanges at the STS mock.
    let identity = ampfed_up(
        &["status", "--state-dir", &state_dir, "--exports", "--credentials", "web-identity"],
        Duration::from_secs(30),
    );
    let identity = parse_exports(&identity.stdout);
    assert!(identity.iter().any(|(k, _)| k == "AWS_WEB_IDENTITY_TOKEN_FILE"), "{identity:?}");
    let caller = aws(&home, &identity, &["sts", "get-caller-identity"]);
    assert!(caller.contains("assumed-role/ampfed-up"), "{caller}");
    let workspaces =
        aws(&home, &identity, &["amp", "describe-workspace", "--workspace-id", &endpoints.workspace_id]);
    assert!(workspaces.contains("ACTIVE"), "{workspaces}");

    // `down` stops it and finds nothing left; so do we.
    let down = ampfed_up(&["down", "--state-dir", &state_dir], Duration::from_secs(120));
    assert!(down.success(), "{}", down.stderr);
    assert!(down.stderr.contains(&format!("stopped up (pid {})", state.pid)), "{}", down.stderr);
    let exited = first.process.check_alive().expect_err("up still runs after down").to_string();
    assert!(exited.contains("exit status: 0"), "{exited}");
    assert_nothing_left(&state, Duration::from_secs(5));
    assert!(!first.files.state().exists() && !first.files.endpoints().exists());
    assert!(!endpoints.web_identity.token_file.exists());
    assert!(state.scenario_dir.as_ref().is_some_and(|d| !d.exists()), "{state:?}");
    let after = ampfed_up(&["status", "--state-dir", &state_dir], Duration::from_secs(30));
    assert_eq!(after.status.code(), Some(3), "{}", after.stderr);
    assert!(after.stderr.contains("not running"), "{}", after.stderr);
}

#[test]
fn a_killed_ups_state_is_found_stale_and_cleaned_by_the_next_up() {
    let dir = TempDir::new("up-stale");
    let (mut killed, old, _) = Up::start(&dir, "killed", &[]);
    // SIGKILL: nothing of `up` runs its clean-up; its children die with it.
    killed.process.stop(Duration::ZERO);
    assert_nothing_left(&old, Duration::from_secs(30));
    assert!(killed.files.state().exists(), "the killed up's state is gone already");
    let state_dir = killed.files.dir().display().to_string();
    let status = ampfed_up(&["status", "--state-dir", &state_dir], Duration::from_secs(30));
    assert_eq!(status.status.code(), Some(3), "{}", status.stderr);
    assert!(status.stderr.contains("stale"), "{}", status.stderr);

    let (next, state, endpoints) = Up::start(&dir, "next", &[]);
    assert_ne!(state.pid, old.pid);
    assert_ne!(state.run_id, old.run_id);
    let log = next.log();
    assert!(
        log.contains(&format!("cleaned the state of an up that no longer runs (pid {}", old.pid)),
        "{log}"
    );
    assert!(endpoints.workspace_id.starts_with("ws-"), "{endpoints:?}");

    let down = ampfed_up(&["down", "--state-dir", &state_dir], Duration::from_secs(120));
    assert!(down.success(), "{}", down.stderr);
    assert_nothing_left(&state, Duration::from_secs(5));
    drop(next);
}

#[test]
fn a_second_run_on_one_cache_dir_fails_fast_naming_the_first() {
    let dir = TempDir::new("e2e-lock");
    // This test holds the cache directory's lock, as a running e2e or up does.
    let _held =
        ampfed_e2e::up::Lock::try_acquire(&Files::new(dir.path())).unwrap().expect("the lock is free");
    let e2e = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_ampfed-e2e")).env("AMPFED_CACHE_DIR", dir.path()),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(e2e.status.code(), Some(3), "{}", e2e.stderr);
    assert!(
        e2e.stderr.contains("another `cargo xtask e2e` or `cargo xtask up` runs on the cache directory"),
        "{}",
        e2e.stderr
    );
    assert!(!e2e.stderr.contains("providers:"), "nothing may start: {}", e2e.stderr);
    let dir_text = dir.path().display().to_string();
    let up = ampfed_up(&["up", "--state-dir", &dir_text], Duration::from_secs(30));
    assert!(!up.status.success());
    assert!(up.stderr.contains("a `cargo xtask e2e` or an `up` holds"), "{}", up.stderr);
}

#[test]
fn review_is_a_persons_step_refused_under_ci_and_without_a_terminal() {
    let dir = TempDir::new("e2e-review");
    for (ci, why) in [("true", "is refused under CI"), ("", "needs a terminal on stdin")] {
        let run = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_ampfed-e2e"))
                .arg("--review")
                .env("CI", ci)
                .env("AMPFED_CACHE_DIR", dir.path()),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
        assert!(run.stderr.contains(why) && run.stderr.contains("cargo insta review"), "{}", run.stderr);
    }
}

#[test]
fn e2e_keep_leaves_a_failed_environment_up_until_down() {
    let dir = TempDir::new("e2e-keep");
    let cache = dir.join("cache");
    let log = dir.join("e2e.log");
    // The wrong secret fails the remote write, after the environment and the rules are up.
    let spec = ProcessSpec {
        name: "e2e-keep".into(),
        program: env!("CARGO_BIN_EXE_ampfed-e2e").into(),
        args: ["--keep", "--fault", "wrong-secret", "--s3", "embedded"].map(String::from).to_vec(),
        env: vec![("AMPFED_CACHE_DIR".into(), cache.display().to_string())],
        cwd: dir.path().to_owned(),
        stop_grace: Duration::from_secs(40),
    };
    let process = Process::spawn(&spec, &log).expect("start ampfed-e2e");
    let mut kept = Up { process, files: Files::new(&cache), log };
    let (state, endpoints) = kept.wait_running();
    let printed = kept.log();
    assert!(printed.contains("the failed environment stays up"), "{printed}");
    assert!(printed.contains("InvalidSignatureException"), "{printed}");
    assert!(endpoints.workspace_id.starts_with("ws-"), "{endpoints:?}");
    assert!(state.ports.iter().all(|&p| accepts(p)), "{state:?}");

    let cache_text = cache.display().to_string();
    let down = ampfed_up(&["down", "--state-dir", &cache_text], Duration::from_secs(120));
    assert!(down.success(), "{}", down.stderr);
    let exited = kept.process.check_alive().expect_err("the kept run still runs after down").to_string();
    // The run's own verdict (3: AMP refused the signature), not 130 for the signal.
    assert!(exited.contains("exit status: 3"), "{exited}\n{}", kept.log());
    assert!(kept.log().contains("the kept environment is stopped; the run had failed"), "{}", kept.log());
    assert_nothing_left(&state, Duration::from_secs(5));
    assert!(!kept.files.state().exists() && !kept.files.endpoints().exists());
}

/// `e2e --target aws` against a running `up --wall-clock-rules`, which answers as AWS does:
/// the SDK's default chain with the web identity `up` exports, a role assumed on top of it,
/// the rules evaluated on the wall clock, two minutes of samples stamped now, and the ETL in
/// the bucket of a `federated-store.yaml`. Then the refusals that must come before anything
/// is streamed: a workspace that does not exist, a bucket holding someone else's clusters.
#[test]
fn the_aws_target_runs_in_wall_clock_mode_against_an_up_that_answers_as_aws() {
    let dir = TempDir::new("up-aws-target");
    let (mut up, state, endpoints) = Up::start(&dir, "up", &["--wall-clock-rules"]);
    let state_dir = up.files.dir().display().to_string();
    let exports = ampfed_up(
        &["status", "--state-dir", &state_dir, "--exports", "--credentials", "web-identity"],
        Duration::from_secs(30),
    );
    let vars = parse_exports(&exports.stdout);
    let s3 = endpoints.s3_url.trim_start_matches("http://");
    let store = dir.join("federated-store.yaml");
    fs::write(
        &store,
        format!(
            "type: S3\nconfig:\n  bucket: {}\n  endpoint: {s3}\n  region: us-west-2\n  insecure: true\n",
            endpoints.bucket
        ),
    )
    .unwrap();
    let e2e = |args: &[&str], limit: Duration| -> Finished {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ampfed-e2e"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.join("home"))
            .env("AMPFED_CACHE_DIR", dir.join("cache"))
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .args(["--target", "aws", "--federated-store"])
            .arg(&store)
            .args(args);
        run_bounded(&mut cmd, limit).unwrap_or_else(|e| panic!("ampfed-e2e {args:?}: {e}"))
    };

    let run = e2e(
        &[
            "--workspace-id",
            &endpoints.workspace_id,
            "--role-arn",
            up::UP_ASSUMABLE_ROLE,
            "--duration",
            "2m",
            "--rules-wait",
            "3m",
            "--json",
        ],
        Duration::from_secs(600),
    );
    assert!(run.success(), "{}\n{}\nup's log:\n{}", run.status, run.stderr, up.log());
    assert!(run.stderr.contains("target aws (wall clock)"), "{}", run.stderr);
    assert!(
        run.stderr.contains("as arn:aws:sts::123456789012:assumed-role/ampfed-up-operator/ampfed-e2e"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 namespace(s) (ampfed-e2e-kubecost-amp)"), "{}", run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(report["passed"], true, "{report}");
    // One or two scrapes of every series the three clusters have at this time of day (a pod
    // may start or end between them), all stored.
    let written = report["samples_written"].as_u64().unwrap_or_default();
    let series = report["series_written"].as_u64().unwrap_or_default();
    assert!(written > 0 && written == report["samples_stored"].as_u64().unwrap_or(1), "{report}");
    assert!((series..=2 * series).contains(&written), "{report}");
    assert!(report["rule_series_recorded"].as_u64().unwrap_or_default() > 0, "{report}");
    // The namespaces are gone again; the ETL stays in the bucket, today's day among it.
    let home = dir.join("home");
    let namespaces =
        aws(&home, &vars, &["amp", "list-rule-groups-namespaces", "--workspace-id", &endpoints.workspace_id]);
    let namespaces: serde_json::Value = serde_json::from_str(&namespaces).unwrap();
    let ours: Vec<&serde_json::Value> = namespaces["ruleGroupsNamespaces"]
        .as_array()
        .map(|all| {
            all.iter().filter(|n| n["name"].as_str().is_some_and(|n| n.starts_with("ampfed-e2e-"))).collect()
        })
        .unwrap_or_default();
    assert!(ours.iter().all(|n| n["status"]["statusCode"] == "DELETING"), "{namespaces}");
    let today = chrono::Utc::now().timestamp().div_euclid(86_400) * 86_400;
    let combined =
        aws(&home, &vars, &["s3", "ls", "s3://kubecost-federated-etl/federated/combined/", "--recursive"]);
    // (A run that crossed midnight filed its last minutes under the next day.)
    let day = |start: i64| format!("etl/allocations/1d/{start}-{}.parquet", start + 86_400);
    assert!(combined.contains(&day(today)) || combined.contains(&day(today - 86_400)), "{combined}");

    // Refused before anything is streamed: a workspace AMP does not have (exit 3)…
    let missing =
        e2e(&["--workspace-id", "ws-00000000-0000-0000-0000-000000000000"], Duration::from_secs(120));
    assert_eq!(missing.status.code(), Some(3), "{}", missing.stderr);
    assert!(missing.stderr.contains("give --workspace-id of an existing workspace"), "{}", missing.stderr);
    // …a bucket with another cluster's ETL in it (exit 2)…
    let bucket = ampfed_federation::Store::new(&endpoints.store_config());
    let put = bucket.put_object(
        "federated/someone-else/etl/x.json",
        b"{}".to_vec(),
        "application/json",
        &ampfed_federation::store::Condition::Always,
    );
    tokio::runtime::Runtime::new().unwrap().block_on(put).expect("put another cluster's object");
    let shared = e2e(&["--workspace-id", &endpoints.workspace_id], Duration::from_secs(120));
    assert_eq!(shared.status.code(), Some(2), "{}", shared.stderr);
    assert!(
        shared.stderr.contains("holds ETL of clusters this run does not write (someone-else)"),
        "{}",
        shared.stderr
    );
    // …and flags of the local mocks, at once (exit 2).
    let local =
        e2e(&["--workspace-id", &endpoints.workspace_id, "--fault", "throttle"], Duration::from_secs(30));
    assert_eq!(local.status.code(), Some(2), "{}", local.stderr);
    assert!(local.stderr.contains("--fault is not used with --target aws"), "{}", local.stderr);

    let down = ampfed_up(&["down", "--state-dir", &state_dir], Duration::from_secs(120));
    assert!(down.success(), "{}", down.stderr);
    up.process.check_alive().expect_err("up still runs after down");
    assert_nothing_left(&state, Duration::from_secs(5));
}
