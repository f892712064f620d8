//! The per-cluster cost model: Kubecost's allocation queries, sent as PromQL through the
//! signing proxy to AMP, turned into one [`AllocationSet`] per cluster and window.
//!
//! Queries and formulas follow OpenCost's `pkg/costmodel/allocation*.go` as summarised in
//! `docs/kubecost-model.md`: every query is an instant query at the window end
//! over `[<window>]`, grouped by the cluster label. Idle is not computed yet.

mod compute;
mod queries;

use ampfed_allocation::{AllocationSet, Window};
use ampfed_prom::{Client, PromError};

pub use compute::{DEFAULT_CPU_PRICE, DEFAULT_RAM_PRICE};
pub use queries::Queries;

/// A cost model for one cluster.
#[derive(Clone, Debug)]
pub struct CostModel {
    prom: Client,
    cluster: String,
    cluster_label: String,
    resolution_secs: i64,
}

/// Why a computation failed.
#[derive(Debug, thiserror::Error)]
pub enum CostModelError {
    #[error("cluster {cluster}: query failed: {query}\n  {source}")]
    Query { cluster: String, query: String, source: Box<PromError> },
    #[error("cluster {cluster}: window {start}..{end} is empty or reversed")]
    Window { cluster: String, start: i64, end: i64 },
}

impl CostModel {
    /// A cost model for `cluster`, querying `prom` (an AMP workspace through the proxy), with
    /// the cluster label named `cluster_label` (Kubecost's default `cluster_id`) and Kubecost's
    /// default 5 minute resolution.
    pub fn new(prom: Client, cluster: &str, cluster_label: &str) -> CostModel {
        CostModel {
            prom,
            cluster: cluster.to_owned(),
            cluster_label: cluster_label.to_owned(),
            resolution_secs: 300,
        }
    }

    /// The cluster this model computes.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Computes the allocations of every container that ran in `window`.
    pub fn compute(&self, window: Window) -> Result<AllocationSet, CostModelError> {
        if window.end <= window.start {
            return Err(CostModelError::Window {
                cluster: self.cluster.clone(),
                start: window.start,
                end: window.end,
            });
        }
        let q =
            Queries::new(&self.cluster_label, &self.cluster, window.duration_secs(), self.resolution_secs);
        let fail = |query: &str| {
            let cluster = self.cluster.clone();
            let query = query.to_owned();
            move |source: PromError| CostModelError::Query { cluster, query, source: Box::new(source) }
        };
        let instant = |query: String| self.prom.query(&query, window.end).map_err(fail(&query));
        let running = self.prom.query_matrix(&q.running(), window.end).map_err(fail(&q.running()))?;
        let inputs = compute::Inputs {
            running,
            cpu_alloc: instant(q.cpu_allocation())?,
            cpu_request: instant(q.requests("cpu", "core"))?,
            cpu_usage: instant(q.cpu_usage())?,
            ram_alloc: instant(q.ram_allocation())?,
            ram_request: instant(q.requests("memory", "byte"))?,
            ram_usage: instant(q.ram_usage())?,
            cpu_price: instant(q.node_price("node_cpu_hourly_cost"))?,
            ram_price: instant(q.node_price("node_ram_hourly_cost"))?,
        };
        let allocations = compute::allocations(&self.cluster, window, self.resolution_secs, &inputs);
        tracing::info!(cluster = %self.cluster, allocations = allocations.len(), "computed allocations");
        Ok(AllocationSet::new(vec![self.cluster.clone()], window, allocations))
    }
}
