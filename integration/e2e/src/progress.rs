//! Step progress: a spinner per step on a terminal, a line per step always, and the wall time
//! of every step for the summary.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Tracks the steps of one run.
pub struct Steps {
    show: bool,
    pub(crate) done: Vec<(String, Duration)>,
}

/// A running step.
pub struct Step {
    name: String,
    started: Instant,
    bar: ProgressBar,
}

impl Steps {
    pub fn new(show: bool) -> Steps {
        Steps { show, done: Vec::new() }
    }

    /// Starts a step; `total` makes it a bar instead of a spinner.
    pub fn start(&self, name: &str, total: Option<u64>) -> Step {
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), self.target()).with_style(
                ProgressStyle::with_template(
                    "  {spinner} {msg:<14} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, self.target()).with_style(
                ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        if !self.show {
            tracing::info!("step {name}");
        }
        Step { name: name.to_owned(), started: Instant::now(), bar }
    }

    /// Ends a step and records its time.
    pub fn finish(&mut self, step: Step, detail: &str) {
        let took = step.started.elapsed();
        step.bar.finish_and_clear();
        if self.show {
            eprintln!("  ✓ {:<14} {:>6.1} s  {detail}", step.name, took.as_secs_f64());
        }
        self.done.push((step.name, took));
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }
}

impl Step {
    /// Advances a bar.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Step {
    /// A handle to advance the bar from another thread.
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }
}
