//! Machine-readable results of a run: `--json` (steps, timings, counts, snapshot results, the
//! failure and its kind) and a JUnit XML report for CI systems (one test case per step and
//! per snapshot). Secrets never reach them: [`redact`] masks session tokens, secret keys and
//! signatures in every message.

use std::fmt::Write as _;

use serde::Serialize;

use crate::failure::{classify, Failure};
use crate::progress::{StepFailed, StepName};
use crate::Outcome;

/// What became of the snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "differ")]
pub enum SnapshotResult {
    Match,
    Differ(Vec<String>),
    /// Stamped clusters or non-default settings: the snapshots describe the fixtures.
    NotCompared,
}

/// One step's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub name: &'static str,
    pub seconds: f64,
    pub passed: bool,
}

/// A whole run, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub passed: bool,
    pub exit_code: u8,
    /// `check`, `bad-input` or `environment` when it failed.
    pub failure: Option<&'static str>,
    pub failed_step: Option<&'static str>,
    /// The error chain, redacted.
    pub message: Option<String>,
    pub clusters: Vec<String>,
    pub series_written: usize,
    pub samples_written: usize,
    pub samples_stored: usize,
    pub write_retries: u64,
    pub rules_installed: usize,
    pub rule_series_recorded: usize,
    pub etl_objects: usize,
    pub combined_objects: usize,
    pub allocations: usize,
    pub steps: Vec<StepReport>,
    pub snapshots: SnapshotResult,
    pub total_seconds: f64,
}

impl Report {
    /// The report of a run that got through the path.
    pub fn passed(outcome: &Outcome, snapshots: SnapshotResult, total_seconds: f64) -> Report {
        let s = &outcome.summary;
        let differ = matches!(snapshots, SnapshotResult::Differ(_));
        Report {
            passed: !differ,
            exit_code: if differ { Failure::Check.exit_code() } else { 0 },
            failure: differ.then_some(Failure::Check.as_str()),
            failed_step: None,
            message: differ.then(|| "snapshots differ".to_owned()),
            clusters: s.clusters.clone(),
            series_written: s.series_written,
            samples_written: s.samples_written,
            samples_stored: s.samples_stored,
            write_retries: s.write_retries,
            rules_installed: s.rules_installed,
            rule_series_recorded: s.rule_series_recorded,
            etl_objects: s.etl_objects.len(),
            combined_objects: s.combined_objects.len(),
            allocations: s.rows_queried,
            steps: s
                .steps
                .iter()
                .map(|(n, d)| StepReport { name: n.as_str(), seconds: round3(d.as_secs_f64()), passed: true })
                .collect(),
            snapshots,
            total_seconds: round3(total_seconds),
        }
    }

    /// The report of a run that failed with `error`.
    pub fn failed(error: &anyhow::Error, total_seconds: f64) -> Report {
        let kind = classify(error);
        let step = error.downcast_ref::<StepFailed>().map(|s| s.0);
        Report {
            passed: false,
            exit_code: kind.exit_code(),
            failure: Some(kind.as_str()),
            failed_step: step.map(StepName::as_str),
            message: Some(redact(&format!("{error:#}"))),
            clusters: Vec::new(),
            series_written: 0,
            samples_written: 0,
            samples_stored: 0,
            write_retries: 0,
            rules_installed: 0,
            rule_series_recorded: 0,
            etl_objects: 0,
            combined_objects: 0,
            allocations: 0,
            steps: step
                .map(|s| vec![StepReport { name: s.as_str(), seconds: 0.0, passed: false }])
                .unwrap_or_default(),
            snapshots: SnapshotResult::NotCompared,
            total_seconds: round3(total_seconds),
        }
    }

    /// The report as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("plain structs serialise: {e}"));
        out.push('\n');
        out
    }

    /// The report as JUnit XML: one suite `ampfed-e2e`, a case per step and per snapshot.
    pub fn to_junit(&self) -> String {
        let mut cases = String::new();
        let mut failures = 0;
        for step in &self.steps {
            let _ = write!(
                cases,
                "    <testcase classname=\"ampfed.e2e.step\" name=\"{}\" time=\"{:.3}\"",
                xml(step.name),
                step.seconds
            );
            if step.passed {
                cases.push_str("/>\n");
            } else {
                failures += 1;
                let message = self.message.as_deref().unwrap_or("failed");
                let _ = write!(
                    cases,
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    self.failure.unwrap_or("environment"),
                    xml(first_line(message)),
                    xml(message)
                );
            }
        }
        if self.steps.is_empty() && !self.passed {
            failures += 1;
            let message = self.message.as_deref().unwrap_or("failed");
            let _ = write!(
                cases,
                "    <testcase classname=\"ampfed.e2e\" name=\"run\" time=\"{:.3}\">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                self.total_seconds,
                self.failure.unwrap_or("environment"),
                xml(first_line(message)),
                xml(message)
            );
        }
        let mut tests = self.steps.len().max(usize::from(self.steps.is_empty() && !self.passed));
        let mut skipped = 0;
        for name in crate::snapshots::NAMES {
            tests += 1;
            let _ = write!(cases, "    <testcase classname=\"ampfed.e2e.snapshot\" name=\"{name}\"");
            match &self.snapshots {
                SnapshotResult::Match => cases.push_str("/>\n"),
                SnapshotResult::NotCompared => {
                    skipped += 1;
                    cases.push_str("><skipped message=\"not compared\"/></testcase>\n");
                }
                SnapshotResult::Differ(differ) if differ.iter().any(|d| d == name) => {
                    failures += 1;
                    let _ = writeln!(
                        cases,
                        "><failure type=\"check\" message=\"snapshot {name} differs; review integration/e2e/snapshots/{name}.snap.new with cargo insta review\"/></testcase>"
                    );
                }
                SnapshotResult::Differ(_) => cases.push_str("/>\n"),
            }
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"ampfed-e2e\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
            self.total_seconds
        )
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// `s` escaped for XML text and attributes.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Names after which a secret value follows (`name=value`, `name: value`, `"name":"value"`).
const SECRET_NAMES: &[&str] = &[
    "x-amz-security-token",
    "aws_session_token",
    "sessiontoken",
    "aws_secret_access_key",
    "secretaccesskey",
    "secret_access_key",
    "signature",
];

/// `text` with every value that follows a secret's name and an `=` or `:` (quotes and spaces
/// around it allowed) replaced by `<redacted>`; a name inside a longer word does not count.
pub fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'-');
        let hit = SECRET_NAMES.iter().find(|n| at_word_start && lower[i..].starts_with(**n));
        let Some(name) = hit else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let mut j = i + name.len();
        let mut assigned = false;
        while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'=' | b':') {
            assigned |= matches!(bytes[j], b'=' | b':');
            j += 1;
        }
        if !assigned {
            out.push_str(&text[i..i + name.len()]);
            i += name.len();
            continue;
        }
        out.push_str(&text[i..j]);
        let start = j;
        while j < bytes.len() && !matches!(bytes[j], b'"' | b'\'' | b' ' | b',' | b'&' | b'\n' | b';' | b'}')
        {
            j += 1;
        }
        if j > start {
            out.push_str("<redacted>");
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_every_spelling() {
        let text = "X-Amz-Security-Token: FQoGZXIvYXdzEJr//abc, Signature=5d672d79c15b13162d92, \
                    \"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG\" Credential=AKIDEXAMPLE/20260101";
        let r = redact(text);
        assert!(!r.contains("FQoGZXIvYXdzEJr"), "{r}");
        assert!(!r.contains("5d672d79"), "{r}");
        assert!(!r.contains("wJalrXUtnFEMI"), "{r}");
        assert!(r.contains("X-Amz-Security-Token: <redacted>,"), "{r}");
        assert!(r.contains("Signature=<redacted>,"), "{r}");
        // The access key id names the key; it is not a secret.
        assert!(r.contains("Credential=AKIDEXAMPLE/20260101"), "{r}");
        assert_eq!(redact("nothing secret here: ünïcode"), "nothing secret here: ünïcode");
        // AWS's error names and prose keep their words.
        let aws = "403 InvalidSignatureException: The request signature we calculated does not match";
        assert_eq!(redact(aws), aws);
    }

    #[test]
    fn a_failed_run_reports_kind_step_and_exit_code() {
        let e = anyhow::anyhow!("Signature=abcdef mismatch")
            .context(StepName::RemoteWrite.failed())
            .context(Failure::Check);
        let r = Report::failed(&e, 1.23456);
        assert_eq!((r.exit_code, r.failure, r.failed_step), (1, Some("check"), Some("remote write")));
        assert_eq!(
            r.message.as_deref(),
            Some("check failed: step 'remote write' failed: Signature=<redacted> mismatch")
        );
        assert_eq!(r.total_seconds, 1.235);
        let junit = r.to_junit();
        assert!(
            junit.contains(
                "<testsuite name=\"ampfed-e2e\" tests=\"8\" failures=\"1\" errors=\"0\" skipped=\"7\""
            ),
            "{junit}"
        );
        assert!(junit.contains("<testcase classname=\"ampfed.e2e.step\" name=\"remote write\""), "{junit}");
        assert!(junit.contains("<failure type=\"check\" message=\"check failed: step &apos;remote write&apos; failed: Signature=&lt;redacted&gt; mismatch\">"), "{junit}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["snapshots"]["state"], "not-compared");
    }
}
