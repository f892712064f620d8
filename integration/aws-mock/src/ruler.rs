//! The ruler on a virtual clock: evaluates every ACTIVE namespace's recording rules over a time
//! range, the way `promtool tsdb create-blocks-from rules` backfills. For each group, rules go
//! in file order; each rule is evaluated over the whole range at the group's interval and its
//! results are written back before the next rule runs, so later rules see earlier ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};
use ampfed_prom::{Client, PromError};

use crate::{lock, Shared};

/// Evaluates rules against the backend.
pub struct Ruler {
    shared: Arc<Shared>,
    backend: Client,
}

/// What one evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulerReport {
    pub namespaces: usize,
    pub groups: usize,
    pub recording_rules: usize,
    pub alerting_rules_skipped: usize,
    pub series_written: usize,
    pub samples_written: usize,
    /// Record names, in evaluation order, with how many series each produced.
    pub records: Vec<(String, usize)>,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum RulerError {
    #[error("workspace {workspace}, namespace {namespace}, group {group:?}: {message}")]
    Group { workspace: String, namespace: String, group: String, message: String },
    #[error(
        "workspace {workspace}, namespace {namespace}, group {group:?}, rule {index} ({record}): {source}"
    )]
    Rule {
        workspace: String,
        namespace: String,
        group: String,
        index: usize,
        record: String,
        source: Box<PromError>,
    },
}

/// Samples per remote write request when writing results back.
const WRITE_BATCH_SAMPLES: usize = 50_000;

impl Ruler {
    pub(crate) fn new(shared: Arc<Shared>) -> Ruler {
        let backend = Client::new(shared.options.backend_url.clone(), "/api/v1/write");
        Ruler { shared, backend }
    }

    /// Evaluates every recording rule at every group interval from `start` to `end`
    /// (unix seconds, inclusive) and writes the results to the backend.
    pub fn evaluate_range(&self, start: i64, end: i64) -> Result<RulerReport, RulerError> {
        let namespaces = {
            let mut cp = lock(&self.shared.amp);
            cp.settle();
            cp.active_namespaces()
        };
        let mut report = RulerReport { namespaces: namespaces.len(), ..RulerReport::default() };
        for (workspace, ns) in &namespaces {
            for group in &ns.rules.groups {
                report.groups += 1;
                let step = group.interval_secs().map_err(|message| RulerError::Group {
                    workspace: workspace.clone(),
                    namespace: ns.name.clone(),
                    group: group.name.clone(),
                    message,
                })?;
                // Evaluation times are aligned to the interval, as Prometheus aligns groups.
                let first = start.div_euclid(step) * step;
                for (index, rule) in group.rules.iter().enumerate() {
                    let Some(record) = &rule.record else {
                        report.alerting_rules_skipped += 1;
                        continue;
                    };
                    let fail = |source: PromError| RulerError::Rule {
                        workspace: workspace.clone(),
                        namespace: ns.name.clone(),
                        group: group.name.clone(),
                        index,
                        record: record.clone(),
                        source: Box::new(source),
                    };
                    let result = self.backend.query_range(&rule.expr, first, end, step).map_err(fail)?;
                    let mut series = Vec::with_capacity(result.len());
                    for s in result {
                        let mut labels: BTreeMap<String, String> =
                            s.labels.into_iter().filter(|(k, _)| k != "__name__").collect();
                        labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                        let mut ts = TimeSeries::new(record, &labels);
                        ts.samples = s
                            .points
                            .iter()
                            .map(|&(t, value)| Sample { value, timestamp: (t * 1000.0).round() as i64 })
                            .collect();
                        series.push(ts);
                    }
                    report.recording_rules += 1;
                    report.records.push((record.clone(), series.len()));
                    report.series_written += series.len();
                    report.samples_written += series.iter().map(|s| s.samples.len()).sum::<usize>();
                    self.write(series).map_err(fail)?;
                }
            }
        }
        Ok(report)
    }

    fn write(&self, series: Vec<TimeSeries>) -> Result<(), PromError> {
        let mut batch = WriteRequest::default();
        for ts in series {
            batch.timeseries.push(ts);
            if batch.sample_count() >= WRITE_BATCH_SAMPLES {
                self.backend.write(&std::mem::take(&mut batch))?;
            }
        }
        if !batch.timeseries.is_empty() {
            self.backend.write(&batch)?;
        }
        Ok(())
    }
}
