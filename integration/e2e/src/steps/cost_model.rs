//! Step "cost model": each cluster's cost model computes each simulated UTC day and its 24
//! hours from AMP (PromQL through the signing proxy: the day's queries, then one range query
//! per instant query for the hours) and ships the daily (`1d/`) and hourly (`1h/`) allocation
//! and asset sets to the central bucket,
//! [`COST_MODEL_CONCURRENCY`](sim::COST_MODEL_CONCURRENCY) clusters at a time. Each day's hours
//! must add up to the day ([`check_hours`]).

use std::sync::Arc;

use ampfed_costmodel::{ComputedDay, CostModel};
use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::env::Env;
use crate::sim;

/// What the cost models shipped.
#[derive(Clone, Debug)]
pub struct Shipped {
    /// The daily allocation ETL object keys: per cluster in the order given, its days in order.
    pub etl_objects: Vec<String>,
    /// The daily asset ETL object keys, in the same order.
    pub asset_objects: Vec<String>,
    /// The hourly allocation and asset ETL object keys: per cluster, per day, its hours in
    /// order (allocations, then assets, for each hour).
    pub hourly_objects: Vec<String>,
}

/// How far a day's hourly total cost may be from its daily total, relative to it: the hours
/// average their own samples and see a lone sample's half step on each side of an hour, so
/// they match the day to rounding, not to the last bit.
pub const HOURLY_TOLERANCE: f64 = 1e-3;

/// Checks that `computed`'s hours add up to its day: total allocation cost and total node cost
/// within [`HOURLY_TOLERANCE`] of the day's (the hours given: all 24, or those streamed).
pub fn check_hours(cluster: &str, computed: &ComputedDay) -> Result<()> {
    let day = computed.day.allocations.window;
    let allocations = |sets: &mut dyn Iterator<Item = &ampfed_allocation::AllocationSet>| -> f64 {
        sets.flat_map(|s| s.allocations.iter()).map(|a| a.total_cost).sum()
    };
    let nodes = |sets: &mut dyn Iterator<Item = &ampfed_allocation::AssetSet>| -> f64 {
        sets.flat_map(|s| s.nodes.iter()).map(|n| n.cpu_cost + n.ram_cost + n.gpu_cost).sum()
    };
    let pairs = [
        (
            "allocation",
            allocations(&mut std::iter::once(&computed.day.allocations)),
            allocations(&mut computed.hours.iter().map(|h| &h.allocations)),
        ),
        (
            "node",
            nodes(&mut std::iter::once(&computed.day.assets)),
            nodes(&mut computed.hours.iter().map(|h| &h.assets)),
        ),
    ];
    for (what, daily, hourly) in pairs {
        let off = (hourly - daily).abs() / daily.abs().max(f64::MIN_POSITIVE);
        tracing::debug!(cluster, what, daily, hourly, off, "hours against the day");
        if off > HOURLY_TOLERANCE {
            return Err(anyhow::anyhow!(
                "cluster {cluster}, day {}: the hours' {what} cost {hourly:.6} is not the day's {daily:.6} \
                 (off by {:.4} %)",
                day.file_stem(),
                off * 100.0
            )
            .context(crate::Failure::Check));
        }
    }
    Ok(())
}

/// Hourly sets one cluster writes at a time.
const HOURLY_PUTS: usize = 8;

/// Writes a day's hourly sets, [`HOURLY_PUTS`] hours at a time; their keys in hour order
/// (allocations, then assets, for each hour).
pub(crate) async fn ship_hours(
    store: &ampfed_federation::Store,
    cluster: &str,
    hours: Vec<ampfed_costmodel::Computed>,
) -> Result<Vec<String>> {
    let mut keys = vec![Vec::new(); hours.len()];
    let mut puts = JoinSet::new();
    for (h, hour) in hours.into_iter().enumerate() {
        if puts.len() >= HOURLY_PUTS {
            if let Some(done) = puts.join_next().await {
                let (h, pair): (usize, Vec<String>) = done.context("hourly put task")??;
                keys[h] = pair;
            }
        }
        let (store, cluster) = (store.clone(), cluster.to_owned());
        puts.spawn(async move {
            let allocations = store.put_set(&cluster, &hour.allocations).await?;
            let assets = store.put_assets(&cluster, &hour.assets).await?;
            anyhow::Ok((h, vec![allocations, assets]))
        });
    }
    while let Some(done) = puts.join_next().await {
        let (h, pair) = done.context("hourly put task")??;
        keys[h] = pair;
    }
    Ok(keys.into_iter().flatten().collect())
}

/// Runs `clusters`' cost models against `workspace`, a bounded number at a time; the first
/// failure ends the step (the other models are cancelled).
pub async fn ship(
    env: &Env,
    workspace: &str,
    clusters: &[String],
    settings: &sim::Settings,
) -> Result<Shipped> {
    ship_with(|| env.workspace_client(workspace), env.store(), clusters, settings).await
}

/// As [`ship`], over any AMP query client (one per cluster's model, from `client`) and store:
/// `cargo xtask etl` runs it against a running `up`.
pub async fn ship_with(
    client: impl Fn() -> ampfed_prom::Client,
    store: ampfed_federation::Store,
    clusters: &[String],
    settings: &sim::Settings,
) -> Result<Shipped> {
    store.ensure_bucket().await.context("create the ETL bucket")?;
    let permits = Arc::new(Semaphore::new(sim::COST_MODEL_CONCURRENCY));
    let mut running = JoinSet::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let model = Arc::new(CostModel::new(client(), cluster, &settings.cluster_label));
        let (store, permits, cluster) = (store.clone(), permits.clone(), cluster.clone());
        let days = settings.days();
        running.spawn(async move {
            let _permit = permits.acquire_owned().await.context("cost model permits")?;
            let mut keys = Vec::with_capacity(days.len());
            let mut hourly = Vec::with_capacity(days.len() * 48);
            for day in days {
                let model = model.clone();
                let started = std::time::Instant::now();
                let computed = tokio::task::spawn_blocking(move || model.compute_day_and_hours(day))
                    .await
                    .context("cost model task")?
                    .with_context(|| format!("cluster {cluster}: cost model for {day:?}"))?;
                check_hours(&cluster, &computed)?;
                if computed.hours.len() != 24 {
                    return Err(anyhow::anyhow!("cluster {cluster}: {} hourly sets, not 24", computed.hours.len())
                        .context(crate::Failure::Check));
                }
                let allocations = store.put_set(&cluster, &computed.day.allocations).await?;
                let assets = store.put_assets(&cluster, &computed.day.assets).await?;
                keys.push((allocations, assets));
                let computed_in = started.elapsed();
                hourly.extend(ship_hours(&store, &cluster, computed.hours).await?);
                tracing::debug!(cluster, ?computed_in, shipped_in = ?started.elapsed() - computed_in, "day and hours");
            }
            anyhow::Ok((i, keys, hourly))
        });
    }
    let mut etl_objects = vec![Vec::new(); clusters.len()];
    let mut hourly_objects = vec![Vec::new(); clusters.len()];
    while let Some(done) = running.join_next().await {
        let (i, keys, hourly) = done.context("cost model task")??;
        etl_objects[i] = keys;
        hourly_objects[i] = hourly;
    }
    let (etl_objects, asset_objects) = etl_objects.into_iter().flatten().unzip();
    Ok(Shipped { etl_objects, asset_objects, hourly_objects: hourly_objects.into_iter().flatten().collect() })
}
