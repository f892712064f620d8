//! The steps of the path, one module each: a function taking the [`Env`](crate::env::Env)
//! and typed inputs, returning a typed output that later steps and the summary read.
//!
//! rules → remote write → ruler → cost model → federation → query; [`fill`] runs the data
//! part (remote write to federation) for the e2e and for `up --load`.

pub mod cost_model;
pub mod federation;
pub mod query;
pub mod remote_write;
pub mod ruler;
pub mod rules;

use anyhow::Result;

use crate::env::Env;
use crate::progress::{Progress, StepName};

/// What [`fill`] did.
pub struct Filled {
    pub written: remote_write::Written,
    pub evaluated: ampfed_aws_mock::RulerReport,
    pub shipped: cost_model::Shipped,
    pub federated: ampfed_federation::FederationReport,
}

/// The data part of the path, on a running environment whose `workspace` has its rules:
/// remote write of the prepared clusters, the ruler, the cost model, federation. `run` calls
/// it, and so does `up --load`.
pub async fn fill(
    env: &Env,
    workspace: &str,
    prepared: remote_write::Prepared,
    settings: &crate::sim::Settings,
    progress: &mut Progress,
) -> Result<Filled> {
    let written = progress
        .step(
            StepName::RemoteWrite,
            Some(0),
            |bar| remote_write::write(env, workspace, prepared, bar, settings),
            |w| {
                format!(
                    "{} clusters, {} series, {} samples (all stored; {} retries)",
                    w.clusters.len(),
                    w.series,
                    w.samples,
                    w.retries
                )
            },
        )
        .await?;

    let evaluated = progress
        .step(
            StepName::Ruler,
            None,
            |_| ruler::evaluate(env, settings),
            |r| {
                format!(
                    "{} rules, {} series, {} samples",
                    r.recording_rules, r.series_written, r.samples_written
                )
            },
        )
        .await?;

    let shipped = progress
        .step(
            StepName::CostModel,
            None,
            |_| cost_model::ship(env, workspace, &written.clusters, settings),
            |s| {
                format!(
                    "{} daily allocation, {} daily asset and {} hourly ETL objects",
                    s.etl_objects.len(),
                    s.asset_objects.len(),
                    s.hourly_objects.len()
                )
            },
        )
        .await?;

    let federated = progress
        .step(
            StepName::Federation,
            None,
            |_| federation::combine(env, &written.clusters),
            |f| {
                format!(
                    "{} objects read, {} allocations combined ({} days, {} hours)",
                    f.objects_read,
                    f.allocations,
                    f.objects_written.len(),
                    f.hourly_objects_written.len()
                )
            },
        )
        .await?;

    Ok(Filled { written, evaluated, shipped, federated })
}
