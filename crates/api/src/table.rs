//! A reply as a readable table, for terminals (`cargo xtask query`, `ampfed-api --query`):
//! per step its window, then one line per key with the main costs, and a total line.

use std::fmt::Write;

use crate::json::{AssetJson, Num, Reply, ReplyBody};
use crate::window::describe;

fn cell(x: Num) -> String {
    match x {
        // `+ 0.0` turns -0 (and sums that round to -0.00000) into 0.
        Some(v) => format!("{:.5}", if v.abs() < 5e-6 { 0.0 } else { v + 0.0 }),
        None => "null".to_owned(),
    }
}

/// Columns, the first `left` of them left-aligned (names), the rest right-aligned (numbers).
fn table(head: &[&str], left: usize, rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<String>| {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            let gap = if i == 0 { "" } else { "  " };
            if i < left {
                let _ = write!(text, "{gap}{c:<w$}", w = widths[i]);
            } else {
                let _ = write!(text, "{gap}{c:>w$}", w = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, head.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(&mut out, r.clone());
    }
    out
}

fn sum(xs: impl Iterator<Item = Num>) -> Num {
    xs.sum::<Option<f64>>()
}

fn asset_row(key: &str, a: &AssetJson) -> Vec<String> {
    let adjustment = match &a.detail {
        crate::json::AssetDetail::Node(n) => n.adjustment,
        crate::json::AssetDetail::Disk(d) => d.adjustment,
        crate::json::AssetDetail::LoadBalancer(l) => l.adjustment,
        crate::json::AssetDetail::Total(t) => t.adjustment.unwrap_or(Some(0.0)),
    };
    vec![
        key.to_owned(),
        a.asset_type.clone(),
        a.properties.cluster.clone(),
        cell(a.minutes.map(|m| m / 60.0)),
        cell(adjustment),
        cell(a.total_cost()),
    ]
}

/// `reply` as text: a table per step, or the error.
pub fn render_table(reply: &Reply) -> String {
    let mut out = String::new();
    match &reply.body {
        ReplyBody::Error(message) => {
            let _ = writeln!(out, "error {}: {message}", reply.code);
        }
        ReplyBody::Healthy => out.push_str("ok\n"),
        ReplyBody::Allocations(steps) => {
            for (i, step) in steps.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let _ = writeln!(out, "{} ({} entries)", describe(step.window), step.entries.len());
                let head = ["NAME", "CPU", "GPU", "RAM", "PV", "LB", "SHARED", "TOTAL", "EFFICIENCY"];
                let mut rows: Vec<Vec<String>> = step
                    .entries
                    .iter()
                    .map(|(k, a)| {
                        vec![
                            k.clone(),
                            cell(a.cpu_cost),
                            cell(a.gpu_cost),
                            cell(a.ram_cost),
                            cell(a.pv_cost),
                            cell(a.load_balancer_cost),
                            cell(a.shared_cost),
                            cell(a.total_cost),
                            cell(a.total_efficiency),
                        ]
                    })
                    .collect();
                let e = || step.entries.values();
                rows.push(vec![
                    "(total)".to_owned(),
                    cell(sum(e().map(|a| a.cpu_cost))),
                    cell(sum(e().map(|a| a.gpu_cost))),
                    cell(sum(e().map(|a| a.ram_cost))),
                    cell(sum(e().map(|a| a.pv_cost))),
                    cell(sum(e().map(|a| a.load_balancer_cost))),
                    cell(sum(e().map(|a| a.shared_cost))),
                    cell(sum(e().map(|a| a.total_cost))),
                    String::new(),
                ]);
                out.push_str(&table(&head, 1, &rows));
            }
        }
        ReplyBody::Assets(steps) => {
            for (i, step) in steps.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let _ = writeln!(out, "{} ({} entries)", describe(step.window), step.entries.len());
                let head = ["NAME", "TYPE", "CLUSTER", "HOURS", "ADJUSTMENT", "TOTAL"];
                let mut rows: Vec<Vec<String>> = step.entries.iter().map(|(k, a)| asset_row(k, a)).collect();
                let total = sum(step.entries.values().map(AssetJson::total_cost));
                rows.push(vec![
                    "(total)".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    cell(total),
                ]);
                out.push_str(&table(&head, 3, &rows));
            }
        }
    }
    if let Some(w) = &reply.warning {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::json::{AllocationJson, Step};
    use ampfed_allocation::{Allocation, Window};

    #[test]
    fn a_table_has_a_line_per_key_and_a_total() {
        let w = Window { start: 1_767_225_600, end: 1_767_312_000 };
        let a = Allocation { cpu_cost: 1.5, ram_cost: 0.25, total_cost: 1.75, ..Allocation::default() };
        let b = Allocation { cpu_cost: 0.5, total_cost: 0.5, ..Allocation::default() };
        let entries: BTreeMap<String, AllocationJson> = [("kube-system", &b), ("shop", &a)]
            .into_iter()
            .map(|(k, x)| (k.to_owned(), AllocationJson::new(k, x, w)))
            .collect();
        let reply = Reply {
            code: 200,
            body: ReplyBody::Allocations(vec![Step { window: w, entries }]),
            warning: Some("w".into()),
        };
        let text = render_table(&reply);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2026-01-01T00:00:00Z to 2026-01-02T00:00:00Z (2 entries)");
        assert!(lines[1].starts_with("NAME         ") && lines[1].ends_with("EFFICIENCY"), "{text}");
        assert!(lines[3].starts_with("shop") && lines[3].contains("1.50000"), "{text}");
        assert!(lines[4].starts_with("(total)") && lines[4].ends_with("2.25000"), "{text}");
        assert_eq!(lines[5], "warning: w");
        assert_eq!(render_table(&Reply::error(400, "bad")), "error 400: bad\n");
    }
}
