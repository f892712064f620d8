//! `cargo xtask kind up|down [--clusters N]`: the kind provider, for machines with Docker. The
//! plan (and, for `up`, the rendered kind configs and manifests under
//! `<cache dir>/kind/`) comes from the `ampfed-kind-plan` binary of `integration/kind`; this
//! runner only runs its steps in order with xshell and stops at the first failure. The first
//! step asks the Docker daemon for its version, so without an engine it stops at once with
//! "no Docker engine answers: …; the kind provider needs Docker".

use anyhow::{bail, Context};
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Kind {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let out = ampfed_common::paths::cache_dir().join("kind");
        let mut args = vec![
            match self.action {
                flags::KindAction::Up => "up".to_owned(),
                flags::KindAction::Down => "down".to_owned(),
            },
            "--out".to_owned(),
            out.display().to_string(),
            format!("--rollout-timeout={}", self.rollout_timeout),
        ];
        if let Some(n) = self.clusters {
            args.push(format!("--clusters={n}"));
        }
        if let Some(url) = &self.amp_url {
            args.push(format!("--amp-url={url}"));
        }
        if let Some(ws) = &self.workspace {
            args.push(format!("--workspace={ws}"));
        }
        if let Some(label) = &self.cluster_label {
            args.push(format!("--cluster-label={label}"));
        }
        if let Some(file) = &self.credentials {
            args.push(format!("--credentials={}", file.display()));
        }
        let cargo = crate::tools::cargo();
        let plan = cmd!(sh, "{cargo} run -q -p ampfed-kind --bin ampfed-kind-plan -- {args...}")
            .read()
            .context("render the kind clusters and their plan")?;
        execute(sh, &plan)
    }
}

/// Runs a plan printed by `ampfed-kind-plan`: one step a line, tab-separated: `run` program
/// args…; `probe` message program args… (a check; its failure stops the run with the message,
/// `{detail}` replaced by the program's error output); `fail` message.
fn execute(sh: &Shell, plan: &str) -> anyhow::Result<()> {
    for line in plan.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let (message, program) = match fields.next() {
            Some("run") => (None, fields.next()),
            Some("probe") => (fields.next(), fields.next()),
            Some("fail") => bail!("{}", fields.next().unwrap_or("the kind plan was refused")),
            _ => bail!("not a plan line from ampfed-kind-plan: {line:?}"),
        };
        let Some(program) = program.filter(|p| !p.is_empty()) else {
            bail!("not a plan line from ampfed-kind-plan: {line:?}");
        };
        let args: Vec<&str> = fields.collect();
        let shown = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
        let Some(message) = message else {
            cmd!(sh, "{program} {args...}").run().with_context(|| format!("`{shown}` failed"))?;
            continue;
        };
        let detail = match cmd!(sh, "{program} {args...}").quiet().ignore_status().output() {
            Ok(done) if done.status.success() => continue,
            Ok(done) => {
                let stderr = String::from_utf8_lossy(&done.stderr).trim().to_owned();
                if stderr.is_empty() {
                    format!("`{shown}` exited with {}", done.status)
                } else {
                    stderr
                }
            }
            Err(e) => format!("cannot run `{program}`: {e}"),
        };
        bail!("{}", message.replace("{detail}", &detail));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const NO_DAEMON: &str =
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
    const PROBE: &str = "probe\tno Docker engine answers: {detail}; the kind provider needs Docker\t\
                         docker\tversion\t--format\t{{.Server.Version}}";

    /// A shell whose `PATH` starts with stand-in `docker`, `kind` and `kubectl` scripts that
    /// log their arguments; `docker` fails like a client without a daemon when `docker_down`.
    struct Standins {
        dir: PathBuf,
        sh: Shell,
    }

    impl Standins {
        fn new(label: &str, docker_down: bool) -> Standins {
            let dir = std::env::temp_dir().join(format!("ampfed-xtask-kind-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let bin = dir.join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let log = dir.join("calls.log");
            for name in ["docker", "kind", "kubectl"] {
                let fail = if name == "docker" && docker_down {
                    format!("echo '{NO_DAEMON}' >&2\nexit 1\n")
                } else {
                    String::new()
                };
                let script = format!(
                    "#!/bin/sh\nprintf '%s' {name} >> '{log}'\nfor a in \"$@\"; do printf ' %s' \"$a\" >> '{log}'; done\n\
                     echo >> '{log}'\n{fail}exit 0\n",
                    log = log.display()
                );
                let path = bin.join(name);
                std::fs::write(&path, script).unwrap();
                let mut perms = std::fs::metadata(&path).unwrap().permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
                std::fs::set_permissions(&path, perms).unwrap();
            }
            let sh = Shell::new().unwrap();
            let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
            sh.set_var("PATH", path);
            Standins { dir, sh }
        }

        fn calls(&self) -> Vec<String> {
            let log = std::fs::read_to_string(self.dir.join("calls.log")).unwrap_or_default();
            log.lines().map(str::to_owned).collect()
        }
    }

    impl Drop for Standins {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn runs_the_steps_in_order_through_the_path() {
        let s = Standins::new("order", false);
        let plan = format!(
            "{PROBE}\nrun\tkind\tcreate\tcluster\t--name\tcluster-a\t--config\t/k dir/kind.yaml\n\
             run\tkubectl\t--context\tkind-cluster-a\tapply\t-f\t/k dir/workloads.yaml\n"
        );
        execute(&s.sh, &plan).unwrap();
        assert_eq!(
            s.calls(),
            [
                "docker version --format {{.Server.Version}}",
                "kind create cluster --name cluster-a --config /k dir/kind.yaml",
                "kubectl --context kind-cluster-a apply -f /k dir/workloads.yaml",
            ]
        );
    }

    #[test]
    fn without_a_docker_engine_it_stops_at_the_check_with_the_message() {
        let s = Standins::new("nodocker", true);
        let plan = format!("{PROBE}\nrun\tkind\tcreate\tcluster\t--name\tcluster-a\n");
        let err = execute(&s.sh, &plan).unwrap_err().to_string();
        assert_eq!(err, format!("no Docker engine answers: {NO_DAEMON}; the kind provider needs Docker"));
        assert_eq!(s.calls(), ["docker version --format {{.Server.Version}}"]);
    }

    #[test]
    fn a_failed_step_and_a_refused_plan_stop_the_run() {
        let s = Standins::new("fail", false);
        let err =
            execute(&s.sh, &format!("{PROBE}\nfail\tpass --amp-url\nrun\tkind\tversion\n")).unwrap_err();
        assert_eq!(err.to_string(), "pass --amp-url");
        assert_eq!(s.calls(), ["docker version --format {{.Server.Version}}"]);
        let err = execute(&s.sh, "run\tsh\t-c\texit 3\nrun\tkind\tversion\n").unwrap_err();
        assert_eq!(err.to_string(), "`sh -c exit 3` failed");
        assert!(execute(&s.sh, "exec\tls\n").is_err());
    }
}
