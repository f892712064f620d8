//! The simulated window every run covers, and the simulator's settings for it: the epoch (a
//! UTC midnight), the number of days, the cluster label and the cAdvisor label style.

use ampfed_allocation::Window;
use ampfed_clustersim::{LabelStyle, SimConfig};

/// The default simulated day: 2026-01-01T00:00:00Z.
pub const SIM_START: i64 = 1_767_225_600;
/// One day.
pub const DAY: i64 = 86_400;
/// The most days a run may simulate.
pub const MAX_DAYS: u32 = 31;
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

/// What is simulated: from `epoch` (unix seconds, a UTC midnight) for `days` days, with the
/// cluster label `cluster_label` and, when set, one cAdvisor label style for every cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub epoch: i64,
    pub days: u32,
    pub cluster_label: String,
    pub label_style: Option<LabelStyle>,
    /// Seeds the clusters stamped from the fixtures (`--clusters N --seed S`).
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            epoch: SIM_START,
            days: 1,
            cluster_label: CLUSTER_LABEL.to_owned(),
            label_style: None,
            seed: ampfed_clustersim::stamp::DEFAULT_SEED,
        }
    }
}

impl Settings {
    /// Seconds simulated.
    pub fn duration(&self) -> i64 {
        i64::from(self.days) * DAY
    }

    /// The whole simulated window.
    pub fn window(&self) -> Window {
        Window { start: self.epoch, end: self.epoch + self.duration() }
    }

    /// The UTC days of the window, in order: the cost model's daily ETL windows.
    pub fn days(&self) -> Vec<Window> {
        (0..i64::from(self.days))
            .map(|d| Window { start: self.epoch + d * DAY, end: self.epoch + (d + 1) * DAY })
            .collect()
    }

    /// The time of the window's last scrape.
    pub fn last_scrape(&self) -> i64 {
        self.epoch + self.duration() - SCRAPE_INTERVAL
    }

    /// The simulator's settings for the window.
    pub fn config(&self) -> SimConfig {
        SimConfig {
            start_unix: self.epoch,
            duration_secs: self.duration(),
            scrape_interval_secs: SCRAPE_INTERVAL,
            cluster_label: self.cluster_label.clone(),
            label_style: self.label_style,
        }
    }
}

/// Parses `--epoch`: a date (`2026-01-01`), an RFC 3339 time at UTC midnight
/// (`2026-01-01T00:00:00Z`) or unix seconds; it must be a UTC midnight, so that the days of
/// the run are the ETL's UTC days.
pub fn parse_epoch(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let secs = if let Ok(n) = t.parse::<i64>() {
        n
    } else if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).map_or(0, |dt| dt.and_utc().timestamp())
    } else if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        dt.timestamp()
    } else {
        return Err(format!(
            "`{text}` is not a date; write 2026-01-01, 2026-01-01T00:00:00Z or unix seconds"
        ));
    };
    if !(0..=32_503_680_000).contains(&secs) {
        return Err(format!("`{text}` is outside 1970–3000"));
    }
    if secs.rem_euclid(DAY) != 0 {
        return Err(format!("`{text}` is not a UTC midnight; the simulated days must be UTC days"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_utc_midnights_in_three_spellings() {
        assert_eq!(parse_epoch("2026-01-01"), Ok(SIM_START));
        assert_eq!(parse_epoch("2026-01-01T00:00:00Z"), Ok(SIM_START));
        assert_eq!(parse_epoch("2026-01-01T01:00:00+01:00"), Ok(SIM_START));
        assert_eq!(parse_epoch("1767225600"), Ok(SIM_START));
        assert!(parse_epoch("2026-01-01T06:00:00Z").unwrap_err().contains("not a UTC midnight"));
        assert!(parse_epoch("yesterday").unwrap_err().contains("is not a date"));
    }

    #[test]
    fn days_are_consecutive_utc_days() {
        let s = Settings { days: 3, ..Settings::default() };
        let days = s.days();
        assert_eq!(days.len(), 3);
        assert_eq!(days[0], Window { start: SIM_START, end: SIM_START + DAY });
        assert_eq!(days[2].end, s.window().end);
        assert_eq!(s.last_scrape(), SIM_START + 3 * DAY - 60);
    }
}
