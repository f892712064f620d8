//! `rules test`: the rules evaluated on the simulated series by Prometheus itself, as a
//! `promtool test rules` unit test ([`write_test`]): the first minutes of every simulated
//! cluster as `input_series` (the cluster label on each, as remote write adds it), and for
//! each record name the test `absent(<record>)` is empty at the last minute, which holds
//! exactly when the rule produced a series there. `cargo xtask rules test` writes the file with
//! the `ampfed-rules` binary and runs `promtool` on it (Debian's `prometheus` package ships
//! it), which names each record that produced nothing as a failed `absent(<record>)`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ampfed_clustersim::Simulation;
use anyhow::{Context, Result};
use serde_json::json;

/// The name of the test file in the output directory.
pub const TEST_FILE: &str = "ampfed-rules.test.yaml";
/// The most series written into the test (bounds the file and promtool's memory).
pub const MAX_SERIES: usize = 50_000;

/// A written unit test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// The record names tested, sorted.
    pub records: Vec<String>,
    pub series: usize,
    /// The minute the records are evaluated at.
    pub eval_minute: i64,
}

/// Writes `out_dir/ampfed-rules.test.yaml` for `rule_files` (absolute paths are written) over
/// the first `minutes` of `sims`; `records` are the record names to test.
pub fn write_test(
    rule_files: &[PathBuf],
    records: &BTreeSet<String>,
    sims: &[Simulation],
    minutes: i64,
    out_dir: &Path,
) -> Result<Written> {
    let mut series = Vec::new();
    for sim in sims {
        let steps = usize::try_from(minutes * 60_000 / sim.step_ms().max(1)).unwrap_or(0);
        for ts in sim.series() {
            let mut values = vec!["_".to_owned(); steps];
            for s in &ts.samples {
                let k = (s.timestamp - sim.start_ms()) / sim.step_ms().max(1);
                if let Some(slot) = usize::try_from(k).ok().and_then(|k| values.get_mut(k)) {
                    *slot = if s.value.is_finite() { format!("{}", s.value) } else { "_".into() };
                }
            }
            if values.iter().all(|v| v == "_") {
                continue;
            }
            let mut labels: Vec<(&str, &str)> = ts
                .labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            labels.push((sim.cluster_label(), sim.cluster()));
            labels.sort();
            let mut text = ts.label("__name__").unwrap_or_default().to_owned();
            text.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(text, "{sep}{name}=\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
            }
            text.push('}');
            series.push(json!({ "series": text, "values": values.join(" ") }));
            if series.len() > MAX_SERIES {
                anyhow::bail!("more than {MAX_SERIES} series: simulate fewer minutes (--minutes)");
            }
        }
    }
    let eval_minute = (minutes - 1).max(0);
    let tests: Vec<serde_json::Value> = records
        .iter()
        .map(|r| json!({ "expr": format!("absent({r})"), "eval_time": format!("{eval_minute}m"), "exp_samples": [] }))
        .collect();
    let files: Vec<String> = rule_files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()).display().to_string())
        .collect();
    let doc = json!({
        "rule_files": files,
        "evaluation_interval": "1m",
        "tests": [{ "interval": "1m", "input_series": series, "promql_expr_test": tests }],
    });
    std::fs::create_dir_all(out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    let path = out_dir.join(TEST_FILE);
    let text = format!(
        "# Written by `ampfed-rules test`: each record must produce a series on the simulated data\n\
         # (absent(<record>) is empty) at minute {eval_minute}.\n{}",
        serde_yaml::to_string(&doc).context("render the test")?
    );
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(Written { path, records: records.iter().cloned().collect(), series: series.len(), eval_minute })
}
