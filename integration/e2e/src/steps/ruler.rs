//! Step "ruler": the AMP mock's ruler evaluates every installed rule over the simulated window
//! on its virtual clock, writing the recorded series back as AMP would.

use ampfed_aws_mock::RulerReport;
use anyhow::{Context, Result};

use crate::env::Env;
use crate::sim;

/// Evaluates from the window's first to its last scrape.
pub async fn evaluate(env: &Env, settings: &sim::Settings) -> Result<RulerReport> {
    let ruler = env.mock().ruler();
    let (start, end) = (settings.epoch, settings.last_scrape());
    let report = tokio::task::spawn_blocking(move || ruler.evaluate_range(start, end))
        .await
        .context("ruler task")??;
    Ok(report)
}
