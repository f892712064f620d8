//! Step "ruler": the AMP mock's ruler evaluates every installed rule over the simulated day
//! on its virtual clock, writing the recorded series back as AMP would.

use ampfed_aws_mock::RulerReport;
use anyhow::{Context, Result};

use crate::env::Env;
use crate::sim;

/// Evaluates from the day's first to its last scrape.
pub async fn evaluate(env: &Env) -> Result<RulerReport> {
    let ruler = env.mock().ruler();
    let report =
        tokio::task::spawn_blocking(move || ruler.evaluate_range(sim::SIM_START, sim::last_scrape()))
            .await
            .context("ruler task")??;
    Ok(report)
}
