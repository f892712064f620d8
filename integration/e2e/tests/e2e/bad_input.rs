//! A broken fixture or rules file fails the run before any service starts, naming file, line
//! and field.

use ampfed_e2e::{path, Options};

/// A copy of the repository's fixtures.
fn copy_fixtures(dir: &ampfed_test_support::TempDir) {
    let fixtures = ampfed_common::paths::fixtures_dir();
    for sub in ["clusters", "prices", "rules"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(fixtures.join(sub)).unwrap() {
            let from = entry.unwrap().path();
            std::fs::copy(&from, dir.path().join(sub).join(from.file_name().unwrap())).unwrap();
        }
    }
}

/// The run's options over `dir`, with a Prometheus that would fail the run were it started.
fn options_without_prometheus(dir: &ampfed_test_support::TempDir) -> Options {
    let mut options = Options::from_env();
    options.fixtures = dir.path().to_owned();
    options.env.providers.backend = ampfed_e2e::Backend::Host(Some(dir.path().join("no-such-prometheus")));
    options
}

#[test]
fn a_broken_fixture_fails_before_the_environment_starts() {
    let dir = ampfed_test_support::TempDir::new("bad-fixture");
    copy_fixtures(&dir);
    let broken = dir.path().join("clusters/cluster-b.yaml");
    let text = std::fs::read_to_string(&broken).unwrap();
    let bad = text.replacen("    replicas: 2", "    replicas: 0", 1);
    let line = bad.lines().position(|l| l == "    replicas: 0").unwrap() + 1;
    std::fs::write(&broken, bad).unwrap();

    let options = options_without_prometheus(&dir);
    let err = crate::runtime().block_on(path::run(&options)).expect_err("a broken fixture fails");
    // Exit code 2: bad input, nothing started.
    assert_eq!(ampfed_e2e::classify(&err), ampfed_e2e::Failure::BadInput);
    let text = crate::chain(&err);
    assert!(text.contains(&format!("cluster-b.yaml:{line}:5: `workloads[1].replicas`")), "{text}");
    assert!(text.contains("expected at least 1"), "{text}");
    assert!(!text.contains("no-such-prometheus"), "{text}");
}

#[test]
fn a_broken_rules_file_fails_before_the_environment_starts() {
    let dir = ampfed_test_support::TempDir::new("bad-rules");
    copy_fixtures(&dir);
    let rules = dir.path().join("rules/kubecost-amp.yaml");
    let text = std::fs::read_to_string(&rules).unwrap();
    // One rule's expression cut short: `sum(` never closes.
    let (line, original) = text.lines().enumerate().find(|(_, l)| l.contains("expr: ")).unwrap();
    let at = original.find("expr: ").unwrap() + "expr: ".len();
    let broken = text.replacen(original, &format!("{}sum(", &original[..at]), 1);
    std::fs::write(&rules, broken).unwrap();
    let err = crate::runtime()
        .block_on(path::run(&options_without_prometheus(&dir)))
        .expect_err("broken rules fail");
    assert_eq!(ampfed_e2e::classify(&err), ampfed_e2e::Failure::BadInput);
    let text = crate::chain(&err);
    assert!(text.contains(&format!("kubecost-amp.yaml:{}:", line + 1)) && text.contains("expr"), "{text}");
    assert!(text.contains("step 'rules' failed"), "{text}");
    assert!(!text.contains("no-such-prometheus"), "{text}");
}
