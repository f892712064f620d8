//! Step "federation": the federator combines every cluster's daily and hourly ETL objects
//! into `federated/combined/` (incremental, under its lease), and must find exactly the
//! clusters that shipped, nothing quarantined, no two sources for one cluster, no cluster
//! missing a window, and 24 combined hours for each combined day.

use ampfed_federation::{federate_with, FederationReport, Options};
use anyhow::Result;

use crate::env::Env;

/// The e2e's federator: one stable holder id, so a re-run resumes its own lease.
const HOLDER: &str = "ampfed-e2e";

/// Federates the bucket; fails unless the combined clusters are `expected` and every object
/// was trusted.
pub async fn combine(env: &Env, expected: &[String]) -> Result<FederationReport> {
    combine_in(&env.store(), expected, None).await
}

/// As [`combine`], in any bucket (`e2e --target aws` federates the user's); `hours` is how
/// many combined hourly sets there must be (`None`: 24 a combined day).
pub async fn combine_in(
    store: &ampfed_federation::Store,
    expected: &[String],
    hours: Option<usize>,
) -> Result<FederationReport> {
    let options = Options { holder: HOLDER.to_owned(), ..Options::default() };
    let report = federate_with(store, &options).await?;
    let mut sorted = expected.to_vec();
    sorted.sort();
    let mut combined = report.clusters.clone();
    combined.sort();
    let check = |message: String| Err(anyhow::anyhow!(message).context(crate::Failure::Check));
    if combined != sorted {
        return check(format!("combined clusters {:?}, expected {:?}", report.clusters, expected));
    }
    if !report.quarantined.is_empty() {
        return check(format!("objects quarantined: {:?}", report.quarantined));
    }
    if !report.conflicts.is_empty() {
        return check(format!("two sources claim one cluster: {:?}", report.conflicts));
    }
    if let Some(w) = report.windows.iter().find(|w| !w.missing.is_empty()) {
        return check(format!("window {:?} misses clusters {:?}", w.window, w.missing));
    }
    let hours = hours.unwrap_or(24 * report.objects_written.len());
    if report.hourly_objects_written.len() != hours || report.hourly_asset_objects_written.len() != hours {
        return check(format!(
            "{} combined days but {} combined hourly allocation and {} asset sets ({hours} expected)",
            report.objects_written.len(),
            report.hourly_objects_written.len(),
            report.hourly_asset_objects_written.len()
        ));
    }
    Ok(report)
}
