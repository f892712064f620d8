//! Step "cost model": each cluster's cost model computes the day from AMP (PromQL through the
//! signing proxy) and ships its allocation set to the central bucket,
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
    /// One ETL object key per cluster, in the order given.
    pub etl_objects: Vec<String>,
}

/// Runs `clusters`' cost models against `workspace`, a bounded number at a time; the first
/// failure ends the step (the other models are cancelled).
pub async fn ship(env: &Env, workspace: &str, clusters: &[String]) -> Result<Shipped> {
    let store = env.store();
    store.ensure_bucket().await.context("create the ETL bucket")?;
    let permits = Arc::new(Semaphore::new(sim::COST_MODEL_CONCURRENCY));
    let mut running = JoinSet::new();
    for (i, cluster) in clusters.iter().enumerate() {
        let model = CostModel::new(env.workspace_client(workspace), cluster, sim::CLUSTER_LABEL);
        let (store, permits, cluster) = (store.clone(), permits.clone(), cluster.clone());
        running.spawn(async move {
            let _permit = permits.acquire_owned().await.context("cost model permits")?;
            let set = tokio::task::spawn_blocking(move || model.compute(sim::window()))
                .await
                .context("cost model task")?
                .with_context(|| format!("cluster {cluster}: cost model"))?;
            anyhow::Ok((i, store.put_set(&cluster, &set).await?))
        });
    }
    let mut etl_objects = vec![String::new(); clusters.len()];
    while let Some(done) = running.join_next().await {
        let (i, key) = done.context("cost model task")??;
        etl_objects[i] = key;
    }
    Ok(Shipped { etl_objects })
}
