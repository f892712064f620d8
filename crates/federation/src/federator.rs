//! The federator: reads every cluster's sets, merges those of the same window, and writes the
//! result to `federated/combined/`. Running it twice gives the same objects.

use std::collections::BTreeMap;

use crate::store::{Store, COMBINED};
use crate::FederationError;
use ampfed_allocation::{AllocationSet, AssetSet, Window};

/// What a federation run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FederationReport {
    pub clusters: Vec<String>,
    pub objects_read: usize,
    /// The combined allocation sets written, one per window.
    pub objects_written: Vec<String>,
    /// The combined asset sets written, one per window with assets.
    pub asset_objects_written: Vec<String>,
    pub allocations: usize,
}

/// Combines the clusters in `only` (all clusters when `None`).
pub async fn federate(store: &Store, only: Option<&[String]>) -> Result<FederationReport, FederationError> {
    let mut clusters = store.clusters().await?;
    if let Some(only) = only {
        clusters.retain(|c| only.contains(c));
    }
    let mut report = FederationReport { clusters: clusters.clone(), ..FederationReport::default() };
    let mut by_window: BTreeMap<Window, Vec<AllocationSet>> = BTreeMap::new();
    for cluster in &clusters {
        for key in store.allocation_keys(cluster).await? {
            let set = store.get_set(&key).await?;
            report.objects_read += 1;
            by_window.entry(set.window).or_default().push(set);
        }
    }
    for (window, sets) in by_window {
        let mut names = BTreeMap::new();
        let mut members = Vec::new();
        let mut allocations = Vec::new();
        for set in sets {
            members.extend(set.clusters);
            for a in set.allocations {
                if names.insert(a.name.clone(), ()).is_some() {
                    return Err(FederationError::Duplicate { window: window.file_stem(), name: a.name });
                }
                allocations.push(a);
            }
        }
        report.allocations += allocations.len();
        let combined = AllocationSet::new(members, window, allocations);
        report.objects_written.push(store.put_set(COMBINED, &combined).await?);
    }
    let mut assets_by_window: BTreeMap<Window, Vec<AssetSet>> = BTreeMap::new();
    for cluster in &report.clusters {
        for key in store.asset_keys(cluster).await? {
            let assets = store.get_assets(&key).await?;
            report.objects_read += 1;
            assets_by_window.entry(assets.window).or_default().push(assets);
        }
    }
    for sets in assets_by_window.into_values() {
        // Every set of the map's entry has its window, so they combine.
        if let Some(combined) = AssetSet::combine(&sets) {
            report.asset_objects_written.push(store.put_assets(COMBINED, &combined).await?);
        }
    }
    tracing::info!(clusters = report.clusters.len(), objects = report.objects_written.len(), "federated");
    Ok(report)
}
