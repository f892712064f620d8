//! `GET|POST /workspaces/{id}/api/v1/query_exemplars`, answered by the front door itself
//! because the data plane's router (`amp::data_plane`) has no route for it yet: SigV4 first,
//! then the same workspace checks and tenancy as every data-plane query (the `query` is scoped
//! with `amp::tenancy::scope_query`), forwarded to the backend as a form POST, and the tenant
//! label removed from every `seriesLabels` of the answer. Once the data plane routes this
//! endpoint, [`Exemplars::claims`] can go.

use std::time::Duration;

use serde_json::{json, Value};

use crate::amp::control::check_workspace_id;
use crate::amp::state::AmpState;
use crate::amp::tenancy::{scope_query, TENANT_LABEL};
use crate::aws_error::AwsError;
use crate::exchange::{Reply, Request};
use crate::http::{decode_segment, json_response, query_and_form};
use crate::request::verify_request;
use crate::sync::lock;

/// The exemplar endpoint and its client to the backend.
pub(super) struct Exemplars {
    backend: ureq::Agent,
}

impl Exemplars {
    pub(super) fn new() -> Exemplars {
        let backend = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        Exemplars { backend }
    }

    /// The workspace id when `request` is an exemplar query.
    pub(super) fn claims(request: &Request) -> Option<String> {
        let segments: Vec<String> =
            request.url.path().trim_start_matches('/').split('/').map(decode_segment).collect();
        match segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["workspaces", id, "api", "v1", "query_exemplars"] => Some((*id).to_owned()),
            _ => None,
        }
    }

    /// Verifies and answers an exemplar query for workspace `id`.
    pub(super) fn serve(&self, amp: &AmpState, id: &str, request: &Request) -> Reply {
        if let Err(e) = verify_request(&amp.verifier, request) {
            tracing::info!(error_type = e.error_type(), "rejected an unauthenticated AMP request");
            return AwsError::new(e.status(), e.error_type(), e.message()).response();
        }
        let checked = check_workspace_id(id).and_then(|()| {
            let mut cp = lock(&amp.control);
            cp.finish_pending();
            cp.require_active(id)
        });
        if let Err(e) = checked {
            return e.response();
        }
        if !matches!(request.method.as_str(), "GET" | "POST") {
            return prom_error(405, "bad_data", "query_exemplars takes GET or POST");
        }
        let mut params = query_and_form(request);
        if params.iter().filter(|(k, _)| k == "query").count() != 1 {
            return prom_error(400, "bad_data", "invalid parameter \"query\": give exactly one query");
        }
        for (k, v) in params.iter_mut().filter(|(k, _)| k == "query") {
            match scope_query(v, id) {
                Ok(scoped) => *v = scoped,
                Err(e) => return prom_error(400, "bad_data", &format!("invalid parameter \"{k}\": {e}")),
            }
        }
        let url = format!("{}/api/v1/query_exemplars", amp.backend_url);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = match self.backend.post(&url).send_form(&pairs) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return prom_error(503, "unavailable", &format!("storage backend unavailable: {e}"))
            }
        };
        let status = if response.status() >= 500 { 503 } else { response.status() };
        let text = response.into_string().unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(mut answer) => {
                strip_series_labels(&mut answer);
                json_response(status, &answer)
            }
            Err(_) => Reply::new(status).set_body_raw(text, "text/plain"),
        }
    }
}

/// Removes the tenant label from each result's `seriesLabels`.
fn strip_series_labels(answer: &mut Value) {
    if let Some(Value::Array(results)) = answer.get_mut("data") {
        for result in results {
            if let Some(Value::Object(labels)) = result.get_mut("seriesLabels") {
                labels.remove(TENANT_LABEL);
            }
        }
    }
}

fn prom_error(status: u16, error_type: &str, message: &str) -> Reply {
    json_response(status, &json!({ "status": "error", "errorType": error_type, "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_label_leaves_every_series() {
        let mut answer = json!({ "status": "success", "data": [
            { "seriesLabels": { "__name__": "x", "ampfed_workspace": "ws-1" }, "exemplars": [] },
        ]});
        strip_series_labels(&mut answer);
        assert_eq!(answer["data"][0]["seriesLabels"], json!({ "__name__": "x" }));
    }
}
