//! The simulated day every run covers, and the simulator's settings for it.

use ampfed_allocation::Window;
use ampfed_clustersim::SimConfig;

/// The simulated day: 2026-01-01T00:00:00Z.
pub const SIM_START: i64 = 1_767_225_600;
/// One day.
pub const SIM_DURATION: i64 = 86_400;
/// The clusters' scrape interval.
pub const SCRAPE_INTERVAL: i64 = 60;
/// The label the clusters' Prometheus attaches (`external_labels`), Kubecost's default.
pub const CLUSTER_LABEL: &str = "cluster_id";
/// Samples per remote write request.
pub const BATCH_SAMPLES: usize = 20_000;
/// The remote write sender's shards: requests in flight at once.
pub const WRITE_SHARDS: usize = 4;
/// Clusters simulated and written at a time (each one's samples are in memory meanwhile).
pub const WRITE_CONCURRENCY: usize = 4;
/// Cost models computing at a time.
pub const COST_MODEL_CONCURRENCY: usize = 4;
/// Seeds the sender's retry jitter.
pub const WRITE_SEED: u64 = 2026;
/// Seeds the clusters stamped from the fixtures (`--clusters N`).
pub const STAMP_SEED: u64 = 2026;

/// The simulated day as an ETL window.
pub fn window() -> Window {
    Window { start: SIM_START, end: SIM_START + SIM_DURATION }
}

/// The time of the day's last scrape.
pub fn last_scrape() -> i64 {
    SIM_START + SIM_DURATION - SCRAPE_INTERVAL
}

/// The simulator's settings for the day.
pub fn config() -> SimConfig {
    SimConfig {
        start_unix: SIM_START,
        duration_secs: SIM_DURATION,
        scrape_interval_secs: SCRAPE_INTERVAL,
        cluster_label: CLUSTER_LABEL.into(),
    }
}
