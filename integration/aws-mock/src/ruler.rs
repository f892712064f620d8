//! The ruler: evaluates every ACTIVE namespace's groups against the backend, each group at its
//! interval, rules in file order, and writes recording results back as series of the rule's
//! workspace (see [`crate::tenancy`]). Two clocks drive it:
//!
//! - virtual ([`Ruler::evaluate_range`]): a time range as fast as possible, the way
//!   `promtool tsdb create-blocks-from rules` backfills. Each rule is evaluated over the whole
//!   range (a range query at the group interval, times aligned to it) and written back before
//!   the next rule runs, so later rules see the results of earlier ones at every step.
//! - wall clock ([`Ruler::run_wall_clock`]): a thread that evaluates each group at the current
//!   interval boundary whenever one passes, until stopped.
//!
//! Prometheus's rule semantics kept: a series a rule stops producing gets a stale marker at the
//! next evaluation; alerting rules are pending until they have lasted `for`, then firing, and
//! write `ALERTS{alertname, alertstate, …}`; a group `limit` makes an evaluation with more
//! series than the limit produce nothing and fail. A failing rule does not stop the others.
//! `/api/v1/rules` and `/api/v1/alerts` answer in Prometheus's JSON from the state kept here:
//! health, last error and last evaluation per rule and group, and the active alerts. The
//! `tests/amp/ruler.rs` suite checks the output against `promtool test rules`.
//! Not done: templates in alert labels and annotations are shown unexpanded, and
//! `keep_firing_for` is accepted but not applied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};
use ampfed_prom::{Client, PromError};
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use crate::control::Namespace;
use crate::rules::{parse_duration, Rule, RuleGroup};
use crate::tenancy::{self, TENANT_LABEL};
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
    /// A group `limit` exceeded at the last evaluation; `rule` names it as `Rule` does.
    #[error("{rule}: {message}")]
    Limit { rule: String, message: String },
}

/// Why one rule failed.
enum RuleFailure {
    Query(PromError),
    /// The group's `limit` was exceeded at the last evaluation.
    Limit(String),
}

/// What `/api/v1/rules` shows: per `(workspace, namespace, group)`, the last evaluation; and per
/// rule, the series it produced at its last evaluation time (for stale markers).
#[derive(Default)]
pub(crate) struct RulerState {
    groups: BTreeMap<(String, String, String), GroupState>,
    last_series: BTreeMap<RuleKey, (i64, BTreeSet<BTreeMap<String, String>>)>,
}

/// `(workspace, namespace, group, rule index)`.
type RuleKey = (String, String, String, usize);

/// An alert active at the last evaluation: labels, active since, firing, value.
type ActiveAlert = (BTreeMap<String, String>, i64, bool, f64);

/// Prometheus's stale marker.
const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN.to_bits()
}

#[derive(Clone, Default)]
struct GroupState {
    last_evaluation: Option<i64>,
    evaluation_seconds: f64,
    rules: Vec<RuleState>,
}

#[derive(Clone, Default)]
struct RuleState {
    health: &'static str,
    last_error: String,
    last_evaluation: Option<i64>,
    evaluation_seconds: f64,
    /// Alerting rules: the alerts active at the last evaluation.
    alerts: Vec<ActiveAlert>,
}

/// Samples per remote write request when writing results back.
const WRITE_BATCH_SAMPLES: usize = 50_000;

impl Ruler {
    pub(crate) fn new(shared: Arc<Shared>) -> Ruler {
        let backend = Client::new(shared.options.backend_url.clone(), "/api/v1/write");
        Ruler { shared, backend }
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
                let first =
                    start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
                if let Err(e) = self.evaluate_group(workspace, ns, group, first, end, step, &mut report) {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(report), Err)
    }

    /// Starts evaluating on the wall clock in a thread: each group at every interval boundary
    /// that passes, until the handle is stopped or dropped. Errors show in `/api/v1/rules`.
    pub fn run_wall_clock(self) -> WallClock {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut done: BTreeMap<(String, String, String), i64> = BTreeMap::new();
            loop {
                let now = chrono::Utc::now().timestamp();
                for (workspace, ns) in self.active() {
                    for group in &ns.rules.groups {
                        let Ok(step) = interval(&workspace, &ns, group) else { continue };
                        let due = now.div_euclid(step) * step;
                        let key = (workspace.clone(), ns.name.clone(), group.name.clone());
                        if done.get(&key).is_some_and(|&last| last >= due) {
                            continue;
                        }
                        done.insert(key, due);
                        let mut report = RulerReport::default();
                        if let Err(e) =
                            self.evaluate_group(&workspace, &ns, group, due, due, step, &mut report)
                        {
                            tracing::warn!(error = %e, "wall-clock rule evaluation failed");
                        }
                    }
                }
                match stopped.recv_timeout(Duration::from_millis(200)) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => return,
                }
            }
        });
        WallClock { stop: Some(stop), thread: Some(thread) }
    }

    fn active(&self) -> Vec<(String, Namespace)> {
        let mut cp = lock(&self.shared.amp);
        cp.finish_pending();
        cp.active_namespaces()
    }

    /// Evaluates one group's rules over `[first, end]` at `step` and records their state; the
    /// error is the group's first failing rule.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_group(
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
                            rule_name(rule).to_owned(),
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
                            RuleFailure::Limit(message) => {
                                state.last_error = message.clone();
                                let rule = format!(
                                    "workspace {workspace}, namespace {namespace}, group {group:?}, rule {index} ({name})"
                                );
                                RulerError::Limit { rule, message }
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
        lock(&self.shared.ruler_state).groups.insert(key, evaluated);
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
        let expr = tenancy::scope_query(&rule.expr, workspace).map_err(|e| {
            RuleFailure::Query(PromError::Decode { url: "rule expression".into(), message: e })
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
        let base_labels = |labels: BTreeMap<String, String>| -> BTreeMap<String, String> {
            let mut labels: BTreeMap<String, String> =
                labels.into_iter().filter(|(k, _)| k != "__name__" && k != TENANT_LABEL).collect();
            labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            labels.retain(|_, v| !v.is_empty());
            labels
        };
        if let Some(record) = &rule.record {
            for s in result {
                let mut labels = base_labels(s.labels);
                labels.insert("__name__".into(), record.clone());
                let points = s.points.iter().map(|&(t, v)| (t.round() as i64, v)).collect();
                out.insert(labels, points);
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
                    if previous == i64::MIN || t != previous + step {
                        since = t;
                    }
                    previous = t;
                    let firing = t - since >= hold;
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
        let previous = lock(&self.shared.ruler_state).last_series.insert(rule_key, (end, present_at_end));
        if let Some((at, before)) = previous {
            if at + step == first {
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
                if t + step <= end && !produced.contains(&(t + step)) {
                    points.push((t + step, STALE_NAN));
                }
            }
            points.sort_by_key(|p| p.0);
        }
        let series: Vec<TimeSeries> = out
            .into_iter()
            .map(|(mut labels, points)| {
                let name = labels.remove("__name__").unwrap_or_default();
                labels.insert(TENANT_LABEL.into(), workspace.to_owned());
                let mut ts = TimeSeries::new(&name, &labels);
                ts.samples =
                    points.into_iter().map(|(t, value)| Sample { value, timestamp: t * 1000 }).collect();
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
            Some(message) => Err(RuleFailure::Limit(message)),
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

/// A running wall-clock ruler; stops when [`WallClock::stop`] is called or it is dropped.
pub struct WallClock {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WallClock {
    /// Stops the thread and waits for the evaluation in progress to finish. Safe to call twice.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WallClock {
    fn drop(&mut self) {
        self.stop();
    }
}

fn interval(workspace: &str, ns: &Namespace, group: &RuleGroup) -> Result<i64, RulerError> {
    group.interval_secs().map_err(|message| RulerError::Group {
        workspace: workspace.to_owned(),
        namespace: ns.name.clone(),
        group: group.name.clone(),
        message,
    })
}

fn rule_name(rule: &Rule) -> &str {
    rule.record.as_deref().or(rule.alert.as_deref()).unwrap_or("")
}

fn rfc3339(t: Option<i64>) -> String {
    // Prometheus shows Go's zero time for a rule never evaluated.
    t.and_then(|t| DateTime::from_timestamp(t, 0))
        .map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), |d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `GET /api/v1/rules` for one workspace: its ACTIVE namespaces' groups with their state.
pub(crate) fn rules_api(shared: &Shared, workspace: &str) -> Value {
    let namespaces = lock(&shared.amp).namespaces_of(workspace).unwrap_or_default();
    let state = lock(&shared.ruler_state);
    let mut groups = Vec::new();
    for ns in namespaces.iter().filter(|ns| ns.status == "ACTIVE") {
        for group in &ns.rules.groups {
            let key = (workspace.to_owned(), ns.name.clone(), group.name.clone());
            let gs = state.groups.get(&key).cloned().unwrap_or_default();
            let rules: Vec<Value> = group
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let rs = gs
                        .rules
                        .get(i)
                        .cloned()
                        .unwrap_or(RuleState { health: "unknown", ..Default::default() });
                    rule_json(rule, &rs)
                })
                .collect();
            groups.push(json!({
                "name": group.name,
                "file": ns.name,
                "interval": group.interval_secs().unwrap_or(60),
                "limit": group.limit.unwrap_or(0),
                "rules": rules,
                "evaluationTime": gs.evaluation_seconds,
                "lastEvaluation": rfc3339(gs.last_evaluation),
            }));
        }
    }
    json!({ "status": "success", "data": { "groups": groups } })
}

fn rule_json(rule: &Rule, rs: &RuleState) -> Value {
    let health = if rs.health.is_empty() { "unknown" } else { rs.health };
    let mut out = json!({
        "name": rule_name(rule),
        "query": rule.expr,
        "labels": rule.labels,
        "health": health,
        "evaluationTime": rs.evaluation_seconds,
        "lastEvaluation": rfc3339(rs.last_evaluation),
    });
    if !rs.last_error.is_empty() {
        out["lastError"] = json!(rs.last_error);
    }
    if rule.record.is_some() {
        out["type"] = json!("recording");
        return out;
    }
    let alerts: Vec<Value> = rs.alerts.iter().map(|a| alert_json(rule, a)).collect();
    let state = if rs.alerts.iter().any(|a| a.2) {
        "firing"
    } else if rs.alerts.is_empty() {
        "inactive"
    } else {
        "pending"
    };
    out["type"] = json!("alerting");
    out["state"] = json!(state);
    out["duration"] = json!(rule.for_.as_deref().and_then(|d| parse_duration(d).ok()).unwrap_or(0));
    out["annotations"] = json!(rule.annotations);
    out["alerts"] = json!(alerts);
    out
}

fn alert_json(
    rule: &Rule,
    (labels, since, firing, value): &(BTreeMap<String, String>, i64, bool, f64),
) -> Value {
    json!({
        "labels": labels,
        "annotations": rule.annotations,
        "state": if *firing { "firing" } else { "pending" },
        "activeAt": rfc3339(Some(*since)),
        "value": value.to_string(),
    })
}

/// Keeps only `type=record` or `type=alert` rules (the rules API's filter).
pub(crate) fn filter_rules(body: &mut Value, kind: &str) {
    let keep = match kind {
        "record" => "recording",
        "alert" => "alerting",
        _ => return,
    };
    if let Some(Value::Array(groups)) = body.pointer_mut("/data/groups") {
        for g in groups.iter_mut() {
            if let Some(Value::Array(rules)) = g.get_mut("rules") {
                rules.retain(|r| r["type"] == keep);
            }
        }
        groups.retain(|g| g["rules"].as_array().is_some_and(|r| !r.is_empty()));
    }
}

/// `GET /api/v1/alerts` for one workspace: every pending or firing alert.
pub(crate) fn alerts_api(shared: &Shared, workspace: &str) -> Value {
    let rules = rules_api(shared, workspace);
    let mut alerts = Vec::new();
    for g in rules.pointer("/data/groups").and_then(Value::as_array).into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            alerts.extend(r["alerts"].as_array().into_iter().flatten().cloned());
        }
    }
    json!({ "status": "success", "data": { "alerts": alerts } })
}
