//! The reviewed snapshots: allocation by namespace, by cluster, and the recorded rule series.
//! Deterministic by construction: fixed simulated clock, sorted keys, floats rounded to five
//! decimals. A mismatch writes `*.snap.new` for `cargo insta review` (never under CI).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::Outcome;

/// The snapshot names, in the order they are checked.
pub const NAMES: [&str; 3] = ["allocation_by_namespace", "allocation_by_cluster", "recorded_rule_series"];

/// Checks every snapshot, all of them even when one differs (so one review sees every
/// change), and returns the names of those that differ.
pub fn compare(outcome: &Outcome) -> Result<(), Vec<&'static str>> {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.set_omit_expression(true);
    let differ: Vec<&'static str> = settings.bind(|| {
        let checks: [(&'static str, &dyn Fn()); 3] = [
            (NAMES[0], &|| insta::assert_yaml_snapshot!("allocation_by_namespace", outcome.by_namespace)),
            (NAMES[1], &|| insta::assert_yaml_snapshot!("allocation_by_cluster", outcome.by_cluster)),
            (NAMES[2], &|| insta::assert_yaml_snapshot!("recorded_rule_series", outcome.rule_series)),
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

/// Asserts every snapshot; panics naming those that differ.
pub fn check(outcome: &Outcome) {
    if let Err(differ) = compare(outcome) {
        panic!("snapshots differ: {}; review with `cargo insta review`", differ.join(", "));
    }
}
