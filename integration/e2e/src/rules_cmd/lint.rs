//! `rules lint`: every problem of a Prometheus rules file, each as
//! `file:line:column: \`field.path\`: message; expected …`, the way a fixture error reads.
//!
//! The checks are the AMP mock's (`ampfed_aws_mock::rules::parse`: what AMP refuses on
//! upload, PromQL parsed by `promql-parser`). That check stops at the first problem, so lint
//! runs it on each group alone (its rules left out) and on each rule alone (in a group of its
//! own), which finds every problem and tells which field it is about; the fixtures' span
//! finder (`ampfed_clustersim::fixture::locate`) turns the field into a line and column.
//!
//! Warnings: a selector's label, or a `by (…)` label, that no simulated series of a cluster
//! carries ([`Labels`], from `super::simulated`), such as the guide's `container_name` on
//! clusters with modern cAdvisor labels: the rule sees nothing of those clusters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use ampfed_clustersim::fixture::{FieldPath, Problem, Seg};
use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::diagnose::selectors;

/// AMP's limit on one rules file.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// AMP would refuse the file.
    Error,
    /// AMP takes it, but it will not do what it seems to.
    Warning,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub severity: Severity,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, ":{l}:{c}")?,
            (Some(l), None) => write!(f, ":{l}")?,
            _ => {}
        }
        let severity = if self.severity == Severity::Warning { " warning:" } else { "" };
        write!(f, ":{severity} `{}`: {}", self.field, self.message)
    }
}

/// What lint found in some files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Linted {
    pub files: usize,
    pub rules: usize,
    pub findings: Vec<Finding>,
}

impl Linted {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).count()
    }

    /// One finding a line, then a summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = writeln!(out, "{f}");
        }
        let _ = writeln!(
            out,
            "{} file(s), {} rules: {} error(s), {} warning(s)",
            self.files,
            self.rules,
            self.errors(),
            self.warnings()
        );
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The label names the series of each cluster carry, per metric, and how they were made.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    by_cluster: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// `label style modern`, `each fixture's label style`: said in warnings.
    source: String,
}

impl Labels {
    /// No series known: no warnings.
    pub fn none() -> Labels {
        Labels::default()
    }

    /// From the simulator's clusters; `source` says how they were simulated.
    pub fn new(
        by_cluster: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        source: impl Into<String>,
    ) -> Labels {
        Labels { by_cluster, source: source.into() }
    }

    /// The clusters with series of `metric` but none carrying `label`.
    fn lacking(&self, metrics: &[&str], label: &str) -> Vec<&str> {
        self.by_cluster
            .iter()
            .filter(|(_, by_metric)| {
                let present: Vec<&BTreeSet<String>> =
                    metrics.iter().filter_map(|m| by_metric.get(*m)).collect();
                !present.is_empty() && !present.iter().any(|labels| labels.contains(label))
            })
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// The labels the series of `metric` carry on `clusters`.
    fn carried(&self, metrics: &[&str], clusters: &[&str]) -> BTreeSet<&str> {
        clusters
            .iter()
            .filter_map(|c| self.by_cluster.get(*c))
            .flat_map(|by_metric| metrics.iter().filter_map(|m| by_metric.get(*m)))
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// Lints `files`.
pub fn lint(files: &[PathBuf], labels: &Labels) -> Linted {
    let mut linted = Linted { files: files.len(), ..Linted::default() };
    for file in files {
        let (problems, rules) = lint_file(file, labels);
        linted.rules += rules;
        linted.findings.extend(problems.into_iter().map(|(severity, p)| Finding {
            file: file.clone(),
            line: p.line,
            column: p.column,
            severity,
            field: p.field.to_string(),
            message: p.message,
        }));
    }
    linted
}

fn problem(field: FieldPath, message: String) -> Problem {
    Problem { field, line: None, column: None, message }
}

/// The problems of one file (with their positions) and its rule count.
fn lint_file(file: &std::path::Path, labels: &Labels) -> (Vec<(Severity, Problem)>, usize) {
    let root = FieldPath::root();
    let error = |message: String| (vec![(Severity::Error, problem(FieldPath::root(), message))], 0);
    let size = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        Err(e) => return error(format!("cannot read the file: {e}")),
    };
    if size > MAX_FILE_BYTES {
        return error(format!("the file is {size} bytes; expected at most {MAX_FILE_BYTES} (AMP's quota)"));
    }
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return error(format!("cannot read the file: {e}; expected UTF-8 YAML")),
    };
    let value: Value = match serde_yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let mut p = problem(root, strip_location(&e.to_string()));
            p.line = e.location().map(|l| l.line());
            p.column = e.location().map(|l| l.column());
            return (vec![(Severity::Error, p)], 0);
        }
    };
    let mut out = Vec::new();
    let groups = match value.as_mapping().and_then(|m| m.get("groups")) {
        Some(Value::Sequence(groups)) => {
            // Anything else wrong at the top (an unknown key): the check's own words.
            let bare = top_level_only(&value);
            if let Err(e) = ampfed_aws_mock::rules::parse(bare.as_bytes()) {
                out.push((Severity::Error, from_yaml_error(root.clone(), &e.to_string())));
            }
            groups.clone()
        }
        Some(_) => {
            out.push((Severity::Error, problem(root.key("groups"), "expected a list of rule groups".into())));
            Vec::new()
        }
        None => {
            out.push((
                Severity::Error,
                problem(root, "no `groups`; expected a Prometheus rules file (`groups: [...]`)".into()),
            ));
            Vec::new()
        }
    };
    let mut names = BTreeSet::new();
    let mut rules = 0;
    for (i, group) in groups.iter().enumerate() {
        let at = FieldPath::root().key("groups").index(i);
        let Some(map) = group.as_mapping() else {
            out.push((Severity::Error, problem(at, "expected a mapping with `name` and `rules`".into())));
            continue;
        };
        if let Some(name) = map.get("name").and_then(Value::as_str) {
            if !name.is_empty() && !names.insert(name.to_owned()) {
                let message = "group name is repeated; expected a name no other group of the file has".into();
                out.push((Severity::Error, problem(at.clone().key("name"), message)));
            }
        }
        let mut alone = map.clone();
        alone.insert("rules".into(), Value::Sequence(Vec::new()));
        if let Err(e) = ampfed_aws_mock::rules::parse(document(Value::Mapping(alone)).as_bytes()) {
            out.push((Severity::Error, group_problem(&at, map, &e)));
        }
        let group_rules = match map.get("rules") {
            Some(Value::Sequence(r)) => r.clone(),
            Some(_) => {
                out.push((
                    Severity::Error,
                    problem(at.clone().key("rules"), "expected a list of rules".into()),
                ));
                continue;
            }
            None => continue,
        };
        for (j, rule) in group_rules.iter().enumerate() {
            rules += 1;
            let at = at.clone().key("rules").index(j);
            let mut g = Mapping::new();
            g.insert("name".into(), "lint".into());
            g.insert("rules".into(), Value::Sequence(vec![rule.clone()]));
            match ampfed_aws_mock::rules::parse(document(Value::Mapping(g)).as_bytes()) {
                Err(e) => out.push((Severity::Error, rule_problem(&at, &e))),
                Ok(parsed) => {
                    for rule in parsed.groups.iter().flat_map(|g| &g.rules) {
                        out.extend(
                            warnings(&at, &rule.expr, labels).into_iter().map(|p| (Severity::Warning, p)),
                        );
                    }
                }
            }
        }
    }
    let mut problems: Vec<Problem> = out.iter().map(|(_, p)| p.clone()).collect();
    ampfed_clustersim::fixture::locate(&mut problems, &text);
    let out = out.into_iter().zip(problems).map(|((s, _), p)| (s, p)).collect();
    (out, rules)
}

/// `{groups: [<group>]}` as YAML text.
fn document(group: Value) -> String {
    let mut top = Mapping::new();
    top.insert("groups".into(), Value::Sequence(vec![group]));
    serde_yaml::to_string(&Value::Mapping(top)).unwrap_or_default()
}

/// The file with `groups: []`, its other top-level keys kept.
fn top_level_only(value: &Value) -> String {
    let mut top = value.as_mapping().cloned().unwrap_or_default();
    top.insert("groups".into(), Value::Sequence(Vec::new()));
    serde_yaml::to_string(&Value::Mapping(top)).unwrap_or_default()
}

/// serde_yaml's message without its ` at line L column C` (the position is the finding's).
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A shape error (`RuleError::Yaml`) under `at`: the field serde names (its path in the
/// one-piece document, or an unknown field's name), else `at` itself.
fn from_yaml_error(at: FieldPath, message: &str) -> Problem {
    let message =
        message.strip_prefix("rules file is not valid YAML for a Prometheus rules file: ").unwrap_or(message);
    let message = strip_location(message);
    let message = message.trim_start_matches(": ").to_owned();
    // serde_yaml prefixes the path in the document checked: `groups[0].rules[0].expr: …`.
    let (path, rest) = match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(' ') => (Some(path), rest.to_owned()),
        _ => (None, message.clone()),
    };
    let mut field = at;
    if let Some(last) = path.and_then(|p| p.rsplit('.').next()).filter(|l| !l.contains('[')) {
        field = field.key(last);
    } else if let Some(name) = rest.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
        field = field.key(name);
    }
    problem(field, rest)
}

fn expected(field: &str) -> &'static str {
    match field {
        "record" => "expected a metric name such as `cluster:cpu_usage:rate5m` ([a-zA-Z_:][a-zA-Z0-9_:]*)",
        "alert" => "expected an alert name",
        "expr" => "expected a PromQL expression",
        "labels" => "expected label names ([a-zA-Z_][a-zA-Z0-9_]*), not reserved ones",
        "annotations" => "expected annotations only on alerting rules, with label names as keys",
        "for" | "keep_firing_for" | "interval" | "query_offset" => "expected a duration such as 30s, 5m or 1h30m",
        "name" => "expected a non-empty group name, unique in the file",
        _ => "expected a Prometheus rules file (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/)",
    }
}

fn with_expected(field: &str, message: String) -> String {
    if message.contains("expected") {
        message
    } else {
        format!("{message}; {}", expected(field))
    }
}

/// A group's own problem (its rules left out), at the field it is about.
fn group_problem(at: &FieldPath, group: &Mapping, e: &ampfed_aws_mock::rules::RuleError) -> Problem {
    use ampfed_aws_mock::rules::RuleError;
    match e {
        RuleError::Group { message, .. } => {
            let offset = group
                .get("query_offset")
                .and_then(Value::as_str)
                .filter(|o| message.contains(&format!("{o:?}")));
            let field = if message.contains("group name") {
                "name"
            } else if offset.is_some() {
                "query_offset"
            } else {
                "interval"
            };
            problem(at.clone().key(field), with_expected(field, message.clone()))
        }
        RuleError::Yaml(m) => {
            let p = from_yaml_error(at.clone(), &m.replace("groups[0].", ""));
            let field = match p.field.0.last() {
                Some(Seg::Key(k)) => k.clone(),
                _ => String::new(),
            };
            Problem { message: with_expected(&field, p.message.clone()), ..p }
        }
        RuleError::Rule { message, .. } => problem(at.clone(), message.clone()),
    }
}

/// A rule's problem (the rule alone in a group), at the field it is about.
fn rule_problem(at: &FieldPath, e: &ampfed_aws_mock::rules::RuleError) -> Problem {
    use ampfed_aws_mock::rules::RuleError;
    match e {
        RuleError::Rule { message, .. } => {
            let field = if message.contains("recording rule name") || message.contains("'record'") {
                "record"
            } else if message.contains("expr") || message.contains("expression") {
                "expr"
            } else if message.contains("'annotations'") || message.contains("annotation name") {
                "annotations"
            } else if message.contains("'keep_firing_for'") {
                "keep_firing_for"
            } else if message.contains("'for'") || message.contains("duration") {
                "for"
            } else if message.contains("label name") {
                "labels"
            } else {
                ""
            };
            let path = if field.is_empty() { at.clone() } else { at.clone().key(field) };
            problem(path, with_expected(field, message.clone()))
        }
        RuleError::Yaml(m) => {
            let p = from_yaml_error(
                at.clone(),
                &m.replace("groups[0].rules[0].", "").replace("groups[0].rules[0]", ""),
            );
            Problem { message: with_expected("", p.message.clone()), ..p }
        }
        RuleError::Group { message, .. } => problem(at.clone(), message.clone()),
    }
}

/// The labels `expr` selects or groups by that a cluster's series lack.
fn warnings(at: &FieldPath, expr: &str, labels: &Labels) -> Vec<Problem> {
    let Ok(reads) = selectors::reads(expr) else { return Vec::new() };
    let mut out = Vec::new();
    let at = at.clone().key("expr");
    let mut seen = BTreeSet::new();
    for sel in &reads.selectors {
        let Some(metric) = sel.metric.as_deref() else { continue };
        for label in &sel.labels {
            let lacking = labels.lacking(&[metric], label);
            if lacking.is_empty() || !seen.insert(label.clone()) {
                continue;
            }
            let carried = labels.carried(&[metric], &lacking);
            out.push(problem(
                at.clone(),
                format!(
                    "selects `{label}` on {metric}, which no series of {} carries ({}): the rule sees nothing there; \
                     expected one of the labels they carry: {}",
                    lacking.join(", "),
                    labels.source,
                    list(&carried)
                ),
            ));
        }
    }
    let metrics: Vec<&str> = reads.selectors.iter().filter_map(|s| s.metric.as_deref()).collect();
    for label in &reads.grouping {
        let lacking = labels.lacking(&metrics, label);
        if lacking.is_empty() || !seen.insert(label.clone()) {
            continue;
        }
        let carried = labels.carried(&metrics, &lacking);
        out.push(problem(
            at.clone(),
            format!(
                "groups by `{label}`, which no series it reads on {} carries ({}); expected one of: {}",
                lacking.join(", "),
                labels.source,
                list(&carried)
            ),
        ));
    }
    out
}

/// Sorted names, at most 12.
fn list(names: &BTreeSet<&str>) -> String {
    let mut shown: Vec<&str> = names.iter().copied().take(12).collect();
    if names.len() > 12 {
        shown.push("…");
    }
    shown.join(", ")
}
