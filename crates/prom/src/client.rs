//! A small blocking client for the Prometheus HTTP API and remote write.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::remote_write::{self, WriteRequest};

/// A Prometheus-compatible endpoint: a Prometheus server, an AMP workspace, or a proxy to one.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    write_path: String,
    agent: ureq::Agent,
}

/// Errors from the Prometheus API, kept typed so callers can tell AWS errors from PromQL ones.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The server answered with a non-success status.
    #[error("{url} answered HTTP {status}{}: {body}", error_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Status { url: String, status: u16, error_type: Option<String>, body: String },
    /// The server could not be reached.
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The answer was not the JSON the API promises.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    pub labels: BTreeMap<String, String>,
    pub timestamp: f64,
    pub value: f64,
}

/// One series of a range query result.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)` pairs in time order.
    pub points: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl Client {
    /// A client for `base` (no trailing slash), writing to `base + write_path`
    /// (`/api/v1/write` on Prometheus, `/api/v1/remote_write` on AMP).
    pub fn new(base: impl Into<String>, write_path: impl Into<String>) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        Client { base: base.into().trim_end_matches('/').to_owned(), write_path: write_path.into(), agent }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one remote write request. Returns the error answer unchanged so a caller sees
    /// e.g. an AWS auth error's type and message.
    pub fn write(&self, request: &WriteRequest) -> Result<(), PromError> {
        let url = format!("{}{}", self.base, self.write_path);
        let body = remote_write::encode(request);
        let result = self
            .agent
            .post(&url)
            .set("Content-Type", "application/x-protobuf")
            .set("Content-Encoding", "snappy")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(&body);
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(status_error(&url, e)),
        }
    }

    /// An instant query at `time` (unix seconds); the result must be a vector.
    pub fn query(&self, query: &str, time: i64) -> Result<Vec<InstantSample>, PromError> {
        let url = format!("{}/api/v1/query", self.base);
        let data = self.call(&url, &[("query", query), ("time", &time.to_string())])?;
        let items: Vec<VectorItem> = decode_result(&url, data, "vector")?;
        items
            .into_iter()
            .map(|item| {
                Ok(InstantSample {
                    labels: item.metric,
                    timestamp: item.value.0,
                    value: parse_value(&url, &item.value.1)?,
                })
            })
            .collect()
    }

    /// An instant query at `time` whose result is a matrix (a subquery such as `x[1d:5m]`).
    pub fn query_matrix(&self, query: &str, time: i64) -> Result<Vec<RangeSeries>, PromError> {
        let url = format!("{}/api/v1/query", self.base);
        let data = self.call(&url, &[("query", query), ("time", &time.to_string())])?;
        matrix(&url, data)
    }

    /// A range query from `start` to `end` (unix seconds, inclusive) every `step` seconds.
    pub fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<RangeSeries>, PromError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let params = [
            ("query", query),
            ("start", &start.to_string()),
            ("end", &end.to_string()),
            ("step", &step.to_string()),
        ];
        let data = self.call(&url, &params)?;
        matrix(&url, data)
    }

    fn call(&self, url: &str, params: &[(&str, &str)]) -> Result<Data, PromError> {
        let response = self.agent.post(url).send_form(params).map_err(|e| status_error(url, e))?;
        let envelope: Envelope = response
            .into_json()
            .map_err(|e| PromError::Decode { url: url.to_owned(), message: e.to_string() })?;
        if envelope.status != "success" {
            return Err(PromError::Status {
                url: url.to_owned(),
                status: 200,
                error_type: envelope.error_type,
                body: envelope.error.unwrap_or_default(),
            });
        }
        envelope.data.ok_or_else(|| PromError::Decode {
            url: url.to_owned(),
            message: "no data in a success answer".into(),
        })
    }
}

fn matrix(url: &str, data: Data) -> Result<Vec<RangeSeries>, PromError> {
    let items: Vec<MatrixItem> = decode_result(url, data, "matrix")?;
    items
        .into_iter()
        .map(|item| {
            let points = item
                .values
                .into_iter()
                .map(|(t, v)| Ok((t, parse_value(url, &v)?)))
                .collect::<Result<_, PromError>>()?;
            Ok(RangeSeries { labels: item.metric, points })
        })
        .collect()
}

fn decode_result<T: serde::de::DeserializeOwned>(url: &str, data: Data, want: &str) -> Result<T, PromError> {
    if data.result_type != want {
        return Err(PromError::Decode {
            url: url.to_owned(),
            message: format!("expected a {want} result, got {}", data.result_type),
        });
    }
    serde_json::from_value(data.result)
        .map_err(|e| PromError::Decode { url: url.to_owned(), message: e.to_string() })
}

fn parse_value(url: &str, v: &str) -> Result<f64, PromError> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v.parse().map_err(|_| PromError::Decode {
            url: url.to_owned(),
            message: format!("bad sample value {v:?}"),
        }),
    }
}

fn status_error(url: &str, e: ureq::Error) -> PromError {
    match e {
        ureq::Error::Status(status, response) => {
            let error_type =
                response.header("x-amzn-ErrorType").map(|t| t.split(':').next().unwrap_or(t).to_owned());
            let body = response.into_string().unwrap_or_default();
            // AWS errors carry their text in `message`; show that rather than escaped JSON.
            let body = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or(body);
            PromError::Status { url: url.to_owned(), status, error_type, body: body.trim().to_owned() }
        }
        ureq::Error::Transport(t) => PromError::Transport { url: url.to_owned(), message: t.to_string() },
    }
}
