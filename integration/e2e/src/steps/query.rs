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

/// Reads the combined day and the series of `records` from `workspace`.
pub async fn query(env: &Env, workspace: &str, records: &[String]) -> Result<Answers> {
    let combined = env.store().get_set(&Store::allocation_key(COMBINED, sim::window())).await?;
    let by_namespace = aggregate(&combined, &[Property::Namespace]).iter().map(|r| r.rounded(5)).collect();
    let by_cluster = aggregate(&combined, &[Property::Cluster]).iter().map(|r| r.rounded(5)).collect();
    let reader = env.workspace_client(workspace);
    let records = records.to_vec();
    let rule_series =
        tokio::task::spawn_blocking(move || recorded_series(&reader, &records, sim::last_scrape()))
            .await
            .context("rule series task")??;
    Ok(Answers { by_namespace, by_cluster, rule_series, combined })
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
