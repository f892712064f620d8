//! The AMP data plane under `/workspaces/{id}/api/v1/`: remote write (validated, tagged with
//! the workspace, then forwarded) and the Prometheus HTTP API (PromQL scoped to the workspace,
//! forwarded, the tenant label stripped from answers); `rules` and `alerts` come from the
//! mock's own ruler. See [`super::tenancy`] for how workspaces are kept apart.
//!
//! Status codes follow what remote write senders do with them: 400 only for data that can never
//! succeed (bad snappy, bad protobuf, bad labels), 429 passed through, and 503 for a backend
//! that fails or cannot be reached, so senders retry.

mod write_checks;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ampfed_prom::remote_write::{self, FullWriteRequest, MetricMetadata, MetricType};
use serde_json::{json, Value};

use super::control::check_workspace_id;
use super::ruler;
use super::state::AmpState;
use super::tenancy::{self, TENANT_LABEL};
use crate::aws_error::AwsError;
use crate::exchange::{Reply, Request};
use crate::http::{json_response, query_and_form};
use crate::names::is_label_name;
use crate::sync::lock;
use write_checks::{check_and_tag, tag, validate_write};

/// Metric families with metadata a workspace keeps (AMP's quota of active metrics with
/// metadata per workspace); metadata past it is dropped, as AMP drops it, with a warning.
const MAX_METRICS_WITH_METADATA: usize = 20_000;

/// Distinct (type, help, unit) entries kept per metric family; more are dropped the same way.
const MAX_METADATA_PER_METRIC: usize = 10;

/// Idle keep-alive connections to the backend: as many as the front door serves at once
/// (`front_door::MAX_CONNECTIONS`), each of which may be forwarding a write.
const BACKEND_IDLE_CONNECTIONS: usize = 256;

/// A workspace's metric metadata: metric family name → distinct `(type, help, unit)`.
type Metadata = BTreeMap<String, BTreeSet<(&'static str, String, String)>>;

pub(crate) struct DataPlane {
    amp: Arc<AmpState>,
    backend: ureq::Agent,
    /// Ingestion token buckets per workspace: tokens left and when they were counted.
    buckets: Mutex<BTreeMap<String, (f64, Instant)>>,
    /// Metric metadata remote-written to each workspace (Prometheus 2.42 keeps none from
    /// remote write, so the mock answers `/api/v1/metadata` from here).
    metadata: Mutex<BTreeMap<String, Metadata>>,
}

impl DataPlane {
    pub(crate) fn new(amp: Arc<AmpState>) -> DataPlane {
        let backend = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            // One idle connection per handler that may run at once (ureq keeps 1 by default,
            // so concurrent writes would open a new connection each).
            .max_idle_connections_per_host(BACKEND_IDLE_CONNECTIONS)
            .max_idle_connections(BACKEND_IDLE_CONNECTIONS)
            .build();
        DataPlane {
            amp,
            backend,
            buckets: Mutex::new(BTreeMap::new()),
            metadata: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn serve(&self, id: &str, rest: &[&str], request: &Request) -> Result<Reply, AwsError> {
        check_workspace_id(id)?;
        {
            let mut cp = lock(&self.amp.control);
            cp.finish_pending();
            cp.require_active(id)?;
        }
        let method = request.method.as_str();
        match (method, rest) {
            ("POST", ["remote_write"]) => Ok(self.remote_write(id, request.body)),
            ("GET" | "POST", ["query"]) => Ok(self.query(id, Endpoint::Query, request)),
            ("GET" | "POST", ["query_range"]) => Ok(self.query(id, Endpoint::QueryRange, request)),
            ("GET" | "POST", ["query_exemplars"]) => Ok(self.query(id, Endpoint::QueryExemplars, request)),
            ("GET" | "POST", ["series"]) => Ok(self.selectors(id, Endpoint::Series, request)),
            ("GET" | "POST", ["labels"]) => Ok(self.selectors(id, Endpoint::Labels, request)),
            ("GET", ["label", name, "values"]) => {
                // One path segment, percent-decoded: it must be a label name, and it only ever
                // becomes one segment of the backend URL (`Endpoint::url`).
                if !is_label_name(name) {
                    return Ok(bad_data(&format!("invalid label name: {name:?}")));
                }
                if *name == TENANT_LABEL {
                    return Ok(json_response(200, &json!({ "status": "success", "data": [] })));
                }
                Ok(self.selectors(id, Endpoint::LabelValues(name), request))
            }
            ("GET", ["metadata"]) => Ok(self.metadata_api(id, &query_and_form(request))),
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

    /// Validates a write, checks the ingestion quota, tags every series with the workspace and
    /// forwards series (samples, exemplars, histograms) to the backend; metadata is kept here.
    /// Quota tokens and metadata are taken only once the backend has accepted the write.
    fn remote_write(&self, id: &str, body: &[u8]) -> Reply {
        if let Some(status) = lock(&self.amp.write_faults).as_ref().and_then(|f| f.next()) {
            let reply = Reply::new(status).set_body_raw("injected write fault", "text/plain");
            return if status == 429 { reply.insert_header("Retry-After", "0") } else { reply };
        }
        let checked = match check_and_tag(body, id) {
            Ok(checked) => checked,
            Err(message) => {
                tracing::info!(workspace = id, %message, "rejected a remote write");
                return Reply::new(400).set_body_raw(message, "text/plain");
            }
        };
        let cost =
            Cost { samples: checked.samples, exemplars: checked.exemplars, metadata: checked.metadata.len() };
        if let Some(refused) = self.throttle(id, &cost) {
            return refused;
        }
        let answer = match &checked.forward {
            None => Reply::new(200),
            Some(tagged) => self.store(tagged),
        };
        if answer.status == 200 {
            self.charge(id, &cost);
            self.keep_metadata(id, checked.metadata);
        }
        answer
    }

    /// Sends a tagged write (protobuf in a snappy block) to the backend's remote write receiver.
    fn store(&self, body: &[u8]) -> Reply {
        let url = format!("{}/api/v1/write", self.amp.backend_url);
        let result = self
            .backend
            .post(&url)
            .set("Content-Type", "application/x-protobuf")
            .set("Content-Encoding", "snappy")
            .set("X-Prometheus-Remote-Write-Version", "0.1.0")
            .send_bytes(body);
        match result {
            // Read to its end, so that the connection goes back to the pool.
            Ok(response) => {
                let _ = std::io::copy(&mut response.into_reader(), &mut std::io::sink());
                Reply::new(200)
            }
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                // Senders retry 5xx and 429 and drop other 4xx.
                let status = match status {
                    429 => 429,
                    400..=499 => 400,
                    _ => 503,
                };
                Reply::new(status).set_body_raw(text, "text/plain")
            }
            Err(e) => Reply::new(503)
                .insert_header("Retry-After", "1")
                .set_body_raw(format!("storage backend unavailable: {e}"), "text/plain"),
        }
    }

    /// Answers 429 as AMP does when the workspace's ingestion bucket (if the limit is on)
    /// holds fewer tokens than the write costs. Nothing is taken here: see [`Self::charge`].
    fn throttle(&self, id: &str, cost: &Cost) -> Option<Reply> {
        let (rate, burst) = lock(&self.amp.control).limits().ingestion_rate?;
        let mut buckets = lock(&self.buckets);
        let now = Instant::now();
        let (tokens, at) = buckets.entry(id.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if cost.tokens() as f64 > *tokens {
            let message = format!(
                "ingestion rate limit ({rate}) with burst ({burst}) exceeded while adding {} samples and {} metadata",
                cost.samples, cost.metadata
            );
            tracing::info!(workspace = id, %message, "throttled a remote write");
            return Some(
                Reply::new(429).insert_header("Retry-After", "1").set_body_raw(message, "text/plain"),
            );
        }
        None
    }

    /// Takes an accepted write's tokens from its workspace's bucket. Writes admitted at the
    /// same moment may take it below zero; the writes after them wait until it refills.
    fn charge(&self, id: &str, cost: &Cost) {
        if lock(&self.amp.control).limits().ingestion_rate.is_none() {
            return;
        }
        if let Some((tokens, _)) = lock(&self.buckets).get_mut(id) {
            *tokens -= cost.tokens() as f64;
        }
    }

    /// Remembers the metadata of an accepted write, within AMP's limits.
    fn keep_metadata(&self, id: &str, metadata: Vec<MetricMetadata>) {
        if metadata.is_empty() {
            return;
        }
        let mut all = lock(&self.metadata);
        let kept = all.entry(id.to_owned()).or_default();
        let mut dropped = 0;
        for m in metadata {
            let kind = MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown).api_name();
            if !kept.contains_key(&m.metric_family_name) && kept.len() >= MAX_METRICS_WITH_METADATA {
                dropped += 1;
                continue;
            }
            let entries = kept.entry(m.metric_family_name).or_default();
            let entry = (kind, m.help, m.unit);
            if !entries.contains(&entry) && entries.len() >= MAX_METADATA_PER_METRIC {
                dropped += 1;
                continue;
            }
            entries.insert(entry);
        }
        if dropped > 0 {
            tracing::warn!(
                workspace = id,
                dropped,
                "dropped metric metadata over AMP's limits ({MAX_METRICS_WITH_METADATA} metrics, {MAX_METADATA_PER_METRIC} entries per metric)"
            );
        }
    }

    /// `/api/v1/metadata` from what the workspace was sent: `metric` picks one family,
    /// `limit` caps how many families are listed, as in Prometheus.
    fn metadata_api(&self, id: &str, params: &[(String, String)]) -> Reply {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let limit = match param("limit").filter(|s| !s.is_empty()).map(str::parse::<i64>) {
            None => None,
            Some(Ok(n)) if n >= 0 => Some(n as usize),
            Some(Ok(_)) => None,
            Some(Err(_)) => return bad_data("limit must be a number"),
        };
        let metric = param("metric").filter(|s| !s.is_empty());
        let all = lock(&self.metadata);
        let mut data = serde_json::Map::new();
        if let Some(kept) = all.get(id) {
            let families = kept.iter().filter(|(name, _)| metric.is_none_or(|m| m == name.as_str()));
            for (name, entries) in families.take(limit.unwrap_or(usize::MAX)) {
                let entries: Vec<Value> = entries
                    .iter()
                    .map(|(kind, help, unit)| json!({ "type": kind, "help": help, "unit": unit }))
                    .collect();
                data.insert(name.clone(), Value::Array(entries));
            }
        }
        json_response(200, &json!({ "status": "success", "data": data }))
    }

    /// `query` and `query_range`: exactly one `query`, scoped to the workspace, then forwarded.
    fn query(&self, id: &str, endpoint: Endpoint<'_>, request: &Request) -> Reply {
        let mut params = query_and_form(request);
        // Exactly one query: a second, unscoped one must never reach the backend.
        if params.iter().filter(|(k, _)| k == "query").count() > 1 {
            return bad_data("invalid parameter \"query\": given more than once");
        }
        let Some(q) = params.iter_mut().find(|(k, _)| k == "query") else {
            return bad_data("invalid parameter \"query\": query is missing");
        };
        match tenancy::scope_query(&q.1, id) {
            Ok(scoped) => q.1 = scoped,
            Err(e) => return bad_data(&format!("invalid parameter \"query\": {e}")),
        }
        self.forward(endpoint, &params)
    }

    /// `series`, `labels` and label values: every `match[]` selector scoped to the workspace
    /// (or, where selectors are optional and none was given, one selecting the workspace).
    fn selectors(&self, id: &str, endpoint: Endpoint<'_>, request: &Request) -> Reply {
        let mut params = query_and_form(request);
        let mut selectors = 0;
        for (k, v) in params.iter_mut().filter(|(k, _)| k == "match[]") {
            selectors += 1;
            match tenancy::scope_query(v, id) {
                Ok(scoped) => *v = scoped,
                Err(e) => return bad_data(&format!("invalid parameter \"{k}\": {e}")),
            }
        }
        if selectors == 0 {
            if let Endpoint::Series = endpoint {
                return bad_data("no match[] parameter provided");
            }
            params.push(("match[]".into(), format!("{{{TENANT_LABEL}=\"{id}\"}}")));
        }
        self.forward(endpoint, &params)
    }

    /// Sends a Prometheus API call to the backend (a form POST, or a GET for label values) and
    /// strips the tenant label from its answer, read within [`MAX_BACKEND_ANSWER_BYTES`].
    fn forward(&self, endpoint: Endpoint<'_>, params: &[(String, String)]) -> Reply {
        let url = match endpoint.url(&self.amp.backend_url) {
            Ok(url) => url,
            Err(message) => return backend_error(503, "unavailable", &message),
        };
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Label values are GET-only in Prometheus; everything else takes a form POST (no URL
        // length limit).
        let result = match endpoint {
            Endpoint::LabelValues(_) => pairs
                .iter()
                .fold(self.backend.request_url("GET", &url), |call, (k, v)| call.query(k, v))
                .call(),
            _ => self.backend.request_url("POST", &url).send_form(&pairs),
        };
        let (status, response) = match result {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(status, r)) => (status, r),
            Err(e) => return backend_error(503, "unavailable", &format!("storage backend unavailable: {e}")),
        };
        let status = if status >= 500 { 503 } else { status };
        let ct = response.content_type().to_owned();
        let body = match read_answer(response) {
            Ok(body) => body,
            Err(message) => {
                tracing::warn!(%message, "refused a backend answer");
                return backend_error(502, "internal", &message);
            }
        };
        match serde_json::from_slice::<Value>(&body) {
            Ok(mut answer) => {
                tenancy::strip(&mut answer);
                json_response(status, &answer)
            }
            // A text answer may name label sets too.
            Err(_) => match String::from_utf8(body) {
                Ok(text) => Reply::new(status).set_body_raw(tenancy::scrub_text(&text), &ct),
                Err(e) => Reply::new(status).set_body_raw(e.into_bytes(), &ct),
            },
        }
    }
}

/// Largest backend answer the data plane reads (a big `query_range` is a few MiB).
const MAX_BACKEND_ANSWER_BYTES: u64 = 64 << 20;

/// The backend endpoints the data plane forwards to; nothing else of the backend is reachable.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Endpoint<'a> {
    Query,
    QueryRange,
    QueryExemplars,
    Series,
    Labels,
    /// The label name, checked by the caller.
    LabelValues(&'a str),
}

impl Endpoint<'_> {
    /// The endpoint's URL on `backend`, built segment by segment: a segment with `/`, `?` or
    /// `#` in it stays one (percent-encoded) segment.
    fn url(self, backend: &str) -> Result<url::Url, String> {
        let mut url = url::Url::parse(backend).map_err(|e| format!("bad backend URL {backend:?}: {e}"))?;
        url.set_query(None);
        url.set_fragment(None);
        {
            let mut path = url.path_segments_mut().map_err(|()| format!("bad backend URL {backend:?}"))?;
            path.pop_if_empty().extend(["api", "v1"]);
            match self {
                Endpoint::Query => path.push("query"),
                Endpoint::QueryRange => path.push("query_range"),
                Endpoint::QueryExemplars => path.push("query_exemplars"),
                Endpoint::Series => path.push("series"),
                Endpoint::Labels => path.push("labels"),
                Endpoint::LabelValues(name) => path.extend(["label", name, "values"]),
            };
        }
        Ok(url)
    }
}

/// A backend answer's body, at most [`MAX_BACKEND_ANSWER_BYTES`]; the error says why not.
fn read_answer(response: ureq::Response) -> Result<Vec<u8>, String> {
    let too_large = || {
        format!(
            "the storage backend's answer is larger than the limit of {} MiB",
            MAX_BACKEND_ANSWER_BYTES >> 20
        )
    };
    let declared = response.header("Content-Length").and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BACKEND_ANSWER_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_BACKEND_ANSWER_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("the storage backend's answer could not be read: {e}"))?;
    if body.len() as u64 > MAX_BACKEND_ANSWER_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

/// A Prometheus-style error for a backend that failed or answered what cannot be passed on.
fn backend_error(status: u16, error_type: &str, message: &str) -> Reply {
    json_response(status, &json!({ "status": "error", "errorType": error_type, "error": message }))
}

fn bad_data(message: &str) -> Reply {
    json_response(400, &json!({ "status": "error", "errorType": "bad_data", "error": message }))
}

/// The remote write checks and tagging on their own, for the fuzz target (`crate::fuzzing`):
/// the number of series, which must survive being encoded and decoded again.
pub(crate) fn fuzz_write(body: &[u8]) -> Result<usize, String> {
    let checked = check_and_tag(body, "ws-fuzz");
    let mut request = match validate_write(body) {
        Ok(request) => request,
        Err(e) => {
            // The in-place path refuses what the decoding one refuses, in the same words.
            assert_eq!(checked.err(), Some(e.clone()), "the two remote write paths disagree");
            return Err(e);
        }
    };
    tag(&mut request, "ws-fuzz");
    let again = remote_write::decode(&remote_write::encode_full(&request))
        .map_err(|e| format!("a tagged write does not decode again: {e}"))?;
    let checked = checked.unwrap_or_else(|e| panic!("only the in-place path refused the write: {e}"));
    let forwarded = match checked.forward {
        Some(body) => {
            remote_write::decode(&body).map_err(|e| format!("the forwarded body does not decode: {e}"))?
        }
        None => FullWriteRequest::default(),
    };
    request.metadata.clear();
    assert_eq!(forwarded, request, "the two remote write paths forward different series");
    Ok(again.timeseries.len())
}

/// What a write costs against the ingestion quota: samples (float and histogram) and
/// metadata are what AMP's message names; exemplars count as well, as in Cortex.
struct Cost {
    samples: usize,
    exemplars: usize,
    metadata: usize,
}

impl Cost {
    fn tokens(&self) -> usize {
        self.samples + self.exemplars + self.metadata
    }
}

#[cfg(test)]
mod tests {
    use ampfed_prom::remote_write::{Label, Sample, TimeSeries, WriteRequest};

    use super::*;

    #[test]
    fn tagging_keeps_labels_sorted() {
        let labels = [("__name__", "x"), ("a", "1"), ("zone", "z")];
        let ts = TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
            samples: vec![Sample { value: 1.0, timestamp: 1 }],
        };
        let mut req = validate_write(&remote_write::encode(&WriteRequest { timeseries: vec![ts] })).unwrap();
        tag(&mut req, "ws-1");
        let names: Vec<&str> = req.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "a", "ampfed_workspace", "zone"]);
    }

    #[test]
    fn backend_urls_are_built_from_segments() {
        let url = |e: Endpoint<'_>, base: &str| e.url(base).unwrap().to_string();
        assert_eq!(url(Endpoint::Query, "http://127.0.0.1:9090"), "http://127.0.0.1:9090/api/v1/query");
        assert_eq!(
            url(Endpoint::Labels, "http://127.0.0.1:9090/prom/"),
            "http://127.0.0.1:9090/prom/api/v1/labels"
        );
        // A name with `/`, `?` and `#` stays one segment, even had it not been checked.
        let escape = "x/../../query?query=up#";
        let built = Endpoint::LabelValues(escape).url("http://127.0.0.1:9090").unwrap();
        assert_eq!(built.path(), "/api/v1/label/x%2F..%2F..%2Fquery%3Fquery=up%23/values");
        assert_eq!((built.query(), built.fragment()), (None, None));
        let segments: Vec<&str> = built.path_segments().unwrap().collect();
        assert_eq!(segments.len(), 5, "{segments:?}");
    }
}
