//! Rule files as AMP accepts them: a Prometheus rules YAML file, checked on create.
//!
//! This checks what Prometheus's `rulefmt` checks: unknown fields, duplicate and empty group
//! names, record names, label and annotation names, fields a recording rule may not have,
//! durations, and every expression with a real PromQL parser (`promql-parser`). The first
//! problem is reported, naming the group, the rule's index in it and the parser's message.
//! Expressions also get the data plane's checks (`amp::tenancy`): length and nesting limits
//! before parsing, and no use of the tenant label, which no rule may set either.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::amp::tenancy::{self, ExprError, TENANT_LABEL};
use crate::names::{is_label_name, is_metric_name};

/// A parsed rules file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// One rule group.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub query_offset: Option<String>,
    pub rules: Vec<Rule>,
}

/// One recording or alerting rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub record: Option<String>,
    #[serde(default)]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub keep_firing_for: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("rules file is not valid YAML for a Prometheus rules file: {0}")]
    Yaml(String),
    #[error("group {group:?}: {message}")]
    Group { group: String, message: String },
    #[error("group {group:?}, rule {index}: {message}")]
    Rule { group: String, index: usize, message: String },
}

impl Rule {
    /// The record or alert name.
    pub(crate) fn name(&self) -> &str {
        self.record.as_deref().or(self.alert.as_deref()).unwrap_or("")
    }
}

impl RuleGroup {
    /// The evaluation interval in seconds (AMP's default is one minute).
    pub(crate) fn interval_secs(&self) -> Result<i64, String> {
        self.interval.as_deref().map_or(Ok(60), parse_duration)
    }
}

/// Parses and checks a rules file.
pub fn parse(data: &[u8]) -> Result<RuleFile, RuleError> {
    let file: RuleFile = serde_yaml::from_slice(data).map_err(|e| RuleError::Yaml(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for group in &file.groups {
        let g = || group.name.clone();
        if group.name.is_empty() {
            return Err(RuleError::Group { group: g(), message: "group name must not be empty".into() });
        }
        if !seen.insert(group.name.as_str()) {
            return Err(RuleError::Group { group: g(), message: "group name is repeated".into() });
        }
        group.interval_secs().map_err(|message| RuleError::Group { group: g(), message })?;
        if let Some(offset) = &group.query_offset {
            if offset != "0s" {
                parse_duration(offset).map_err(|message| RuleError::Group { group: g(), message })?;
            }
        }
        for (index, rule) in group.rules.iter().enumerate() {
            let fail = |message: String| RuleError::Rule { group: g(), index, message };
            match (&rule.record, &rule.alert) {
                (Some(record), None) => {
                    if !is_metric_name(record) {
                        return Err(fail(format!("invalid recording rule name: {record}")));
                    }
                }
                (None, Some(alert)) if !alert.is_empty() => {}
                (Some(_), Some(_)) => {
                    return Err(fail("only one of 'record' and 'alert' must be set".into()))
                }
                _ => return Err(fail("one of 'record' or 'alert' must be set".into())),
            }
            if rule.expr.trim().is_empty() {
                return Err(fail("field 'expr' must be set in rule".into()));
            }
            if rule.record.is_some() {
                if !rule.annotations.is_empty() {
                    return Err(fail("invalid field 'annotations' in recording rule".into()));
                }
                if rule.for_.is_some() {
                    return Err(fail("invalid field 'for' in recording rule".into()));
                }
                if rule.keep_firing_for.is_some() {
                    return Err(fail("invalid field 'keep_firing_for' in recording rule".into()));
                }
            }
            for d in [&rule.for_, &rule.keep_firing_for].into_iter().flatten() {
                if d != "0s" {
                    parse_duration(d).map_err(fail)?;
                }
            }
            if let Some(bad) = rule.labels.keys().find(|k| !is_label_name(k) || k.as_str() == "__name__") {
                return Err(fail(format!("invalid label name: {bad}")));
            }
            if rule.labels.contains_key(TENANT_LABEL) {
                return Err(fail(format!(
                    "label name \"{TENANT_LABEL}\" is reserved by the mock (it keeps workspaces apart)"
                )));
            }
            if let Some(bad) = rule.annotations.keys().find(|k| !is_label_name(k)) {
                return Err(fail(format!("invalid annotation name: {bad}")));
            }
            tenancy::check_expr(&rule.expr).map_err(|e| match e {
                ExprError::Parse(e) => {
                    fail(format!("could not parse expression {:?}: {}", rule.expr.trim(), e.trim()))
                }
                // Not echoed: it may be 64 KiB or more.
                ExprError::Limit(m) => fail(format!("expression refused: {m}")),
                ExprError::Tenant(m) => fail(format!("expression {:?}: {m}", rule.expr.trim())),
            })?;
        }
    }
    Ok(file)
}

/// Parses a Prometheus duration such as `30s`, `1m`, `1h30m` into seconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}");
    let mut total = 0i64;
    let mut rest = s;
    if rest.is_empty() || rest.starts_with(|c: char| !c.is_ascii_digit()) {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => return Err(format!("invalid duration {s:?}: the mock's ruler works in whole seconds")),
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "y" => 31_536_000,
            _ => return Err(bad()),
        };
        total = total.checked_add(n.checked_mul(factor).ok_or_else(bad)?).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_rules_parse() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/rules/kubecost-amp.yaml");
        let data = std::fs::read(path).unwrap();
        let file = parse(&data).unwrap();
        assert_eq!(file.groups.len(), 2);
        assert_eq!(file.groups[0].rules.len() + file.groups[1].rules.len(), 9);
    }

    #[test]
    fn unknown_fields_duplicates_and_bad_names_are_refused() {
        let unknown = parse(b"groups:\n- name: a\n  rules: []\n  colour: red\n").unwrap_err();
        assert!(unknown.to_string().contains("unknown field `colour`"), "{unknown}");
        let dup = parse(b"groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n").unwrap_err();
        assert_eq!(dup, RuleError::Group { group: "a".into(), message: "group name is repeated".into() });
        let name = parse(b"groups:\n- name: a\n  rules:\n  - record: 1bad\n    expr: up\n").unwrap_err();
        assert!(name.to_string().contains("rule 0: invalid recording rule name: 1bad"), "{name}");
    }

    #[test]
    fn promql_is_parsed() {
        let bad = parse(b"groups:\n- name: a\n  rules:\n  - record: ok\n    expr: up\n  - record: x\n    expr: sum(rate(up[5m])\n").unwrap_err();
        let RuleError::Rule { group, index, message } = &bad else { panic!("{bad:?}") };
        assert_eq!((group.as_str(), *index), ("a", 1));
        assert_eq!(message, "could not parse expression \"sum(rate(up[5m])\": unclosed left parenthesis");
        let ann =
            parse(b"groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    annotations: {a: b}\n")
                .unwrap_err();
        assert!(ann.to_string().contains("invalid field 'annotations' in recording rule"), "{ann}");
        let alert = parse(b"groups:\n- name: a\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    annotations: {summary: s}\n");
        assert!(alert.is_ok(), "{alert:?}");
    }

    #[test]
    fn tenant_label_and_limits() {
        let rule = |expr: &str, labels: &str| {
            let yaml = format!("groups:\n- name: a\n  rules:\n  - record: x\n    expr: {expr:?}\n{labels}");
            parse(yaml.as_bytes()).map_err(|e| e.to_string())
        };
        let err = rule("up", "    labels: {ampfed_workspace: other}\n").unwrap_err();
        assert!(err.contains("rule 0: label name \"ampfed_workspace\" is reserved"), "{err}");
        let err = rule("label_replace(up, \"w\", \"$1\", \"ampfed_workspace\", \"(.*)\")", "").unwrap_err();
        assert!(err.contains("is reserved"), "{err}");
        let err = rule(&format!("{}up{}", "(".repeat(300), ")".repeat(300)), "").unwrap_err();
        assert!(err.contains("expression refused: expression is nested more than 256 levels"), "{err}");
        let err = rule(&format!("{}up{}", "(".repeat(100_000), ")".repeat(100_000)), "").unwrap_err();
        assert!(err.contains("bytes long") && err.len() < 300, "{err}");
        assert!(rule("sum by (ampfed_workspace) (up)", "").is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m"), Ok(60));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
