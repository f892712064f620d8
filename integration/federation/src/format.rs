//! The ETL object: one allocation set per cluster and window, versioned JSON with the field
//! names of Kubecost's allocation API. Allocations are sorted by name and numbers are written
//! as computed, so the same inputs give byte-identical objects.

use serde::{Deserialize, Serialize};

/// Bumped on any change readers must know about.
pub const FORMAT_VERSION: u32 = 1;

/// A time window in unix seconds, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn hours(&self) -> f64 {
        (self.end - self.start) as f64 / 3600.0
    }

    /// `<start>-<end>`, as in the ETL object names.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.start, self.end)
    }
}

/// All allocations of one window, from one cluster or (combined) from many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllocationSet {
    pub version: u32,
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
    /// A set with allocations sorted by name.
    pub fn new(clusters: Vec<String>, window: Window, mut allocations: Vec<Allocation>) -> AllocationSet {
        allocations.sort_by(|a, b| a.name.cmp(&b.name));
        let mut clusters = clusters;
        clusters.sort();
        clusters.dedup();
        AllocationSet { version: FORMAT_VERSION, clusters, window, allocations }
    }

    /// The bytes stored in S3.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
        bytes.push(b'\n');
        bytes
    }

    /// Reads stored bytes, refusing other format versions.
    pub fn from_bytes(key: &str, bytes: &[u8]) -> Result<AllocationSet, crate::FederationError> {
        let fail = |message: String| crate::FederationError::Format { key: key.to_owned(), message };
        let set: AllocationSet = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
        if set.version != FORMAT_VERSION {
            return Err(fail(format!("format version {} (this build reads {FORMAT_VERSION})", set.version)));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sorted() {
        let a = Allocation { name: "b".into(), ..Allocation::default() };
        let b = Allocation { name: "a".into(), cpu_cost: 0.1, ..Allocation::default() };
        let set =
            AllocationSet::new(vec!["c2".into(), "c1".into()], Window { start: 0, end: 86400 }, vec![a, b]);
        assert_eq!(set.allocations[0].name, "a");
        assert_eq!(set.clusters, ["c1", "c2"]);
        let bytes = set.to_bytes();
        assert_eq!(AllocationSet::from_bytes("k", &bytes).unwrap(), set);
        assert_eq!(set.to_bytes(), bytes);
    }

    #[test]
    fn other_versions_are_refused() {
        let mut set = AllocationSet::new(vec![], Window { start: 0, end: 1 }, vec![]);
        set.version = 99;
        let err = AllocationSet::from_bytes("k", &set.to_bytes()).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}
