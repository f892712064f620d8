//! Remote write that loses nothing silently: exemplars, native histograms and metric metadata
//! written through the signing proxy read back through the mock's query, exemplar and
//! metadata APIs (against a real Prometheus), and the ingestion quota counts only what the
//! backend accepted.

use crate::call;
use ampfed_prom::remote_write::{
    self, BucketSpan, Exemplar, FullTimeSeries, FullWriteRequest, Histogram, HistogramCount,
    HistogramZeroCount, Label, MetricMetadata, MetricType, Sample,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{client, mock_with_backend, prometheus, proxy, tempdir, TOKEN};

const T0: i64 = 1_767_225_600;

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect()
}

fn get_json(url: &str) -> Value {
    let (status, body) = call("GET", url, None);
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

fn integer_histogram(at: i64) -> Histogram {
    Histogram {
        count: Some(HistogramCount::CountInt(5)),
        sum: 7.5,
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: Some(HistogramZeroCount::ZeroCountInt(1)),
        positive_spans: vec![BucketSpan { offset: 0, length: 2 }],
        positive_deltas: vec![2, 0],
        timestamp: at,
        ..Default::default()
    }
}

fn float_histogram(at: i64) -> Histogram {
    Histogram {
        count: Some(HistogramCount::CountFloat(3.5)),
        sum: 10.0,
        schema: 1,
        zero_count: Some(HistogramZeroCount::ZeroCountFloat(0.5)),
        positive_spans: vec![BucketSpan { offset: 1, length: 1 }],
        positive_counts: vec![3.0],
        timestamp: at,
        ..Default::default()
    }
}

fn metadata(name: &str, kind: MetricType, help: &str) -> MetricMetadata {
    MetricMetadata {
        r#type: kind as i32,
        metric_family_name: name.into(),
        help: help.into(),
        unit: String::new(),
    }
}

/// The request a Prometheus with exemplars and native histograms sends: samples, exemplars
/// and histograms in series entries of their own, and metadata.
fn rich_request() -> FullWriteRequest {
    let at = T0 * 1000;
    let counter = labels(&[("__name__", "requests_total"), ("job", "a")]);
    FullWriteRequest {
        timeseries: vec![
            FullTimeSeries {
                labels: counter.clone(),
                samples: vec![Sample { value: 1.0, timestamp: at }],
                ..Default::default()
            },
            FullTimeSeries {
                labels: counter,
                exemplars: vec![Exemplar {
                    labels: labels(&[("trace_id", "abc")]),
                    value: 1.0,
                    timestamp: at,
                }],
                ..Default::default()
            },
            FullTimeSeries {
                labels: labels(&[("__name__", "rpc_duration_seconds"), ("job", "a")]),
                histograms: vec![integer_histogram(at)],
                ..Default::default()
            },
            FullTimeSeries {
                labels: labels(&[("__name__", "rpc_size_bytes"), ("job", "a")]),
                histograms: vec![float_histogram(at)],
                ..Default::default()
            },
        ],
        metadata: vec![
            metadata("requests_total", MetricType::Counter, "Requests served."),
            metadata("rpc_duration_seconds", MetricType::Histogram, "RPC latency."),
        ],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exemplars_histograms_and_metadata_read_back() {
    let (scenario, backend) = tokio::task::spawn_blocking(prometheus).await.unwrap();
    let mock = mock_with_backend(&backend).await;
    let dir = tempdir("fidelity");
    let amp = client(&mock, &dir, TOKEN);
    let (a, b) = (crate::workspace(&amp).await, crate::workspace(&amp).await);
    let mut proxy = proxy(&mock, &dir).await;
    let base = proxy.url();
    tokio::task::spawn_blocking(move || {
        let api = |id: &str| format!("{base}/workspaces/{id}/api/v1");
        let (status, body) = call(
            "POST",
            &format!("{}/remote_write", api(&a)),
            Some(&remote_write::encode_full(&rich_request())),
        );
        assert_eq!(status, 200, "{body}");
        let at = T0 + 10;

        // Native histograms, integer and float, come back as histograms.
        for (metric, count, sum) in [("rpc_duration_seconds", "5", "7.5"), ("rpc_size_bytes", "3.5", "10")] {
            let got = get_json(&format!("{}/query?query={metric}&time={at}", api(&a)));
            let result = &got["data"]["result"];
            assert_eq!(result.as_array().map(Vec::len), Some(1), "{got}");
            assert_eq!(result[0]["metric"], json!({ "__name__": metric, "job": "a" }), "{got}");
            assert_eq!(result[0]["histogram"][1]["count"], count, "{got}");
            assert_eq!(result[0]["histogram"][1]["sum"], sum, "{got}");
        }

        // Exemplars, with the series they belong to and without the tenant label.
        let range = format!("start={}&end={}", T0 - 60, T0 + 600);
        let got = get_json(&format!("{}/query_exemplars?query=requests_total&{range}", api(&a)));
        assert_eq!(
            got["data"][0]["seriesLabels"],
            json!({ "__name__": "requests_total", "job": "a" }),
            "{got}"
        );
        let exemplars = &got["data"][0]["exemplars"];
        assert_eq!(exemplars[0]["labels"], json!({ "trace_id": "abc" }), "{got}");
        assert_eq!(exemplars[0]["value"], "1", "{got}");
        assert_eq!(exemplars[0]["timestamp"], json!(T0), "{got}");
        // Another workspace sees none of them, even when it names the first one.
        let other =
            format!("{}/query_exemplars?query=requests_total{{ampfed_workspace=\"{a}\"}}&{range}", api(&b));
        assert_eq!(get_json(&other)["data"], json!([]));

        // Metadata, per workspace, with Prometheus's `metric` and `limit`.
        let got = get_json(&format!("{}/metadata", api(&a)));
        assert_eq!(
            got["data"],
            json!({
                "requests_total": [{ "type": "counter", "help": "Requests served.", "unit": "" }],
                "rpc_duration_seconds": [{ "type": "histogram", "help": "RPC latency.", "unit": "" }],
            }),
            "{got}"
        );
        let one = get_json(&format!("{}/metadata?metric=rpc_duration_seconds", api(&a)));
        assert_eq!(one["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["rpc_duration_seconds"]);
        assert_eq!(get_json(&format!("{}/metadata?limit=1", api(&a)))["data"].as_object().unwrap().len(), 1);
        assert_eq!(get_json(&format!("{}/metadata", api(&b)))["data"], json!({}));

        // What the backend could not store is a 400 that says why, not a 2xx.
        let mut bad = rich_request();
        bad.timeseries[2].histograms[0].schema = 9;
        let (status, body) =
            call("POST", &format!("{}/remote_write", api(&a)), Some(&remote_write::encode_full(&bad)));
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("histogram 0: schema 9"), "{body}");
    })
    .await
    .unwrap();
    proxy.stop();
    drop(mock);
    tokio::task::spawn_blocking(move || drop(scenario)).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_writes_the_backend_accepted_use_up_the_ingestion_quota() {
    let backend = MockServer::start().await;
    let failing =
        Mock::given(method("POST")).and(path("/api/v1/write")).respond_with(ResponseTemplate::new(500));
    failing.mount(&backend).await;
    let mock = mock_with_backend(&backend.uri()).await;
    mock.set_amp_limits(ampfed_aws_mock::AmpLimits {
        ingestion_rate: Some((0.001, 25.0)),
        ..Default::default()
    });
    let dir = tempdir("quota-after-accept");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    let mut proxy = proxy(&mock, &dir).await;
    let url = format!("{}/workspaces/{id}/api/v1/remote_write", proxy.url());
    // 20 samples and 1 metadata against a burst of 25 tokens: one write fits, two do not.
    let samples = (0..20).map(|i| Sample { value: 1.0, timestamp: (T0 + i) * 1000 }).collect();
    let body = remote_write::encode_full(&FullWriteRequest {
        timeseries: vec![FullTimeSeries {
            labels: labels(&[("__name__", "up")]),
            samples,
            ..Default::default()
        }],
        metadata: vec![metadata("up", MetricType::Gauge, "Up.")],
    });
    let write = move || {
        let (url, body) = (url.clone(), body.clone());
        async move { tokio::task::spawn_blocking(move || call("POST", &url, Some(&body))).await.unwrap() }
    };
    // The backend fails: 503s that senders retry, and the retries are not throttled.
    for _ in 0..3 {
        let (status, message) = write().await;
        assert_eq!(status, 503, "{message}");
    }
    backend.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/write"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&backend)
        .await;
    let (status, message) = write().await;
    assert_eq!(status, 200, "{message}");
    let (status, message) = write().await;
    assert_eq!(status, 429, "{message}");
    assert_eq!(
        message,
        "ingestion rate limit (0.001) with burst (25) exceeded while adding 20 samples and 1 metadata"
    );
    proxy.stop();
    let _ = std::fs::remove_dir_all(dir);
}
