//! The rendered manifests checked against the Kubernetes JSON schemas of the node image's
//! release (`versions::KUBERNETES`), strictly (unknown fields are errors), by
//! `kubernetes-validate` from its pinned venv (`scripts/install-kube-validate.sh`, which
//! `cargo xtask setup` runs). The package carries the schemas, so this runs offline.
//!
//! Without the venv the tests say so and pass, except under `CI`, where the setup must have
//! installed it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ampfed_kind::{render, scale, versions, AmpTarget, Options};
use ampfed_test_support::{run_bounded, Finished, TempDir};

const LIMIT: Duration = Duration::from_secs(120);

/// The validator, or `None` (with a message) when it is not installed outside CI.
fn validator() -> Option<PathBuf> {
    let bin = ampfed_common::paths::cache_dir().join("kube-validate-venv/bin/kubernetes-validate");
    if bin.is_file() {
        return Some(bin);
    }
    let fix = "run `cargo xtask setup` (or `bash scripts/install-kube-validate.sh`) to install it";
    assert!(std::env::var_os("CI").is_none(), "{} is missing under CI; {fix}", bin.display());
    eprintln!("skipped: {} is not installed; {fix}", bin.display());
    None
}

fn validate(bin: &Path, files: &[PathBuf]) -> Finished {
    let mut cmd = Command::new(bin);
    cmd.args(["--strict", "--kubernetes-version", versions::KUBERNETES]).args(files);
    run_bounded(&mut cmd, LIMIT).expect("kubernetes-validate runs")
}

/// Objects in a rendered file: every document follows a `---` line.
fn documents(text: &str) -> usize {
    text.lines().filter(|l| *l == "---").count()
}

#[test]
fn the_fixtures_manifests_and_stamped_ones_validate_strictly() {
    let Some(bin) = validator() else { return };
    let fixtures =
        ampfed_clustersim::load_clusters_dir(&ampfed_common::paths::fixtures_dir().join("clusters")).unwrap();
    let options = Options::new(AmpTarget::new("http://host.docker.internal:9095", "ws-ampfed").unwrap());
    let dir = TempDir::new("kind-schema");
    let mut files = Vec::new();
    let mut expected = 0;
    let mut clusters = scale(&fixtures, None);
    clusters.extend(scale(&fixtures, Some(6)));
    for c in &clusters {
        let r = render(c, &options).unwrap();
        expected += documents(&r.namespaces) + documents(&r.workloads);
        let written = r.write(dir.path()).unwrap();
        files.extend([written.namespaces, written.workloads]);
    }
    let done = validate(&bin, &files);
    assert!(done.success(), "kubernetes-validate failed:\n{}\n{}", done.stdout, done.stderr);
    let passed = done.stdout.lines().filter(|l| l.contains(" passed for resource ")).count();
    let against =
        format!("against version {}", &versions::KUBERNETES[..versions::KUBERNETES.rfind('.').unwrap()]);
    assert!(done.stdout.contains(&against), "{}", done.stdout);
    assert_eq!(passed, expected, "every rendered object is checked:\n{}", done.stdout);
}

#[test]
fn an_unknown_field_fails_validation() {
    let Some(bin) = validator() else { return };
    let dir = TempDir::new("kind-schema-bad");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: shop}\nspec:\n  \
         selector: {matchLabels: {a: x}}\n  template:\n    metadata: {labels: {a: x}}\n    spec:\n      \
         containers: [{name: a, image: registry.k8s.io/pause:3.9, cpu_request: 1}]\n",
    )
    .unwrap();
    let done = validate(&bin, &[file]);
    assert!(!done.success(), "an unknown field passed:\n{}", done.stdout);
    assert!(done.stdout.contains("'cpu_request' was unexpected"), "{}\n{}", done.stdout, done.stderr);
}
