//! The command sequence of `cargo xtask kind up|down`, as data: which programs run, with
//! which arguments, in which order. The xtask runs the steps with xshell and stops at the
//! first failure; the tests run them against stand-in programs.
//!
//! `up`: is a Docker engine answering (`docker version`, which asks the daemon)? Then per
//! cluster: `kind create cluster` from its config (into a kubeconfig of its own, not the
//! user's), `kubectl apply` of the namespaces, the AMP credentials Secret from the
//! `--credentials` file, for each worker with GPUs a `kubectl patch` of its node status that
//! advertises them (`nvidia.com/gpu`), `kubectl apply` of the workloads, and
//! `kubectl rollout status` of every Deployment, StatefulSet and DaemonSet (Jobs, CronJobs and
//! bare Pods are not waited for: they run for hours of the fixture's day, or on a schedule).
//! `down`: the same Docker check, then `kind delete cluster` each. The fixture's timed events
//! are not steps: the plan has no clock (see `events`).
//!
//! Between the plan's printer (`ampfed-kind-plan`) and the runner each step is one line of
//! tab-separated fields: `run`, program, arguments; `probe`, the message to give when it
//! fails (`{detail}` stands for what the program said), program, arguments; or `fail` and a
//! message, for input the printer refused (after the Docker check, which always comes first).

use std::path::Path;

use crate::config::WorkerGpus;
use crate::render::ClusterFiles;
use crate::stack;
use crate::workloads::Rollout;

/// What the runner says when no Docker engine answers.
pub const NO_DOCKER: &str = "no Docker engine answers: {detail}; the kind provider needs Docker";

/// Why a plan line could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("`{field}` holds a tab or a line break, which a plan line cannot carry")]
    Unprintable { field: String },
    #[error("not a plan line: `{line}` (expected `run`, `probe` or `fail` and tab-separated fields)")]
    Malformed { line: String },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run a program; the run stops when it fails.
    Run { program: String, args: Vec<String> },
    /// Run a program as a check: when it fails the run stops with `message`, `{detail}`
    /// replaced by what the program said.
    Probe { program: String, args: Vec<String>, message: String },
    /// Stop with `message` (the input was refused; the checks before it still run first).
    Fail { message: String },
}

impl Step {
    pub fn run<S: Into<String>>(program: &str, args: impl IntoIterator<Item = S>) -> Step {
        Step::Run { program: program.to_owned(), args: args.into_iter().map(Into::into).collect() }
    }

    /// The program and arguments as one line, for logs (a `Fail` gives its message).
    pub fn display(&self) -> String {
        match self {
            Step::Run { program, args } | Step::Probe { program, args, .. } => {
                std::iter::once(program.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            Step::Fail { message } => message.clone(),
        }
    }

    /// What the run says when this step fails, `detail` being the program's error output.
    pub fn failure_message(&self, detail: &str) -> String {
        match self {
            Step::Run { .. } => format!("`{}` failed: {detail}", self.display()),
            Step::Probe { message, .. } => message.replace("{detail}", detail),
            Step::Fail { message } => message.clone(),
        }
    }

    /// The step as one plan line.
    pub fn to_line(&self) -> Result<String, PlanError> {
        let mut fields: Vec<&str> = Vec::new();
        match self {
            Step::Run { program, args } => {
                fields.extend(["run", program]);
                fields.extend(args.iter().map(String::as_str));
            }
            Step::Probe { program, args, message } => {
                fields.extend(["probe", message, program]);
                fields.extend(args.iter().map(String::as_str));
            }
            Step::Fail { message } => fields.extend(["fail", message]),
        }
        if let Some(bad) = fields.iter().find(|f| f.contains(['\t', '\n', '\r'])) {
            return Err(PlanError::Unprintable { field: (*bad).to_owned() });
        }
        Ok(fields.join("\t"))
    }

    /// Reads a plan line.
    pub fn from_line(line: &str) -> Result<Step, PlanError> {
        let malformed = || PlanError::Malformed { line: line.to_owned() };
        let mut fields = line.split('\t');
        let tag = fields.next();
        let mut message = || fields.next().filter(|m| !m.is_empty()).map(str::to_owned).ok_or_else(malformed);
        let message = match tag {
            Some("run") => None,
            Some("probe") => Some(message()?),
            Some("fail") => {
                let message = message()?;
                return match fields.next() {
                    None => Ok(Step::Fail { message }),
                    Some(_) => Err(malformed()),
                };
            }
            _ => return Err(malformed()),
        };
        let program = fields.next().filter(|p| !p.is_empty()).ok_or_else(malformed)?.to_owned();
        let args = fields.map(str::to_owned).collect();
        Ok(match message {
            None => Step::Run { program, args },
            Some(message) => Step::Probe { program, args, message },
        })
    }
}

/// Asks the Docker daemon for its version: fails when no engine answers, whatever the client.
pub fn docker_probe() -> Step {
    Step::Probe {
        program: "docker".to_owned(),
        args: vec!["version".into(), "--format".into(), "{{.Server.Version}}".into()],
        message: NO_DOCKER.to_owned(),
    }
}

/// The plan when the input is refused: the Docker check still comes first (without Docker
/// nothing else matters), then the reason.
pub fn refused(reason: &str) -> Vec<Step> {
    vec![docker_probe(), Step::Fail { message: reason.replace(['\t', '\n', '\r'], " ") }]
}

/// One cluster to bring up: its name, its written files, its rollouts, its workers with GPUs.
#[derive(Debug, Clone)]
pub struct UpCluster<'a> {
    pub name: &'a str,
    pub files: &'a ClusterFiles,
    pub rollouts: &'a [Rollout],
    pub gpu_workers: &'a [WorkerGpus],
}

/// What `up` needs besides the clusters.
#[derive(Debug, Clone)]
pub struct UpSettings<'a> {
    /// The kubeconfig kind writes and kubectl reads (the user's own stays untouched).
    pub kubeconfig: &'a Path,
    /// An env file with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
    /// `AWS_SESSION_TOKEN`, for the Secret.
    pub credentials: &'a Path,
    /// How long `kind create cluster` waits for the control plane, in seconds.
    pub create_wait_secs: u64,
    /// How long each `kubectl rollout status` waits, in seconds.
    pub rollout_timeout_secs: u64,
}

fn text(p: &Path) -> String {
    p.display().to_string()
}

fn kubectl(kubeconfig: &Path, cluster: &str, rest: &[String]) -> Step {
    let mut args =
        vec!["--kubeconfig".to_owned(), text(kubeconfig), "--context".to_owned(), format!("kind-{cluster}")];
    args.extend(rest.iter().cloned());
    Step::run("kubectl", args)
}

/// The steps of `cargo xtask kind up`.
pub fn up(clusters: &[UpCluster<'_>], settings: &UpSettings<'_>) -> Vec<Step> {
    let kc = settings.kubeconfig;
    let mut steps = vec![docker_probe()];
    for c in clusters {
        steps.push(Step::run(
            "kind",
            [
                "create".to_owned(),
                "cluster".to_owned(),
                "--name".to_owned(),
                c.name.to_owned(),
                "--config".to_owned(),
                text(&c.files.kind_config),
                "--kubeconfig".to_owned(),
                text(kc),
                "--wait".to_owned(),
                format!("{}s", settings.create_wait_secs),
            ],
        ));
        steps.push(kubectl(kc, c.name, &["apply".into(), "-f".into(), text(&c.files.namespaces)]));
        steps.push(kubectl(
            kc,
            c.name,
            &[
                "--namespace".into(),
                stack::NAMESPACE.into(),
                "create".into(),
                "secret".into(),
                "generic".into(),
                stack::SECRET.into(),
                format!("--from-env-file={}", text(settings.credentials)),
            ],
        ));
        for g in c.gpu_workers {
            steps.push(kubectl(
                kc,
                c.name,
                &[
                    "patch".into(),
                    "node".into(),
                    g.node.clone(),
                    "--subresource=status".into(),
                    "--type=json".into(),
                    format!("--patch={}", g.status_patch()),
                ],
            ));
        }
        steps.push(kubectl(kc, c.name, &["apply".into(), "-f".into(), text(&c.files.workloads)]));
        for r in c.rollouts {
            steps.push(kubectl(
                kc,
                c.name,
                &[
                    "--namespace".into(),
                    r.namespace.clone(),
                    "rollout".into(),
                    "status".into(),
                    r.resource(),
                    format!("--timeout={}s", settings.rollout_timeout_secs),
                ],
            ));
        }
    }
    steps
}

/// The steps of `cargo xtask kind down`.
pub fn down(clusters: &[&str], kubeconfig: &Path) -> Vec<Step> {
    let mut steps = vec![docker_probe()];
    for name in clusters {
        steps.push(Step::run(
            "kind",
            ["delete", "cluster", "--name", name, "--kubeconfig", &text(kubeconfig)],
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let steps =
            [docker_probe(), Step::run("kind", ["get", "clusters"]), Step::Fail { message: "no".into() }];
        for step in steps {
            assert_eq!(Step::from_line(&step.to_line().unwrap()).unwrap(), step);
        }
        assert_eq!(
            docker_probe().to_line().unwrap(),
            format!("probe\t{NO_DOCKER}\tdocker\tversion\t--format\t{{{{.Server.Version}}}}")
        );
    }

    #[test]
    fn bad_lines_and_fields_are_refused() {
        for line in ["exec\tls", "run", "run\t", "probe\tmessage only", "fail", "fail\ta\tb"] {
            assert!(Step::from_line(line).is_err(), "{line:?}");
        }
        assert!(Step::run("kind", ["a\tb"]).to_line().is_err());
    }

    #[test]
    fn failure_messages_name_the_detail() {
        let m = docker_probe().failure_message("Cannot connect to the Docker daemon");
        assert_eq!(
            m,
            "no Docker engine answers: Cannot connect to the Docker daemon; the kind provider needs Docker"
        );
        assert_eq!(Step::run("kind", ["version"]).failure_message("boom"), "`kind version` failed: boom");
        assert_eq!(refused("pass --amp-url\nplease")[1].failure_message(""), "pass --amp-url please");
    }
}
