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

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr};
use promql_parser::util::visitor::{walk_expr_mut, ExprVisitorMut};
use serde_json::Value;

/// The label that carries a series' workspace in the backend.
pub(crate) const TENANT_LABEL: &str = "ampfed_workspace";

/// Rewrites `expr` so that it only selects series of `workspace`; the error is the parser's.
pub(crate) fn scope_query(expr: &str, workspace: &str) -> Result<String, String> {
    let mut ast = parser::parse(expr)?;
    scope_expr(&mut ast, workspace);
    Ok(ast.to_string())
}

/// Adds the tenant matcher to every selector of a parsed expression.
fn scope_expr(ast: &mut Expr, workspace: &str) {
    struct Scope<'a>(&'a str);
    impl ExprVisitorMut for Scope<'_> {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &mut Expr) -> Result<bool, Self::Error> {
            let vs = match expr {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &mut ms.vs,
                _ => return Ok(true),
            };
            let tenant = || Matcher::new(MatchOp::Equal, TENANT_LABEL, self.0);
            vs.matchers.matchers.retain(|m| m.name != TENANT_LABEL);
            vs.matchers.matchers.push(tenant());
            for group in &mut vs.matchers.or_matchers {
                group.retain(|m| m.name != TENANT_LABEL);
                group.push(tenant());
            }
            Ok(true)
        }
    }
    let Ok(_) = walk_expr_mut(&mut Scope(workspace), ast);
}

/// Removes the tenant label from a Prometheus API answer (`query`, `query_range`: result
/// metrics; `series`: label sets; `labels`: names).
pub(crate) fn strip(answer: &mut Value) {
    let Some(data) = answer.get_mut("data") else { return };
    match data {
        Value::Array(items) => {
            items.retain(|v| v.as_str() != Some(TENANT_LABEL));
            for item in items {
                if let Value::Object(labels) = item {
                    labels.remove(TENANT_LABEL);
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

    #[test]
    fn every_selector_gets_the_tenant_matcher() {
        let q = scope_query(
            "sum(rate(a{x=\"1\"}[5m])) / on(y) group_left b offset 1m + max_over_time(avg(c)[1d:5m]) and {__name__=\"d\", ampfed_workspace=\"other\"}",
            "ws-1",
        )
        .unwrap();
        assert_eq!(q.matches("ampfed_workspace=\"ws-1\"").count(), 4, "{q}");
        assert!(!q.contains("other"), "{q}");
        assert!(parser::parse(&q).is_ok(), "{q}");
    }

    #[test]
    fn the_guide_and_costmodel_queries_round_trip() {
        for q in [
            "avg(irate(container_cpu_usage_seconds_total{container_name!=\"POD\", container_name!=\"\"}[5m])) by (container_name,pod_name,namespace)",
            "sum(avg(kube_pod_owner{owner_kind=\"DaemonSet\"}) by (pod) * sum(container_cpu_allocation) by (pod)) / sum(kube_node_info)",
            "avg(kube_pod_container_status_running{cluster_id=\"cluster-a\"} != 0) by (pod, namespace, cluster_id)[86400s:300s]",
            "label_replace(up{a=~\"x|y\\\\.z\"}, \"b\", \"$1\", \"a\", \"(.*)\")",
        ] {
            let scoped = scope_query(q, "ws-1").unwrap();
            let reparsed = parser::parse(&scoped).unwrap_or_else(|e| panic!("{scoped}: {e}"));
            let mut expected = parser::parse(q).unwrap();
            scope_expr(&mut expected, "ws-1");
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
    }
}
