//! `rules lint` on the repository's rules (good: no error, the guide's `container_name`
//! warnings for the modern cluster) and on a broken file (every problem at its line and
//! column, the field named), snapshotted; and `rules test`'s promtool unit test run by
//! promtool: every record produces a series on the fixtures' clusters, and with modern labels
//! the five `container_name` rules produce nothing, as lint warns.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ampfed_clustersim::LabelStyle;
use ampfed_e2e::rules_cmd::{lint, promtool, simulated};

/// The broken file: one problem of each kind AMP refuses, and a second group of the same name.
const BROKEN: &str = r#"groups:
  - name: cpu
    interval: 5x
    rules:
      - record: 1cpu:usage
        expr: sum(rate(container_cpu_usage_seconds_total[5m]))
      - record: cpu:usage:sum
        expr: sum(rate(container_cpu_usage_seconds_total{container!=""}[5m])
      - record: memory:usage
        expr: sum(container_memory_working_set_bytes)
        annotations:
          summary: no annotations on a recording rule
      - record: ok:rule
        expr: up
        colour: red
  - name: cpu
    rules:
      - record: node:count
        expr: count(kube_node_info)
        labels:
          "bad-label": x
"#;

fn snapshot(name: &str, text: &str) {
    crate::diagnose::suite_snapshots().bind(|| match name {
        "rules_lint_fixtures" => insta::assert_snapshot!("rules_lint_fixtures", text),
        "rules_lint_broken" => insta::assert_snapshot!("rules_lint_broken", text),
        other => panic!("no snapshot named {other}"),
    });
}

fn fixture_rules() -> PathBuf {
    ampfed_common::paths::fixtures_dir().join("rules/kubecost-amp.yaml")
}

fn labels(style: Option<LabelStyle>) -> lint::Labels {
    let sims = simulated::simulate(&ampfed_common::paths::fixtures_dir(), style, "cluster_id", 3600).unwrap();
    let source =
        style.map_or("each fixture's label style".to_owned(), |s| format!("--label-style {}", s.as_str()));
    lint::Labels::new(simulated::labels(&sims), source)
}

#[test]
fn the_guide_rules_lint_clean_but_warn_of_container_name_on_the_modern_cluster() {
    let linted = lint::lint(&[fixture_rules()], &labels(None));
    assert_eq!((linted.errors(), linted.rules), (0, 9));
    // Five rules select container_name (lines 8–16 of the file); cluster-c alone is modern.
    let lines: Vec<usize> = linted.findings.iter().filter_map(|f| f.line).collect();
    assert_eq!(lines, [8, 10, 12, 12, 14, 14, 16]);
    assert!(linted
        .findings
        .iter()
        .all(|f| f.message.contains(" cluster-c carries") && !f.message.contains("cluster-a")));
    let root = ampfed_common::paths::workspace_root().display().to_string();
    snapshot("rules_lint_fixtures", &linted.to_text().replace(&root, "<repo>"));
    // Legacy labels on every cluster: container_name is there, nothing to warn of.
    let legacy = lint::lint(&[fixture_rules()], &labels(Some(LabelStyle::Legacy)));
    assert_eq!((legacy.errors(), legacy.warnings()), (0, 0), "{}", legacy.to_text());
}

#[test]
fn a_broken_rules_file_names_every_problem_by_file_line_and_field() {
    let dir = ampfed_test_support::TempDir::new("rules-lint");
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let linted = lint::lint(std::slice::from_ref(&file), &labels(None));
    let at: Vec<(usize, usize, &str)> = linted
        .findings
        .iter()
        .map(|f| (f.line.unwrap_or(0), f.column.unwrap_or(0), f.field.as_str()))
        .collect();
    // Lines and columns counted in BROKEN by hand.
    assert_eq!(
        at,
        [
            (3, 5, "groups[0].interval"),
            (5, 9, "groups[0].rules[0].record"),
            (8, 9, "groups[0].rules[1].expr"),
            (11, 9, "groups[0].rules[2].annotations"),
            (15, 9, "groups[0].rules[3].colour"),
            (16, 5, "groups[1].name"),
            (20, 9, "groups[1].rules[0].labels"),
        ]
    );
    assert_eq!((linted.errors(), linted.warnings()), (7, 0));
    let text = linted.to_text().replace(&dir.path().display().to_string(), "<dir>");
    assert!(
        text.starts_with("<dir>/broken.yaml:3:5: `groups[0].interval`: invalid duration \"5x\"; expected"),
        "{text}"
    );
    snapshot("rules_lint_broken", &text);
}

#[test]
fn promtool_evaluates_the_rules_on_the_simulated_series() {
    let dir = ampfed_test_support::TempDir::new("rules-test");
    let records: std::collections::BTreeSet<String> = [
        "cluster:cpu_usage:rate5m",
        "cluster:cpu_usage_nosum:rate5m",
        "kubecost_cluster_memory_working_set_bytes",
        "kubecost_container_cpu_usage_irate",
        "kubecost_container_memory_working_set_bytes",
        "kubecost_savings_cpu_allocation",
        "kubecost_savings_memory_allocation_bytes",
    ]
    .map(String::from)
    .into();
    let run = |style: Option<LabelStyle>, sub: &str| {
        let sims =
            simulated::simulate(&ampfed_common::paths::fixtures_dir(), style, "cluster_id", 15 * 60).unwrap();
        let written =
            promtool::write_test(&[fixture_rules()], &records, &sims, 15, &dir.path().join(sub)).unwrap();
        assert_eq!((written.records.len(), written.eval_minute), (7, 14));
        ampfed_test_support::run_bounded(
            Command::new("promtool").args(["test", "rules"]).arg(&written.path),
            Duration::from_secs(60),
        )
        .expect("promtool (Debian's prometheus package; `cargo xtask setup`)")
    };
    let fixtures = run(None, "fixtures");
    assert!(fixtures.success(), "{}{}", fixtures.stdout, fixtures.stderr);
    let modern = run(Some(LabelStyle::Modern), "modern");
    assert!(!modern.success());
    let output = format!("{}{}", modern.stdout, modern.stderr);
    let failed: Vec<&str> =
        records.iter().map(String::as_str).filter(|r| output.contains(&format!("absent({r})"))).collect();
    // Exactly the five rules that select container_name, which modern cAdvisor lacks.
    assert_eq!(
        failed,
        [
            "cluster:cpu_usage:rate5m",
            "cluster:cpu_usage_nosum:rate5m",
            "kubecost_cluster_memory_working_set_bytes",
            "kubecost_container_cpu_usage_irate",
            "kubecost_container_memory_working_set_bytes",
        ]
    );
}
