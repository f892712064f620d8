//! Step "federation": the federator combines every cluster's ETL objects into
//! `federated/combined/`, and must find exactly the clusters that shipped.

use ampfed_federation::{federate, FederationReport};
use anyhow::Result;

use crate::env::Env;

/// Federates the bucket; fails unless the combined clusters are `expected`.
pub async fn combine(env: &Env, expected: &[String]) -> Result<FederationReport> {
    let report = federate(&env.store(), None).await?;
    let mut sorted = expected.to_vec();
    sorted.sort();
    let mut combined = report.clusters.clone();
    combined.sort();
    if combined != sorted {
        return Err(anyhow::anyhow!("combined clusters {:?}, expected {:?}", report.clusters, expected)
            .context(crate::Failure::Check));
    }
    Ok(report)
}
