//! Step progress, with one owner: a spinner or bar per step on a terminal, a line per step
//! always, the wall time of every step for the summary, and the "step 'X' failed" context on
//! a step's error. A step's name is written once, as a [`StepName`].

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The steps of the path, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepName {
    /// Prometheus and LocalStack started and ready.
    Environment,
    /// The STS and AMP mocks and the signing proxy started.
    AwsMockProxy,
    /// A workspace created and the recording rules installed through the AMP API.
    Rules,
    /// The clusters' simulated day remote-written through the proxy.
    RemoteWrite,
    /// The mock's ruler evaluated the rules over the simulated day.
    Ruler,
    /// Each cluster's cost model computed its day and shipped it to S3.
    CostModel,
    /// The federator combined every cluster's ETL.
    Federation,
    /// Queries on the combined data and the recorded rule series.
    Query,
    /// Every service stopped, in reverse order of start.
    Teardown,
}

impl StepName {
    /// What the output and the error messages call the step.
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Environment => "environment",
            StepName::AwsMockProxy => "aws mock+proxy",
            StepName::Rules => "rules",
            StepName::RemoteWrite => "remote write",
            StepName::Ruler => "ruler",
            StepName::CostModel => "cost model",
            StepName::Federation => "federation",
            StepName::Query => "query",
            StepName::Teardown => "teardown",
        }
    }

    /// The context of the step's errors.
    pub fn failed(self) -> StepFailed {
        StepFailed(self)
    }
}

/// The context a failed step adds to its error: "step 'X' failed"; reports find the step in
/// an error chain by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepFailed(pub StepName);

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step '{}' failed", self.0)
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of one run: draws them and keeps their times.
pub struct Progress {
    show: bool,
    done: Vec<(StepName, Duration)>,
}

/// A running step's bar, to advance from any thread.
#[derive(Clone)]
pub struct Bar(ProgressBar);

impl Bar {
    /// Advances the bar by `n`.
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// Makes the bar `n` units longer, for work whose size is known only as it starts.
    pub fn inc_length(&self, n: u64) {
        self.0.inc_length(n);
    }
}

impl Progress {
    /// Draws on stderr when `show` (a terminal run); a test run only logs the step names.
    pub fn new(show: bool) -> Progress {
        Progress { show, done: Vec::new() }
    }

    /// Runs one step: `work` gets the step's bar (a bar of `total` units, else a spinner);
    /// its error gets the context "step 'X' failed"; on success a line with the time and
    /// `detail` of its output is printed and the time recorded.
    pub async fn step<T, F, Fut>(
        &mut self,
        name: StepName,
        total: Option<u64>,
        work: F,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T>
    where
        F: FnOnce(Bar) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let bar = self.bar(name, total);
        let started = Instant::now();
        let result = work(Bar(bar.clone())).await;
        bar.finish_and_clear();
        let output = result.with_context(|| name.failed())?;
        let took = started.elapsed();
        if self.show {
            eprintln!("  ✓ {:<14} {:>6.1} s  {}", name.as_str(), took.as_secs_f64(), detail(&output));
        }
        self.done.push((name, took));
        Ok(output)
    }

    /// The steps done so far with their wall times, in order.
    pub fn times(&self) -> &[(StepName, Duration)] {
        &self.done
    }

    fn bar(&self, name: StepName, total: Option<u64>) -> ProgressBar {
        let target = if self.show { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), target).with_style(
                ProgressStyle::with_template(
                    "  {spinner} {msg:<14} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, target).with_style(
                ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(name.as_str());
        bar.enable_steady_tick(Duration::from_millis(120));
        if !self.show {
            tracing::info!("step {name}");
        }
        bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_names_itself_and_a_passed_one_is_timed() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut progress = Progress::new(false);
        let ok = rt.block_on(progress.step(StepName::Rules, None, |_| async { Ok(3) }, |n| n.to_string()));
        assert_eq!(ok.unwrap(), 3);
        let err = rt
            .block_on(progress.step(
                StepName::RemoteWrite,
                Some(10),
                |_| async { Err::<(), _>(anyhow::anyhow!("HTTP 403")) },
                |_| String::new(),
            ))
            .unwrap_err();
        assert_eq!(format!("{err:#}"), "step 'remote write' failed: HTTP 403");
        assert_eq!(progress.times().iter().map(|(n, _)| *n).collect::<Vec<_>>(), [StepName::Rules]);
    }
}
