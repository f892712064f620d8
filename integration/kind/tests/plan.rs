//! The command sequence of `cargo xtask kind up|down`, run against stand-ins: `docker`,
//! `kind` and `kubectl` scripts first on `PATH` that append their name and arguments to a
//! log and succeed (or, for the Docker check, fail as a client without a daemon does). The
//! plan comes from the `ampfed-kind-plan` binary, as the xtask gets it, and each step runs
//! the way the xtask runs it: in order, stopping at the first failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ampfed_kind::plan::NO_DOCKER;
use ampfed_kind::Step;
use ampfed_test_support::{run_bounded, Finished, TempDir};

const LIMIT: Duration = Duration::from_secs(60);
const NO_DAEMON: &str =
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";

struct Standins {
    dir: TempDir,
}

impl Standins {
    /// Stand-ins that succeed; with `docker_down`, `docker` fails as without a daemon.
    fn new(docker_down: bool) -> Standins {
        let dir = TempDir::new("kind-standins");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for name in ["docker", "kind", "kubectl"] {
            let fail = if name == "docker" && docker_down {
                format!("echo '{NO_DAEMON}' >&2\nexit 1\n")
            } else {
                String::new()
            };
            let script = format!(
                "#!/bin/sh\nprintf '%s' \"{name}\" >> \"$AMPFED_STANDIN_LOG\"\nfor a in \"$@\"; do printf ' %s' \"$a\" >> \"$AMPFED_STANDIN_LOG\"; done\necho >> \"$AMPFED_STANDIN_LOG\"\n{fail}exit 0\n"
            );
            let path = bin.join(name);
            std::fs::write(&path, script).unwrap();
            let mut perms = std::fs::metadata(&path).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&path, perms).unwrap();
        }
        Standins { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.root().join("calls.log")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log()).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    fn path_var(&self) -> String {
        format!("{}:{}", self.root().join("bin").display(), std::env::var("PATH").unwrap_or_default())
    }

    /// Runs the steps in order as the xtask does; the message of the first failure, if any.
    fn execute(&self, steps: &[Step]) -> Result<(), String> {
        for step in steps {
            let (program, args) = match step {
                Step::Run { program, args } | Step::Probe { program, args, .. } => (program, args),
                Step::Fail { .. } => return Err(step.failure_message("")),
            };
            let mut cmd = Command::new(program);
            cmd.args(args).env("PATH", self.path_var()).env("AMPFED_STANDIN_LOG", self.log());
            let done = run_bounded(&mut cmd, LIMIT)?;
            if !done.success() {
                return Err(step.failure_message(done.stderr.trim()));
            }
        }
        Ok(())
    }
}

fn plan_binary(args: &[String]) -> Finished {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ampfed-kind-plan"));
    cmd.args(args);
    run_bounded(&mut cmd, LIMIT).expect("ampfed-kind-plan runs")
}

fn plan(args: &[String]) -> Vec<Step> {
    let done = plan_binary(args);
    assert!(done.success(), "ampfed-kind-plan failed:\n{}", done.stderr);
    done.stdout.lines().map(|l| Step::from_line(l).unwrap()).collect()
}

fn up_args(s: &Standins) -> (Vec<String>, PathBuf, PathBuf) {
    let out = s.root().join("out");
    let credentials = s.root().join("amp.env");
    std::fs::write(&credentials, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE\nAWS_SECRET_ACCESS_KEY=example\n").unwrap();
    let args = [
        "up",
        "--out",
        &out.display().to_string(),
        "--amp-url",
        "http://host.docker.internal:9095",
        "--workspace",
        "ws-ampfed",
        "--credentials",
        &credentials.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    (args, out, credentials)
}

#[test]
fn up_creates_applies_and_waits_per_cluster_in_order() {
    let s = Standins::new(false);
    let (args, out, credentials) = up_args(&s);
    let steps = plan(&args);
    s.execute(&steps).unwrap();

    let (out, creds) = (out.display().to_string(), credentials.display().to_string());
    let kc = format!("{out}/kubeconfig");
    let mut expected = vec!["docker version --format {{.Server.Version}}".to_owned()];
    // Per cluster: its workers with GPUs, and its rollouts before the stack's.
    let gpu_patch = r#"--patch=[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"1"}]"#;
    let clusters: [(&str, &[&str], &[&str]); 3] = [
        (
            "cluster-a",
            &[],
            &[
                "kube-system daemonset/aws-node",
                "shop deployment/frontend",
                "shop deployment/checkout",
                "shop statefulset/postgres",
            ],
        ),
        (
            "cluster-b",
            &[],
            &[
                "kube-system daemonset/aws-node",
                "shop deployment/frontend",
                "shop statefulset/postgres",
                "analytics deployment/etl-worker",
            ],
        ),
        // The CronJob `ops/db-backup` and the bare Pod `ops/debug-shell` are not waited for;
        // the GPU node shares the second worker.
        (
            "cluster-c",
            &["cluster-c-worker2"],
            &[
                "kube-system daemonset/aws-node",
                "web deployment/storefront",
                "web deployment/api",
                "web statefulset/redis",
                "ml deployment/trainer",
            ],
        ),
    ];
    for (name, gpu_workers, rollouts) in clusters {
        let kubectl = format!("kubectl --kubeconfig {kc} --context kind-{name}");
        expected.push(format!(
            "kind create cluster --name {name} --config {out}/{name}/kind.yaml --kubeconfig {kc} --wait 300s"
        ));
        expected.push(format!("{kubectl} apply -f {out}/{name}/namespaces.yaml"));
        expected.push(format!(
            "{kubectl} --namespace kubecost create secret generic amp-credentials --from-env-file={creds}"
        ));
        for node in gpu_workers {
            expected
                .push(format!("{kubectl} patch node {node} --subresource=status --type=json {gpu_patch}"));
        }
        expected.push(format!("{kubectl} apply -f {out}/{name}/workloads.yaml"));
        let stack = [
            "kubecost deployment/kube-state-metrics",
            "kubecost deployment/prometheus-server",
            "kubecost deployment/cost-analyzer",
        ];
        for r in rollouts.iter().chain(stack.iter()) {
            let (ns, resource) = r.split_once(' ').unwrap();
            expected.push(format!("{kubectl} --namespace {ns} rollout status {resource} --timeout=300s"));
        }
    }
    assert_eq!(s.calls(), expected);

    // The files the steps name were written, and are the rendered ones.
    for name in ["cluster-a", "cluster-b", "cluster-c"] {
        let config = std::fs::read_to_string(format!("{out}/{name}/kind.yaml")).unwrap();
        assert!(config.contains(&format!("\nname: {name}\n")), "{config}");
        let workloads = std::fs::read_to_string(format!("{out}/{name}/workloads.yaml")).unwrap();
        assert!(workloads.contains("cluster_id: ") && workloads.contains(&format!("cluster_id: {name}\n")));
    }
}

#[test]
fn the_cluster_label_is_a_flag() {
    let s = Standins::new(false);
    let (mut args, out, _) = up_args(&s);
    args.push("--cluster-label=cluster".to_owned());
    s.execute(&plan(&args)).unwrap();
    let workloads = std::fs::read_to_string(out.join("cluster-b/workloads.yaml")).unwrap();
    assert!(workloads.contains("external_labels:\n        cluster: cluster-b\n"), "{workloads}");
    assert!(!workloads.contains("cluster_id"), "{workloads}");
    assert!(workloads.contains("- name: PROM_CLUSTER_ID_LABEL\n          value: cluster\n"), "{workloads}");

    // A name Prometheus refuses is refused after the Docker check.
    let s = Standins::new(false);
    let (mut args, _, _) = up_args(&s);
    args.push("--cluster-label=cluster-id".to_owned());
    let err = s.execute(&plan(&args)).unwrap_err();
    assert!(err.contains("the cluster label `cluster-id` is not a Prometheus label name"), "{err}");
    assert_eq!(s.calls(), ["docker version --format {{.Server.Version}}"]);
}

#[test]
fn down_deletes_every_stamped_cluster() {
    let s = Standins::new(false);
    let out = s.root().join("out").display().to_string();
    let args = ["down", "--out", &out, "--clusters", "3"].map(str::to_owned);
    s.execute(&plan(&args)).unwrap();
    let kc = format!("{out}/kubeconfig");
    let mut expected = vec!["docker version --format {{.Server.Version}}".to_owned()];
    for name in ["cluster-a-001", "cluster-b-001", "cluster-c-001"] {
        expected.push(format!("kind delete cluster --name {name} --kubeconfig {kc}"));
    }
    assert_eq!(s.calls(), expected);
}

#[test]
fn without_a_docker_engine_up_and_down_stop_at_the_check() {
    for down in [false, true] {
        let s = Standins::new(true);
        let args = if down {
            ["down", "--out", &s.root().join("out").display().to_string()].map(str::to_owned).to_vec()
        } else {
            up_args(&s).0
        };
        let err = s.execute(&plan(&args)).unwrap_err();
        assert_eq!(err, NO_DOCKER.replace("{detail}", NO_DAEMON));
        assert_eq!(err, format!("no Docker engine answers: {NO_DAEMON}; the kind provider needs Docker"));
        assert_eq!(s.calls(), ["docker version --format {{.Server.Version}}"], "nothing ran after the check");
    }
}

#[test]
fn refused_input_is_reported_after_the_docker_check() {
    let bad_url = [
        "up",
        "--out",
        "/nonexistent",
        "--amp-url",
        "http://h:1/x",
        "--workspace",
        "w",
        "--credentials",
        "c",
    ];
    let missing_file = [
        "up",
        "--out",
        "/nonexistent",
        "--amp-url",
        "http://h:1",
        "--workspace",
        "w",
        "--credentials",
        "/nonexistent/amp.env",
    ];
    let cases: [(&[&str], &str); 3] = [
        (&["up", "--out", "/nonexistent"], "`kind up` needs --amp-url"),
        (&bad_url, "must be only scheme, host and port"),
        (&missing_file, "--credentials /nonexistent/amp.env is not a file"),
    ];
    for (args, says) in cases {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let s = Standins::new(false);
        let err = s.execute(&plan(&args)).unwrap_err();
        assert!(err.contains(says), "{err}");
        assert_eq!(s.calls(), ["docker version --format {{.Server.Version}}"]);
        let without_docker = Standins::new(true);
        let err = without_docker.execute(&plan(&args)).unwrap_err();
        assert!(err.starts_with("no Docker engine answers: "), "{err}");
    }
}
