//! Workspace isolation on one shared Prometheus backend.
//!
//! Choice: a tenant label rather than a backend per workspace. On remote write every series
//! gets `ampfed_workspace="<workspace id>"` (a sender may not set that label itself); every
//! PromQL expression and series selector a workspace sends is parsed with `promql-parser`, and
//! every vector and matrix selector in it gets the matcher `ampfed_workspace="<id>"` (replacing
//! any matcher on that label the query had), the way prom-label-proxy enforces tenancy; the
//! label is removed from every result before it is returned. The ruler does the same, and
//! writes its results back with the label of the rule's workspace. So a workspace never sees
//! another's series, and results look exactly as they would on a backend of its own (the label
//! is not `__`-prefixed because Prometheus reserves those names on ingestion).
//!
//! How that is made to hold for every expression:
//!
//! - [`scope`] walks the syntax tree itself, with an exhaustive `match` over every node kind
//!   and a destructuring of every node's fields: a node kind or a child that a new
//!   `promql-parser` adds is a compile error here, not a selector left unscoped. (The crate's
//!   own visitor skips aggregation parameters, such as `topk(scalar(…), …)`.)
//! - Since AMP has no such label, a user may not name it where it would become visible: as
//!   `label_replace`'s or `label_join`'s source or destination, or as `count_values`' output
//!   label ([`ExprError::Tenant`]). Matchers on it are replaced, and grouping by it is
//!   harmless (it is stripped from answers).
//! - Before the parser runs, an expression must be at most [`MAX_EXPR_BYTES`] long and nested
//!   at most [`MAX_NESTING`] deep ([`check_limits`]): the parser is iterative, but the tree
//!   it builds is dropped, printed and walked recursively, and a deep one overflows the stack.

use promql_parser::label::Labels;
use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::token::T_COUNT_VALUES;
use promql_parser::parser::{
    self, AggregateExpr, BinModifier, BinaryExpr, Call, Expr, Extension, LabelModifier, MatrixSelector,
    NumberLiteral, ParenExpr, StringLiteral, SubqueryExpr, UnaryExpr, VectorMatchCardinality, VectorSelector,
};
use serde_json::Value;

/// The label that carries a series' workspace in the backend.
pub(crate) const TENANT_LABEL: &str = "ampfed_workspace";

/// Longest expression (in bytes) handed to the parser.
pub(crate) const MAX_EXPR_BYTES: usize = 64 * 1024;

/// Deepest nesting accepted, as [`check_limits`] measures it on the text.
pub(crate) const MAX_NESTING: usize = 256;

/// Why an expression is not sent to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExprError {
    /// Longer or more deeply nested than the limits; never parsed.
    Limit(String),
    /// The parser's message.
    Parse(String),
    /// It would show or set the tenant label.
    Tenant(String),
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExprError::Limit(m) | ExprError::Parse(m) | ExprError::Tenant(m) => f.write_str(m),
        }
    }
}

/// Rewrites `expr` so that it only selects series of `workspace`.
pub(crate) fn scope_query(expr: &str, workspace: &str) -> Result<String, ExprError> {
    check_limits(expr)?;
    let mut ast = parser::parse(expr).map_err(ExprError::Parse)?;
    scope(&mut ast, workspace)?;
    Ok(ast.to_string())
}

/// Checks an expression as [`scope_query`] would, for any workspace (rules files).
pub(crate) fn check_expr(expr: &str) -> Result<(), ExprError> {
    scope_query(expr, "check").map(drop)
}

/// Refuses an expression longer than [`MAX_EXPR_BYTES`] or nested deeper than [`MAX_NESTING`],
/// measured on the text in one pass, so that the parser never sees it.
///
/// The measure is an upper bound on the depth of the tree the parser would build: each
/// parenthesised group (calls, aggregations, grouping labels, parentheses) counts one level
/// plus one per operator in it (a chain `a + b + c` is a tree as deep as it is long), plus the
/// deepest group inside it; `[` counts as an operator (a subquery is a node). What the lexer
/// skips is skipped the same way: strings (with `\` escapes), `#` comments, and label
/// matchers in braces, whose `=` and `!=` are no operators.
pub(crate) fn check_limits(expr: &str) -> Result<(), ExprError> {
    if expr.len() > MAX_EXPR_BYTES {
        return Err(ExprError::Limit(format!(
            "expression is {} bytes long, more than the limit of {MAX_EXPR_BYTES} bytes",
            expr.len()
        )));
    }
    let too_deep = || {
        ExprError::Limit(format!(
            "expression is nested more than {MAX_NESTING} levels deep (parentheses, function calls, aggregations and operators count)"
        ))
    };
    // Per open group: its operators so far and the deepest group closed inside it.
    let mut groups: Vec<(usize, usize)> = vec![(0, 0)];
    // Operators of the outermost level plus (1 + operators) of every group open in it: never
    // more than the final measure.
    let mut running = 0usize;
    let mut chars = expr.chars().peekable();
    let mut in_braces = false;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                while let Some(s) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == c {
                        break;
                    }
                }
            }
            '#' => {
                for s in chars.by_ref() {
                    if s == '\n' || s == '\r' {
                        break;
                    }
                }
            }
            '{' => in_braces = true,
            '}' => in_braces = false,
            _ if in_braces => {}
            '(' => {
                groups.push((0, 0));
                running += 1;
            }
            ')' if groups.len() > 1 => {
                let (ops, deepest) = groups.pop().unwrap_or_default();
                running -= 1 + ops;
                if let Some(parent) = groups.last_mut() {
                    parent.1 = parent.1.max(1 + ops + deepest);
                }
            }
            '+' | '-' | '*' | '/' | '%' | '^' | '=' | '!' | '<' | '>' | '[' => {
                if let Some(group) = groups.last_mut() {
                    group.0 += 1;
                }
                running += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if !(n.is_ascii_alphanumeric() || n == '_' || n == ':') {
                        break;
                    }
                    if word.len() <= 8 {
                        word.push(n);
                    }
                    chars.next();
                }
                if ["and", "or", "unless", "atan2"].contains(&word.to_ascii_lowercase().as_str()) {
                    if let Some(group) = groups.last_mut() {
                        group.0 += 1;
                    }
                    running += 1;
                }
            }
            _ => {}
        }
        if running > MAX_NESTING {
            return Err(too_deep());
        }
    }
    // Groups left open (the parser will refuse them) are closed here; the outermost level is
    // not a group of its own.
    let mut depth = 0;
    while let Some((ops, deepest)) = groups.pop() {
        depth = ops + deepest.max(depth) + usize::from(!groups.is_empty());
    }
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    Ok(())
}

/// Adds the tenant matcher to every selector of a parsed expression, and refuses one that would
/// show or set the tenant label. Every node kind and every field is named: nothing is skipped
/// by accident.
///
/// It also keeps the tenant label on every series the expression computes, so that a constant
/// label cannot change what matches or groups with what (`count without (inst) (a) unless
/// ignoring (inst) sum by (job) (b)` must not depend on it): aggregations group by it too,
/// vector matching matches on it and never copies it, and the functions that make series out
/// of nothing (`vector`, `absent`, the date functions without argument) get it added.
fn scope(expr: &mut Expr, workspace: &str) -> Result<(), ExprError> {
    let creates_series =
        matches!(expr, Expr::Call(Call { func, args }) if makes_new_series(func.name, args.args.len()));
    match expr {
        Expr::Aggregate(AggregateExpr { op, expr, param, modifier }) => {
            match modifier {
                None => {
                    *modifier = Some(LabelModifier::Include(Labels { labels: vec![TENANT_LABEL.into()] }))
                }
                Some(LabelModifier::Include(ls)) => with_tenant(ls),
                Some(LabelModifier::Exclude(ls)) => without_tenant(ls),
            }
            if let Some(param) = param {
                if op.id() == T_COUNT_VALUES && string_arg(param) == Some(TENANT_LABEL) {
                    return Err(reserved("count_values"));
                }
                scope(param, workspace)?;
            }
            scope(expr, workspace)
        }
        Expr::Unary(UnaryExpr { expr }) => scope(expr, workspace),
        Expr::Binary(BinaryExpr { op: _, lhs, rhs, modifier }) => {
            if let Some(BinModifier { card, matching, return_bool: _, fill_values: _ }) = modifier {
                match matching {
                    Some(LabelModifier::Include(ls)) => with_tenant(ls),
                    Some(LabelModifier::Exclude(ls)) => without_tenant(ls),
                    None => {}
                }
                match card {
                    VectorMatchCardinality::ManyToOne(ls) | VectorMatchCardinality::OneToMany(ls) => {
                        without_tenant(ls)
                    }
                    VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => {}
                }
            }
            scope(lhs, workspace)?;
            scope(rhs, workspace)
        }
        Expr::Paren(ParenExpr { expr }) => scope(expr, workspace),
        Expr::Subquery(SubqueryExpr { expr, offset: _, at: _, range: _, step: _ }) => scope(expr, workspace),
        Expr::NumberLiteral(NumberLiteral { val: _ }) | Expr::StringLiteral(StringLiteral { val: _ }) => {
            Ok(())
        }
        Expr::VectorSelector(vs) => {
            scope_selector(vs, workspace);
            Ok(())
        }
        Expr::MatrixSelector(MatrixSelector { vs, range: _ }) => {
            scope_selector(vs, workspace);
            Ok(())
        }
        Expr::Call(Call { func, args }) => {
            // label_replace(v, dst, replacement, src, regex); label_join(v, dst, separator, src…).
            let named: Vec<&Expr> = match func.name {
                "label_replace" => [1, 3].iter().filter_map(|&i| args.args.get(i)).map(|a| &**a).collect(),
                "label_join" => args
                    .args
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i == 1 || *i >= 3)
                    .map(|(_, a)| &**a)
                    .collect(),
                _ => Vec::new(),
            };
            for arg in named {
                match string_arg(arg) {
                    Some(TENANT_LABEL) => return Err(reserved(func.name)),
                    Some(_) => {}
                    None => {
                        return Err(ExprError::Parse(format!(
                            "{}: label names must be string literals",
                            func.name
                        )))
                    }
                }
            }
            for arg in &mut args.args {
                scope(arg, workspace)?;
            }
            if creates_series {
                add_tenant_label(expr, workspace);
            }
            Ok(())
        }
        // The parser never builds one; one could not be walked (its children are shared).
        Expr::Extension(Extension { expr: _ }) => {
            Err(ExprError::Parse("extension expressions are not supported".into()))
        }
    }
}

/// Whether a call makes series without labels of their own (so without the tenant label).
fn makes_new_series(function: &str, args: usize) -> bool {
    const DATE_FUNCTIONS: [&str; 8] =
        ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"];
    matches!(function, "vector" | "absent" | "absent_over_time")
        || (args == 0 && DATE_FUNCTIONS.contains(&function))
}

/// Wraps `expr` in `label_replace(expr, "ampfed_workspace", "<workspace>", "", "")`.
fn add_tenant_label(expr: &mut Expr, workspace: &str) {
    let template = format!("label_replace(vector(0), \"{TENANT_LABEL}\", \"{workspace}\", \"\", \"\")");
    // A workspace id matches `[0-9A-Za-z][-.0-9A-Z_a-z]*`: the template always parses.
    let Ok(mut wrapper) = parser::parse(&template) else { return };
    if let Expr::Call(Call { func: _, args }) = &mut wrapper {
        if let Some(first) = args.args.first_mut() {
            std::mem::swap(&mut **first, expr);
            *expr = wrapper;
        }
    }
}

fn with_tenant(labels: &mut Labels) {
    if !labels.labels.iter().any(|l| l == TENANT_LABEL) {
        labels.labels.push(TENANT_LABEL.into());
    }
}

fn without_tenant(labels: &mut Labels) {
    labels.labels.retain(|l| l != TENANT_LABEL);
}

/// The value of a string literal argument, through parentheses; `None` for anything else.
fn string_arg(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::StringLiteral(StringLiteral { val }) => Some(val),
        Expr::Paren(ParenExpr { expr }) => string_arg(expr),
        _ => None,
    }
}

fn reserved(function: &str) -> ExprError {
    ExprError::Tenant(format!(
        "{function}: label name \"{TENANT_LABEL}\" is reserved by the mock (it keeps workspaces apart) and cannot be read or written"
    ))
}

/// Puts the tenant matcher on a selector, in place of any matcher on that label, in every
/// `or` group as well.
fn scope_selector(vs: &mut VectorSelector, workspace: &str) {
    let VectorSelector { name: _, matchers: Matchers { matchers, or_matchers }, offset: _, at: _ } = vs;
    let tenant = || Matcher::new(MatchOp::Equal, TENANT_LABEL, workspace);
    for group in std::iter::once(matchers).chain(or_matchers.iter_mut()) {
        group.retain(|m| m.name != TENANT_LABEL);
        group.push(tenant());
    }
}

/// Removes every `ampfed_workspace="…"` (with the separator that joined it to its
/// neighbours) from a message of the backend's.
pub(crate) fn scrub_text(text: &str) -> String {
    let pattern = format!("{TENANT_LABEL}=\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&pattern) {
        let (before, after) = rest.split_at(at);
        let value = &after[pattern.len()..];
        // The value ends at the first unescaped quote.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in value.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(rest);
            return out;
        };
        let mut tail = &value[end + 1..];
        let mut before = before;
        if let Some(t) = tail.strip_prefix(", ").or_else(|| tail.strip_prefix(',')) {
            tail = t;
        } else if let Some(b) = before.strip_suffix(", ").or_else(|| before.strip_suffix(',')) {
            before = b;
        }
        out.push_str(before);
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Removes the tenant label from a Prometheus API answer (`query`, `query_range`: result
/// metrics; `series`: label sets; `labels`: names; `query_exemplars`: series labels).
pub(crate) fn strip(answer: &mut Value) {
    // Prometheus names label sets in its messages ("duplicate series for the match group …").
    if let Some(Value::String(error)) = answer.get_mut("error") {
        *error = scrub_text(error);
    }
    if let Some(Value::Array(warnings)) = answer.get_mut("warnings") {
        for w in warnings.iter_mut() {
            if let Value::String(text) = w {
                *text = scrub_text(text);
            }
        }
    }
    let Some(data) = answer.get_mut("data") else { return };
    match data {
        Value::Array(items) => {
            items.retain(|v| v.as_str() != Some(TENANT_LABEL));
            for item in items {
                if let Value::Object(labels) = item {
                    labels.remove(TENANT_LABEL);
                    // `query_exemplars`: each result's series labels.
                    if let Some(Value::Object(series)) = labels.get_mut("seriesLabels") {
                        series.remove(TENANT_LABEL);
                    }
                }
            }
        }
        Value::Object(obj) => {
            if let Some(Value::Array(result)) = obj.get_mut("result") {
                for item in result {
                    if let Some(Value::Object(metric)) = item.get_mut("metric") {
                        metric.remove(TENANT_LABEL);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped(q: &str) -> String {
        scope_query(q, "ws-1").unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn every_selector_gets_the_tenant_matcher() {
        let q = scoped(
            "sum(rate(a{x=\"1\"}[5m])) / on(y) group_left b offset 1m + max_over_time(avg(c)[1d:5m]) and {__name__=\"d\", ampfed_workspace=\"other\"}",
        );
        assert_eq!(q.matches("ampfed_workspace=\"ws-1\"").count(), 4, "{q}");
        assert!(!q.contains("other"), "{q}");
        assert!(parser::parse(&q).is_ok(), "{q}");
    }

    #[test]
    fn aggregation_parameters_and_every_other_child_are_scoped() {
        for (q, selectors) in [
            ("topk(scalar(foreign{ampfed_workspace=\"other\"}), a)", 2),
            ("bottomk(scalar(sum(foreign)), a)", 2),
            ("quantile(scalar(max_over_time(foreign[5m:1m] @ 100)), a)", 2),
            ("limitk(scalar(foreign), a)", 2),
            ("count_values(\"v\", a)", 1),
            ("topk(1 + scalar(-(foreign offset 1m)), vector(scalar(b)))", 2),
            ("label_replace(absent(foreign{ampfed_workspace=~\".+\"}), \"x\", \"$1\", \"y\", \"(.*)\")", 1),
            ("rate(foreign[5m] @ start()) * on(job) group_left(x) topk(scalar(c), d)", 3),
            ("{a=\"1\" or ampfed_workspace=\"other\"}", 2),
        ] {
            let out = scoped(q);
            assert_eq!(out.matches("ampfed_workspace=\"ws-1\"").count(), selectors, "{q} → {out}");
            assert!(!out.contains("other") && !out.contains("=~\".+\""), "{q} → {out}");
            assert!(parser::parse(&out).is_ok(), "{out}");
        }
    }

    #[test]
    fn computed_series_keep_the_tenant_label() {
        let out = scoped("count without (inst, ampfed_workspace) (a) unless ignoring (inst, ampfed_workspace) sum by (job) (b)");
        assert!(out.contains("without (inst)") && out.contains("ignoring (inst)"), "{out}");
        assert!(out.contains("by (job, ampfed_workspace)"), "{out}");
        let out = scoped("sum(a) + on (job) group_left (ampfed_workspace, x) vector(1) * hour()");
        assert!(
            out.contains("sum by (ampfed_workspace)") && out.contains("on (job, ampfed_workspace)"),
            "{out}"
        );
        assert!(out.contains("group_left (x)"), "{out}");
        assert_eq!(out.matches("label_replace(").count(), 2, "{out}");
        assert!(
            out.contains("label_replace(vector(1), \"ampfed_workspace\", \"ws-1\", \"\", \"\")"),
            "{out}"
        );
        assert!(parser::parse(&out).is_ok(), "{out}");
        assert!(!scoped("hour(a)").contains("label_replace"));
    }

    #[test]
    fn the_tenant_label_cannot_be_read_or_written() {
        for q in [
            "label_replace(up, \"ws\", \"$1\", \"ampfed_workspace\", \"(.*)\")",
            "label_replace(up, \"ampfed_workspace\", \"other\", \"job\", \"(.*)\")",
            "label_replace(up, (\"ampfed_workspace\"), \"other\", \"job\", \"(.*)\")",
            "label_join(up, \"ws\", \",\", \"job\", \"ampfed_workspace\")",
            "label_join(up, \"ampfed_workspace\", \",\", \"job\")",
            "sum(topk(1, count_values(\"ampfed_workspace\", up)))",
        ] {
            let err = scope_query(q, "ws-1").unwrap_err();
            assert!(matches!(err, ExprError::Tenant(_)), "{q}: {err:?}");
            assert!(err.to_string().contains("\"ampfed_workspace\" is reserved"), "{q}: {err}");
        }
        // A separator may be anything; grouping and matching by the label are harmless.
        for q in [
            "label_join(up, \"ws\", \"ampfed_workspace\", \"job\")",
            "sum by (ampfed_workspace) (up)",
            "up * on(ampfed_workspace) group_left(job) down",
            "count_values(\"v\", up)",
        ] {
            assert!(scope_query(q, "ws-1").is_ok(), "{q}");
        }
    }

    #[test]
    fn limits_are_checked_before_parsing() {
        // Deep enough to overflow the stack when the parsed tree is dropped or printed: refused
        // by length, then by depth, and the test lives.
        let deep = format!("{}up{}", "(".repeat(100_000), ")".repeat(100_000));
        let err = scope_query(&deep, "ws-1").unwrap_err();
        assert!(matches!(&err, ExprError::Limit(m) if m.contains("200002 bytes")), "{err:?}");
        let open = "(".repeat(60_000);
        assert!(matches!(scope_query(&open, "ws-1"), Err(ExprError::Limit(m)) if m.contains("nested")));
        let chain = format!("1{}", "+1".repeat(20_000));
        assert!(matches!(scope_query(&chain, "ws-1"), Err(ExprError::Limit(m)) if m.contains("nested")));
        let calls = format!("{}up{}", "abs(".repeat(5_000), ")".repeat(5_000));
        assert!(matches!(scope_query(&calls, "ws-1"), Err(ExprError::Limit(m)) if m.contains("nested")));
        // At the limit is fine; one more is not.
        let nest = |n: usize| format!("{}up{}", "(".repeat(n), ")".repeat(n));
        assert!(scope_query(&nest(MAX_NESTING), "ws-1").is_ok());
        assert!(matches!(check_limits(&nest(MAX_NESTING + 1)), Err(ExprError::Limit(_))));
        let ops = |n: usize| format!("up{}", " - 1".repeat(n));
        assert!(check_limits(&ops(MAX_NESTING)).is_ok());
        assert!(check_limits(&ops(MAX_NESTING + 1)).is_err());
        // What the lexer skips does not count: strings (with escapes), braces, comments.
        let quiet = format!(
            "label_replace(up{{a=~\"{p}\", b!=\"x\"}}, \"c\", \"$1\", \"a\", \"{p}\\\"{p}\") + {{d='{p}'}} # {p}\n+ `{p}`",
            p = "((((((((((".repeat(10)
        );
        assert!(check_limits(&quiet).is_ok(), "{quiet}");
        // A comment cannot hide what follows its line.
        let hidden = format!("up # \"\n{}", nest(MAX_NESTING + 1));
        assert!(check_limits(&hidden).is_err());
        let long = format!("up{{a=\"{}\"}}", "x".repeat(MAX_EXPR_BYTES));
        assert!(matches!(check_limits(&long), Err(ExprError::Limit(m)) if m.contains("bytes long")));
    }

    #[test]
    fn the_guide_and_costmodel_queries_round_trip() {
        for q in [
            "avg(irate(container_cpu_usage_seconds_total{container_name!=\"POD\", container_name!=\"\"}[5m])) by (container_name,pod_name,namespace)",
            "sum(avg(kube_pod_owner{owner_kind=\"DaemonSet\"}) by (pod) * sum(container_cpu_allocation) by (pod)) / sum(kube_node_info)",
            "avg(kube_pod_container_status_running{cluster_id=\"cluster-a\"} != 0) by (pod, namespace, cluster_id)[86400s:300s]",
            "label_replace(up{a=~\"x|y\\\\.z\"}, \"b\", \"$1\", \"a\", \"(.*)\")",
        ] {
            let scoped = scoped(q);
            let reparsed = parser::parse(&scoped).unwrap_or_else(|e| panic!("{scoped}: {e}"));
            let mut expected = parser::parse(q).unwrap();
            scope(&mut expected, "ws-1").unwrap();
            assert_eq!(reparsed.to_string(), expected.to_string());
        }
    }

    #[test]
    fn strip_removes_the_label_everywhere() {
        let mut v: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1","ampfed_workspace":"w"},"value":[1,"2"]}]}}"#,
        )
        .unwrap();
        strip(&mut v);
        assert_eq!(v["data"]["result"][0]["metric"], serde_json::json!({"a":"1"}));
        let mut labels: Value = serde_json::json!({"status":"success","data":["a","ampfed_workspace"]});
        strip(&mut labels);
        assert_eq!(labels["data"], serde_json::json!(["a"]));
        let mut exemplars = serde_json::json!({"status":"success","data":[
            {"seriesLabels":{"__name__":"x","ampfed_workspace":"w"},"exemplars":[]}]});
        strip(&mut exemplars);
        assert_eq!(exemplars["data"][0]["seriesLabels"], serde_json::json!({"__name__":"x"}));
        let mut error = serde_json::json!({"status":"error","errorType":"execution",
            "error":"found duplicate series for the match group {ampfed_workspace=\"ws-1\", job=\"a\"} on the right",
            "warnings":["{job=\"b\",ampfed_workspace=\"ws-1\"} dropped"]});
        strip(&mut error);
        assert_eq!(error["error"], "found duplicate series for the match group {job=\"a\"} on the right");
        assert_eq!(error["warnings"][0], "{job=\"b\"} dropped");
        assert_eq!(scrub_text("{ampfed_workspace=\"w\\\"x\"}"), "{}");
    }
}
