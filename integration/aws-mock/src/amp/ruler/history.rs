//! What the ruler remembers between evaluations: per group its last evaluation, per rule its
//! health, last error and active alerts (what `/api/v1/rules` and `/api/v1/alerts` show), and
//! the series each rule produced last (for stale markers).

use std::collections::{BTreeMap, BTreeSet};

/// What `/api/v1/rules` shows: per `(workspace, namespace, group)`, the last evaluation; and per
/// rule, the series it produced at its last evaluation time (for stale markers).
#[derive(Default)]
pub(crate) struct RulerState {
    pub(super) groups: BTreeMap<(String, String, String), GroupState>,
    pub(super) last_series: BTreeMap<RuleKey, (i64, BTreeSet<BTreeMap<String, String>>)>,
}

/// `(workspace, namespace, group, rule index)`.
pub(super) type RuleKey = (String, String, String, usize);

/// An alert active at the last evaluation: labels, active since, firing, value.
pub(super) type ActiveAlert = (BTreeMap<String, String>, i64, bool, f64);

#[derive(Clone, Default)]
pub(super) struct GroupState {
    pub(super) last_evaluation: Option<i64>,
    pub(super) evaluation_seconds: f64,
    pub(super) rules: Vec<RuleState>,
}

#[derive(Clone, Default)]
pub(super) struct RuleState {
    pub(super) health: &'static str,
    pub(super) last_error: String,
    pub(super) last_evaluation: Option<i64>,
    pub(super) evaluation_seconds: f64,
    /// Alerting rules: the alerts active at the last evaluation.
    pub(super) alerts: Vec<ActiveAlert>,
}
