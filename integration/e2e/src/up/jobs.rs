//! The path's last steps as commands against a running `up` (its endpoints file): `etl` runs
//! each cluster's cost model over the workspace and ships the daily and hourly ETL to the
//! bucket, as the e2e's "cost model" step does; `federate` combines the bucket, as its
//! "federation" step does. Both print what they did and exit 1 when the federator found
//! something wrong (quarantined objects, a cluster missing a window, two sources of one id).

use std::collections::BTreeSet;

use ampfed_federation::{federate_with, FederationReport, Options, Store};
use anyhow::{Context, Result};

use super::state::Endpoints;
use crate::sim;
use crate::steps::cost_model::{self, Shipped};

/// The holder id of `cargo xtask federate`'s lease (the e2e's is another).
const HOLDER: &str = "ampfed-xtask-federate";

/// The clusters that have samples under `settings.cluster_label` in the simulated window: the
/// label's values on `container_memory_working_set_bytes` at the window's end (a day's range).
pub fn clusters_with_data(endpoints: &Endpoints, settings: &sim::Settings) -> Result<Vec<String>> {
    let label = &settings.cluster_label;
    let window = settings.window();
    let query = format!(
        "count by ({label}) (count_over_time(container_memory_working_set_bytes[{}s]))",
        window.end - window.start
    );
    let samples = endpoints
        .workspace_client()
        .query(&query, window.end)
        .with_context(|| format!("ask AMP which clusters have data ({query})"))?;
    let clusters: BTreeSet<String> =
        samples.into_iter().filter_map(|s| s.labels.get(label).cloned()).collect();
    Ok(clusters.into_iter().collect())
}

/// Runs the cost models of `clusters` (default: those with data) over `settings`' days.
pub async fn etl(
    endpoints: &Endpoints,
    clusters: Option<Vec<String>>,
    settings: &sim::Settings,
) -> Result<(Vec<String>, Shipped)> {
    let clusters = match clusters {
        Some(c) => c,
        None => {
            let (endpoints, settings) = (endpoints.clone(), settings.clone());
            tokio::task::spawn_blocking(move || clusters_with_data(&endpoints, &settings))
                .await
                .context("cluster query task")??
        }
    };
    if clusters.is_empty() {
        anyhow::bail!(
            "no cluster has samples under the label `{}` in the window: load data first (`cargo xtask up --load`), or pass --clusters / --cluster-label / --epoch",
            settings.cluster_label
        );
    }
    let store = Store::new(&endpoints.store_config());
    let shipped = cost_model::ship_with(|| endpoints.workspace_client(), store, &clusters, settings).await?;
    Ok((clusters, shipped))
}

/// Federates the bucket (incrementally, under the lease) and fails on what the federator
/// found wrong.
pub async fn federate(endpoints: &Endpoints) -> Result<FederationReport> {
    let options = Options { holder: HOLDER.to_owned(), ..Options::default() };
    let report = federate_with(&Store::new(&endpoints.store_config()), &options).await?;
    Ok(report)
}

/// What is wrong in a federation report, one line each; empty when nothing is.
pub fn problems(report: &FederationReport) -> Vec<String> {
    let mut out = Vec::new();
    for q in &report.quarantined {
        out.push(format!("quarantined: {q:?}"));
    }
    for c in &report.conflicts {
        out.push(format!("two sources claim one cluster: {c:?}"));
    }
    for w in report.windows.iter().filter(|w| !w.missing.is_empty()) {
        out.push(format!("window {:?} misses clusters {:?}", w.window, w.missing));
    }
    out
}
