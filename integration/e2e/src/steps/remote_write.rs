//! Step "remote write": the clusters' simulated day, remote-written through the signing
//! proxy in batches, as each cluster's Prometheus would.

use std::path::{Path, PathBuf};

use ampfed_clustersim as clustersim;
use anyhow::{bail, Context, Result};

use crate::env::Env;
use crate::progress::Bar;
use crate::sim;

/// The clusters' simulations and how many samples they hold, before anything is sent.
pub struct Prepared {
    sims: Vec<clustersim::Simulation>,
    /// Every sample of every cluster.
    pub samples: usize,
}

/// What the step wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The clusters, in fixture order.
    pub clusters: Vec<String>,
    pub series: usize,
    pub samples: usize,
}

/// Loads the fixtures under `fixtures` and simulates every cluster's day.
pub fn prepare(fixtures: &Path) -> Result<Prepared> {
    let (clusters, prices) = load_fixtures(fixtures)?;
    let sims = clusters
        .iter()
        .map(|c| clustersim::generate(c, &prices, &sim::config()))
        .collect::<Result<Vec<_>, _>>()
        .context("simulate the clusters")?;
    let samples = sims.iter().map(|s| s.stats().samples).sum();
    Ok(Prepared { sims, samples })
}

/// Sends every batch to `workspace` through the proxy, advancing `bar` by samples.
pub async fn write(env: &Env, workspace: &str, prepared: Prepared, bar: Bar) -> Result<Written> {
    let writer = env.workspace_client(workspace);
    tokio::task::spawn_blocking(move || -> Result<Written> {
        let mut written = Written { clusters: Vec::new(), series: 0, samples: 0 };
        for sim in &prepared.sims {
            let name = sim.cluster().to_owned();
            for batch in sim.batches(sim::BATCH_SAMPLES) {
                let n = batch.sample_count();
                writer
                    .write(&batch)
                    .with_context(|| format!("cluster {name}: remote write through the signing proxy"))?;
                written.samples += n;
                bar.inc(n as u64);
            }
            written.series += sim.stats().series;
            written.clusters.push(name);
        }
        Ok(written)
    })
    .await
    .context("remote write task")?
}

fn load_fixtures(dir: &Path) -> Result<(Vec<clustersim::ClusterFixture>, clustersim::Prices)> {
    let prices_dir = dir.join("prices");
    let mut price_files: Vec<PathBuf> = std::fs::read_dir(&prices_dir)
        .with_context(|| format!("read {}", prices_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    price_files.sort();
    let [prices_file] = price_files.as_slice() else {
        bail!(
            "expected exactly one prices fixture (*.yaml) in {}, found {}",
            prices_dir.display(),
            price_files.len()
        );
    };
    let prices = clustersim::load_prices(prices_file)?;
    let clusters = clustersim::load_clusters_dir(&dir.join("clusters"))?;
    if clusters.is_empty() {
        bail!("no cluster fixtures (*.yaml) in {}", dir.join("clusters").display());
    }
    Ok((clusters, prices))
}
