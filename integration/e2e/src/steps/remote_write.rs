//! Step "remote write": the clusters' simulated day, remote-written through the signing
//! proxy as each cluster's Prometheus would, then counted back: stored = generated.
//! [`WRITE_CONCURRENCY`](sim::WRITE_CONCURRENCY) clusters are simulated at a time, their
//! batches all going into one sharded, retrying [`Sender`]; only those clusters' samples are
//! in memory at once. The count is one query per metric name (`count_over_time` drops the
//! name, and Prometheus 2 refuses a result where two series then share their labels) and
//! group of clusters, the groups small enough that no query loads more than
//! [`MAX_SAMPLES_PER_QUERY`] samples (Prometheus refuses a query over its
//! `--query.max-samples`, 50 million by default: one count over 1,000 clusters' days would be).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use ampfed_clustersim as clustersim;
use ampfed_prom::remote_write::WriteRequest;
use ampfed_prom::{Client, Sender, SenderOptions};
use anyhow::{anyhow, bail, Context, Result};

use crate::env::Env;
use crate::progress::Bar;
use crate::sim;

/// How long one request may wait in total between its attempts before the run fails.
const RETRY_BUDGET: Duration = Duration::from_secs(60);
/// Samples one counting query may load at most (a fifth of Prometheus's default limit).
pub const MAX_SAMPLES_PER_QUERY: usize = 10_000_000;
/// Clusters one counting query names at most (keeps the regular expression short).
const MAX_CLUSTERS_PER_QUERY: usize = 200;

/// The clusters to write, before anything is sent.
pub struct Prepared {
    clusters: Vec<Cluster>,
    prices: clustersim::Prices,
    settings: sim::Settings,
}

/// A cluster, simulated already (the repository's fixtures) or still to be (stamped ones).
enum Cluster {
    Simulated(clustersim::Simulation),
    Stamped(clustersim::ClusterFixture),
}

/// What the step wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The clusters, in fixture order (stamped clusters: by name).
    pub clusters: Vec<String>,
    pub series: usize,
    /// Samples generated, over every cluster.
    pub samples: usize,
    /// Samples stored, counted by query: equal to `samples`, or the step fails.
    pub stored: usize,
    /// Remote write requests sent again after a 429, a 5xx or an unreachable endpoint.
    pub retries: u64,
}

/// Loads the fixtures under `fixtures` and simulates every cluster's day; with `stamp`,
/// that many clusters stamped from them instead, simulated only when they are written.
pub fn prepare(fixtures: &Path, stamp: Option<usize>, settings: &sim::Settings) -> Result<Prepared> {
    let (templates, prices) = load_fixtures(fixtures)?;
    let config = settings.config();
    let simulate = |c: &clustersim::ClusterFixture| {
        clustersim::generate(c, &prices, &config).with_context(|| format!("simulate cluster {}", c.name))
    };
    let clusters = match stamp {
        None => templates.iter().map(|c| simulate(c).map(Cluster::Simulated)).collect::<Result<Vec<_>>>()?,
        Some(n) => {
            clustersim::stamp(&templates, n, settings.seed).into_iter().map(Cluster::Stamped).collect()
        }
    };
    Ok(Prepared { clusters, prices, settings: settings.clone() })
}

impl Prepared {
    /// Every cluster simulated (stamped ones now), for a writer of its own: the wall-clock
    /// stream of `e2e --target aws` sends each scrape as the clock reaches it.
    pub fn simulate_all(self) -> Result<Vec<clustersim::Simulation>> {
        let config = self.settings.config();
        self.clusters
            .into_iter()
            .map(|c| match c {
                Cluster::Simulated(sim) => Ok(sim),
                Cluster::Stamped(fixture) => clustersim::generate(&fixture, &self.prices, &config)
                    .with_context(|| format!("simulate cluster {}", fixture.name)),
            })
            .collect()
    }
}

/// Sends every cluster's batches to `workspace` through the proxy (`bar` grows by each
/// cluster's samples once it is simulated and advances by those acknowledged), then counts
/// them back; fails unless every request was acknowledged and every cluster stored exactly
/// what it generated.
pub async fn write(
    env: &Env,
    workspace: &str,
    prepared: Prepared,
    bar: Bar,
    settings: &sim::Settings,
) -> Result<Written> {
    let settings = settings.clone();
    let client = env.workspace_client(workspace);
    let reader = env.workspace_client(workspace);
    tokio::task::spawn_blocking(move || {
        let sender = sender(client);
        let (mut written, generated, metrics) = write_all(&sender, prepared, &bar)?;
        written.stored =
            count_all(&reader, &generated, &metrics, &settings.cluster_label, settings.window())?;
        Ok(written)
    })
    .await
    .context("remote write task")?
}

/// The remote write sender of the clusters' Prometheus: sharded, retrying within
/// [`RETRY_BUDGET`], stopping once a request is lost.
pub(crate) fn sender(client: Client) -> Sender {
    Sender::new(
        client,
        SenderOptions {
            max_samples_per_request: sim::BATCH_SAMPLES,
            shards: sim::WRITE_SHARDS,
            retry_budget: RETRY_BUDGET,
            seed: sim::WRITE_SEED,
            stop_on_loss: true,
            ..SenderOptions::default()
        },
    )
}

/// Fails unless every request `report` counts was acknowledged.
pub(crate) fn check_sent(report: &ampfed_prom::SendReport) -> Result<()> {
    if report.complete() {
        return Ok(());
    }
    bail!(
        "remote write through the signing proxy: {} of {} requests lost ({} refused, {} still failing after {:.0} s of retries); first error: {}",
        report.requests_sent - report.requests_acknowledged,
        report.requests_sent,
        report.requests_dropped,
        report.requests_exhausted,
        RETRY_BUDGET.as_secs_f64(),
        report.first_error.as_deref().unwrap_or("none recorded")
    )
}

/// Simulates and sends every cluster; returns what was written, the samples generated per
/// cluster and every metric name generated.
fn write_all(sender: &Sender, prepared: Prepared, bar: &Bar) -> Result<(Written, Generated, Metrics)> {
    let Prepared { clusters, prices, settings } = prepared;
    let count = clusters.len();
    let names: Vec<String> = clusters
        .iter()
        .map(|c| match c {
            Cluster::Simulated(sim) => sim.cluster().to_owned(),
            Cluster::Stamped(fixture) => fixture.name.clone(),
        })
        .collect();
    let queue: Vec<Mutex<Option<Cluster>>> = clusters.into_iter().map(|c| Mutex::new(Some(c))).collect();
    let stats: Vec<Mutex<Option<clustersim::SimStats>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let metrics: Mutex<Metrics> = Mutex::new(BTreeSet::new());
    let next = AtomicUsize::new(0);
    let config = settings.config();
    let (tx, rx) = mpsc::sync_channel::<WriteRequest>(sim::WRITE_SHARDS * 2);
    let report = std::thread::scope(|scope| {
        for _ in 0..sim::WRITE_CONCURRENCY.min(count) {
            let tx = tx.clone();
            let (queue, stats, failure, next, prices, config) =
                (&queue, &stats, &failure, &next, &prices, &config);
            let metrics = &metrics;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cluster) = queue.get(i).and_then(|c| lock(c).take()) else { return };
                let simulation = match cluster {
                    Cluster::Simulated(sim) => sim,
                    Cluster::Stamped(fixture) => match clustersim::generate(&fixture, prices, config) {
                        Ok(sim) => sim,
                        Err(e) => {
                            let e = anyhow!(e).context(format!("simulate cluster {}", fixture.name));
                            lock(failure).get_or_insert(e);
                            return;
                        }
                    },
                };
                bar.inc_length(simulation.stats().samples as u64);
                *lock(&stats[i]) = Some(simulation.stats());
                {
                    let mut metrics = lock(metrics);
                    for name in simulation.series().iter().filter_map(|ts| ts.label("__name__")) {
                        if !metrics.contains(name) {
                            metrics.insert(name.to_owned());
                        }
                    }
                }
                for batch in simulation.batches(sim::BATCH_SAMPLES) {
                    // The sender stopped reading: a request was lost, the run fails.
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        sender.send(rx, |n| bar.inc(n as u64))
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    check_sent(&report)?;
    let mut written =
        Written { clusters: names, series: 0, samples: 0, stored: 0, retries: report.requests_retried };
    let mut generated = Vec::with_capacity(count);
    for (name, stats) in written.clusters.iter().zip(stats) {
        let stats = stats.into_inner().unwrap_or_else(|p| p.into_inner());
        let stats = stats.with_context(|| format!("cluster {name} was never simulated"))?;
        written.series += stats.series;
        written.samples += stats.samples;
        generated.push((name.clone(), stats.samples));
    }
    if report.samples_acknowledged != written.samples as u64 {
        bail!(
            "the sender acknowledged {} samples, the clusters generated {}",
            report.samples_acknowledged,
            written.samples
        );
    }
    Ok((written, generated, metrics.into_inner().unwrap_or_else(|p| p.into_inner())))
}

/// Metric names, sorted.
pub(crate) type Metrics = BTreeSet<String>;
/// Samples generated per cluster: `(cluster, samples)`, in the clusters' order.
pub(crate) type Generated = Vec<(String, usize)>;

/// Counts each cluster of `generated` (name, samples generated) by query, one metric of
/// `metrics` at a time, over the scrapes of `window` (`label` names the cluster); returns the
/// samples stored over all clusters, or fails naming every cluster whose count differs.
pub(crate) fn count_all(
    client: &Client,
    generated: &[(String, usize)],
    metrics: &Metrics,
    label: &str,
    window: ampfed_allocation::Window,
) -> Result<usize> {
    let last_scrape = window.end - sim::SCRAPE_INTERVAL;
    let mut mismatches = Vec::new();
    let mut stored_total = 0;
    for group in groups(generated, MAX_SAMPLES_PER_QUERY, MAX_CLUSTERS_PER_QUERY) {
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for metric in metrics {
            let query = count_query(metric, group.iter().map(|(name, _)| name.as_str()), label, window);
            let answer = client.query(&query, last_scrape).with_context(|| {
                format!("count the stored samples of {metric} for {} clusters", group.len())
            })?;
            for sample in answer {
                if let Some(cluster) = sample.labels.get(label) {
                    *counted.entry(cluster_name(group, cluster)).or_default() += sample.value as usize;
                }
            }
        }
        for (name, want) in group {
            let stored = counted.get(name.as_str()).copied().unwrap_or(0);
            stored_total += stored;
            if stored != *want {
                mismatches.push(format!("cluster {name}: {stored} samples stored, {want} generated"));
            }
        }
    }
    if !mismatches.is_empty() {
        let more = mismatches.len().saturating_sub(10);
        mismatches.truncate(10);
        let tail = if more > 0 { format!("; and {more} more clusters") } else { String::new() };
        return Err(anyhow!("stored samples differ from those generated: {}{tail}", mismatches.join("; "))
            .context(crate::Failure::Check));
    }
    Ok(stored_total)
}

/// `generated` cut, in order, into groups of at most `max_samples` samples (a bigger cluster
/// makes a group of its own) and `max_clusters` clusters.
fn groups(generated: &[(String, usize)], max_samples: usize, max_clusters: usize) -> Vec<&[(String, usize)]> {
    let mut out = Vec::new();
    let (mut start, mut samples) = (0, 0);
    for (i, (_, n)) in generated.iter().enumerate() {
        if i > start && (samples + n > max_samples || i - start >= max_clusters) {
            out.push(&generated[start..i]);
            (start, samples) = (i, 0);
        }
        samples += n;
    }
    if start < generated.len() {
        out.push(&generated[start..]);
    }
    out
}

/// `cluster` as named in `group` (a name the query did not ask for stays as it is: "").
fn cluster_name<'g>(group: &'g [(String, usize)], cluster: &str) -> &'g str {
    group.iter().find(|(n, _)| n == cluster).map_or("", |(n, _)| n.as_str())
}

/// Samples of `metric` per cluster (named by `label`) over `window`, for the clusters named.
fn count_query<'a>(
    metric: &str,
    clusters: impl Iterator<Item = &'a str>,
    label: &str,
    window: ampfed_allocation::Window,
) -> String {
    let names: Vec<String> = clusters.map(regex_literal).collect();
    format!(
        "sum by ({label}) (count_over_time({metric}{{{label}=~\"{names}\"}}[{range}s]))",
        names = names.join("|"),
        range = window.end - window.start,
    )
}

/// `name` as a literal inside a PromQL string holding a regular expression: every character
/// but letters, digits and `-` is escaped for the regex, and that backslash for the string.
fn regex_literal(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_string() } else { format!("\\\\{c}") })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn load_fixtures(dir: &Path) -> Result<(Vec<clustersim::ClusterFixture>, clustersim::Prices)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters(sizes: &[usize]) -> Vec<(String, usize)> {
        sizes.iter().enumerate().map(|(i, n)| (format!("c-{i}"), *n)).collect()
    }

    #[test]
    fn count_groups_stay_under_both_limits_and_keep_every_cluster_in_order() {
        let all = clusters(&[4, 4, 4, 9, 1, 1, 1, 1]);
        let sizes: Vec<Vec<usize>> =
            groups(&all, 8, 3).iter().map(|g| g.iter().map(|(_, n)| *n).collect()).collect();
        assert_eq!(sizes, [vec![4, 4], vec![4], vec![9], vec![1, 1, 1], vec![1]]);
        assert!(groups(&[], 8, 3).is_empty());
        // 1,000 clusters of a day each (~260,000 samples) need several queries.
        let thousand = clusters(&[260_000; 1000]);
        let cut = groups(&thousand, MAX_SAMPLES_PER_QUERY, MAX_CLUSTERS_PER_QUERY);
        assert!(cut.len() >= 26, "{} groups", cut.len());
        assert_eq!(cut.iter().map(|g| g.len()).sum::<usize>(), 1000);
        assert!(cut.iter().all(|g| g.iter().map(|(_, n)| n).sum::<usize>() <= MAX_SAMPLES_PER_QUERY));
    }

    #[test]
    fn the_count_query_names_each_cluster_as_a_literal() {
        let settings = sim::Settings::default();
        let q = count_query(
            "up",
            ["cluster-a-001", "eu.west"].into_iter(),
            &settings.cluster_label,
            settings.window(),
        );
        assert_eq!(
            q,
            r#"sum by (cluster_id) (count_over_time(up{cluster_id=~"cluster-a-001|eu\\.west"}[86400s]))"#
        );
    }
}
