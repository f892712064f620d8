//! Rule evaluation over a time range: each group at its interval, rules in file order, each
//! rule over the whole range as one range query, its results (recorded series, `ALERTS`, stale
//! markers) written back as series of the rule's workspace before the next rule runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};
use ampfed_prom::{Client, PromError};

use super::history::{ActiveAlert, GroupState, RuleKey, RuleState, RulerState};
use crate::amp::control::{ControlPlane, Namespace};
use crate::amp::rules::{parse_duration, Rule, RuleGroup};
use crate::amp::tenancy::{self, TENANT_LABEL};
use crate::sync::lock;

/// Evaluates rules against the backend.
pub struct Ruler {
    control: Arc<Mutex<ControlPlane>>,
    /// Where the ruler records what it did.
    history: Arc<Mutex<RulerState>>,
    backend: Client,
}

/// What one evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulerReport {
    pub namespaces: usize,
    pub groups: usize,
    pub recording_rules: usize,
    pub alerting_rules: usize,
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
        "workspace {workspace}, namespace {namespace}, group {group:?}, rule {index} ({name}): {source}"
    )]
    Rule {
        workspace: String,
        namespace: String,
        group: String,
        index: usize,
        name: String,
        source: Box<PromError>,
    },
    /// The last evaluation produced nothing: a group `limit` exceeded, or two result series
    /// with one label set once the rule's name and labels were applied; `rule` names it as
    /// `Rule` does.
    #[error("{rule}: {message}")]
    Refused { rule: String, message: String },
}

/// Why one rule failed.
enum RuleFailure {
    Query(PromError),
    /// The last evaluation was refused (over the group's `limit`, or colliding label sets).
    Refused(String),
}

/// A series' labels, `__name__` among them.
type Labels = BTreeMap<String, String>;
/// A series' points: unix seconds and values, in time order.
type Points = Vec<(i64, f64)>;

/// Prometheus's stale marker.
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN.to_bits()
}

/// Samples per remote write request when writing results back.
const WRITE_BATCH_SAMPLES: usize = 50_000;

impl Ruler {
    /// A ruler over the namespaces of `control` and the backend at `backend_url`.
    pub(crate) fn new(
        control: Arc<Mutex<ControlPlane>>,
        history: Arc<Mutex<RulerState>>,
        backend_url: &str,
    ) -> Ruler {
        let backend = Client::new(backend_url.to_owned(), "/api/v1/write");
        Ruler { control, history, backend }
    }

    /// Evaluates every rule at every group interval from `start` to `end` (unix seconds,
    /// inclusive) and writes recording results to the backend.
    pub fn evaluate_range(&self, start: i64, end: i64) -> Result<RulerReport, RulerError> {
        let namespaces = self.active();
        let mut report = RulerReport { namespaces: namespaces.len(), ..RulerReport::default() };
        // Like Prometheus, a failing rule does not stop the others; the first failure is the
        // answer once everything was evaluated, and every failure shows in `/api/v1/rules`.
        let mut failure = None;
        for (workspace, ns) in &namespaces {
            for group in &ns.rules.groups {
                let step = interval(workspace, ns, group)?;
                // Evaluation times are aligned to the interval, as Prometheus aligns groups.
                // Saturating: a rules file's interval and a caller's range are outside data.
                let first = start
                    .div_euclid(step)
                    .saturating_mul(step)
                    .saturating_add(if start.rem_euclid(step) == 0 { 0 } else { step });
                if let Err(e) = self.evaluate_group(workspace, ns, group, first, end, step, &mut report) {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(report), Err)
    }

    /// Every ACTIVE namespace of every ACTIVE workspace, pending transitions finished first.
    pub(super) fn active(&self) -> Vec<(String, Namespace)> {
        let mut cp = lock(&self.control);
        cp.finish_pending();
        cp.active_namespaces()
    }

    /// Evaluates one group's rules over `[first, end]` at `step` and records their state; the
    /// error is the group's first failing rule.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn evaluate_group(
        &self,
        workspace: &str,
        ns: &Namespace,
        group: &RuleGroup,
        first: i64,
        end: i64,
        step: i64,
        report: &mut RulerReport,
    ) -> Result<(), RulerError> {
        report.groups += 1;
        let key = (workspace.to_owned(), ns.name.clone(), group.name.clone());
        let began = Instant::now();
        let mut states = vec![RuleState { health: "unknown", ..RuleState::default() }; group.rules.len()];
        let mut failure = None;
        if first <= end {
            for (index, rule) in group.rules.iter().enumerate() {
                let rule_began = Instant::now();
                let rule_key = (key.0.clone(), key.1.clone(), key.2.clone(), index);
                let limit = group.limit.unwrap_or(0) as usize;
                let result = self.evaluate_rule(workspace, rule_key, rule, (first, end, step), limit, report);
                let state = &mut states[index];
                state.last_evaluation = Some(end);
                state.evaluation_seconds = rule_began.elapsed().as_secs_f64();
                match result {
                    Ok(alerts) => {
                        state.health = "ok";
                        state.alerts = alerts;
                    }
                    Err(e) => {
                        state.health = "err";
                        let (workspace, namespace, group, name) = (
                            workspace.to_owned(),
                            ns.name.clone(),
                            group.name.clone(),
                            rule.name().to_owned(),
                        );
                        let error = match e {
                            RuleFailure::Query(source) => {
                                state.last_error = source.to_string();
                                RulerError::Rule {
                                    workspace,
                                    namespace,
                                    group,
                                    index,
                                    name,
                                    source: Box::new(source),
                                }
                            }
                            RuleFailure::Refused(message) => {
                                state.last_error = message.clone();
                                let rule = format!(
                                    "workspace {workspace}, namespace {namespace}, group {group:?}, rule {index} ({name})"
                                );
                                RulerError::Refused { rule, message }
                            }
                        };
                        failure.get_or_insert(error);
                    }
                }
            }
        }
        let evaluated = GroupState {
            last_evaluation: (first <= end).then_some(end),
            evaluation_seconds: began.elapsed().as_secs_f64(),
            rules: states,
        };
        lock(&self.history).groups.insert(key, evaluated);
        failure.map_or(Ok(()), Err)
    }

    /// One rule over the range `(first, end, step)`; for an alerting rule, the alerts active at
    /// `end`. With a group `limit`, an evaluation with more series (or alerts) than the limit
    /// produces nothing, as in Prometheus, and fails the rule if it is the last one.
    fn evaluate_rule(
        &self,
        workspace: &str,
        rule_key: RuleKey,
        rule: &Rule,
        (first, end, step): (i64, i64, i64),
        limit: usize,
        report: &mut RulerReport,
    ) -> Result<Vec<ActiveAlert>, RuleFailure> {
        // Scoped (and checked) as the data plane scopes queries; rules files were checked on
        // create and put already.
        let expr = tenancy::scope_query(&rule.expr, workspace).map_err(|e| {
            RuleFailure::Query(PromError::Decode { url: "rule expression".into(), message: e.to_string() })
        })?;
        let mut result = self.backend.query_range(&expr, first, end, step).map_err(RuleFailure::Query)?;
        let mut over_limit_at_end = None;
        if limit > 0 {
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for s in &result {
                for &(t, _) in &s.points {
                    *counts.entry(t.round() as i64).or_default() += 1;
                }
            }
            let over: BTreeSet<i64> = counts.iter().filter(|(_, &n)| n > limit).map(|(&t, _)| t).collect();
            for s in &mut result {
                s.points.retain(|&(t, _)| !over.contains(&(t.round() as i64)));
            }
            result.retain(|s| !s.points.is_empty());
            if let Some(&n) = counts.get(&end).filter(|&&n| n > limit) {
                let what = if rule.record.is_some() { "series" } else { "alerts" };
                over_limit_at_end = Some(format!("exceeded limit of {limit} with {n} {what}"));
            }
        }
        // Output series: labels (with `__name__`) → points in time order.
        let mut out: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
        let mut alerts = Vec::new();
        // Evaluations that failed for colliding label sets (recording rules).
        let mut collided: BTreeSet<i64> = BTreeSet::new();
        let base_labels = |labels: BTreeMap<String, String>| -> BTreeMap<String, String> {
            let mut labels: BTreeMap<String, String> =
                labels.into_iter().filter(|(k, _)| k != "__name__" && k != TENANT_LABEL).collect();
            labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            labels.retain(|_, v| !v.is_empty());
            labels
        };
        if let Some(record) = &rule.record {
            // Two result series that the record's name and labels make one: Prometheus fails
            // the whole rule at every evaluation where both have a value, and writes nothing.
            let mut sources: BTreeMap<Labels, Vec<Points>> = BTreeMap::new();
            for s in result {
                let mut labels = base_labels(s.labels);
                labels.insert("__name__".into(), record.clone());
                let points = s.points.iter().map(|&(t, v)| (t.round() as i64, v)).collect();
                sources.entry(labels).or_default().push(points);
            }
            for series in sources.values().filter(|s| s.len() > 1) {
                let mut seen: BTreeSet<i64> = BTreeSet::new();
                for &(t, _) in series.iter().flatten() {
                    if !seen.insert(t) {
                        collided.insert(t);
                    }
                }
            }
            if collided.contains(&end) && over_limit_at_end.is_none() {
                over_limit_at_end =
                    Some("vector contains metrics with the same labelset after applying rule labels".into());
            }
            // An evaluation at a collided time produced nothing at all, for any series.
            for (labels, series) in sources {
                let mut points: Vec<(i64, f64)> =
                    series.into_iter().flatten().filter(|(t, _)| !collided.contains(t)).collect();
                points.sort_by_key(|p| p.0);
                if !points.is_empty() {
                    out.insert(labels, points);
                }
            }
        } else {
            // Alerts: each unbroken run of evaluations with a result is one activation; it is
            // pending until it has lasted `for`, then firing. Like Prometheus, the ruler writes
            // `ALERTS{alertname, alertstate, …}` = 1 for every active alert at every evaluation.
            let hold = rule.for_.as_deref().and_then(|d| parse_duration(d).ok()).unwrap_or(0);
            let name = rule.alert.clone().unwrap_or_default();
            for s in result {
                let mut labels = base_labels(s.labels);
                labels.insert("alertname".into(), name.clone());
                let mut points: Vec<(i64, f64)> =
                    s.points.iter().map(|&(t, v)| (t.round() as i64, v)).collect();
                points.sort_by_key(|p| p.0);
                let mut since = i64::MIN;
                let mut previous = i64::MIN;
                for &(t, value) in &points {
                    if previous == i64::MIN || t != previous.saturating_add(step) {
                        since = t;
                    }
                    previous = t;
                    let firing = t.saturating_sub(since) >= hold;
                    let mut series = labels.clone();
                    series.insert("__name__".into(), "ALERTS".into());
                    series.insert("alertstate".into(), if firing { "firing" } else { "pending" }.into());
                    out.entry(series).or_default().push((t, 1.0));
                    if t == end {
                        alerts.push((labels.clone(), since, firing, value));
                    }
                }
            }
        }
        // Staleness, as Prometheus's rule manager marks it: a series that was produced at one
        // evaluation and not at the next gets a stale marker at the next one.
        let present_at_end: BTreeSet<BTreeMap<String, String>> = out
            .iter()
            .filter(|(_, p)| p.last().is_some_and(|&(t, _)| t == end))
            .map(|(l, _)| l.clone())
            .collect();
        let previous = lock(&self.history).last_series.insert(rule_key, (end, present_at_end));
        if let Some((at, before)) = previous {
            if at.saturating_add(step) == first {
                for labels in before {
                    let points = out.entry(labels).or_default();
                    if points.first().is_none_or(|&(t, _)| t != first) {
                        points.insert(0, (first, STALE_NAN));
                    }
                }
            }
        }
        for points in out.values_mut() {
            let produced: BTreeSet<i64> = points.iter().filter(|p| !is_stale(p.1)).map(|p| p.0).collect();
            for &t in &produced {
                // The next evaluation that ran (a failed one writes nothing, stale markers
                // neither): the series goes stale there if it was not produced.
                let mut next = t.saturating_add(step);
                while collided.contains(&next) && next <= end {
                    next = next.saturating_add(step);
                }
                if next <= end && next > t && !produced.contains(&next) {
                    points.push((next, STALE_NAN));
                }
            }
            points.sort_by_key(|p| p.0);
        }
        let series: Vec<TimeSeries> = out
            .into_iter()
            .map(|(mut labels, points)| {
                let name = labels.remove("__name__").unwrap_or_default();
                // Always the rule's workspace, whatever the result or the rule's labels held:
                // a rule cannot write into another workspace.
                labels.insert(TENANT_LABEL.into(), workspace.to_owned());
                let mut ts = TimeSeries::new(&name, &labels);
                ts.samples = points
                    .into_iter()
                    .map(|(t, value)| Sample { value, timestamp: t.saturating_mul(1000) })
                    .collect();
                ts
            })
            .collect();
        match &rule.record {
            Some(record) => {
                report.recording_rules += 1;
                report.records.push((record.clone(), series.len()));
                report.series_written += series.len();
                report.samples_written += series.iter().map(|s| s.samples.len()).sum::<usize>();
            }
            None => report.alerting_rules += 1,
        }
        self.write(series).map_err(RuleFailure::Query)?;
        match over_limit_at_end {
            Some(message) => Err(RuleFailure::Refused(message)),
            None => Ok(alerts),
        }
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

pub(super) fn interval(workspace: &str, ns: &Namespace, group: &RuleGroup) -> Result<i64, RulerError> {
    group.interval_secs().map_err(|message| RulerError::Group {
        workspace: workspace.to_owned(),
        namespace: ns.name.clone(),
        group: group.name.clone(),
        message,
    })
}
