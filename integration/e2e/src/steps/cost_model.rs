//! Step "cost model": each cluster's cost model computes the day from AMP (PromQL through the
//! signing proxy) and ships its allocation set to the central bucket.

use ampfed_costmodel::CostModel;
use anyhow::{Context, Result};

use crate::env::Env;
use crate::sim;

/// What the cost models shipped.
#[derive(Clone, Debug)]
pub struct Shipped {
    /// One ETL object key per cluster, in the order given.
    pub etl_objects: Vec<String>,
}

/// Runs `clusters`' cost models one after another against `workspace`.
pub async fn ship(env: &Env, workspace: &str, clusters: &[String]) -> Result<Shipped> {
    let store = env.store();
    store.ensure_bucket().await.context("create the ETL bucket")?;
    let mut etl_objects = Vec::new();
    for cluster in clusters {
        let model = CostModel::new(env.workspace_client(workspace), cluster, sim::CLUSTER_LABEL);
        let set = tokio::task::spawn_blocking(move || model.compute(sim::window()))
            .await
            .context("cost model task")??;
        etl_objects.push(store.put_set(cluster, &set).await?);
    }
    Ok(Shipped { etl_objects })
}
