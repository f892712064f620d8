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

/// A failed remote write: the error, and the wait the server asked for (`Retry-After`).
#[derive(Debug)]
pub(crate) struct WriteFailure {
    pub(crate) error: PromError,
    pub(crate) retry_after: Option<Duration>,
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
        self.write_encoded(&remote_write::encode(request)).map_err(|f| f.error)
    }

    /// Sends one encoded remote write body; a failure keeps the answer's `Retry-After`.
    pub(crate) fn write_encoded(&self, body: &[u8]) -> Result<(), WriteFailure> {
        let url = format!("{}{}", self.base, self.write_path);
        let result = self
            .agent
            .post(&url)
            .set("Content-Type", "application/x-protobuf")
            .set("Content-Encoding", "snappy")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(body);
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let retry_after = match &e {
                    ureq::Error::Status(_, response) => response
                        .header("Retry-After")
                        .and_then(|v| retry_after(v, std::time::SystemTime::now())),
                    ureq::Error::Transport(_) => None,
                };
                Err(WriteFailure { error: status_error(&url, e), retry_after })
            }
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

/// The wait a `Retry-After` value asks for at `now`: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`, as much later than `now`; a date past is no wait).
/// `None` for anything else.
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = std::time::SystemTime::from(chrono::DateTime::parse_from_rfc2822(value).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::retry_after;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // 2015-10-21T07:28:00Z.
        let at = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after("120", at), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", at), Some(Duration::ZERO));
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(date, at - Duration::from_secs(90)), Some(Duration::from_secs(90)));
        assert_eq!(retry_after(date, at + Duration::from_secs(5)), Some(Duration::ZERO), "a date past");
        assert_eq!(retry_after("soon", at), None);
        assert_eq!(retry_after("-3", at), None);
        assert_eq!(retry_after("", SystemTime::now()), None);
    }
}
