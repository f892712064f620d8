//! A signer that is not ours: botocore, through the AWS CLI v1 of the LocalStack venv, drives the
//! STS and AMP mocks unchanged but for the endpoints, with web identity credentials from the
//! environment (no password anywhere) and `--endpoint-url`.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ampfed_test_support::run_bounded;
use base64::Engine;
use serde_json::Value;

use crate::{client, mock, tempdir, REGION, ROLE, TOKEN};

/// How long one CLI call may take before the test kills it.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

const RULES: &str = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n";
/// A web identity token for the CLI: STS's model wants 4 to 20,000 characters and botocore
/// checks that before sending (the suite's [`TOKEN`] is too short for it).
const CLI_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YW1wZmVkOmNsaSJ9.c2ln";
const BAD_RULES: &str = "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n";

/// The `aws` of the LocalStack venv; the test fails (CI installs the venv first) without it.
fn aws_cli() -> PathBuf {
    let aws = ampfed_env::paths::localstack_venv().join("bin/aws");
    if !aws.is_file() {
        panic!("LocalStack venv missing: run `cargo xtask setup`");
    }
    aws
}

/// What one CLI call did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The JSON the call printed, once it succeeded.
    fn json(&self, what: &str) -> Value {
        assert_eq!(self.code, Some(0), "{what} failed:\n{}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{what}: {e}:\n{}", self.stdout))
    }
}

/// The AWS CLI with an environment of its own: web identity credentials, the STS mock as its
/// STS endpoint, no configuration or credentials files, no instance metadata.
struct Cli {
    aws: PathBuf,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    /// How many times the CLI ran.
    runs: Cell<usize>,
}

impl Cli {
    fn new(aws: PathBuf, dir: &Path, sts_url: &str) -> Cli {
        let token_file = dir.join("token");
        std::fs::write(&token_file, CLI_TOKEN).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "").unwrap();
        let path = |p: &Path| p.display().to_string();
        let env = vec![
            ("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
            ("HOME", path(dir)),
            ("LANG", "C.UTF-8".into()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("AWS_CONFIG_FILE", path(&empty)),
            ("AWS_SHARED_CREDENTIALS_FILE", path(&empty)),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ROLE_ARN", ROLE.into()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", path(&token_file)),
            ("AWS_ROLE_SESSION_NAME", "cli".into()),
            ("AWS_ENDPOINT_URL_STS", sts_url.into()),
        ];
        Cli { aws, dir: dir.to_owned(), env, runs: Cell::new(0) }
    }

    /// Runs `aws <args> --output json` in the test's directory, killed after [`CALL_TIMEOUT`].
    fn run(&self, args: &[&str]) -> Run {
        self.runs.set(self.runs.get() + 1);
        let mut cmd = Command::new(&self.aws);
        cmd.args(args)
            .args(["--output", "json"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir);
        let done = run_bounded(&mut cmd, CALL_TIMEOUT)
            .unwrap_or_else(|e| panic!("`aws {}` (limit {CALL_TIMEOUT:?}): {e}", args.join(" ")));
        Run { code: done.status.code(), stdout: done.stdout, stderr: done.stderr }
    }
}

#[tokio::test]
async fn aws_cli_v1_drives_sts_and_amp_with_web_identity() {
    let aws = aws_cli();
    let mock = mock().await;
    mock.trust_web_identity(CLI_TOKEN, ROLE);
    // The test's directory (token file, empty config files, rules, HOME), removed even when
    // an assertion fails.
    let guard = tempdir("aws-cli");
    let dir = guard.as_path();
    std::fs::write(dir.join("rules.yaml"), RULES).unwrap();
    std::fs::write(dir.join("bad.yaml"), BAD_RULES).unwrap();
    let cli = Cli::new(aws, dir, &mock.sts_url());
    let aps = mock.aps_url();
    let amp = |args: &[&str]| cli.run(&[&["amp"], args, &["--endpoint-url", &aps]].concat());

    let created = amp(&["create-workspace", "--alias", "cli"]).json("create-workspace");
    let id = created["workspaceId"].as_str().expect("workspaceId").to_owned();
    assert!(id.starts_with("ws-"), "{created}");
    assert_eq!(created["arn"], format!("arn:aws:aps:{REGION}:123456789012:workspace/{id}"));
    assert_eq!(created["status"]["statusCode"], "CREATING");

    let described = amp(&["describe-workspace", "--workspace-id", &id]).json("describe-workspace");
    assert_eq!(described["workspace"]["status"]["statusCode"], "ACTIVE", "{described}");
    assert_eq!(described["workspace"]["alias"], "cli");

    let ns = amp(&[
        "create-rule-groups-namespace",
        "--workspace-id",
        &id,
        "--name",
        "n",
        "--data",
        "fileb://rules.yaml",
    ])
    .json("create-rule-groups-namespace");
    assert_eq!(ns["name"], "n");
    assert_eq!(ns["arn"], format!("arn:aws:aps:{REGION}:123456789012:rulegroupsnamespace/{id}/n"));

    let got = amp(&["describe-rule-groups-namespace", "--workspace-id", &id, "--name", "n"])
        .json("describe-rule-groups-namespace");
    let got = &got["ruleGroupsNamespace"];
    assert_eq!(got["status"]["statusCode"], "ACTIVE", "{got}");
    let data = base64::engine::general_purpose::STANDARD.decode(got["data"].as_str().expect("data")).unwrap();
    assert_eq!(String::from_utf8(data).unwrap(), RULES);

    let listed =
        amp(&["list-rule-groups-namespaces", "--workspace-id", &id]).json("list-rule-groups-namespaces");
    let names: Vec<_> = listed["ruleGroupsNamespaces"]
        .as_array()
        .expect("ruleGroupsNamespaces")
        .iter()
        .map(|n| &n["name"])
        .collect();
    assert_eq!(names, ["n"], "{listed}");

    let bad = amp(&[
        "create-rule-groups-namespace",
        "--workspace-id",
        &id,
        "--name",
        "bad",
        "--data",
        "fileb://bad.yaml",
    ]);
    assert!(bad.code.is_some_and(|c| c != 0), "bad PromQL accepted: {:?}\n{}", bad.code, bad.stdout);
    assert!(bad.stderr.contains("ValidationException"), "{}", bad.stderr);

    let sts = mock.sts_url();
    let me = cli.run(&["sts", "get-caller-identity", "--endpoint-url", &sts]).json("get-caller-identity");
    assert_eq!(me["Arn"], "arn:aws:sts::123456789012:assumed-role/test/cli", "{me}");
    assert_eq!(me["Account"], "123456789012");
    assert!(me["UserId"].as_str().is_some_and(|u| u.starts_with("AROA") && u.ends_with(":cli")), "{me}");

    // Every CLI process fetched its own web identity credentials from the STS mock (CLI v1
    // caches only assume-role profile credentials) and signed GetCallerIdentity with them.
    assert_eq!(mock.sts_calls("AssumeRoleWithWebIdentity"), cli.runs.get());

    // Cross-check with our own signer what the mock stored before the workspace goes.
    let ours = client(&mock, dir, TOKEN);
    let stored = ours.describe_rule_groups_namespace().workspace_id(&id).name("n").send().await.unwrap();
    assert_eq!(stored.rule_groups_namespace().unwrap().data().as_ref(), RULES.as_bytes());
    let all = ours.list_rule_groups_namespaces().workspace_id(&id).send().await.unwrap();
    assert_eq!(all.rule_groups_namespaces().len(), 1, "the rejected namespace was stored");

    let deleted = amp(&["delete-workspace", "--workspace-id", &id]);
    assert_eq!(deleted.code, Some(0), "delete-workspace failed:\n{}", deleted.stderr);
    let deleting = ours.describe_workspace().workspace_id(&id).send().await.unwrap();
    assert_eq!(deleting.workspace().unwrap().status().unwrap().status_code().as_str(), "DELETING");

    assert_eq!(mock.sts_calls("GetCallerIdentity"), 1);
}
