//! `GET /api/v1/rules` and `GET /api/v1/alerts` for one workspace, in Prometheus's JSON, from
//! the rules of its ACTIVE namespaces and what the ruler last did with them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use super::history::{RuleState, RulerState};
use crate::amp::control::{ControlPlane, Status};
use crate::amp::rules::{parse_duration, Rule};
use crate::sync::lock;

fn rfc3339(t: Option<i64>) -> String {
    // Prometheus shows Go's zero time for a rule never evaluated.
    t.and_then(|t| DateTime::from_timestamp(t, 0))
        .map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), |d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `GET /api/v1/rules` for one workspace: its ACTIVE namespaces' groups with their state.
pub(crate) fn rules_api(
    control: &Mutex<ControlPlane>,
    history: &Mutex<RulerState>,
    workspace: &str,
) -> Value {
    let namespaces = lock(control).namespaces_of(workspace).unwrap_or_default();
    let state = lock(history);
    let mut groups = Vec::new();
    for ns in namespaces.iter().filter(|ns| ns.status == Status::Active) {
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
        "name": rule.name(),
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
pub(crate) fn alerts_api(
    control: &Mutex<ControlPlane>,
    history: &Mutex<RulerState>,
    workspace: &str,
) -> Value {
    let rules = rules_api(control, history, workspace);
    let mut alerts = Vec::new();
    for g in rules.pointer("/data/groups").and_then(Value::as_array).into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            alerts.extend(r["alerts"].as_array().into_iter().flatten().cloned());
        }
    }
    json!({ "status": "success", "data": { "alerts": alerts } })
}
