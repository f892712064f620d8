//! Step "query": what a user reads at the end of the path: the combined days aggregated by
//! namespace and by cluster (CPU and RAM rows, and complete costs with idle and the assets),
//! the check that allocated + idle = node cost per cluster, and every record name's series
//! through the proxy.

use std::collections::BTreeMap;

use ampfed_allocation::{
    aggregate, check_balance, query as cost_query, round, Aggregate, AllocationSet, AssetSet, Balance,
    ClusterAssetTotals, Property, QueryOptions, Row,
};
use ampfed_federation::store::COMBINED;
use ampfed_federation::Store;
use ampfed_prom::Client;
use anyhow::{Context, Result};

use crate::env::Env;
use crate::outcome::{CostRow, RecordedSeries};
use crate::sim;

/// What the queries returned.
#[derive(Clone, Debug)]
pub struct Answers {
    pub by_namespace: Vec<Row>,
    pub by_cluster: Vec<Row>,
    /// Record name → its series at the day's last scrape, sorted by labels.
    pub rule_series: BTreeMap<String, Vec<RecordedSeries>>,
    /// The combined allocation set, as stored in S3.
    pub combined: AllocationSet,
    /// Complete costs by cluster (each cluster's idle apart) and by namespace (one `__idle__`),
    /// Kubecost's defaults otherwise (tenancy costs shared).
    pub cost_by_cluster: Vec<CostRow>,
    pub cost_by_namespace: Vec<CostRow>,
    /// The combined assets' totals per cluster, over the window.
    pub assets_by_cluster: BTreeMap<String, ClusterAssetTotals>,
    /// Allocated + idle against node cost, per cluster, over the window.
    pub balances: Vec<Balance>,
}

impl Answers {
    /// The run's outcome: these answers with the run's `summary`.
    pub fn into_outcome(self, summary: crate::outcome::Summary) -> crate::Outcome {
        crate::Outcome {
            summary,
            by_namespace: self.by_namespace,
            by_cluster: self.by_cluster,
            rule_series: self.rule_series,
            combined: self.combined,
            cost_by_cluster: self.cost_by_cluster,
            cost_by_namespace: self.cost_by_namespace,
            assets_by_cluster: self.assets_by_cluster,
            balances: self.balances,
        }
    }
}

/// How far allocated + idle may be off the node cost (0.1 %).
pub const BALANCE_TOLERANCE: f64 = 0.001;

/// Reads the combined days (as one set over the whole window) and the series of `records`
/// from `workspace`.
pub async fn query(
    env: &Env,
    workspace: &str,
    records: &[String],
    settings: &sim::Settings,
) -> Result<Answers> {
    query_with(&env.store(), env.workspace_client(workspace), records, settings, settings.last_scrape()).await
}

/// As [`query`], over any bucket and AMP query client, the recorded series read at
/// `recorded_at` (`e2e --target aws`: the last streamed scrape, not the day's last).
pub async fn query_with(
    store: &Store,
    reader: Client,
    records: &[String],
    settings: &sim::Settings,
    recorded_at: i64,
) -> Result<Answers> {
    let mut days = Vec::new();
    let mut assets = Vec::new();
    for day in settings.days() {
        days.push(store.get_set(&Store::allocation_key(COMBINED, day)).await?);
        assets.push(store.get_assets(&Store::asset_key(COMBINED, day)).await?);
    }
    let costs = complete_costs(&days, &assets)?;
    let combined = over_the_window(days, settings.window());
    let by_namespace = aggregate(&combined, &[Property::Namespace]).iter().map(|r| r.rounded(5)).collect();
    let by_cluster = aggregate(&combined, &[Property::Cluster]).iter().map(|r| r.rounded(5)).collect();
    let records = records.to_vec();
    let rule_series = tokio::task::spawn_blocking(move || recorded_series(&reader, &records, recorded_at))
        .await
        .context("rule series task")??;
    Ok(Answers {
        by_namespace,
        by_cluster,
        rule_series,
        combined,
        cost_by_cluster: costs.by_cluster,
        cost_by_namespace: costs.by_namespace,
        assets_by_cluster: costs.assets,
        balances: costs.balances,
    })
}

/// The complete costs of the window, from each day's combined allocations and assets.
struct Costs {
    by_cluster: Vec<CostRow>,
    by_namespace: Vec<CostRow>,
    assets: BTreeMap<String, ClusterAssetTotals>,
    balances: Vec<Balance>,
}

/// Queries each day with its assets (idle per cluster, Kubecost's defaults), checks each
/// day's balance, and accumulates the days.
fn complete_costs(days: &[AllocationSet], assets: &[AssetSet]) -> Result<Costs> {
    let by = |aggregate: Vec<Aggregate>, split_idle: bool| QueryOptions {
        aggregate,
        split_idle,
        ..QueryOptions::default()
    };
    let (mut clusters, mut namespaces, mut balances) =
        (Vec::new(), Vec::new(), BTreeMap::<String, Balance>::new());
    for (set, day_assets) in days.iter().zip(assets) {
        let rows = cost_query(set, Some(day_assets), &by(vec![Aggregate::Cluster], true))
            .with_context(|| format!("query {:?} by cluster", set.window))?;
        let balanced = check_balance(&rows, day_assets, BALANCE_TOLERANCE)
            .with_context(|| format!("day {:?}: allocated + idle must equal node cost", set.window))
            .map_err(|e| e.context(crate::Failure::Check))?;
        for b in balanced {
            let sum = balances
                .entry(b.cluster.clone())
                .or_insert_with(|| Balance { cluster: b.cluster.clone(), ..Balance::default() });
            sum.allocated += b.allocated;
            sum.idle += b.idle;
            sum.node_cost += b.node_cost;
        }
        clusters.push(AllocationSet::new(set.clusters.clone(), set.window, rows));
        let rows = cost_query(set, Some(day_assets), &by(vec![Aggregate::Namespace], false))
            .with_context(|| format!("query {:?} by namespace", set.window))?;
        namespaces.push(AllocationSet::new(set.clusters.clone(), set.window, rows));
    }
    let rows = |sets: &[AllocationSet]| -> Vec<CostRow> {
        AllocationSet::accumulate(sets)
            .map(|s| s.allocations.iter().map(CostRow::from).collect())
            .unwrap_or_default()
    };
    let totals = AssetSet::accumulate(assets).map(|a| a.cluster_totals()).unwrap_or_default();
    let assets = totals
        .into_iter()
        .map(|(cluster, t)| {
            let r = |x: f64| round(x, 5);
            let rounded = ClusterAssetTotals {
                node_cpu_cost: r(t.node_cpu_cost),
                node_ram_cost: r(t.node_ram_cost),
                node_gpu_cost: r(t.node_gpu_cost),
                node_cost: r(t.node_cost),
                disk_cost: r(t.disk_cost),
                load_balancer_cost: r(t.load_balancer_cost),
                cluster_management_cost: r(t.cluster_management_cost),
                total_cost: r(t.total_cost),
            };
            (cluster, rounded)
        })
        .collect();
    let balances = balances
        .into_values()
        .map(|b| Balance {
            allocated: round(b.allocated, 5),
            idle: round(b.idle, 5),
            node_cost: round(b.node_cost, 5),
            ..b
        })
        .collect();
    Ok(Costs { by_cluster: rows(&clusters), by_namespace: rows(&namespaces), assets, balances })
}

/// The daily sets as one set over `window`: every day's allocations, sorted by name (a day
/// alone stays as stored).
fn over_the_window(mut days: Vec<AllocationSet>, window: ampfed_allocation::Window) -> AllocationSet {
    if days.len() == 1 {
        return days.remove(0);
    }
    let mut clusters: Vec<String> = days.iter().flat_map(|d| d.clusters.iter().cloned()).collect();
    clusters.sort();
    clusters.dedup();
    let mut allocations: Vec<_> = days.into_iter().flat_map(|d| d.allocations).collect();
    allocations.sort_by(|a, b| a.name.cmp(&b.name));
    AllocationSet { clusters, window, allocations }
}

/// Every record name's series at `time`.
pub(crate) fn recorded_series(
    prom: &Client,
    records: &[String],
    time: i64,
) -> Result<BTreeMap<String, Vec<RecordedSeries>>> {
    let mut out = BTreeMap::new();
    for record in records {
        if out.contains_key(record) {
            continue;
        }
        let samples = prom.query(&format!("{{__name__=\"{record}\"}}"), time)?;
        let mut series: Vec<RecordedSeries> = samples
            .into_iter()
            .map(|s| RecordedSeries {
                labels: s.labels.into_iter().filter(|(k, _)| k != "__name__").collect(),
                value: round(s.value, 5),
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        out.insert(record.clone(), series);
    }
    Ok(out)
}
