//! What `diagnose` reports: its [`Options`], each [`Check`] with its [`Status`], and the
//! [`Report`] with its text, JSON and exit code.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::failure::Failure;

/// What to diagnose.
#[derive(Clone, Debug)]
pub struct Options {
    /// The endpoints file of the running `up`.
    pub endpoints: PathBuf,
    /// The label that names a cluster on remote-written series (`external_labels`).
    pub cluster_label: String,
    /// The clusters expected; empty: those found (series or ETL folders).
    pub clusters: Vec<String>,
    /// "Now", unix seconds: series are looked for in the `lookback` before it, ETL is fresh
    /// when its newest day ended at most `max_age` before it.
    pub now: i64,
    /// Seconds before `now` in which series count as present.
    pub lookback: i64,
    /// Seconds an ETL day may have ended before `now`.
    pub max_age: i64,
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// Not run: a check it depends on failed.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do; empty when it passed.
    pub fix: String,
    /// The failure is the environment's (nothing answered), not the data's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: String::new(),
            unreachable: false,
        }
    }

    pub fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Warn,
            detail: detail.into(),
            fix: fix.into(),
            unreachable: false,
        }
    }

    pub fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: fix.into(),
            unreachable: false,
        }
    }

    pub fn skip(name: impl Into<String>, needs: &str) -> Check {
        Check {
            name: name.into(),
            status: Status::Skip,
            detail: format!("not run: `{needs}` failed"),
            fix: String::new(),
            unreachable: false,
        }
    }

    /// This failure is an unreachable service's.
    pub fn unreachable(mut self) -> Check {
        self.unreachable = true;
        self
    }
}

/// Every check, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// 0: nothing failed; 3: the endpoints file is missing or a service did not answer; 1:
    /// another check failed.
    pub fn exit_code(&self) -> u8 {
        let failed: Vec<&Check> = self.checks.iter().filter(|c| c.status == Status::Fail).collect();
        if failed.iter().any(|c| c.unreachable) {
            Failure::Environment.exit_code()
        } else if failed.is_empty() {
            0
        } else {
            Failure::Check.exit_code()
        }
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report for a terminal: one line a check, its fix under it.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "ampfed diagnose: {} checks: {} passed, {} warnings, {} failed, {} skipped\n",
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip)
        );
        let width = self.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        for c in &self.checks {
            let _ = writeln!(out, "{} {:<width$}  {}", c.status.mark(), c.name, c.detail);
            if !c.fix.is_empty() {
                let _ = writeln!(out, "  {:<width$}  fix: {}", "", c.fix);
            }
        }
        out
    }

    /// The report as JSON, for CI: `exit_code`, `passed` and the checks.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "passed": self.exit_code() == 0,
            "exit_code": self.exit_code(),
            "checks": self.checks,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_pass_a_failure_fails_and_an_unreachable_service_is_the_environments() {
        let pass = Check::pass("a", "fine");
        let warn = Check::warn("b", "odd", "look");
        let mut report = Report { checks: vec![pass, warn, Check::skip("c", "a")] };
        assert_eq!(report.exit_code(), 0);
        report.checks.push(Check::fail("d", "broken", "mend it"));
        assert_eq!(report.exit_code(), 1);
        report.checks.push(Check::fail("e", "gone", "start it").unreachable());
        assert_eq!(report.exit_code(), 3);
        let text = report.to_text();
        assert!(
            text.starts_with("ampfed diagnose: 5 checks: 1 passed, 1 warnings, 2 failed, 1 skipped\n"),
            "{text}"
        );
        assert!(text.contains("✗ d  broken\n     fix: mend it\n"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["exit_code"], 3);
        assert_eq!(json["checks"][4]["unreachable"], true);
        assert!(json["checks"][0].get("unreachable").is_none());
    }
}
