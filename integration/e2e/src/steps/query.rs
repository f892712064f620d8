//! Step "query": what a user reads at the end of the path: the combined day aggregated by
//! namespace and by cluster, and every record name's series through the proxy.

use std::collections::BTreeMap;

use ampfed_allocation::{aggregate, round, AllocationSet, Property, Row};
use ampfed_federation::store::COMBINED;
use ampfed_federation::Store;
use ampfed_prom::Client;
use anyhow::{Context, Result};

use crate::env::Env;
use crate::outcome::RecordedSeries;
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
}

/// Reads the combined days (as one set over the whole window) and the series of `records`
/// from `workspace`.
pub async fn query(
    env: &Env,
    workspace: &str,
    records: &[String],
    settings: &sim::Settings,
) -> Result<Answers> {
    let store = env.store();
    let mut days = Vec::new();
    for day in settings.days() {
        days.push(store.get_set(&Store::allocation_key(COMBINED, day)).await?);
    }
    let combined = over_the_window(days, settings.window());
    let by_namespace = aggregate(&combined, &[Property::Namespace]).iter().map(|r| r.rounded(5)).collect();
    let by_cluster = aggregate(&combined, &[Property::Cluster]).iter().map(|r| r.rounded(5)).collect();
    let reader = env.workspace_client(workspace);
    let records = records.to_vec();
    let last = settings.last_scrape();
    let rule_series = tokio::task::spawn_blocking(move || recorded_series(&reader, &records, last))
        .await
        .context("rule series task")??;
    Ok(Answers { by_namespace, by_cluster, rule_series, combined })
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
fn recorded_series(
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
