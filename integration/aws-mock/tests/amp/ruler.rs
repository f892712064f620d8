//! The ruler against a real Prometheus: its output on the seed's rules agrees with
//! `promtool test rules` on the same rules and input series, `/api/v1/rules` and
//! `/api/v1/alerts` show health, errors and alert state, and the wall clock evaluates.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ampfed_common::wait::{Poll, Wait};
use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};
use ampfed_prom::Client;
use ampfed_test_support::run_bounded;
use serde_json::{json, Value};

use crate::{client, mock_with_backend, prometheus, proxy, tempdir, TOKEN};

const T0: i64 = 1_767_225_600;
/// How long `promtool test rules` may take before the test kills it.
const PROMTOOL_TIMEOUT: Duration = Duration::from_secs(120);
/// Minutes of input: samples at T0 + 0..=60 min.
const MINUTES: i64 = 60;
/// When the ruler's output is compared: around series appearing, disappearing and going stale,
/// and alerts turning from pending to firing.
const EVAL_MINUTES: [i64; 12] = [1, 4, 5, 10, 21, 23, 24, 26, 30, 38, 41, 60];

/// Input series: `(metric, labels, start, step per minute, first minute, last minute)`.
const INPUT: &[(&str, &str, f64, f64, i64, i64)] = &[
    (
        "container_cpu_usage_seconds_total",
        r#"container_name="app",namespace="n1",pod_name="p1""#,
        0.0,
        30.0,
        0,
        60,
    ),
    (
        "container_cpu_usage_seconds_total",
        r#"container_name="db",namespace="n2",pod_name="p2""#,
        5.0,
        12.0,
        0,
        60,
    ),
    (
        "container_cpu_usage_seconds_total",
        r#"container_name="POD",namespace="n1",pod_name="p1""#,
        0.0,
        1.0,
        0,
        60,
    ),
    // A job that ends at minute 20: its rates stop, and the recorded series go stale.
    (
        "container_cpu_usage_seconds_total",
        r#"container_name="job",namespace="n3",pod_name="p3""#,
        0.0,
        60.0,
        0,
        20,
    ),
    (
        "container_memory_working_set_bytes",
        r#"container_name="app",namespace="n1",pod_name="p1""#,
        1000.0,
        10.0,
        0,
        60,
    ),
    (
        "container_memory_working_set_bytes",
        r#"container_name="db",namespace="n2",pod_name="p2""#,
        2048.0,
        0.0,
        0,
        60,
    ),
    (
        "container_memory_working_set_bytes",
        r#"container_name="job",namespace="n3",pod_name="p3""#,
        512.0,
        1.0,
        0,
        20,
    ),
    ("kube_pod_owner", r#"owner_kind="ReplicaSet",pod="p1""#, 1.0, 0.0, 0, 60),
    ("kube_pod_owner", r#"owner_kind="DaemonSet",pod="p2""#, 1.0, 0.0, 0, 60),
    ("container_cpu_allocation", r#"container="app",pod="p1""#, 0.5, 0.0, 0, 60),
    ("container_cpu_allocation", r#"container="db",pod="p2""#, 0.25, 0.0, 0, 60),
    ("container_memory_allocation_bytes", r#"container="app",pod="p1""#, 1024.0, 0.0, 0, 60),
    ("container_memory_allocation_bytes", r#"container="db",pod="p2""#, 4096.0, 2.0, 0, 60),
    ("kube_node_info", r#"node="n-1""#, 1.0, 0.0, 0, 60),
    ("kube_node_info", r#"node="n-2""#, 1.0, 0.0, 0, 60),
    // A node that leaves at minute 35 and one that joins at minute 57.
    ("kube_node_info", r#"node="n-3""#, 1.0, 0.0, 0, 35),
    ("kube_node_info", r#"node="n-4""#, 1.0, 0.0, 57, 60),
];

/// Alerting rules evaluated next to the seed's recording rules.
const ALERT_RULES: &str = "groups:
- name: alerts
  rules:
  - alert: NodeUp
    expr: kube_node_info > 0
    for: 5m
    labels: {severity: page}
    annotations: {summary: a node is up}
  - alert: BusyJob
    expr: rate(container_cpu_usage_seconds_total{container_name=\"job\"}[5m]) > 0.5
";

fn value_at(start: f64, step: f64, from: i64, to: i64, minute: i64) -> Option<f64> {
    (from..=to).contains(&minute).then_some(start + step * minute as f64)
}

fn input_write_request() -> WriteRequest {
    let timeseries = INPUT
        .iter()
        .map(|&(name, labels, start, step, from, to)| {
            let labels = labels
                .split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            let mut ts = TimeSeries::new(name, &labels);
            ts.samples = (0..=MINUTES)
                .filter_map(|i| {
                    value_at(start, step, from, to, i)
                        .map(|value| Sample { value, timestamp: (T0 + i * 60) * 1000 })
                })
                .collect();
            ts
        })
        .collect();
    WriteRequest { timeseries }
}

/// The record names of rules files, once each, in file order, and `ALERTS`.
fn series_names(files: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for rules in files {
        let file = ampfed_aws_mock::rules::parse(rules.as_bytes()).unwrap();
        for r in file.groups.iter().flat_map(|g| &g.rules) {
            if let Some(n) = &r.record {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
    }
    names.push("ALERTS".into());
    names
}

/// A promtool unit test expecting, for each series name and evaluation time, what the ruler
/// wrote, and at the last minute the firing alerts `/api/v1/alerts` lists.
fn promtool_test(
    rule_files: &[&Path],
    ruler: &Client,
    names: &[String],
    alerts: &Value,
    skew: f64,
) -> String {
    let files: Vec<String> = rule_files.iter().map(|f| format!("{:?}", f.display().to_string())).collect();
    let mut out = format!(
        "rule_files: [{}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
        files.join(", ")
    );
    for &(name, labels, start, step, from, to) in INPUT {
        let values: Vec<String> = (0..=MINUTES)
            .map(|i| value_at(start, step, from, to, i).map_or("_".to_owned(), |v| format!("{v:?}")))
            .collect();
        writeln!(out, "      - series: '{name}{{{labels}}}'\n        values: '{}'", values.join(" "))
            .unwrap();
    }
    out.push_str("    promql_expr_test:\n");
    let mut compared = 0;
    for name in names {
        for minute in EVAL_MINUTES {
            let got = ruler.query(&format!("{{__name__=\"{name}\"}}"), T0 + minute * 60).unwrap();
            writeln!(out, "      - expr: '{{__name__=\"{name}\"}}'\n        eval_time: {minute}m").unwrap();
            out.push_str(if got.is_empty() { "        exp_samples: []\n" } else { "        exp_samples:\n" });
            for s in got {
                compared += 1;
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                let value = s.value + skew;
                writeln!(
                    out,
                    "          - labels: '{name}{{{}}}'\n            value: {value:?}",
                    labels.join(",")
                )
                .unwrap();
            }
        }
    }
    assert!(compared > 100, "the ruler produced too few samples to compare: {compared}");
    let mut firing: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for a in alerts["data"]["alerts"].as_array().unwrap().iter().filter(|a| a["state"] == "firing") {
        firing.entry(a["labels"]["alertname"].as_str().unwrap().to_owned()).or_default().push(a);
    }
    out.push_str("    alert_rule_test:\n");
    for alertname in ["NodeUp", "BusyJob"] {
        writeln!(out, "      - eval_time: {MINUTES}m\n        alertname: {alertname}\n        exp_alerts:")
            .unwrap();
        for a in firing.get(alertname).into_iter().flatten() {
            let labels = a["labels"].as_object().unwrap().iter().filter(|(k, _)| *k != "alertname");
            let labels: Vec<String> = labels.map(|(k, v)| format!("{k}: {v}")).collect();
            let annotations: Vec<String> =
                a["annotations"].as_object().unwrap().iter().map(|(k, v)| format!("{k}: {v}")).collect();
            writeln!(
                out,
                "          - exp_labels: {{{}}}\n            exp_annotations: {{{}}}",
                labels.join(", "),
                annotations.join(", ")
            )
            .unwrap();
        }
    }
    out
}

fn promtool(test_file: &Path) -> (bool, String) {
    let Some(promtool) = ampfed_env::prometheus::find_on_path("promtool") else {
        panic!("promtool is not on PATH: install it with `apt-get install -y --no-install-recommends prometheus` (or `cargo xtask setup`)");
    };
    let out = run_bounded(Command::new(promtool).arg("test").arg("rules").arg(test_file), PROMTOOL_TIMEOUT)
        .unwrap_or_else(|e| panic!("promtool test rules: {e}"));
    let text = format!("{}{}", out.stdout, out.stderr);
    (out.success(), text)
}

/// Checks that every `exp:`/`got:` pair promtool reports has the same label sets with values
/// equal to 1e-12 relative; returns how many values differed.
fn only_rounding_differences(output: &str) -> Result<usize, String> {
    let samples = |line: &str| -> Result<Vec<(String, f64)>, String> {
        let mut out = Vec::new();
        let mut rest = line.trim();
        while let Some(open) = rest.find('{') {
            let close =
                rest[open..].find('}').ok_or_else(|| format!("unbalanced labels in {line:?}"))? + open;
            let labels = rest[..=close].trim_start_matches([',', ' ']).to_owned();
            let tail = rest[close + 1..].trim_start();
            let end = tail.find(',').unwrap_or(tail.len());
            let value: f64 = tail[..end].trim().parse().map_err(|e| format!("value in {line:?}: {e}"))?;
            out.push((labels, value));
            rest = &tail[end..];
        }
        Ok(out)
    };
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let mut differing = 0;
    let mut pairs = 0;
    for (i, line) in lines.iter().enumerate() {
        if let Some(exp) = line.strip_prefix("exp:") {
            let got = lines.get(i + 1).and_then(|l| l.strip_prefix("got:")).ok_or("exp: without got:")?;
            let (exp, got) = (samples(exp)?, samples(got)?);
            if exp.len() != got.len() {
                return Err(format!("{} samples expected, {} got", exp.len(), got.len()));
            }
            for ((el, ev), (gl, gv)) in exp.iter().zip(&got) {
                if el != gl {
                    return Err(format!("labels differ: {el} vs {gl}"));
                }
                if (ev - gv).abs() > 1e-12 * ev.abs().max(gv.abs()) {
                    return Err(format!("{el}: {ev} vs {gv}"));
                }
                differing += usize::from(ev != gv);
            }
            pairs += 1;
        } else if !(line.is_empty()
            || line.starts_with("Unit Testing")
            || line.starts_with("FAILED")
            || line.starts_with("expr:")
            || line.starts_with("got:"))
        {
            return Err(format!("unexpected promtool output {line:?}"));
        }
    }
    if pairs == 0 {
        return Err("promtool failed without a comparison".into());
    }
    Ok(differing)
}

fn get(url: &str) -> Value {
    serde_json::from_str(&ureq::get(url).call().unwrap().into_string().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ruler_agrees_with_promtool_and_reports_its_state() {
    let (scenario, backend) = tokio::task::spawn_blocking(prometheus).await.unwrap();
    let mock = mock_with_backend(&backend).await;
    let dir = tempdir("ruler");
    let amp = client(&mock, &dir, TOKEN);
    let rules_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rules/kubecost-amp.yaml");
    let rules = std::fs::read_to_string(&rules_file).unwrap();
    let alert_file = dir.join("alerts.yaml");
    std::fs::write(&alert_file, ALERT_RULES).unwrap();
    let seed = crate::workspace(&amp).await;
    crate::namespace(&amp, &seed, "kubecost-amp", &rules).await;
    crate::namespace(&amp, &seed, "alerts", ALERT_RULES).await;
    let broken = crate::workspace(&amp).await;
    let mut proxy = proxy(&mock, &dir).await;
    let base = proxy.url();
    let ws = |id: &str| Client::new(format!("{base}/workspaces/{id}"), "/api/v1/remote_write");
    let (seed_client, broken_client) = (ws(&seed), ws(&broken));
    let ruler = mock.ruler();
    let (dir2, seed2, base2) = (dir.clone(), seed.clone(), base.clone());
    let (ruler, seed_rules, seed_alerts) = tokio::task::spawn_blocking(move || {
        seed_client.write(&input_write_request()).unwrap();
        broken_client.write(&input_write_request()).unwrap();
        let report = ruler.evaluate_range(T0, T0 + MINUTES * 60).unwrap();
        assert_eq!((report.recording_rules, report.alerting_rules), (9, 2), "{report:?}");
        let url = format!("{base2}/workspaces/{seed2}/api/v1");
        let (seed_rules, seed_alerts) = (get(&format!("{url}/rules")), get(&format!("{url}/alerts")));

        // The same rules and input in promtool agree with every sample the ruler wrote.
        let names = series_names(&[&rules, ALERT_RULES]);
        let files = [rules_file.as_path(), alert_file.as_path()];
        let test = promtool_test(&files, &seed_client, &names, &seed_alerts, 0.0);
        let test_file = dir2.join("promtool-test.yaml");
        std::fs::write(&test_file, &test).unwrap();
        let (ok, output) = promtool(&test_file);
        if !ok {
            // promtool compares floats exactly; a sum over the same series in another order can
            // differ in the last bit. Anything else (labels, sample counts, values) must agree.
            if let Err(e) = only_rounding_differences(&output) {
                panic!("promtool disagrees with the ruler: {e}\n{output}\n--- test file ---\n{test}");
            }
        }
        // And promtool does compare: wrong values fail it.
        std::fs::write(&test_file, promtool_test(&files, &seed_client, &names, &seed_alerts, 0.5)).unwrap();
        let (ok, output) = promtool(&test_file);
        assert!(!ok && only_rounding_differences(&output).is_err(), "skewed values were accepted:\n{output}");
        (ruler, seed_rules, seed_alerts)
    })
    .await
    .unwrap();

    let groups = seed_rules["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    for g in groups {
        assert_eq!(g["lastEvaluation"], "2026-01-01T01:00:00Z");
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "{r}");
        }
    }
    let node_up = &groups[0]["rules"][0];
    assert_eq!((&node_up["name"], &node_up["state"]), (&json!("NodeUp"), &json!("firing")), "{node_up}");
    let states: Vec<(&str, &str)> = node_up["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["labels"]["node"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("n-1", "firing"), ("n-2", "firing"), ("n-4", "pending")]);
    assert_eq!(node_up["alerts"][0]["activeAt"], "2026-01-01T00:00:00Z");
    assert_eq!(node_up["alerts"][0]["labels"]["severity"], "page");
    assert_eq!(groups[0]["rules"][1]["state"], "inactive");
    assert_eq!(seed_alerts["data"]["alerts"].as_array().unwrap().len(), 3, "{seed_alerts}");

    // A rule that parses but fails at evaluation shows as health err with its error.
    let failing = "groups:\n- name: g\n  rules:\n  - record: ok\n    expr: sum(kube_node_info)\n  - record: many_to_many\n    expr: kube_node_info + on() kube_node_info\n  - record: after\n    expr: count(kube_node_info)\n  - record: collides\n    expr: '{__name__=~\"container_cpu_allocation|container_memory_allocation_bytes\"}'\n- name: limited\n  limit: 2\n  rules:\n  - record: per_node\n    expr: kube_node_info\n";
    crate::namespace(&amp, &broken, "broken", failing).await;
    let (err, state, only_alerts) = tokio::task::spawn_blocking(move || {
        let err = ruler.evaluate_range(T0, T0 + MINUTES * 60).unwrap_err().to_string();
        let url = format!("{base}/workspaces/{broken}/api/v1");
        // Over the limit nothing is recorded; with two nodes left (from minute 41) it is.
        let reader = Client::new(format!("{base}/workspaces/{broken}"), "/api/v1/remote_write");
        let counts: Vec<usize> =
            [10, 45].iter().map(|m| reader.query("per_node", T0 + m * 60).unwrap().len()).collect();
        assert_eq!(counts, [0, 2]);
        // Two metrics with the same labels: the record's name makes them one label set, every
        // evaluation fails, as in Prometheus, and nothing is recorded.
        let collided: Vec<usize> =
            [10, 45, 60].iter().map(|m| reader.query("collides", T0 + m * 60).unwrap().len()).collect();
        assert_eq!(collided, [0, 0, 0]);
        (err, get(&format!("{url}/rules")), get(&format!("{url}/rules?type=alert")))
    })
    .await
    .unwrap();
    assert!(err.contains("many_to_many"), "{err}");
    let rules = state["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["health"], "ok");
    assert_eq!(rules[1]["health"], "err");
    assert!(rules[1]["lastError"].as_str().unwrap().contains("many-to-many"), "{}", rules[1]);
    // The rules after a failing one still run.
    assert_eq!(rules[2]["health"], "ok");
    assert_eq!(
        (&rules[3]["health"], &rules[3]["lastError"]),
        (&json!("err"), &json!("vector contains metrics with the same labelset after applying rule labels"))
    );
    // A group limit: 3 nodes at the last evaluation are over a limit of 2.
    let limited = &state["data"]["groups"][1]["rules"][0];
    assert_eq!(
        (&limited["health"], &limited["lastError"]),
        (&json!("err"), &json!("exceeded limit of 2 with 3 series"))
    );
    assert_eq!(only_alerts["data"]["groups"], json!([]));

    proxy.stop();
    drop(mock);
    tokio::task::spawn_blocking(move || drop(scenario)).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wall_clock_ruler_evaluates_until_stopped() {
    let (scenario, backend) = tokio::task::spawn_blocking(prometheus).await.unwrap();
    let mock = mock_with_backend(&backend).await;
    let dir = tempdir("wall-clock");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    crate::namespace(
        &amp,
        &id,
        "clock",
        "groups:\n- name: every-second\n  interval: 1s\n  rules:\n  - record: one\n    expr: vector(1)\n",
    )
    .await;
    let mut proxy = proxy(&mock, &dir).await;
    let reader = Client::new(format!("{}/workspaces/{id}", proxy.url()), "/api/v1/remote_write");
    let mut clock = mock.ruler().run_wall_clock();
    let found = tokio::task::spawn_blocking(move || {
        Wait::new("the wall-clock ruler to write `one`", Duration::from_secs(20))
            .blocking(|| {
                let now = chrono::Utc::now().timestamp();
                Ok::<_, Infallible>(match reader.query("one", now) {
                    Ok(got) if !got.is_empty() => Poll::Ready(got),
                    Ok(_) => Poll::Pending("no series `one` yet".into()),
                    Err(e) => Poll::Pending(format!("query failed: {e}")),
                })
            })
            .ok()
    })
    .await
    .unwrap();
    clock.stop();
    clock.stop();
    let got = found.expect("the wall-clock ruler wrote `one` within 20 s");
    assert_eq!(got[0].value, 1.0);
    assert_eq!(got[0].labels.keys().collect::<Vec<_>>(), ["__name__"]);
    proxy.stop();
    drop(mock);
    tokio::task::spawn_blocking(move || drop(scenario)).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
