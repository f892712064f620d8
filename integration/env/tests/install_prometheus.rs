//! `scripts/install-prometheus.sh` on a pretend Debian host: stand-ins for `apt-get`,
//! `systemctl` and `deb-systemd-invoke` (in `tests/install_prometheus/`) record how they are
//! called and keep unit state in files, and the script's system paths (`policy-rc.d`, the
//! systemd run directory) point into a temp dir. No real package is installed and no real
//! service is touched.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ampfed_test_support::{run_bounded, Finished, TempDir};

/// The tools the script and the stand-ins need from the real system; nothing else is on `PATH`
/// (in particular not the machine's own `prometheus`).
const SYSTEM_TOOLS: &[&str] =
    &["sh", "bash", "cat", "chmod", "cp", "dirname", "grep", "head", "mv", "rm", "tee", "touch"];
const STAND_INS: &[&str] = &["apt-get", "systemctl", "deb-systemd-invoke", "id"];

/// A pretend host: `bin/` (the `PATH`), `state/` (the stand-ins' records), `root/` (where
/// `policy-rc.d` and the systemd run directory live).
struct Host {
    dir: TempDir,
    systemd: bool,
}

impl Host {
    fn new(label: &str, systemd: bool) -> Host {
        let dir = TempDir::new(label);
        let host = Host { dir, systemd };
        for sub in ["bin", "state/units", "state/enabled", "state/active", "root/usr/sbin"] {
            fs::create_dir_all(host.dir.join(sub)).unwrap();
        }
        if systemd {
            fs::create_dir_all(host.systemd_dir()).unwrap();
        }
        for tool in SYSTEM_TOOLS {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
            std::os::unix::fs::symlink(real, host.bin().join(tool)).unwrap();
        }
        for stand_in in STAND_INS {
            install(&fixtures().join(stand_in), &host.bin().join(stand_in));
        }
        fs::write(host.dir.join("state/calls"), "").unwrap();
        host
    }

    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("root/usr/sbin/policy-rc.d")
    }

    fn systemd_dir(&self) -> PathBuf {
        self.dir.join("root/run/systemd/system")
    }

    /// Prometheus is installed already, and `units` are enabled and running.
    fn with_services_running(self, units: &[&str]) -> Host {
        install(&fixtures().join("prometheus"), &self.bin().join("prometheus"));
        for (sub, unit) in
            ["units", "enabled", "active"].iter().flat_map(|s| units.iter().map(move |u| (s, u)))
        {
            fs::write(self.dir.join("state").join(sub).join(unit), "").unwrap();
        }
        self
    }

    fn run(&self) -> Finished {
        let script = ampfed_common::paths::workspace_root().join("scripts/install-prometheus.sh");
        let mut cmd = Command::new(self.bin().join("bash"));
        cmd.arg(script)
            .env_clear()
            .env("PATH", self.bin())
            .env("AMPFED_POLICY_RC_D", self.policy())
            .env("AMPFED_SYSTEMD_DIR", self.systemd_dir())
            .env("AMPFED_TEST_STATE", self.dir.join("state"))
            .env("AMPFED_TEST_BIN", self.bin())
            .env("AMPFED_TEST_FIXTURES", fixtures());
        if self.systemd {
            cmd.env("AMPFED_TEST_SYSTEMD_RUNNING", "1");
        }
        let done = run_bounded(&mut cmd, Duration::from_secs(60)).expect("the script finishes");
        assert!(
            done.success(),
            "the script failed: {}\n{}\ncalls:\n{}",
            done.status,
            done.stderr,
            self.calls()
        );
        done
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.join("state/calls")).unwrap_or_default()
    }

    fn unit(&self, what: &str, unit: &str) -> bool {
        self.dir.join("state").join(what).join(unit).exists()
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/install_prometheus")
}

fn install(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_fresh_install_on_systemd_denies_service_starts_then_disables_the_service() {
    let host = Host::new("install-prom-systemd", true);
    let done = host.run();
    let calls = host.calls();
    assert!(
        calls.contains("apt-get install -y -qq --no-install-recommends prometheus"),
        "apt-get was not asked to install prometheus without recommends:\n{calls}"
    );
    assert!(
        calls.contains("policy-rc.d during install: exits 101"),
        "no policy-rc.d denied starts:\n{calls}"
    );
    assert!(calls.contains("deb-systemd-invoke: start prometheus.service denied by policy-rc.d"), "{calls}");
    assert!(calls.contains("systemctl disable --now prometheus.service"), "{calls}");
    assert!(!host.policy().exists(), "policy-rc.d was left behind");
    assert!(!host.unit("enabled", "prometheus.service") && !host.unit("active", "prometheus.service"));
    assert!(
        done.stderr.contains("disabled prometheus.service"),
        "the script did not say so:\n{}",
        done.stderr
    );
    // Recommends were not installed, so there is no node exporter service to stop.
    assert!(!calls.contains("apt-get install -y -qq prometheus"), "{calls}");
    assert!(!host.unit("units", "prometheus-node-exporter.service"));
}

#[test]
fn an_existing_policy_rc_d_is_restored_after_the_install() {
    let host = Host::new("install-prom-policy", true);
    let theirs = "#!/bin/sh\n# the host's own policy\nexit 0\n";
    fs::write(host.policy(), theirs).unwrap();
    fs::set_permissions(host.policy(), fs::Permissions::from_mode(0o755)).unwrap();
    host.run();
    let calls = host.calls();
    assert!(calls.contains("policy-rc.d during install: exits 101"), "{calls}");
    assert_eq!(fs::read_to_string(host.policy()).unwrap(), theirs, "the host's policy-rc.d was not restored");
    let siblings: Vec<String> = fs::read_dir(host.policy().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(siblings, ["policy-rc.d"], "the script left files next to policy-rc.d");
}

#[test]
fn an_installed_prometheus_with_its_services_running_gets_them_stopped_and_disabled() {
    let units = ["prometheus.service", "prometheus-node-exporter.service"];
    let host = Host::new("install-prom-running", true).with_services_running(&units);
    let done = host.run();
    let calls = host.calls();
    assert!(!calls.contains("apt-get"), "nothing needed installing:\n{calls}");
    for unit in units {
        assert!(calls.contains(&format!("systemctl disable --now {unit}")), "{calls}");
        assert!(!host.unit("enabled", unit) && !host.unit("active", unit), "{unit} still enabled or active");
        assert!(done.stderr.contains(&format!("disabled {unit}")), "{}", done.stderr);
    }
}

#[test]
fn without_systemd_nothing_is_disabled() {
    let host = Host::new("install-prom-no-systemd", false);
    let done = host.run();
    let calls = host.calls();
    assert!(calls.contains("policy-rc.d during install: exits 101"), "{calls}");
    assert!(!calls.contains("systemctl disable"), "{calls}");
    assert!(!host.policy().exists(), "policy-rc.d was left behind");
    assert!(!done.stderr.contains("disabled"), "{}", done.stderr);
}
