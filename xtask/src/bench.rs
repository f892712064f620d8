//! `cargo xtask bench sigv4`: runs a component's benchmark binary in release mode and lets it
//! print its figures (`sigv4`: verify and sign cost per request and their ratio; `proxy`: the
//! signing proxy's overhead against sending unsigned to the same backend; `ingest`: remote
//! write samples per second through the proxy and the AMP mock against straight into
//! Prometheus, with peak memories, also written to `target/bench/ingest.json`; `federation`:
//! the federator over synthetic ETL, `-- --localstack` on LocalStack; `api`: the allocation
//! query over combined ETL; each also writes `target/bench/<name>.json`).
//!
//! `--compare FILE` then compares the JSON the run wrote with stored figures (an earlier
//! run's JSON): every figure named `…seconds` or `…mib` (lower is better) or `…per_second`
//! (higher is better) that moved the wrong way by more than `--tolerance` (default 20 %) is a
//! regression; the task prints every compared figure and fails when one regressed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;
use xshell::{cmd, Shell};

use crate::flags;

impl flags::Bench {
    pub(crate) fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let (package, bench) = match self.component {
            flags::Component::Sigv4 => ("ampfed-sigv4", "sigv4"),
            flags::Component::Proxy => ("ampfed-proxy", "proxy"),
            flags::Component::Ingest => ("ampfed-aws-mock", "ingest"),
            flags::Component::Federation => ("ampfed-federation", "federation"),
            flags::Component::Api => ("ampfed-api", "allocation"),
            flags::Component::AmpRouting
            | flags::Component::AmpRemoteWrite
            | flags::Component::AmpRules
            | flags::Component::AmpQueryScope => {
                anyhow::bail!("the AMP mock's targets are fuzz-only; bench `sigv4`, `proxy` or `ingest`")
            }
        };
        // Read before the run: a missing or broken baseline fails before minutes of benchmarking.
        let baseline = match &self.compare {
            Some(path) => Some((path.clone(), read_json(path)?)),
            None => None,
        };
        let started = std::time::SystemTime::now();
        let cargo = crate::tools::cargo();
        let args = &self.args;
        cmd!(sh, "{cargo} bench -q -p {package} --bench {bench} -- {args...}")
            .run()
            .with_context(|| format!("benchmark {bench} of {package} failed"))?;
        let Some((baseline_path, baseline)) = baseline else { return Ok(()) };
        let written = written_since(&sh.current_dir().join("target/bench"), started)?;
        let name = baseline["benchmark"].as_str().unwrap_or_default().to_owned();
        let current = written
            .iter()
            .map(|p| read_json(p).map(|v| (p.clone(), v)))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .find(|(_, v)| v["benchmark"].as_str() == Some(name.as_str()))
            .with_context(|| {
                format!(
                    "this run wrote no target/bench JSON of benchmark {name:?} (the one {} holds)",
                    baseline_path.display()
                )
            })?;
        let differ = different_sizes(&baseline, &current.1);
        if !differ.is_empty() {
            anyhow::bail!(
                "the runs are of different sizes, so their figures do not compare: {} (run with the flags the baseline was made with)",
                differ.join(", ")
            );
        }
        let compared = compare(&baseline, &current.1, self.tolerance);
        println!("\ncompared with {} (tolerance {:.0} %):", baseline_path.display(), self.tolerance * 100.0);
        for c in &compared {
            println!(
                "  {:<48} {:>14.3} → {:>14.3}  {:+7.1} %{}",
                c.name,
                c.before,
                c.after,
                c.change * 100.0,
                if c.regressed { "  REGRESSED" } else { "" }
            );
        }
        let regressed: Vec<&str> = compared.iter().filter(|c| c.regressed).map(|c| c.name.as_str()).collect();
        if regressed.is_empty() {
            println!("no regression in {} figures", compared.len());
            Ok(())
        } else {
            anyhow::bail!(
                "{} of {} figures regressed beyond {:.0} %: {}",
                regressed.len(),
                compared.len(),
                self.tolerance * 100.0,
                regressed.join(", ")
            )
        }
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a benchmark's JSON", path.display()))
}

/// The JSON files of `dir` written since `since`.
fn written_since(dir: &Path, since: std::time::SystemTime) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
    Ok(entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t >= since))
        .collect())
}

/// One figure of two runs.
#[derive(Debug, PartialEq)]
struct Compared {
    name: String,
    before: f64,
    after: f64,
    /// (after − before) / before.
    change: f64,
    regressed: bool,
}

/// Which way is better for a figure, by its name.
fn direction(name: &str) -> Option<f64> {
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.ends_with("seconds") || last.ends_with("mib") {
        Some(1.0)
    } else if last.ends_with("per_second") {
        Some(-1.0)
    } else {
        None
    }
}

/// Every numeric leaf of `value`, by its dotted path (array items by index).
fn leaves(value: &Value, prefix: &str, out: &mut BTreeMap<String, f64>) {
    match value {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(prefix.to_owned(), x);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, &if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The top-level numbers (a run's size: clusters, days, cpus, …) that differ between the runs.
fn different_sizes(before: &Value, after: &Value) -> Vec<String> {
    let Some(map) = before.as_object() else { return Vec::new() };
    map.iter()
        .filter(|(k, v)| v.is_number() && direction(k).is_none() && after.get(k.as_str()) != Some(v))
        .map(|(k, v)| format!("{k} {v} vs {}", after.get(k.as_str()).unwrap_or(&Value::Null)))
        .collect()
}

/// The figures both runs have that have a better direction, compared.
fn compare(before: &Value, after: &Value, tolerance: f64) -> Vec<Compared> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    leaves(before, "", &mut old);
    leaves(after, "", &mut new);
    old.into_iter()
        // The targets a bench prints are the same on both sides, not figures.
        .filter(|(name, _)| !name.split('.').any(|part| part == "targets" || part.starts_with("target_")))
        .filter_map(|(name, b)| {
            let sign = direction(&name)?;
            let a = *new.get(&name)?;
            let change = if b == 0.0 { 0.0 } else { (a - b) / b };
            Some(Compared { regressed: sign * change > tolerance, name, before: b, after: a, change })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slower_larger_or_lower_throughput_beyond_the_tolerance_regresses() {
        let before = serde_json::json!({"benchmark": "x", "figures": {"full": {"seconds": 10.0, "peak_mib": 100.0},
            "samples_per_second": 1000.0, "rows": 5, "targets": {"full_seconds": 10}}});
        let after = serde_json::json!({"benchmark": "x", "figures": {"full": {"seconds": 12.5, "peak_mib": 110.0},
            "samples_per_second": 700.0, "rows": 9, "targets": {"full_seconds": 10}}});
        let c = compare(&before, &after, 0.2);
        let names: Vec<(&str, bool)> = c.iter().map(|c| (c.name.as_str(), c.regressed)).collect();
        // 10 → 12.5 s is +25 %; 100 → 110 MiB +10 %; 1000 → 700 per second −30 %; rows and
        // targets are not judged.
        assert_eq!(
            names,
            [
                ("figures.full.peak_mib", false),
                ("figures.full.seconds", true),
                ("figures.samples_per_second", true)
            ]
        );
        assert!((c[1].change - 0.25).abs() < 1e-12);
        assert!(compare(&before, &before, 0.0).iter().all(|c| !c.regressed));
        // Faster is never a regression.
        let faster = serde_json::json!({"figures": {"full": {"seconds": 1.0}}});
        assert!(!compare(&before, &faster, 0.2)[0].regressed);
    }

    #[test]
    fn runs_of_different_sizes_are_not_compared() {
        let before = serde_json::json!({"benchmark": "api", "clusters": 1000, "cpus": 2, "seconds": 3.0});
        let after = serde_json::json!({"benchmark": "api", "clusters": 100, "cpus": 2, "seconds": 1.0});
        assert_eq!(different_sizes(&before, &after), ["clusters 1000 vs 100"]);
        assert!(different_sizes(&before, &before).is_empty());
    }

    #[test]
    fn arrays_are_compared_item_by_item() {
        let before =
            serde_json::json!({"cases": [{"direct": {"seconds": 2.0}}, {"direct": {"seconds": 4.0}}]});
        let after =
            serde_json::json!({"cases": [{"direct": {"seconds": 2.1}}, {"direct": {"seconds": 6.0}}]});
        let c = compare(&before, &after, 0.2);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].name.as_str(), c[0].regressed, c[1].regressed),
            ("cases[0].direct.seconds", false, true)
        );
    }
}
