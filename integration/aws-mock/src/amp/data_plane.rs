//! The AMP data plane under `/workspaces/{id}/api/v1/`: remote write (validated, tagged with
//! the workspace, then forwarded) and the Prometheus HTTP API (PromQL scoped to the workspace,
//! forwarded, the tenant label stripped from answers); `rules` and `alerts` come from the
//! mock's own ruler. See [`super::tenancy`] for how workspaces are kept apart.
//!
//! Status codes follow what remote write senders do with them: 400 only for data that can never
//! succeed (bad snappy, bad protobuf, bad labels), 429 passed through, and 503 for a backend
//! that fails or cannot be reached, so senders retry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ampfed_prom::remote_write::{self, Label, WriteRequest};
use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

use super::control::check_workspace_id;
use super::ruler;
use super::state::AmpState;
use super::tenancy::{self, TENANT_LABEL};
use crate::aws_error::AwsError;
use crate::http::{json_response, query_and_form};
use crate::names::{is_label_name, is_metric_name};
use crate::sync::lock;

/// Labels per series AMP accepts.
const MAX_LABELS_PER_SERIES: usize = 70;

pub(crate) struct DataPlane {
    amp: Arc<AmpState>,
    backend: ureq::Agent,
    /// Ingestion token buckets per workspace: tokens left and when they were counted.
    buckets: Mutex<BTreeMap<String, (f64, Instant)>>,
}

impl DataPlane {
    pub(crate) fn new(amp: Arc<AmpState>) -> DataPlane {
        let backend = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        DataPlane { amp, backend, buckets: Mutex::new(BTreeMap::new()) }
    }

    pub(crate) fn serve(
        &self,
        id: &str,
        rest: &[&str],
        request: &Request,
    ) -> Result<ResponseTemplate, AwsError> {
        check_workspace_id(id)?;
        {
            let mut cp = lock(&self.amp.control);
            cp.finish_pending();
            cp.require_active(id)?;
        }
        let method = request.method.as_str();
        match (method, rest) {
            ("POST", ["remote_write"]) => Ok(self.remote_write(id, &request.body)),
            ("GET" | "POST", ["query" | "query_range"]) => {
                let mut params = query_and_form(request);
                // Exactly one query: a second, unscoped one must never reach the backend.
                if params.iter().filter(|(k, _)| k == "query").count() > 1 {
                    return Ok(bad_data("invalid parameter \"query\": given more than once"));
                }
                let Some(q) = params.iter_mut().find(|(k, _)| k == "query") else {
                    return Ok(bad_data("invalid parameter \"query\": query is missing"));
                };
                match tenancy::scope_query(&q.1, id) {
                    Ok(scoped) => q.1 = scoped,
                    Err(e) => return Ok(bad_data(&format!("invalid parameter \"query\": {e}"))),
                }
                Ok(self.forward(rest[0], &params))
            }
            ("GET" | "POST", ["series" | "labels"]) | ("GET", ["label", _, "values"]) => {
                if let ["label", name, "values"] = rest {
                    if *name == TENANT_LABEL {
                        return Ok(json_response(200, &json!({ "status": "success", "data": [] })));
                    }
                }
                let mut params = query_and_form(request);
                let mut selectors = 0;
                for (k, v) in params.iter_mut().filter(|(k, _)| k == "match[]") {
                    selectors += 1;
                    match tenancy::scope_query(v, id) {
                        Ok(scoped) => *v = scoped,
                        Err(e) => return Ok(bad_data(&format!("invalid parameter \"{k}\": {e}"))),
                    }
                }
                if selectors == 0 {
                    if rest == ["series"] {
                        return Ok(bad_data("no match[] parameter provided"));
                    }
                    params.push(("match[]".into(), format!("{{{TENANT_LABEL}=\"{id}\"}}")));
                }
                Ok(self.forward(&rest.join("/"), &params))
            }
            // Remote write 1.0 carries no metadata this mock keeps: no workspace has any.
            ("GET", ["metadata"]) => Ok(json_response(200, &json!({ "status": "success", "data": {} }))),
            ("GET", ["rules"]) => {
                let mut body = ruler::rules_api(&self.amp.control, &self.amp.ruler, id);
                if let Some(kind) =
                    query_and_form(request).iter().find(|(k, _)| k == "type").map(|(_, v)| v.clone())
                {
                    ruler::filter_rules(&mut body, &kind);
                }
                Ok(json_response(200, &body))
            }
            ("GET", ["alerts"]) => {
                Ok(json_response(200, &ruler::alerts_api(&self.amp.control, &self.amp.ruler, id)))
            }
            _ => Ok(json_response(
                404,
                &json!({ "status": "error", "errorType": "not_found", "error": format!("no data-plane endpoint {method} /api/v1/{}", rest.join("/")) }),
            )),
        }
    }

    fn remote_write(&self, id: &str, body: &[u8]) -> ResponseTemplate {
        let mut request = match validate_write(body) {
            Ok(r) => r,
            Err(message) => {
                tracing::info!(workspace = id, %message, "rejected a remote write");
                return ResponseTemplate::new(400).set_body_raw(message, "text/plain");
            }
        };
        if let Some(refused) = self.throttle(id, request.sample_count()) {
            return refused;
        }
        tag(&mut request, id);
        let url = format!("{}/api/v1/write", self.amp.backend_url);
        let result = self
            .backend
            .post(&url)
            .set("Content-Type", "application/x-protobuf")
            .set("Content-Encoding", "snappy")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(&remote_write::encode(&request));
        match result {
            Ok(_) => ResponseTemplate::new(200),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                // Senders retry 5xx and 429 and drop other 4xx.
                let status = match status {
                    429 => 429,
                    400..=499 => 400,
                    _ => 503,
                };
                ResponseTemplate::new(status).set_body_raw(text, "text/plain")
            }
            Err(e) => ResponseTemplate::new(503)
                .insert_header("Retry-After", "1")
                .set_body_raw(format!("storage backend unavailable: {e}"), "text/plain"),
        }
    }

    /// Takes `samples` tokens from the workspace's ingestion bucket, or answers 429 as AMP
    /// does when the configured rate is exceeded.
    fn throttle(&self, id: &str, samples: usize) -> Option<ResponseTemplate> {
        let (rate, burst) = lock(&self.amp.control).limits().ingestion_rate?;
        let mut buckets = lock(&self.buckets);
        let now = Instant::now();
        let (tokens, at) = buckets.entry(id.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        let n = samples as f64;
        if n > *tokens {
            let message = format!(
                "ingestion rate limit ({rate}) with burst ({burst}) exceeded while adding {samples} samples and 0 metadata"
            );
            tracing::info!(workspace = id, %message, "throttled a remote write");
            return Some(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_raw(message, "text/plain"),
            );
        }
        *tokens -= n;
        None
    }

    /// Sends a Prometheus API call to the backend as a form POST and strips the tenant label
    /// from its answer.
    fn forward(&self, endpoint: &str, params: &[(String, String)]) -> ResponseTemplate {
        let url = format!("{}/api/v1/{endpoint}", self.amp.backend_url);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Label values are GET-only in Prometheus; everything else takes a form POST (no URL
        // length limit).
        let result = if endpoint.starts_with("label/") {
            pairs.iter().fold(self.backend.get(&url), |call, (k, v)| call.query(k, v)).call()
        } else {
            self.backend.post(&url).send_form(&pairs)
        };
        let (status, response) = match result {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(status, r)) => (status, r),
            Err(e) => {
                return json_response(
                    503,
                    &json!({ "status": "error", "errorType": "unavailable", "error": format!("storage backend unavailable: {e}") }),
                )
            }
        };
        let status = if status >= 500 { 503 } else { status };
        let ct = response.content_type().to_owned();
        let text = response.into_string().unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(mut answer) => {
                tenancy::strip(&mut answer);
                json_response(status, &answer)
            }
            Err(_) => ResponseTemplate::new(status).set_body_raw(text, &ct),
        }
    }
}

fn bad_data(message: &str) -> ResponseTemplate {
    json_response(400, &json!({ "status": "error", "errorType": "bad_data", "error": message }))
}

/// Decodes a remote write body and checks every series the way a receiver must; the error says
/// what is wrong and where.
fn validate_write(body: &[u8]) -> Result<WriteRequest, String> {
    let request = remote_write::decode(body).map_err(|e| e.to_string())?;
    for (i, ts) in request.timeseries.iter().enumerate() {
        let at = || format!("series {i} {}", render_labels(&ts.labels));
        if ts.labels.is_empty() {
            return Err(format!("series {i}: series has no labels"));
        }
        if ts.labels.len() > MAX_LABELS_PER_SERIES {
            return Err(format!(
                "{}: series has {} labels, more than the limit of {MAX_LABELS_PER_SERIES}",
                at(),
                ts.labels.len()
            ));
        }
        for (j, l) in ts.labels.iter().enumerate() {
            if j > 0 {
                let prev = &ts.labels[j - 1].name;
                if *prev == l.name {
                    return Err(format!("{}: duplicate label name {:?}", at(), l.name));
                }
                if *prev > l.name {
                    return Err(format!(
                        "{}: labels are not sorted by name: {:?} comes after {:?}",
                        at(),
                        l.name,
                        prev
                    ));
                }
            }
            if l.name.is_empty() {
                return Err(format!("{}: empty label name", at()));
            }
            if !is_label_name(&l.name) {
                return Err(format!("{}: invalid label name {:?}", at(), l.name));
            }
            if l.value.is_empty() {
                return Err(format!("{}: label {:?} has an empty value", at(), l.name));
            }
            if l.name == TENANT_LABEL {
                return Err(format!("{}: label name {TENANT_LABEL:?} is reserved by the mock", at()));
            }
        }
        match ts.labels.iter().find(|l| l.name == "__name__") {
            None => return Err(format!("{}: series has no metric name (__name__)", at())),
            Some(l) if !is_metric_name(&l.value) => {
                return Err(format!("{}: invalid metric name {:?}", at(), l.value))
            }
            Some(_) => {}
        }
    }
    Ok(request)
}

/// Adds the tenant label to every series, keeping labels sorted.
fn tag(request: &mut WriteRequest, workspace: &str) {
    for ts in &mut request.timeseries {
        let at = ts.labels.partition_point(|l| l.name.as_str() < TENANT_LABEL);
        ts.labels.insert(at, Label { name: TENANT_LABEL.into(), value: workspace.into() });
    }
}

fn render_labels(labels: &[Label]) -> String {
    let inner: Vec<String> = labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use ampfed_prom::remote_write::{Sample, TimeSeries};

    use super::*;

    fn body(labels: &[(&str, &str)]) -> Vec<u8> {
        let ts = TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
            samples: vec![Sample { value: 1.0, timestamp: 1 }],
        };
        remote_write::encode(&WriteRequest { timeseries: vec![ts] })
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let err = |b: &[u8]| validate_write(b).unwrap_err();
        assert!(err(b"not snappy").contains("snappy"), "{}", err(b"not snappy"));
        let garbage = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff").unwrap();
        assert!(err(&garbage).contains("protobuf"), "{}", err(&garbage));
        assert!(err(&body(&[("b", "1"), ("__name__", "x")])).contains("not sorted"));
        assert!(err(&body(&[("__name__", "x"), ("a", "1"), ("a", "2")])).contains("duplicate label name"));
        assert!(err(&body(&[("__name__", "x"), ("a", "")])).contains("empty value"));
        assert!(err(&body(&[("__name__", "1x")])).contains("invalid metric name"));
        assert!(err(&body(&[("__name__", "x"), ("a-b", "1")])).contains("invalid label name"));
        assert!(err(&body(&[("a", "1")])).contains("no metric name"));
        assert!(err(&body(&[("__name__", "x"), ("ampfed_workspace", "w")])).contains("reserved"));
    }

    #[test]
    fn tagging_keeps_labels_sorted() {
        let mut req = validate_write(&body(&[("__name__", "x"), ("a", "1"), ("zone", "z")])).unwrap();
        tag(&mut req, "ws-1");
        let names: Vec<&str> = req.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "ampfed_workspace", "zone"]);
    }
}
