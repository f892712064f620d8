//! The `ampfed-sigv4-proxy` binary: flags, the credential chain it picks in a controlled
//! environment, and one signed request through it. Every run is bounded and stops by itself:
//! short runs go through `ampfed_test_support::run_bounded`, the serving one is an
//! `ampfed_env::Process` (its own process group, stopped when dropped).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ampfed_aws_mock::{AwsMock, AwsMockOptions};
use ampfed_common::wait::{Poll, Wait};
use ampfed_env::{Process, ProcessSpec};
use ampfed_test_support::{run_bounded, Finished, TempDir};

use crate::{raw, request, request_for_host, REGION};

const BIN: &str = env!("CARGO_BIN_EXE_ampfed-sigv4-proxy");
const LIMIT: Duration = Duration::from_secs(60);
const USER: &str = "arn:aws:iam::123456789012:user/binary";
const KEY: &str = "AKIAAMPFEDBINARY0001";
const SECRET: &str = "binary/secret/0123456789abcdefghijklmnopq";

/// The binary with an empty environment but for `env` (and a `HOME` with no credentials).
fn command(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("HOME", home).env("RUST_LOG", "info").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs to completion within [`LIMIT`] (killed otherwise) off the async runtime.
async fn run(mut cmd: Command) -> Finished {
    tokio::task::spawn_blocking(move || {
        run_bounded(&mut cmd, LIMIT).unwrap_or_else(|e| panic!("the binary did not finish: {e}"))
    })
    .await
    .unwrap()
}

/// The output as owned text (`run_bounded` has decoded it already, lossily).
fn text(output: &str) -> String {
    output.to_owned()
}

async fn mock() -> AwsMock {
    let mock = AwsMock::start(AwsMockOptions {
        region: REGION.into(),
        backend_url: "http://127.0.0.1:9".into(),
        credential_lifetime: Duration::from_secs(900),
    })
    .await;
    mock.registry().register_static(KEY, SECRET, USER);
    mock
}

#[tokio::test]
async fn help_lists_the_flags() {
    let home = TempDir::new("proxy-bin-help");
    let out = run(command(&home, &["--help"], &[])).await;
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--name",
        "--region",
        "--host",
        "--upstream-url-scheme",
        "--port",
        "--role-arn",
        "--strip",
        "--sts-endpoint",
        "--log-failed-requests",
        "--allow-host",
        "--upstream-timeout-secs",
        "--max-body-bytes",
        "--max-connections",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("[default: aps]") && help.contains("[default: 8005]"), "{help}");
}

#[tokio::test]
async fn bad_flags_and_bad_ca_files_are_refused_clearly() {
    let home = TempDir::new("proxy-bin-refuse");
    let out =
        run(command(&home, &["--host", "h", "--region", REGION, "--upstream-url-scheme", "ftp"], &[])).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("invalid value 'ftp'"), "{}", text(&out.stderr));

    let keys = [("AWS_ACCESS_KEY_ID", KEY), ("AWS_SECRET_ACCESS_KEY", SECRET)];
    let args = ["--host", "aps-workspaces.us-west-2.amazonaws.com", "--region", REGION, "--port", "0"];
    let out = run(command(&home, &[&args[..], &["--upstream-ca", "/no/such/ca.pem"]].concat(), &keys)).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("TLS to the upstream: /no/such/ca.pem"), "{err}");

    let out = run(command(&home, &["--host", "h", "--upstream-url-scheme", "http"], &[])).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no region"), "{}", text(&out.stderr));

    let args = ["--host", "h", "--upstream-url-scheme", "http", "--region", REGION, "--allow-host", "a b"];
    let out =
        run(command(&home, &args, &[("AWS_ACCESS_KEY_ID", KEY), ("AWS_SECRET_ACCESS_KEY", SECRET)])).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--allow-host") && err.contains("\"a b\""), "{err}");
}

#[tokio::test]
async fn without_credentials_the_error_names_every_source_tried() {
    let home = TempDir::new("proxy-bin-none");
    let args = ["--host", "h", "--upstream-url-scheme", "http", "--region", REGION, "--check-credentials"];
    let out = run(command(&home, &args, &[])).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("no AWS credentials found"), "{err}");
    assert!(err.contains("environment: AWS_ACCESS_KEY_ID"), "{err}");
    assert!(err.contains("web identity: AWS_ROLE_ARN"), "{err}");
    assert!(err.contains(&home.join(".aws/credentials").display().to_string()), "{err}");
}

#[tokio::test]
async fn the_chain_picks_environment_then_web_identity_then_profile() {
    let mock = mock().await;
    let home = TempDir::new("proxy-bin-chain");
    let sts = mock.sts_url();
    let base = ["--host", "h", "--upstream-url-scheme", "http", "--region", REGION, "--check-credentials"];

    // A profile file in HOME; it loses to the environment and to web identity.
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIAPROFILEDEFAULT01\naws_secret_access_key = d\n\n\
         [dev]\naws_access_key_id = AKIAPROFILEDEV000001\naws_secret_access_key = e\n",
    )
    .unwrap();
    let token_file = home.join("token");
    std::fs::write(&token_file, "binary-token\n").unwrap();
    let role = "arn:aws:iam::123456789012:role/binary";
    mock.trust_web_identity("binary-token", role);
    let web = [("AWS_ROLE_ARN", role), ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap())];
    let keys = [("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001"), ("AWS_SECRET_ACCESS_KEY", "env-secret")];

    let out = run(command(&home, &base, &[keys[0], keys[1], web[0], web[1]])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("credentials: environment"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("access key id: AKIAENVIRONMENT00001"));

    let with_sts_env = [web[0], web[1], ("AWS_ENDPOINT_URL_STS", sts.as_str())];
    let out = run(command(&home, &base, &with_sts_env)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("credentials: web identity (role {role}, STS {sts})")));
    assert!(text(&out.stdout).contains("access key id: ASIA"), "{}", text(&out.stdout));
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), 1);

    let mut flag_args = base.to_vec();
    flag_args.extend(["--sts-endpoint", &sts]);
    let out = run(command(&home, &flag_args, &web)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), 2);

    let out = run(command(&home, &base, &web)).await;
    assert!(!out.status.success(), "web identity without an http STS endpoint must fail");
    assert!(text(&out.stderr).contains("--sts-endpoint"), "{}", text(&out.stderr));

    let out = run(command(&home, &base, &[])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("access key id: AKIAPROFILEDEFAULT01"), "{}", text(&out.stdout));

    let custom = home.join("other-credentials");
    std::fs::write(&custom, "[ci]\naws_access_key_id=AKIACUSTOMFILE000001\naws_secret_access_key=c\n")
        .unwrap();
    let out = run(command(
        &home,
        &base,
        &[("AWS_PROFILE", "ci"), ("AWS_SHARED_CREDENTIALS_FILE", custom.to_str().unwrap())],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("credentials: profile ci of"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("AKIACUSTOMFILE000001"));

    let out = run(command(&home, &base, &[("AWS_PROFILE", "missing")])).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("has no profile [missing]"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn role_arn_assumes_the_role_with_the_chain_credentials() {
    let mock = mock().await;
    let role = "arn:aws:iam::123456789012:role/binary-writer";
    mock.trust_assume_role(USER, role);
    let home = TempDir::new("proxy-bin-role");
    let sts = mock.sts_url();
    let args = [
        "--host",
        "h",
        "--upstream-url-scheme",
        "http",
        "--region",
        REGION,
        "--check-credentials",
        "--role-arn",
        role,
        "--sts-endpoint",
        &sts,
    ];
    let out =
        run(command(&home, &args, &[("AWS_ACCESS_KEY_ID", KEY), ("AWS_SECRET_ACCESS_KEY", SECRET)])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("credentials: role {role} assumed at {sts} with environment")),
        "{stdout}"
    );
    assert!(stdout.contains("access key id: ASIA"), "{stdout}");
    assert_eq!(mock.sts_calls("AssumeRole"), 1);
}

#[tokio::test]
async fn the_binary_signs_and_forwards_and_logs_failed_requests() {
    let mock = mock().await;
    let home = TempDir::new("proxy-bin-serve");
    let host = mock.aps_url().trim_start_matches("http://").to_owned();
    let args = [
        "--host",
        &host,
        "--upstream-url-scheme",
        "http",
        "--region",
        REGION,
        "--port",
        "0",
        "-s",
        "x-drop",
        "--log-failed-requests",
        "--allow-host",
        "kubecost-sigv4-proxy:8005",
        "--upstream-timeout-secs",
        "30",
    ];
    let spec = ProcessSpec {
        name: "ampfed-sigv4-proxy".into(),
        program: BIN.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        // The process inherits the test's environment: these win over anything in it
        // (an empty value counts as unset, so no stray session token joins the static key).
        env: [
            ("HOME", home.to_str().unwrap()),
            ("RUST_LOG", "info"),
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        cwd: home.to_path_buf(),
        stop_grace: ampfed_env::STOP_GRACE,
    };
    // stdout and stderr both go to the log; the process is stopped when `child` is dropped.
    let log_path = home.join("proxy.log");
    let mut child = Process::spawn(&spec, &log_path).expect("start the binary");
    let (mut child, line) = tokio::task::spawn_blocking(move || {
        let line = Wait::new("the binary to print its address", LIMIT).blocking(|| {
            let log = std::fs::read_to_string(child.log()).unwrap_or_default();
            match log.lines().find(|l| l.starts_with("listening on ")) {
                Some(line) => Ok(Poll::Ready(line.to_owned())),
                None => child.check_alive().map(|()| Poll::Pending(format!("log so far: {log}"))),
            }
        });
        (child, line)
    })
    .await
    .unwrap();
    let line = line.expect("a listening line");
    let url =
        line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("unexpected: {line}"));
    let addr = url.parse().unwrap();

    let created = raw(
        addr,
        &request(
            addr,
            "POST",
            "/workspaces",
            &[("content-type", "application/json"), ("x-drop", "1")],
            b"{}",
        ),
    )
    .await;
    assert_eq!(created.status, 202, "{}", created.text());
    // The sidecar's service name, allowed with --allow-host.
    let missing =
        raw(addr, &request_for_host("kubecost-sigv4-proxy:8005", "GET", "/workspaces/ws-none", &[], b""))
            .await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    let elsewhere = raw(addr, &request_for_host("rebind.example:8005", "GET", "/workspaces", &[], b"")).await;
    assert_eq!(elsewhere.status, 421, "{}", elsewhere.text());

    child.stop(Duration::from_secs(10));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("failed request") && log.contains("ResourceNotFoundException"), "{log}");
    assert!(!log.contains(SECRET));
}
