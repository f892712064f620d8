//! The simulated clusters the rules are checked against: the fixtures' clusters over a short
//! window, each with its label style or one forced for all, and the label names their series
//! carry per metric.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ampfed_clustersim::{LabelStyle, SimConfig, Simulation};
use anyhow::{Context, Result};

use crate::sim;

/// The fixtures' clusters (`<fixtures>/clusters`, `<fixtures>/prices`), simulated from the
/// path's epoch for `duration_secs`.
pub fn simulate(
    fixtures: &Path,
    style: Option<LabelStyle>,
    cluster_label: &str,
    duration_secs: i64,
) -> Result<Vec<Simulation>> {
    let (clusters, prices) = crate::steps::remote_write::load_fixtures(fixtures)?;
    let config = SimConfig {
        start_unix: sim::SIM_START,
        duration_secs,
        scrape_interval_secs: sim::SCRAPE_INTERVAL,
        cluster_label: cluster_label.to_owned(),
        label_style: style,
    };
    clusters
        .iter()
        .map(|c| {
            ampfed_clustersim::generate(c, &prices, &config)
                .with_context(|| format!("simulate cluster {}", c.name))
        })
        .collect()
}

/// Per cluster, per metric: the label names its series carry (the cluster label included).
pub fn labels(sims: &[Simulation]) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    sims.iter()
        .map(|s| {
            let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for ts in s.series() {
                let Some(name) = ts.label("__name__") else { continue };
                let set = metrics.entry(name.to_owned()).or_default();
                set.extend(ts.labels.iter().filter(|l| l.name != "__name__").map(|l| l.name.clone()));
                set.insert(s.cluster_label().to_owned());
            }
            (s.cluster().to_owned(), metrics)
        })
        .collect()
}
