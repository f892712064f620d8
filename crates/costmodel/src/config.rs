//! The cost model's settings ([`Config`]): prices, resolution, the longest window one set of
//! queries covers, and which node labels allocations inherit; OpenCost's defaults.

use crate::pricing::CustomPricing;

/// OpenCost's `ALLOCATION_NODE_LABELS_INCLUDE_LIST` default: the node labels allocations
/// inherit.
pub const DEFAULT_NODE_LABELS: [&str; 6] = [
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "kubernetes.azure.com/agentpool",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
];

/// Settings of the cost model; `Default` is OpenCost's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Prices, discounts and whether custom prices replace the exporter's.
    pub pricing: CustomPricing,
    /// Subquery step, OpenCost's `ETL_RESOLUTION_SECONDS` (300).
    pub resolution_secs: i64,
    /// The longest window one computation queries, OpenCost's
    /// `ETL_MAX_PROMETHEUS_QUERY_DURATION_MINUTES` (one day); longer windows are cut into
    /// pieces of this length, computed one by one and accumulated.
    pub max_query_duration_secs: i64,
    /// Node labels copied onto allocations (Kubernetes names; sanitised when matched).
    pub node_labels: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            pricing: CustomPricing::default(),
            resolution_secs: 300,
            max_query_duration_secs: 86_400,
            node_labels: DEFAULT_NODE_LABELS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}
