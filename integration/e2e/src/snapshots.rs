//! The reviewed snapshots: allocation (CPU and RAM) by namespace and by cluster, complete costs
//! with idle by cluster and by namespace, assets and the idle balance per cluster, and the
//! recorded rule series.
//! Deterministic by construction: fixed simulated clock, sorted keys, floats rounded to five
//! decimals. A mismatch writes `*.snap.new` for `cargo insta review` (never under CI).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::Outcome;

/// The snapshot names, in the order they are checked.
pub const NAMES: [&str; 7] = [
    "allocation_by_namespace",
    "allocation_by_cluster",
    "recorded_rule_series",
    "cost_by_cluster",
    "cost_by_namespace",
    "assets_by_cluster",
    "idle_balance",
];

/// Checks every snapshot, all of them even when one differs (so one review sees every
/// change), and returns the names of those that differ.
pub fn compare(outcome: &Outcome) -> Result<(), Vec<&'static str>> {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.set_omit_expression(true);
    let differ: Vec<&'static str> = settings.bind(|| {
        let checks: [(&'static str, &dyn Fn()); 7] = [
            (NAMES[0], &|| insta::assert_yaml_snapshot!("allocation_by_namespace", outcome.by_namespace)),
            (NAMES[1], &|| insta::assert_yaml_snapshot!("allocation_by_cluster", outcome.by_cluster)),
            (NAMES[2], &|| insta::assert_yaml_snapshot!("recorded_rule_series", outcome.rule_series)),
            (NAMES[3], &|| insta::assert_yaml_snapshot!("cost_by_cluster", outcome.cost_by_cluster)),
            (NAMES[4], &|| insta::assert_yaml_snapshot!("cost_by_namespace", outcome.cost_by_namespace)),
            (NAMES[5], &|| insta::assert_yaml_snapshot!("assets_by_cluster", outcome.assets_by_cluster)),
            (NAMES[6], &|| insta::assert_yaml_snapshot!("idle_balance", outcome.balances)),
        ];
        checks
            .into_iter()
            .filter(|(_, check)| catch_unwind(AssertUnwindSafe(check)).is_err())
            .map(|(n, _)| n)
            .collect()
    });
    if differ.is_empty() {
        Ok(())
    } else {
        Err(differ)
    }
}

/// The directory of the reviewed snapshots.
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// The reviewed snapshot `name` and the candidate insta wrote next to it on a mismatch.
pub fn files(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = dir();
    (dir.join(format!("{name}.snap")), dir.join(format!("{name}.snap.new")))
}

/// Takes the candidate of `name` as the reviewed snapshot.
pub fn accept(name: &str) -> std::io::Result<()> {
    let (snap, new) = files(name);
    std::fs::rename(new, snap)
}

/// Drops the candidate of `name`; the reviewed snapshot stays.
pub fn reject(name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(files(name).1) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Asserts every snapshot; panics naming those that differ.
pub fn check(outcome: &Outcome) {
    if let Err(differ) = compare(outcome) {
        panic!("snapshots differ: {}; review with `cargo insta review`", differ.join(", "));
    }
}
