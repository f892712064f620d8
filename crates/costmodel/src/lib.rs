//! The per-cluster cost model: Kubecost's allocation and asset queries, sent as PromQL through
//! the signing proxy to AMP, turned into one [`AllocationSet`] (and, in the detailed model,
//! one [`AssetSet`]) per cluster and window.
//!
//! Queries and formulas follow OpenCost's `pkg/costmodel/allocation*.go` and `cluster*.go` as
//! summarised in `docs/kubecost-model.md` and `docs/pricing.md`: every query is an instant
//! query at the window end over `[<window>]`, grouped by the cluster label.
//!
//! Entry points:
//! - [`CostModel::compute`]: CPU and RAM allocations only, the original model (unchanged).
//! - [`CostModel::compute_detailed`] (and [`CostModel::compute_day`],
//!   [`CostModel::compute_days`]): every allocation field (GPU, PV, load balancer,
//!   controllers, labels, services, usage-only containers) and the assets that idle is
//!   computed from; the pure part is [`compute_from_results`], which tests feed by hand.
//! - [`CostModel::compute_day_and_hours`]: a UTC day's detailed sets and its 24 hourly ones
//!   (Kubecost's `1d` and `1h` ETL), the hours from the day's subqueries cut to each hour and
//!   one range query per instant query (`hourly`); the pure part is
//!   [`compute_hours_from_results`].

mod assets;
mod catalog;
mod compute;
mod config;
mod detail;
mod hourly;
mod pricing;
mod queries;
mod results;

use ampfed_allocation::{AllocationSet, AssetSet, Window, WindowError, DAY_SECS};
use ampfed_prom::{Client, PromError};

pub use config::{Config, DEFAULT_NODE_LABELS};
pub use detail::CPU_SANITY_LIMIT;
pub use hourly::{hourly_results, hours_of};
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
    #[error(
        "cluster {cluster}: window {start}..{end} cannot be split into hours: it must start on a UTC hour and span at most a day"
    )]
    Hours { cluster: String, start: i64, end: i64 },
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

/// One cluster's detailed sets of one UTC day: the day's (filed under `…/1d/`) and its 24
/// hours' (`…/1h/`), computed from one set of daily queries and one of hourly range queries
/// (`hourly`).
#[derive(Clone, Debug, PartialEq)]
pub struct ComputedDay {
    pub day: Computed,
    /// Hour 00:00–01:00 first.
    pub hours: Vec<Computed>,
}

/// The hourly sets of `day` from its query results (no Prometheus involved): `daily` is what
/// [`CostModel::fetch`] gave for the day, `hourly[i]` what the hourly range queries gave at the
/// end of hour `i` (only its instant fields are read; see [`hourly_results`]).
pub fn compute_hours_from_results(
    cluster: &str,
    day: Window,
    daily: &QueryResults,
    hourly: &[QueryResults],
    config: &Config,
) -> Vec<Computed> {
    hourly_results(day, daily, hourly, config.resolution_secs)
        .into_iter()
        .map(|(hour, results)| compute_from_results(cluster, hour, &results, config))
        .collect()
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

    fn range(
        &self,
        query: String,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<ampfed_prom::RangeSeries>, CostModelError> {
        self.prom.query_range(&query, start, end, step).map_err(|source| CostModelError::Query {
            cluster: self.cluster.clone(),
            query,
            source: Box::new(source),
        })
    }

    /// Sends every instant query of the detailed model over `[3600s]` as one range query across
    /// `day`, a step at each hour's end: the instant results of each of its 24 hours (the
    /// subquery fields empty; [`hourly_results`] cuts the day's into the hours).
    pub fn fetch_hours(&self, day: Window) -> Result<Vec<QueryResults>, CostModelError> {
        self.check(day)?;
        let q =
            Queries::new(&self.cluster_label, &self.cluster, hourly::HOUR_SECS, self.config.resolution_secs);
        let pieces = hours_of(day);
        let mut hours = vec![QueryResults::default(); pieces.len()];
        for (slot, query) in hourly::instant_queries(&q) {
            let series = self.range(query, day.start + hourly::HOUR_SECS, day.end, hourly::HOUR_SECS)?;
            hourly::spread(&mut hours, slot, day.start, series);
        }
        // A last hour cut short (a window ending now) has no step of its own: its averages
        // are instant queries over its own length, at its end.
        if let (Some(last), Some(results)) = (pieces.last(), hours.last_mut()) {
            if last.duration_secs() < hourly::HOUR_SECS {
                let q = self.queries(*last);
                for (slot, query) in hourly::instant_queries(&q) {
                    *slot(results) = self.instant(query, last.end)?;
                }
            }
        }
        Ok(hours)
    }

    /// Sends every query of the detailed model for `window` (at most the maximum query
    /// duration long).
    pub fn fetch(&self, window: Window) -> Result<QueryResults, CostModelError> {
        self.check(window)?;
        let q = self.queries(window);
        let at = window.end;
        let mut results = QueryResults::default();
        for (slot, query) in hourly::subqueries(&q) {
            *slot(&mut results) = self.matrix(query, at)?;
        }
        for (slot, query) in hourly::instant_queries(&q) {
            *slot(&mut results) = self.instant(query, at)?;
        }
        Ok(results)
    }

    /// The detailed allocations and assets of `window`. A window longer than the maximum
    /// query duration is cut into pieces of that length from its start, each computed on
    /// its own and the results accumulated, as OpenCost's `ComputeAllocation` does.
    pub fn compute_detailed(&self, window: Window) -> Result<Computed, CostModelError> {
        self.check(window)?;
        let mut pieces = Vec::new();
        for piece in window.split(self.config.max_query_duration_secs) {
            let results = self.fetch(piece)?;
            pieces.push(compute_from_results(&self.cluster, piece, &results, &self.config));
        }
        Ok(self.accumulated(window, pieces))
    }

    /// The pieces of `window` accumulated into one set of each kind.
    fn accumulated(&self, window: Window, pieces: Vec<Computed>) -> Computed {
        let (allocations, assets): (Vec<AllocationSet>, Vec<AssetSet>) =
            pieces.into_iter().map(|c| (c.allocations, c.assets)).unzip();
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
        Computed { allocations, assets }
    }

    /// The detailed set of one UTC day (what is filed under `…/1d/`); refuses a window that
    /// is not exactly 00:00:00Z to the next midnight.
    pub fn compute_day(&self, day: Window) -> Result<Computed, CostModelError> {
        day.check_utc_day()
            .map_err(|source| CostModelError::Daily { cluster: self.cluster.clone(), source })?;
        self.compute_detailed(day)
    }

    /// The detailed sets of one UTC day and of each of its 24 hours ([`ComputedDay`]): the
    /// day's as [`CostModel::compute_day`] gives it, the hours' from the same subqueries and
    /// one range query per instant query ([`CostModel::fetch_hours`]), so about twice the
    /// queries of the day alone, not 25 times.
    pub fn compute_day_and_hours(&self, day: Window) -> Result<ComputedDay, CostModelError> {
        day.check_utc_day()
            .map_err(|source| CostModelError::Daily { cluster: self.cluster.clone(), source })?;
        self.compute_window_and_hours(day)
    }

    /// [`CostModel::compute_day_and_hours`] for a window that starts on a UTC hour and spans
    /// at most a day, such as today up to now: the hours are cut from the window's own
    /// subqueries, so they add up to it, and a last hour cut short is computed over its own
    /// length. (Hours computed one by one would each see a run start and end at their edges:
    /// a stream of a few minutes across an hour would not add up.)
    pub fn compute_window_and_hours(&self, day: Window) -> Result<ComputedDay, CostModelError> {
        self.check(day)?;
        if day.start.rem_euclid(hourly::HOUR_SECS) != 0 || day.duration_secs() > DAY_SECS {
            return Err(CostModelError::Hours {
                cluster: self.cluster.clone(),
                start: day.start,
                end: day.end,
            });
        }
        let (computed, daily) = match self.config.max_query_duration_secs >= day.duration_secs() {
            // One piece: the day's results serve both.
            true => {
                let daily = self.fetch(day)?;
                (
                    self.accumulated(
                        day,
                        vec![compute_from_results(&self.cluster, day, &daily, &self.config)],
                    ),
                    daily,
                )
            }
            // The day is queried in pieces; the hours need the day's subqueries whole.
            false => {
                let q = self.queries(day);
                let mut daily = QueryResults::default();
                for (slot, query) in hourly::subqueries(&q) {
                    *slot(&mut daily) = self.matrix(query, day.end)?;
                }
                (self.compute_detailed(day)?, daily)
            }
        };
        let hourly = self.fetch_hours(day)?;
        let hours = compute_hours_from_results(&self.cluster, day, &daily, &hourly, &self.config);
        tracing::info!(cluster = %self.cluster, hours = hours.len(), "computed hourly allocations and assets");
        Ok(ComputedDay { day: computed, hours })
    }

    /// One detailed set per UTC day of `window`, which must start and end on UTC midnights.
    pub fn compute_days(&self, window: Window) -> Result<Vec<Computed>, CostModelError> {
        let days = window
            .utc_days()
            .map_err(|source| CostModelError::Daily { cluster: self.cluster.clone(), source })?;
        days.into_iter().map(|d| self.compute_detailed(d)).collect()
    }
}
