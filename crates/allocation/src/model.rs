//! The allocation model every component shares: a [`Window`], one container's [`Allocation`]
//! with Kubecost's fields and meanings, the [`AllocationSet`] of a window, and Kubecost's
//! [`efficiency`]. The cost model produces sets, federation stores and combines them, queries
//! aggregate them.

use serde::{Deserialize, Serialize};

/// A time window in unix seconds, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// The window's length in seconds; 0 when `end` is not after `start`. Never overflows,
    /// whatever the (outside) values.
    pub fn duration_secs(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }

    pub fn hours(&self) -> f64 {
        self.duration_secs() as f64 / 3600.0
    }

    /// `<start>-<end>`, as in the ETL object names.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.start, self.end)
    }
}

/// All allocations of one window, from one cluster or (combined) from many.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationSet {
    /// The clusters whose allocations the set holds, sorted.
    pub clusters: Vec<String>,
    pub window: Window,
    /// Sorted by `name`.
    pub allocations: Vec<Allocation>,
}

/// What an allocation belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Properties {
    pub cluster: String,
    pub node: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// One container's allocation over (part of) a window, with Kubecost's fields and meanings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// `cluster/node/namespace/pod/container`.
    pub name: String,
    pub properties: Properties,
    /// When the pod ran, unix seconds, clamped to the window.
    pub start: i64,
    pub end: i64,
    pub minutes: f64,
    pub cpu_cores: f64,
    pub cpu_core_request_average: f64,
    pub cpu_core_usage_average: f64,
    pub cpu_core_hours: f64,
    pub cpu_cost: f64,
    pub cpu_efficiency: f64,
    pub ram_bytes: f64,
    pub ram_byte_request_average: f64,
    pub ram_byte_usage_average: f64,
    pub ram_byte_hours: f64,
    pub ram_cost: f64,
    pub ram_efficiency: f64,
    pub total_cost: f64,
    pub total_efficiency: f64,
}

/// Kubecost's efficiency of a resource: usage over request; with no request, 0 if nothing was
/// used or nothing cost, else 1.
pub fn efficiency(usage: f64, request: f64, cost: f64) -> f64 {
    if request > 0.0 {
        usage / request
    } else if usage == 0.0 || cost == 0.0 {
        0.0
    } else {
        1.0
    }
}

impl AllocationSet {
    /// A set with allocations sorted by name and clusters sorted and unique.
    pub fn new(clusters: Vec<String>, window: Window, mut allocations: Vec<Allocation>) -> AllocationSet {
        allocations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut clusters = clusters;
        clusters.sort();
        clusters.dedup();
        AllocationSet { clusters, window, allocations }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_set_is_sorted() {
        let a = Allocation { name: "b".into(), ..Allocation::default() };
        let b = Allocation { name: "a".into(), cpu_cost: 0.1, ..Allocation::default() };
        let set = AllocationSet::new(
            vec!["c2".into(), "c1".into(), "c2".into()],
            Window { start: 0, end: 86400 },
            vec![a, b],
        );
        assert_eq!(set.allocations[0].name, "a");
        assert_eq!(set.clusters, ["c1", "c2"]);
    }

    #[test]
    fn extreme_windows_do_not_overflow() {
        assert_eq!(Window { start: 0, end: 86_400 }.hours(), 24.0);
        assert_eq!(Window { start: i64::MIN, end: i64::MAX }.duration_secs(), i64::MAX);
        assert_eq!(Window { start: 10, end: 5 }.duration_secs(), 0);
    }

    #[test]
    fn efficiency_without_a_request_is_all_or_nothing() {
        assert_eq!(efficiency(0.5, 2.0, 1.0), 0.25);
        assert_eq!(efficiency(0.5, 0.0, 1.0), 1.0);
        assert_eq!(efficiency(0.0, 0.0, 1.0), 0.0);
        assert_eq!(efficiency(0.5, 0.0, 0.0), 0.0);
    }
}
