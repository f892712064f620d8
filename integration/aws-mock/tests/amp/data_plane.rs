//! The data plane through the signing proxy against a real Prometheus: remote write
//! validation, the Prometheus API, and isolation between workspaces.

use crate::call;
use std::collections::BTreeMap;

use ampfed_prom::remote_write::{self, Label, Sample, TimeSeries, WriteRequest};
use ampfed_prom::Client;
use serde_json::Value;

use crate::{client, mock, mock_with_backend, prometheus, proxy, tempdir, TOKEN};

const T0: i64 = 1_767_225_600;

fn series(name: &str, labels: &[(&str, &str)], value: f64) -> TimeSeries {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let mut ts = TimeSeries::new(name, &labels);
    ts.samples = (0..10).map(|i| Sample { value, timestamp: (T0 + i * 60) * 1000 }).collect();
    ts
}

#[tokio::test(flavor = "multi_thread")]
async fn workspaces_are_isolated_and_bad_writes_say_what_is_wrong() {
    let (scenario, backend) = tokio::task::spawn_blocking(prometheus).await.unwrap();
    let mock = mock_with_backend(&backend).await;
    let dir = tempdir("data-plane");
    let amp = client(&mock, &dir, TOKEN);
    let (a, b) = (crate::workspace(&amp).await, crate::workspace(&amp).await);
    let mut proxy = proxy(&mock, &dir).await;
    let base = proxy.url();
    tokio::task::spawn_blocking(move || {
        let ws = |id: &str| Client::new(format!("{base}/workspaces/{id}"), "/api/v1/remote_write");
        ws(&a).write(&WriteRequest { timeseries: vec![series("up", &[("job", "a")], 1.0)] }).unwrap();
        ws(&b).write(&WriteRequest { timeseries: vec![series("up", &[("job", "b")], 2.0)] }).unwrap();

        // Each workspace sees its own series, without the tenant label, even when it asks
        // for the other's.
        for (id, job) in [(&a, "a"), (&b, "b")] {
            let got = ws(id).query("up", T0 + 300).unwrap();
            assert_eq!(got.len(), 1, "{id}: {got:?}");
            let labels: Vec<(&str, &str)> =
                got[0].labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert_eq!(labels, [("__name__", "up"), ("job", job)]);
            let other = if id == &a { &b } else { &a };
            assert!(
                ws(id).query(&format!("up{{ampfed_workspace=\"{other}\"}}"), T0 + 300).unwrap().len() == 1
            );
            assert_eq!(ws(id).query(&format!("up{{job!=\"{job}\"}}"), T0 + 300).unwrap(), []);
            let range = ws(id).query_range("sum(rate(up[5m])) + 1", T0, T0 + 540, 60).unwrap();
            assert_eq!(range.len(), 1);

            let url = format!("{base}/workspaces/{id}/api/v1");
            let (status, labels) = call("GET", &format!("{url}/labels"), None);
            assert_eq!(status, 200);
            let labels: Value = serde_json::from_str(&labels).unwrap_or_else(|e| panic!("{e}: {labels}"));
            assert_eq!(labels["data"], serde_json::json!(["__name__", "job"]));
            let (_, values) = call("GET", &format!("{url}/label/job/values"), None);
            assert_eq!(serde_json::from_str::<Value>(&values).unwrap()["data"], serde_json::json!([job]));
            let (_, values) = call("GET", &format!("{url}/label/ampfed_workspace/values"), None);
            assert_eq!(serde_json::from_str::<Value>(&values).unwrap()["data"], serde_json::json!([]));
            let (_, found) =
                call("GET", &format!("{url}/series?match[]=up&start={T0}&end={}", T0 + 600), None);
            let found: Value = serde_json::from_str(&found).unwrap();
            assert_eq!(found["data"], serde_json::json!([{ "__name__": "up", "job": job }]), "{found}");
            let (status, _) = call("GET", &format!("{url}/metadata"), None);
            assert_eq!(status, 200);
            let (status, body) = call("GET", &format!("{url}/query?query=sum(&time={T0}"), None);
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("bad_data"), "{body}");
            // A second query parameter could carry an unscoped selector: refused.
            let (status, body) = call("GET", &format!("{url}/query?query=up&query=up&time={T0}"), None);
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("given more than once"), "{body}");
        }

        // Bad writes are 400s that say what is wrong.
        let url = format!("{base}/workspaces/{a}/api/v1/remote_write");
        let bad_labels = |labels: &[(&str, &str)]| {
            let ts = TimeSeries {
                labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
                samples: vec![Sample { value: 1.0, timestamp: T0 * 1000 }],
            };
            remote_write::encode(&WriteRequest { timeseries: vec![ts] })
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"definitely not snappy".to_vec(), "snappy"),
            (snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff").unwrap(), "protobuf"),
            (bad_labels(&[("job", "a"), ("__name__", "up")]), "not sorted"),
            (bad_labels(&[("__name__", "up"), ("job", "a"), ("job", "b")]), "duplicate label name"),
            (bad_labels(&[("__name__", "up"), ("job", "")]), "empty value"),
            (bad_labels(&[("__name__", "up-time")]), "invalid metric name"),
            (bad_labels(&[("__name__", "up"), ("ampfed_workspace", "x")]), "reserved"),
        ];
        for (body, expected) in cases {
            let (status, message) = call("POST", &url, Some(&body));
            assert_eq!(status, 400, "{expected}: {message}");
            assert!(message.contains(expected), "{expected}: {message}");
        }
    })
    .await
    .unwrap();
    proxy.stop();
    drop(mock);
    tokio::task::spawn_blocking(move || drop(scenario)).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_over_the_ingestion_rate_are_429s() {
    let mock = mock().await;
    mock.set_amp_limits(ampfed_aws_mock::AmpLimits {
        ingestion_rate: Some((1.0, 15.0)),
        ..Default::default()
    });
    let dir = tempdir("throttled");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    let mut proxy = proxy(&mock, &dir).await;
    let url = format!("{}/workspaces/{id}/api/v1/remote_write", proxy.url());
    // 20 samples against a burst of 15: refused before it reaches the (absent) backend.
    let body = remote_write::encode(&WriteRequest {
        timeseries: vec![series("up", &[("job", "a")], 1.0), series("up", &[("job", "b")], 1.0)],
    });
    let (status, message) =
        tokio::task::spawn_blocking(move || call("POST", &url, Some(&body))).await.unwrap();
    assert_eq!(status, 429, "{message}");
    assert_eq!(
        message,
        "ingestion rate limit (1) with burst (15) exceeded while adding 20 samples and 0 metadata"
    );
    proxy.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_backend_is_a_503_senders_retry() {
    let mock = mock().await;
    let dir = tempdir("backend-down");
    let amp = client(&mock, &dir, TOKEN);
    let id = crate::workspace(&amp).await;
    let mut proxy = proxy(&mock, &dir).await;
    let url = format!("{}/workspaces/{id}/api/v1/remote_write", proxy.url());
    let body = remote_write::encode(&WriteRequest { timeseries: vec![series("up", &[("job", "a")], 1.0)] });
    let (status, message) =
        tokio::task::spawn_blocking(move || call("POST", &url, Some(&body))).await.unwrap();
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("storage backend unavailable"), "{message}");
    proxy.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// A backend answer that is too large, or cut short, is a 502 that says so: never an empty 200.
#[tokio::test(flavor = "multi_thread")]
async fn a_backend_answer_too_large_or_cut_short_is_a_502() {
    use std::io::{Read, Write};

    // Over the mock's limit of 64 MiB.
    let large = wiremock::MockServer::builder().disable_request_recording().start().await;
    let body = format!("{{\"status\":\"success\",\"data\":[\"{}\"]}}", "x".repeat(65 << 20));
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&large)
        .await;
    // Promises more than it sends, then closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let short = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":",
            );
        }
    });
    for (backend, expected) in [(large.uri(), "larger than"), (short, "could not be read")] {
        let mock = mock_with_backend(&backend).await;
        let dir = tempdir("backend-answers");
        let amp = client(&mock, &dir, TOKEN);
        let id = crate::workspace(&amp).await;
        let mut proxy = proxy(&mock, &dir).await;
        let api = format!("{}/workspaces/{id}/api/v1", proxy.url());
        let answers = tokio::task::spawn_blocking(move || {
            ["query?query=up", "labels", "label/job/values", "series?match[]=up"]
                .map(|path| call("GET", &format!("{api}/{path}"), None))
        })
        .await
        .unwrap();
        for (status, body) in answers {
            assert_eq!(status, 502, "{expected}: {}", &body[..body.len().min(200)]);
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert_eq!(v["status"], "error", "{body}");
            assert!(v["error"].as_str().unwrap().contains(expected), "{body}");
        }
        proxy.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}
