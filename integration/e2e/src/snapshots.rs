//! The reviewed snapshots: allocation by namespace, by cluster, and the recorded rule series.
//! Deterministic by construction: fixed simulated clock, sorted keys, floats rounded to five
//! decimals. A mismatch writes `*.snap.new` for `cargo insta review` (never in CI) and fails.

use crate::Outcome;

/// Asserts every snapshot; panics on a mismatch, as insta does.
pub fn check(outcome: &Outcome) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_yaml_snapshot!("allocation_by_namespace", outcome.by_namespace);
        insta::assert_yaml_snapshot!("allocation_by_cluster", outcome.by_cluster);
        insta::assert_yaml_snapshot!("recorded_rule_series", outcome.rule_series);
    });
}

/// The snapshot names, for the summary.
pub const NAMES: [&str; 3] = ["allocation_by_namespace", "allocation_by_cluster", "recorded_rule_series"];
