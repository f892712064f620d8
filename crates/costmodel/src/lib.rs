//! The per-cluster cost model: Kubecost's allocation and asset queries, sent as PromQL through
//! the signing proxy to AMP, turned into one [`AllocationSet`] (and, in the detailed model,
//! one [`AssetSet`]) per cluster and window.
//!
//! Queries and formulas follow OpenCost's `pkg/costmodel/allocation*.go` and `cluster*.go` as
//! summarised in `docs/kubecost-model.md` and `docs/pricing.md`: every query is an instant
//! query at the window end over `[<window>]`, grouped by the cluster label.
//!
//! Two entry points:
//! - [`CostModel::compute`]: CPU and RAM allocations only, the original model (what the e2e
//!   path ships today; unchanged).
//! - [`CostModel::compute_detailed`] (and [`CostModel::compute_day`],
//!   [`CostModel::compute_days`]): every allocation field (GPU, PV, load balancer,
//!   controllers, labels, services, usage-only containers) and the assets that idle is
//!   computed from; the pure part is [`compute_from_results`], which tests feed by hand.

mod assets;
mod catalog;
mod compute;
mod config;
mod detail;
mod pricing;
mod queries;
mod results;

use ampfed_allocation::{AllocationSet, AssetSet, Window, WindowError};
use ampfed_prom::{Client, PromError};

pub use config::{Config, DEFAULT_NODE_LABELS};
pub use detail::CPU_SANITY_LIMIT;
pub use pricing::{
    node_prices, parse_percent, storage_price, CustomPricing, ExportedPrices, NodePrices, PricingError,
    DEFAULT_CPU_PRICE, DEFAULT_GPU_PRICE, DEFAULT_RAM_PRICE, DEFAULT_SPOT_CPU_PRICE, DEFAULT_SPOT_RAM_PRICE,
    DEFAULT_STORAGE_PRICE,
};
pub use queries::Queries;
pub use results::QueryResults;

/// A cost model for one cluster.
#[derive(Clone, Debug)]
pub struct CostModel {
    prom: Client,
    cluster: String,
    cluster_label: String,
    config: Config,
}

/// Why a computation failed.
#[derive(Debug, thiserror::Error)]
pub enum CostModelError {
    #[error("cluster {cluster}: query failed: {query}\n  {source}")]
    Query { cluster: String, query: String, source: Box<PromError> },
    #[error("cluster {cluster}: window {start}..{end} is empty or reversed")]
    Window { cluster: String, start: i64, end: i64 },
    #[error("cluster {cluster}: {source}")]
    Daily { cluster: String, source: WindowError },
    #[error("cluster id {cluster:?} cannot be shipped to the federated bucket: {reason}")]
    ClusterId { cluster: String, reason: String },
}

/// Ok when `id` can name the cluster's folder in the federated bucket
/// (`federated/<id>/etl/…`): the same rules as `ampfed_federation::check_cluster_id` (this
/// crate does not depend on federation; a federation test checks that both agree). Refused:
/// the layout's own names `combined` and `quarantine` in any ASCII case, empty ids, ids over
/// 253 bytes, `/` or `\`, `.` and `..`, control characters, surrounding white space.
pub fn check_cluster_id(id: &str) -> Result<(), CostModelError> {
    let reason = if id.is_empty() {
        "it is empty".to_owned()
    } else if id.len() > 253 {
        format!("it is {} bytes long (at most 253)", id.len())
    } else if let Some(r) = ["combined", "quarantine"].into_iter().find(|r| r.eq_ignore_ascii_case(id)) {
        format!("`{r}` is reserved by the federated bucket layout; set another clusterName")
    } else if id.contains(['/', '\\']) {
        "it contains a path separator (`/` or `\\`)".to_owned()
    } else if id == "." || id == ".." || id.chars().any(char::is_control) || id.trim() != id {
        "it is `.`/`..`, or has control characters or surrounding white space".to_owned()
    } else {
        return Ok(());
    };
    Err(CostModelError::ClusterId { cluster: id.to_owned(), reason })
}

/// One cluster's detailed result for a window: its allocations and its assets.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    pub allocations: AllocationSet,
    pub assets: AssetSet,
}

/// The detailed allocations and assets of `cluster` in `window` from query results (no
/// Prometheus involved): what [`CostModel::compute_detailed`] does with each window piece.
pub fn compute_from_results(
    cluster: &str,
    window: Window,
    results: &QueryResults,
    config: &Config,
) -> Computed {
    let allocations = detail::allocations(cluster, window, results, config);
    let assets = assets::assets(cluster, window, results, config);
    Computed { allocations: AllocationSet::new(vec![cluster.to_owned()], window, allocations), assets }
}

impl CostModel {
    /// A cost model for `cluster`, querying `prom` (an AMP workspace through the proxy), with
    /// the cluster label named `cluster_label` (Kubecost's default `cluster_id`) and
    /// OpenCost's defaults ([`Config::default`]: 5 minute resolution, default prices).
    pub fn new(prom: Client, cluster: &str, cluster_label: &str) -> CostModel {
        CostModel {
            prom,
            cluster: cluster.to_owned(),
            cluster_label: cluster_label.to_owned(),
            config: Config::default(),
        }
    }

    /// The same model with other settings (prices, discounts, resolution, …).
    pub fn with_config(mut self, config: Config) -> CostModel {
        self.config = config;
        self
    }

    /// The cluster this model computes.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The model's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn check(&self, window: Window) -> Result<(), CostModelError> {
        check_cluster_id(&self.cluster)?;
        if window.end <= window.start {
            return Err(CostModelError::Window {
                cluster: self.cluster.clone(),
                start: window.start,
                end: window.end,
            });
        }
        Ok(())
    }

    fn queries(&self, window: Window) -> Queries {
        Queries::new(&self.cluster_label, &self.cluster, window.duration_secs(), self.config.resolution_secs)
    }

    fn instant(&self, query: String, at: i64) -> Result<Vec<ampfed_prom::InstantSample>, CostModelError> {
        self.prom.query(&query, at).map_err(|source| CostModelError::Query {
            cluster: self.cluster.clone(),
            query,
            source: Box::new(source),
        })
    }

    fn matrix(&self, query: String, at: i64) -> Result<Vec<ampfed_prom::RangeSeries>, CostModelError> {
        self.prom.query_matrix(&query, at).map_err(|source| CostModelError::Query {
            cluster: self.cluster.clone(),
            query,
            source: Box::new(source),
        })
    }

    /// Computes the CPU and RAM allocations of every container that ran in `window`.
    pub fn compute(&self, window: Window) -> Result<AllocationSet, CostModelError> {
        self.check(window)?;
        let q = self.queries(window);
        let at = window.end;
        let inputs = compute::Inputs {
            running: self.matrix(q.running(), at)?,
            cpu_alloc: self.instant(q.cpu_allocation(), at)?,
            cpu_request: self.instant(q.requests("cpu", "core"), at)?,
            cpu_usage: self.instant(q.cpu_usage(), at)?,
            ram_alloc: self.instant(q.ram_allocation(), at)?,
            ram_request: self.instant(q.requests("memory", "byte"), at)?,
            ram_usage: self.instant(q.ram_usage(), at)?,
            cpu_price: self.instant(q.node_price("node_cpu_hourly_cost"), at)?,
            ram_price: self.instant(q.node_price("node_ram_hourly_cost"), at)?,
        };
        let allocations = compute::allocations(&self.cluster, window, self.config.resolution_secs, &inputs);
        tracing::info!(cluster = %self.cluster, allocations = allocations.len(), "computed allocations");
        Ok(AllocationSet::new(vec![self.cluster.clone()], window, allocations))
    }

    /// Sends every query of the detailed model for `window` (at most the maximum query
    /// duration long).
    pub fn fetch(&self, window: Window) -> Result<QueryResults, CostModelError> {
        self.check(window)?;
        let q = self.queries(window);
        let at = window.end;
        Ok(QueryResults {
            running: self.matrix(q.running(), at)?,
            cpu_alloc: self.instant(q.cpu_allocation(), at)?,
            cpu_request: self.instant(q.requests("cpu", "core"), at)?,
            cpu_usage: self.instant(q.cpu_usage(), at)?,
            ram_alloc: self.instant(q.ram_allocation(), at)?,
            ram_request: self.instant(q.requests("memory", "byte"), at)?,
            ram_usage: self.instant(q.ram_usage(), at)?,
            gpu_request: self.instant(q.gpu_requests(), at)?,
            gpu_alloc: self.instant(q.gpu_allocation(), at)?,
            cpu_price: self.instant(q.node_price("node_cpu_hourly_cost"), at)?,
            ram_price: self.instant(q.node_price("node_ram_hourly_cost"), at)?,
            gpu_price: self.instant(q.node_price("node_gpu_hourly_cost"), at)?,
            node_is_spot: self.instant(q.node_is_spot(), at)?,
            node_cpu_capacity: self.instant(q.node_resource("kube_node_status_capacity_cpu_cores"), at)?,
            node_ram_capacity: self.instant(q.node_resource("kube_node_status_capacity_memory_bytes"), at)?,
            node_cpu_allocatable: self
                .instant(q.node_resource("kube_node_status_allocatable_cpu_cores"), at)?,
            node_ram_allocatable: self
                .instant(q.node_resource("kube_node_status_allocatable_memory_bytes"), at)?,
            node_gpu_count: self.instant(q.node_gpu_count(), at)?,
            node_active: self.matrix(q.node_active(), at)?,
            node_labels: self.instant(q.metadata("kube_node_labels"), at)?,
            namespace_labels: self.instant(q.metadata("kube_namespace_labels"), at)?,
            namespace_annotations: self.instant(q.metadata("kube_namespace_annotations"), at)?,
            pod_labels: self.instant(q.metadata("kube_pod_labels"), at)?,
            pod_annotations: self.instant(q.metadata("kube_pod_annotations"), at)?,
            service_labels: self.instant(q.metadata("service_selector_labels"), at)?,
            deployment_labels: self.instant(q.metadata("deployment_match_labels"), at)?,
            statefulset_labels: self.instant(q.metadata("statefulSet_match_labels"), at)?,
            pod_owners: self.instant(q.pod_owners(), at)?,
            replicaset_owners: self.instant(q.replicaset_owners(), at)?,
            job_owners: self.instant(q.job_owners(), at)?,
            pvc_info: self.matrix(q.pvc_info(), at)?,
            pod_pvc_allocation: self.instant(q.pod_pvc_allocation(), at)?,
            pvc_bytes_requested: self.instant(q.pvc_bytes_requested(), at)?,
            pv_active: self.matrix(q.pv_active(), at)?,
            pv_bytes: self.instant(q.pv_bytes(), at)?,
            pv_cost: self.instant(q.pv_cost(), at)?,
            pv_meta: self.instant(q.pv_meta(), at)?,
            lb_cost: self.instant(q.lb_cost(), at)?,
            lb_active: self.matrix(q.lb_active(), at)?,
            cluster_management_cost: self.instant(q.cluster_management_cost(), at)?,
            cluster_management_active: self.matrix(q.cluster_management_active(), at)?,
        })
    }

    /// The detailed allocations and assets of `window`. A window longer than the maximum
    /// query duration is cut into pieces of that length from its start, each computed on
    /// its own and the results accumulated, as OpenCost's `ComputeAllocation` does.
    pub fn compute_detailed(&self, window: Window) -> Result<Computed, CostModelError> {
        self.check(window)?;
        let mut allocations = Vec::new();
        let mut assets = Vec::new();
        for piece in window.split(self.config.max_query_duration_secs) {
            let results = self.fetch(piece)?;
            let c = compute_from_results(&self.cluster, piece, &results, &self.config);
            allocations.push(c.allocations);
            assets.push(c.assets);
        }
        let allocations = AllocationSet::accumulate(&allocations)
            .unwrap_or_else(|| AllocationSet::new(vec![self.cluster.clone()], window, Vec::new()));
        let assets = AssetSet::accumulate(&assets)
            .unwrap_or_else(|| AssetSet::new(vec![self.cluster.clone()], window));
        tracing::info!(
            cluster = %self.cluster,
            allocations = allocations.allocations.len(),
            nodes = assets.nodes.len(),
            "computed detailed allocations and assets"
        );
        Ok(Computed { allocations, assets })
    }

    /// The detailed set of one UTC day (what is filed under `…/1d/`); refuses a window that
    /// is not exactly 00:00:00Z to the next midnight.
    pub fn compute_day(&self, day: Window) -> Result<Computed, CostModelError> {
        day.check_utc_day()
            .map_err(|source| CostModelError::Daily { cluster: self.cluster.clone(), source })?;
        self.compute_detailed(day)
    }

    /// One detailed set per UTC day of `window`, which must start and end on UTC midnights.
    pub fn compute_days(&self, window: Window) -> Result<Vec<Computed>, CostModelError> {
        let days = window
            .utc_days()
            .map_err(|source| CostModelError::Daily { cluster: self.cluster.clone(), source })?;
        days.into_iter().map(|d| self.compute_detailed(d)).collect()
    }
}
