//! What a rule's expression reads: each vector selector's metric name and the label names its
//! matchers name, and the label names of every `by (…)` / `without (…)` grouping, from
//! `promql-parser`'s tree (a walk of its own that also sees aggregation parameters).
//!
//! `diagnose` asks the data whether any series carries those labels; `rules lint` asks the
//! simulator's series.

use std::collections::BTreeSet;

use promql_parser::parser::{self, Expr};

/// One selector: `metric{label="…", …}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    /// The metric name (from the name or a `__name__="…"` matcher), if it has one.
    pub metric: Option<String>,
    /// The label names its matchers name, `__name__` left out, sorted.
    pub labels: BTreeSet<String>,
}

/// What an expression reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub selectors: Vec<Selector>,
    /// The label names of `by (…)` and `without (…)` groupings.
    pub grouping: BTreeSet<String>,
}

/// Parses `expr`; the error is the parser's message.
pub fn reads(expr: &str) -> Result<Reads, String> {
    let ast = parser::parse(expr)?;
    let mut out = Reads::default();
    walk(&ast, &mut out);
    Ok(out)
}

fn selector(vs: &parser::VectorSelector) -> Selector {
    let all = vs.matchers.matchers.iter().chain(vs.matchers.or_matchers.iter().flatten());
    let mut metric = vs.name.clone();
    let mut labels = BTreeSet::new();
    for m in all {
        if m.name == "__name__" {
            if matches!(m.op, promql_parser::label::MatchOp::Equal) && metric.is_none() {
                metric = Some(m.value.clone());
            }
        } else {
            labels.insert(m.name.clone());
        }
    }
    Selector { metric, labels }
}

fn walk(expr: &Expr, out: &mut Reads) {
    match expr {
        Expr::Aggregate(a) => {
            if let Some(modifier) = &a.modifier {
                out.grouping.extend(modifier.labels().labels.iter().cloned());
            }
            walk(&a.expr, out);
            if let Some(param) = &a.param {
                walk(param, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Binary(b) => {
            walk(&b.lhs, out);
            walk(&b.rhs, out);
        }
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Subquery(q) => walk(&q.expr, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        Expr::VectorSelector(vs) => out.selectors.push(selector(vs)),
        Expr::MatrixSelector(ms) => out.selectors.push(selector(&ms.vs)),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_groupings_of_a_guide_rule() {
        let r = reads(
            "avg(irate(container_cpu_usage_seconds_total{container_name!=\"POD\", container_name!=\"\"}[5m])) by (container_name,pod_name,namespace)",
        )
        .unwrap();
        assert_eq!(
            r.selectors,
            vec![Selector {
                metric: Some("container_cpu_usage_seconds_total".into()),
                labels: ["container_name".to_owned()].into()
            }]
        );
        assert_eq!(r.grouping, ["container_name", "namespace", "pod_name"].map(String::from).into());
        let r = reads("topk(scalar(b{x=\"1\"}), {__name__=\"a\", y=~\".+\"})").unwrap();
        let metrics: Vec<_> = r.selectors.iter().map(|s| s.metric.clone().unwrap_or_default()).collect();
        assert_eq!(metrics, ["a", "b"]);
        assert!(reads("sum(").is_err());
    }
}
