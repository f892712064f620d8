//! Step "cost model": each cluster's cost model computes each simulated UTC day from AMP
//! (PromQL through the signing proxy) and ships its daily allocation sets to the central bucket,
//! [`COST_MODEL_CONCURRENCY`](sim::COST_MODEL_CONCURRENCY) clusters at a time.

use std::sync::Arc;

use ampfed_costmodel::CostModel;
use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::env::Env;
use crate::sim;

/// What the cost models shipped.
#[derive(Clone, Debug)]
pub struct Shipped {
    /// The allocation ETL object keys: per cluster in the order given, its days in order.
    pub etl_objects: Vec<String>,
    /// The asset ETL object keys, in the same order.
    pub asset_objects: Vec<String>,
}

/// Runs `clusters`' cost models against `workspace`, a bounded number at a time; the first
/// failure ends the step (the other models are cancelled).
pub async fn ship(
    env: &Env,
    workspace: &str,
    clusters: &[String],
    settings: &sim::Settings,
) -> Result<Shipped> {
    let store = env.store();
    store.ensure_bucket().await.context("create the ETL bucket")?;
    let permits = Arc::new(Semaphore::new(sim::COST_MODEL_CONCURRENCY));
    let mut running = JoinSet::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let model =
            Arc::new(CostModel::new(env.workspace_client(workspace), cluster, &settings.cluster_label));
        let (store, permits, cluster) = (store.clone(), permits.clone(), cluster.clone());
        let days = settings.days();
        running.spawn(async move {
            let _permit = permits.acquire_owned().await.context("cost model permits")?;
            let mut keys = Vec::with_capacity(days.len());
            for day in days {
                let model = model.clone();
                let computed = tokio::task::spawn_blocking(move || model.compute_day(day))
                    .await
                    .context("cost model task")?
                    .with_context(|| format!("cluster {cluster}: cost model for {day:?}"))?;
                let allocations = store.put_set(&cluster, &computed.allocations).await?;
                let assets = store.put_assets(&cluster, &computed.assets).await?;
                keys.push((allocations, assets));
            }
            anyhow::Ok((i, keys))
        });
    }
    let mut etl_objects = vec![Vec::new(); clusters.len()];
    while let Some(done) = running.join_next().await {
        let (i, keys) = done.context("cost model task")??;
        etl_objects[i] = keys;
    }
    let (etl_objects, asset_objects) = etl_objects.into_iter().flatten().unzip();
    Ok(Shipped { etl_objects, asset_objects })
}
