//! Workspace isolation against a real Prometheus: workspace A must never see a sample of
//! workspace B, whatever PromQL it sends (aggregation parameters, function arguments,
//! subqueries, matchers on the tenant label) and whatever path it asks for. Every answer A gets
//! is also compared with an oracle: a second Prometheus that holds only A's data, asked the
//! same question without the matchers on the tenant label (the mock drops those).
//!
//! B's series carry the value 7777 and the label `secret="from_b"`, which none of A's carry.

use std::cell::Cell;
use std::collections::BTreeMap;

use ampfed_aws_mock::AwsMock;
use ampfed_prom::remote_write::{Sample, TimeSeries, WriteRequest};
use ampfed_prom::Client;
use ampfed_proxy::SigningProxy;
use ampfed_test_support::TempDir;
use aws_sdk_amp::primitives::Blob;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The properties draw from a fixed seed, so that CI runs the same cases every time.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, b"ampfed tenancy properties, fixed"),
    )
}
use serde_json::Value;

use crate::{client, mock_with_backend, prometheus, proxy, tempdir, TOKEN};

/// The first sample's time (2026-01-01); every series has one sample a minute for ten minutes.
const T0: i64 = 1_767_225_600;
/// The instant queries' time.
const AT: i64 = T0 + 300;
/// The range queries' end (start `T0`, step one minute).
const END: i64 = T0 + 540;
/// B's value and label: neither may ever reach A.
const B_VALUE: f64 = 7777.0;
const B_SECRET: &str = "from_b";

/// Cases of the query property (each is an instant and a range query, on the mock and the
/// oracle) and of the rules property (each is a namespace of three rules run by the ruler).
const QUERY_CASES: u32 = 48;
const RULE_CASES: u32 = 16;

fn series(name: &str, labels: &[(&str, &str)], value: impl Fn(i64) -> f64) -> TimeSeries {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let mut ts = TimeSeries::new(name, &labels);
    ts.samples = (0..10).map(|i| Sample { value: value(i), timestamp: (T0 + i * 60) * 1000 }).collect();
    ts
}

/// A's data: two counters and a gauge.
fn a_data() -> WriteRequest {
    WriteRequest {
        timeseries: vec![
            series("a_metric", &[("inst", "1"), ("job", "a")], |i| 1.0 + i as f64),
            series("a_metric", &[("inst", "2"), ("job", "a")], |i| 2.0 + 2.0 * i as f64),
            series("a_gauge", &[("job", "a")], |i| 3.0 + (i % 3) as f64),
        ],
    }
}

/// B's data: the metric names A uses too, and one of its own.
fn b_data() -> WriteRequest {
    WriteRequest {
        timeseries: vec![
            series("a_metric", &[("inst", "1"), ("job", "b"), ("secret", B_SECRET)], |_| B_VALUE),
            series("b_metric", &[("job", "b"), ("secret", B_SECRET)], |_| B_VALUE),
        ],
    }
}

/// Two Prometheus (the mock's backend and the oracle), the mock with workspaces A and B behind
/// a signing proxy, and the data written: A and B through the mock, A's again to the oracle.
struct World {
    scenarios: Vec<ampfed_env::Scenario>,
    mock: AwsMock,
    proxy: SigningProxy,
    dir: TempDir,
    amp: aws_sdk_amp::Client,
    a: String,
    b: String,
    oracle: String,
}

impl World {
    async fn start(name: &str) -> World {
        let ((backend_scenario, backend), (oracle_scenario, oracle)) =
            tokio::task::spawn_blocking(|| (prometheus(), prometheus())).await.unwrap();
        let mock = mock_with_backend(&backend).await;
        let dir = tempdir(name);
        let amp = client(&mock, &dir, TOKEN);
        let (a, b) = (crate::workspace(&amp).await, crate::workspace(&amp).await);
        let proxy = proxy(&mock, &dir).await;
        let world =
            World { scenarios: vec![backend_scenario, oracle_scenario], mock, proxy, dir, amp, a, b, oracle };
        let (base, a, b, oracle) = (world.base(), world.a.clone(), world.b.clone(), world.oracle.clone());
        tokio::task::spawn_blocking(move || {
            let ws = |id: &str| Client::new(format!("{base}/workspaces/{id}"), "/api/v1/remote_write");
            ws(&a).write(&a_data()).unwrap();
            ws(&b).write(&b_data()).unwrap();
            Client::new(oracle, "/api/v1/write").write(&a_data()).unwrap();
        })
        .await
        .unwrap();
        world
    }

    fn base(&self) -> String {
        self.proxy.url()
    }

    async fn stop(mut self) {
        self.proxy.stop();
        drop(self.mock);
        let scenarios = std::mem::take(&mut self.scenarios);
        tokio::task::spawn_blocking(move || drop(scenarios)).await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A GET with query parameters: status and body.
fn get(url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let request = params.iter().fold(ureq::get(url), |r, (k, v)| r.query(k, v));
    answer(url, request.call())
}

/// A form POST: status and body.
fn post(url: &str, params: &[(&str, &str)]) -> (u16, String) {
    answer(url, ureq::post(url).send_form(params))
}

fn answer(url: &str, result: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    match result {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

/// An instant query (at [`AT`]) and a range query (`T0`..[`END`], one minute) against `api`
/// (`…/api/v1`).
fn ask(api: &str, query: &str) -> [(u16, String); 2] {
    let (at, t0, end) = (AT.to_string(), T0.to_string(), END.to_string());
    [
        get(&format!("{api}/query"), &[("query", query), ("time", &at)]),
        post(
            &format!("{api}/query_range"),
            &[("query", query), ("start", &t0), ("end", &end), ("step", "60")],
        ),
    ]
}

/// Fails if `body` holds anything of B: a label value `from_b` or a sample worth 7777.
fn assert_nothing_of_b(query: &str, body: &str) {
    assert!(!body.contains(B_SECRET), "{query}: B's label reached A: {body}");
    let Ok(v) = serde_json::from_str::<Value>(body) else { return };
    let mut values = Vec::new();
    sample_values(&v["data"], &mut values);
    assert!(!values.contains(&B_VALUE), "{query}: B's value reached A: {body}");
}

fn sample_values(data: &Value, out: &mut Vec<f64>) {
    let pair = |p: &Value, out: &mut Vec<f64>| {
        if let Some(v) = p.get(1).and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok()) {
            out.push(v);
        }
    };
    match data["resultType"].as_str() {
        Some("scalar") => pair(&data["result"], out),
        _ => {
            for r in data["result"].as_array().into_iter().flatten() {
                if let Some(p) = r.get("value") {
                    pair(p, out);
                }
                for p in r["values"].as_array().into_iter().flatten() {
                    pair(p, out);
                }
            }
        }
    }
}

/// An answer reduced to what must agree between the mock and the oracle: success or error,
/// and for a success the result type and results, sorted, with values rounded.
fn outcome(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    if v["status"] != "success" {
        return Value::String("error".into());
    }
    let round = |p: &Value| -> Value {
        let t = p[0].clone();
        let s = p[1].as_str().unwrap_or_default();
        let shown = match s.parse::<f64>() {
            // `+ 0.0`: -0 and 0 are one value (the ruler's write back may not keep the sign).
            Ok(x) if x.is_finite() => format!("{:.9e}", x + 0.0),
            _ => s.to_owned(),
        };
        serde_json::json!([t, shown])
    };
    let data = &v["data"];
    let result = match data["resultType"].as_str() {
        Some("scalar") | Some("string") => round(&data["result"]),
        _ => {
            let mut items: Vec<Value> = data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let values: Vec<Value> = match r.get("value") {
                        Some(p) => vec![round(p)],
                        None => r["values"].as_array().into_iter().flatten().map(round).collect(),
                    };
                    serde_json::json!({ "metric": r["metric"], "values": values })
                })
                .collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
    };
    serde_json::json!({ "type": data["resultType"], "result": result })
}

/// Sends `(to_mock, to_oracle)` to workspace A and to the oracle: nothing of B may come back,
/// and both must give the same outcome. Returns whether the instant query succeeded.
fn check_query(base: &str, a: &str, b: &str, oracle: &str, (to_mock, to_oracle): &(String, String)) -> bool {
    let query = to_mock.replace("%B%", b);
    let got = ask(&format!("{base}/workspaces/{a}/api/v1"), &query);
    let expected = ask(&format!("{oracle}/api/v1"), to_oracle);
    for ((status, body), (_, alone)) in got.iter().zip(&expected) {
        assert_nothing_of_b(&query, body);
        assert!(*status != 503 && *status != 502, "{query}: {status} {body}");
        let (got, alone_got) = (ties(&query, outcome(body)), ties(&query, outcome(alone)));
        assert_eq!(got, alone_got, "{query} (oracle: {to_oracle}): {body} vs {alone}");
    }
    got[0].0 == 200
}

/// For a query with `topk` or `bottomk`, an [`outcome`] reduced to its points: which of two
/// series with the same value is kept is up to Prometheus (it follows series hashes, which the
/// tenant label changes), the values kept are not.
fn ties(query: &str, outcome: Value) -> Value {
    if !(query.contains("topk(") || query.contains("bottomk(")) {
        return outcome;
    }
    let Some(series) = outcome["result"].as_array() else { return outcome };
    let mut points: Vec<String> = series
        .iter()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .map(|p| p.to_string())
        .collect();
    points.sort();
    let result =
        if points.is_empty() { vec![] } else { vec![serde_json::json!({ "metric": {}, "values": points })] };
    serde_json::json!({ "type": outcome["type"], "result": result })
}

/// The series of an [`outcome`] without their names, sorted; none for an error.
fn unnamed(outcome: &Value) -> Vec<Value> {
    let mut series: Vec<Value> = outcome["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut s = s.clone();
            if let Some(m) = s["metric"].as_object_mut() {
                m.remove("__name__");
            }
            s
        })
        .collect();
    series.sort_by_key(|s| s.to_string());
    series
}

// The generator: PromQL as pairs (sent to the mock, with `%B%` for B's id; sent to the oracle).

type Pair = (String, String);

fn same(s: &str) -> Pair {
    (s.to_owned(), s.to_owned())
}

fn map(p: Pair, f: impl Fn(&str) -> String) -> Pair {
    (f(&p.0), f(&p.1))
}

fn map2(p: Pair, q: Pair, f: impl Fn(&str, &str) -> String) -> Pair {
    (f(&p.0, &q.0), f(&p.1, &q.1))
}

/// A selector: A's metrics, B's metric names, B's labels, and matchers on the tenant label
/// (which the mock drops, so the oracle is asked without them).
fn selector() -> impl Strategy<Value = Pair> {
    let with_tenant = |to_mock: &str, to_oracle: &str| Just((to_mock.to_owned(), to_oracle.to_owned()));
    prop_oneof![
        Just(same("a_metric")),
        Just(same(r#"a_metric{job="a"}"#)),
        Just(same("a_gauge")),
        Just(same("b_metric")),
        // A regex: `absent` echoes equality matchers, which would put "from_b" in A's answer.
        Just(same(r#"b_metric{secret=~"from_.+"}"#)),
        Just(same(r#"a_metric{job="b"}"#)),
        Just(same(r#"{__name__=~"[ab]_.+"}"#)),
        with_tenant(r#"a_metric{ampfed_workspace="%B%"}"#, "a_metric"),
        with_tenant(r#"b_metric{job="b",ampfed_workspace="%B%"}"#, r#"b_metric{job="b"}"#),
        with_tenant(r#"a_metric{ampfed_workspace=~".+"}"#, "a_metric"),
        with_tenant(r#"{ampfed_workspace="%B%",__name__=~"[ab]_metric"}"#, r#"{__name__=~"[ab]_metric"}"#),
    ]
}

/// Nothing, an offset or an `@` modifier.
fn modifier() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just(" offset 1m".to_owned()), Just(format!(" @ {AT}"))]
}

fn instant_selector() -> impl Strategy<Value = Pair> {
    (selector(), modifier()).prop_map(|(s, m)| map(s, |e| format!("{e}{m}")))
}

fn range_call() -> impl Strategy<Value = Pair> {
    let f = prop_oneof![Just("rate"), Just("increase"), Just("max_over_time")];
    (f, selector(), modifier()).prop_map(|(f, s, m)| map(s, |e| format!("{f}({e}[5m]{m})")))
}

/// A scalar expression.
fn scalar(depth: u32) -> BoxedStrategy<Pair> {
    let leaf = prop_oneof![Just(same("2")), Just(same("0.5")), Just(same("1"))];
    if depth == 0 {
        return leaf.boxed();
    }
    let v = vector(depth - 1);
    let s = scalar(depth - 1);
    prop_oneof![
        2 => leaf,
        3 => v.clone().prop_map(|e| map(e, |e| format!("scalar({e})"))),
        1 => s.clone().prop_map(|e| map(e, |e| format!("-({e})"))),
        1 => (s.clone(), s).prop_map(|(x, y)| map2(x, y, |x, y| format!("({x}) + ({y})"))),
    ]
    .boxed()
}

/// An instant-vector expression.
fn vector(depth: u32) -> BoxedStrategy<Pair> {
    if depth == 0 {
        return prop_oneof![instant_selector(), range_call()].boxed();
    }
    let v = vector(depth - 1);
    let s = scalar(depth - 1);
    let unary = |f: &str| {
        let f = f.to_owned();
        v.clone().prop_map(move |e| map(e, |e| f.replace("{}", e)))
    };
    let with_param = |op: &'static str| {
        (s.clone(), v.clone()).prop_map(move |(p, e)| map2(p, e, |p, e| format!("{op}({p}, {e})")))
    };
    let binary = |op: &'static str| {
        (v.clone(), v.clone()).prop_map(move |(x, y)| map2(x, y, |x, y| format!("({x}) {op} ({y})")))
    };
    let with_scalar = |op: &'static str| {
        (v.clone(), s.clone()).prop_map(move |(x, y)| map2(x, y, |x, y| format!("({x}) {op} ({y})")))
    };
    prop_oneof![
        3 => instant_selector(),
        2 => range_call(),
        1 => unary("sum by (job) ({})"),
        1 => unary("count without (inst) ({})"),
        1 => unary("max({})"),
        1 => unary("sum by (ampfed_workspace) ({})"),
        2 => with_param("topk"),
        2 => with_param("bottomk"),
        2 => with_param("quantile"),
        1 => unary(r#"count_values("val", {})"#),
        1 => unary("-({})"),
        1 => unary("(({}))"),
        1 => unary("absent({})"),
        1 => unary(r#"label_replace({}, "copy", "$1", "job", "(.*)")"#),
        1 => s.clone().prop_map(|e| map(e, |e| format!("vector({e})"))),
        1 => unary("max_over_time(({})[5m:1m])"),
        1 => unary(&format!("avg_over_time(({{}})[3m:1m] @ {AT})")),
        1 => unary("min_over_time(({})[3m:] offset 1m)"),
        1 => binary("and on (job)"),
        1 => binary("or"),
        1 => binary("unless ignoring (inst)"),
        1 => (v.clone(), v.clone()).prop_map(|(x, y)| map2(x, y, |x, y| format!(
            "({x}) - on (job) group_left sum by (job) ({y})"
        ))),
        2 => with_scalar("+"),
        1 => with_scalar("*"),
        1 => with_scalar("> bool"),
        1 => with_scalar(">"),
    ]
    .boxed()
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_of_workspace_a_never_see_workspace_b() {
    let world = World::start("tenancy-queries").await;
    let (base, a, b, oracle) = (world.base(), world.a.clone(), world.b.clone(), world.oracle.clone());
    let (ok, took) = tokio::task::spawn_blocking(move || {
        let began = std::time::Instant::now();
        let ok = Cell::new(0u32);
        let mut runner = runner(QUERY_CASES);
        let result = runner.run(&vector(3), |q| {
            if check_query(&base, &a, &b, &oracle, &q) {
                ok.set(ok.get() + 1);
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        (ok.get(), began.elapsed())
    })
    .await
    .unwrap();
    eprintln!("{QUERY_CASES} query cases in {took:?}, {ok} instant queries succeeded");
    // Most generated queries are valid: the property is not only checked on errors.
    assert!(ok * 2 >= QUERY_CASES, "only {ok} of {QUERY_CASES} queries succeeded");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_of_workspace_a_never_see_or_write_workspace_b() {
    let world = World::start("tenancy-rules").await;
    let (base, a, b, oracle) = (world.base(), world.a.clone(), world.b.clone(), world.oracle.clone());
    let amp = world.amp.clone();
    let ruler = world.mock.ruler();
    let handle = tokio::runtime::Handle::current();
    let (samples, took) = tokio::task::spawn_blocking(move || {
        let began = std::time::Instant::now();
        let case = Cell::new(0u32);
        let samples = Cell::new(0usize);
        let mut runner = runner(RULE_CASES);
        let rules = proptest::collection::vec(vector(2), 3);
        let result = runner.run(&rules, |exprs| {
            let n = case.get();
            case.set(n + 1);
            let mut yaml = String::from("groups:\n- name: gen\n  interval: 1m\n  rules:\n");
            for (i, (to_mock, _)) in exprs.iter().enumerate() {
                let expr = serde_json::to_string(&to_mock.replace("%B%", &b)).unwrap();
                yaml.push_str(&format!("  - record: gen:c{n}_r{i}\n    expr: {expr}\n"));
            }
            handle.block_on(async {
                let data = Blob::new(yaml.clone());
                let sent = if n == 0 {
                    let call = amp.create_rule_groups_namespace().workspace_id(&a).name("gen").data(data);
                    call.send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
                } else {
                    let call = amp.put_rule_groups_namespace().workspace_id(&a).name("gen").data(data);
                    call.send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
                };
                sent.unwrap_or_else(|e| panic!("{yaml}: {e}"));
                let ns =
                    amp.describe_rule_groups_namespace().workspace_id(&a).name("gen").send().await.unwrap();
                assert_eq!(
                    ns.rule_groups_namespace().unwrap().status().unwrap().status_code().as_str(),
                    "ACTIVE"
                );
            });
            // A rule that fails at run time (a bad `topk` parameter, say) fails alone.
            if let Ok(report) = ruler.evaluate_range(T0, END) {
                samples.set(samples.get() + report.samples_written);
            }
            let recorded = format!(r#"{{__name__=~"gen:c{n}_.*"}}"#);
            let (t0, end) = (T0.to_string(), END.to_string());
            let params = [("query", recorded.as_str()), ("start", &t0), ("end", &end), ("step", "60")];
            let (status, body) = post(&format!("{base}/workspaces/{a}/api/v1/query_range"), &params);
            assert_eq!(status, 200, "{body}");
            assert_nothing_of_b(&yaml, &body);
            // What was recorded is what A alone would have recorded (rules that fail record
            // nothing; a result whose series differ only by name is not compared).
            for (i, (_, to_oracle)) in exprs.iter().enumerate() {
                let own = format!("gen:c{n}_r{i}");
                let q = [("query", own.as_str()), ("start", &t0), ("end", &end), ("step", "60")];
                let (_, got) = post(&format!("{base}/workspaces/{a}/api/v1/query_range"), &q);
                let q = [("query", to_oracle.as_str()), ("start", &t0), ("end", &end), ("step", "60")];
                let (_, alone) = post(&format!("{oracle}/api/v1/query_range"), &q);
                let (got, alone) =
                    (unnamed(&ties(to_oracle, outcome(&got))), unnamed(&ties(to_oracle, outcome(&alone))));
                if alone
                    .iter()
                    .map(|s| s["metric"].to_string())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    == alone.len()
                {
                    assert_eq!(got, alone, "{yaml}: rule {i}");
                }
            }
            // Nothing was written into B.
            let (status, body) = post(&format!("{base}/workspaces/{b}/api/v1/query_range"), &params);
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["data"]["result"], serde_json::json!([]), "{yaml}: B got {body}");
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        (samples.get(), began.elapsed())
    })
    .await
    .unwrap();
    eprintln!("{RULE_CASES} rule cases in {took:?}, {samples} recorded samples written");
    assert!(samples > 0, "no rule recorded anything: the property was not exercised");
    world.stop().await;
}

/// Selectors in aggregation parameters (`topk`, `bottomk`, `quantile`) and in every other
/// child are scoped like any other.
#[tokio::test(flavor = "multi_thread")]
async fn aggregation_parameters_are_scoped() {
    let world = World::start("tenancy-params").await;
    let (base, a, b, oracle) = (world.base(), world.a.clone(), world.b.clone(), world.oracle.clone());
    tokio::task::spawn_blocking(move || {
        let cases = [
            ("topk(scalar(b_metric) - 7776, a_metric)", "topk(scalar(b_metric) - 7776, a_metric)"),
            (
                r#"quantile(scalar(a_metric{ampfed_workspace="%B%", job="b"}) / 10000, a_metric)"#,
                r#"quantile(scalar(a_metric{job="b"}) / 10000, a_metric)"#,
            ),
            (
                r#"bottomk(scalar(sum(b_metric{secret=~"from_.+"})) - 7775, a_metric)"#,
                r#"bottomk(scalar(sum(b_metric{secret=~"from_.+"})) - 7775, a_metric)"#,
            ),
            (
                r#"topk(scalar(max_over_time(b_metric{ampfed_workspace="%B%"}[5m])) / 7777, vector(1))"#,
                r#"topk(scalar(max_over_time(b_metric[5m])) / 7777, vector(1))"#,
            ),
        ];
        for (to_mock, to_oracle) in cases {
            check_query(&base, &a, &b, &oracle, &(to_mock.to_owned(), to_oracle.to_owned()));
        }
    })
    .await
    .unwrap();
    world.stop().await;
}

/// The tenant label cannot be copied, renamed or produced; grouping by it is harmless.
#[tokio::test(flavor = "multi_thread")]
async fn the_tenant_label_stays_hidden() {
    let world = World::start("tenancy-label").await;
    let (base, a, b, oracle) = (world.base(), world.a.clone(), world.b.clone(), world.oracle.clone());
    tokio::task::spawn_blocking(move || {
        let api = format!("{base}/workspaces/{a}/api/v1");
        for query in [
            r#"label_replace(a_metric, "ws", "$1", "ampfed_workspace", "(.*)")"#,
            r#"label_replace(a_metric, "ampfed_workspace", "x", "job", "(.*)")"#,
            r#"label_join(a_metric, "ws", ",", "job", "ampfed_workspace")"#,
            r#"label_join(a_metric, "ampfed_workspace", ",", "job")"#,
            r#"sum(count_values("ampfed_workspace", a_metric))"#,
            r#"topk(1, label_replace(vector(1), "x", "$1", ("ampfed_workspace"), "(.*)"))"#,
        ] {
            for (status, body) in ask(&api, query) {
                assert_eq!(status, 400, "{query}: {body}");
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["errorType"], "bad_data", "{query}: {body}");
                let message = v["error"].as_str().unwrap();
                assert!(
                    message.contains("\"ampfed_workspace\"") && message.contains("reserved"),
                    "{query}: {message}"
                );
                assert!(!message.contains(&a), "{message}");
            }
        }
        for query in
            ["sum by (ampfed_workspace) (a_metric)", "a_metric + on (ampfed_workspace) group_left a_gauge"]
        {
            check_query(&base, &a, &b, &oracle, &same(query));
        }
    })
    .await
    .unwrap();
    // The same refusals for rules, when the namespace is created; and a rule may not set the
    // label either.
    for (expr, label) in [
        (r#"label_replace(a_metric, "ws", "$1", "ampfed_workspace", "(.*)")"#, None),
        (r#"count_values("ampfed_workspace", a_metric)"#, None),
        ("a_metric", Some(world.b.as_str())),
    ] {
        let labels =
            label.map(|ws| format!("    labels:\n      ampfed_workspace: {ws}\n")).unwrap_or_default();
        let yaml = format!("groups:\n- name: g\n  rules:\n  - record: r\n    expr: {expr:?}\n{labels}");
        let err = world
            .amp
            .create_rule_groups_namespace()
            .workspace_id(&world.a)
            .name("hidden")
            .data(Blob::new(yaml))
            .send()
            .await
            .unwrap_err();
        let message = format!("{:?}", err.into_service_error());
        assert!(message.contains("ValidationException"), "{expr}: {message}");
        assert!(message.contains("ampfed_workspace") && message.contains("reserved"), "{expr}: {message}");
    }
    world.stop().await;
}

/// A label name in a path is one segment: an encoded `/` or `?` in it cannot reach another
/// backend endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn encoded_path_segments_stay_one_segment() {
    let world = World::start("tenancy-paths").await;
    let (base, a, b) = (world.base(), world.a.clone(), world.b.clone());
    tokio::task::spawn_blocking(move || {
        let api = format!("{base}/workspaces/{a}/api/v1");
        let escape = format!("x/../../query?query=b_metric{{ampfed_workspace=\"{b}\"}}&time={AT}#");
        let encoded: String =
            url::form_urlencoded::byte_serialize(escape.as_bytes()).collect::<String>().replace('+', "%20");
        assert!(encoded.contains("%2F") && encoded.contains("%3F"), "{encoded}");
        let (status, body) = get(&format!("{api}/label/{encoded}/values"), &[]);
        assert_nothing_of_b(&escape, &body);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("bad_data") && body.contains("invalid label name"), "{body}");
        // The same with the name's `/` left unencoded is simply no endpoint.
        let (status, body) = get(&format!("{api}/label/x/../values"), &[]);
        assert_nothing_of_b("x/..", &body);
        assert_ne!(status, 200, "{body}");
        // Label values still work, for `__name__` too.
        let (status, body) = get(&format!("{api}/label/__name__/values"), &[]);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["data"], serde_json::json!(["a_gauge", "a_metric"]), "{body}");
        let (status, body) = get(&format!("{api}/label/job/values"), &[]);
        assert_eq!(
            (status, serde_json::from_str::<Value>(&body).unwrap()["data"].clone()),
            (200, serde_json::json!(["a"]))
        );
        // Only the Prometheus API endpoints the mock serves are forwarded.
        for path in ["status/config", "status/flags", "admin/tsdb/snapshot", "targets", "label/job"] {
            for (status, body) in [get(&format!("{api}/{path}"), &[]), post(&format!("{api}/{path}"), &[])] {
                assert_eq!(status, 404, "{path}: {body}");
                assert!(body.contains("not_found"), "{path}: {body}");
            }
        }
        // A workspace id is checked before anything else.
        let (status, body) = get(&format!("{base}/workspaces/{a}%2Fapi%2Fv1%2Fquery/api/v1/labels"), &[]);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("ValidationException") || body.contains("workspaceId"), "{body}");
    })
    .await
    .unwrap();
    world.stop().await;
}

/// Limits checked before the parser runs: a huge or deeply nested expression is refused with
/// a 400 (a query, a `match[]` selector) or a ValidationException (a rule), and the mock lives
/// on.
#[tokio::test(flavor = "multi_thread")]
async fn long_and_deep_expressions_are_refused_before_parsing() {
    let world = World::start("tenancy-limits").await;
    let (base, a) = (world.base(), world.a.clone());
    let deep = format!("{}a_metric{}", "(".repeat(100_000), ")".repeat(100_000));
    let nested = format!("{}a_metric{}", "abs(".repeat(1_000), ")".repeat(1_000));
    let chain = format!("a_metric{}", " + 1".repeat(5_000));
    let long = format!("a_metric{{job=\"{}\"}}", "x".repeat(70_000));
    let cases =
        [(deep.clone(), "bytes"), (nested.clone(), "nested"), (chain.clone(), "nested"), (long, "bytes")];
    let to_check = cases.clone();
    tokio::task::spawn_blocking(move || {
        let api = format!("{base}/workspaces/{a}/api/v1");
        for (query, expected) in &to_check {
            let t = T0.to_string();
            for (status, body) in [
                post(&format!("{api}/query"), &[("query", query), ("time", &t)]),
                post(&format!("{api}/series"), &[("match[]", query)]),
            ] {
                assert_eq!(status, 400, "{}", &body[..body.len().min(300)]);
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["errorType"], "bad_data");
                let message = v["error"].as_str().unwrap();
                assert!(message.len() < 300, "the message does not echo the expression: {message}");
                assert!(message.contains(expected), "{message}");
            }
        }
        // Still serving.
        let (status, body) =
            get(&format!("{api}/query"), &[("query", "a_metric"), ("time", &AT.to_string())]);
        assert_eq!(status, 200, "{body}");
    })
    .await
    .unwrap();
    for (expr, expected) in [(nested, "nested"), (chain, "nested")] {
        let yaml = format!("groups:\n- name: g\n  rules:\n  - record: r\n    expr: {expr:?}\n");
        let err = world
            .amp
            .create_rule_groups_namespace()
            .workspace_id(&world.a)
            .name("deep")
            .data(Blob::new(yaml))
            .send()
            .await
            .unwrap_err();
        let message = format!("{:?}", err.into_service_error());
        assert!(message.contains("ValidationException") && message.contains(expected), "{message}");
    }
    world.stop().await;
}
