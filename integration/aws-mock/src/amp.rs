//! The AMP mock: SigV4 on every request, then the control plane (workspaces, rule groups
//! namespaces) or the data plane (remote write, PromQL), the latter served by the backend.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ampfed_sigv4::IncomingRequest;
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::aws_error::AwsError;
use crate::rules::{self, RuleFile};
use crate::{lock, Shared};

/// Stored workspaces and their rule groups namespaces.
pub struct ControlPlane {
    region: String,
    workspaces: BTreeMap<String, Workspace>,
}

/// One workspace.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: String,
    pub alias: Option<String>,
    pub arn: String,
    pub status: &'static str,
    pub created_at: f64,
    pub tags: BTreeMap<String, String>,
    pub namespaces: BTreeMap<String, Namespace>,
}

/// One rule groups namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub name: String,
    pub arn: String,
    pub status: &'static str,
    pub data: Vec<u8>,
    pub rules: RuleFile,
    pub created_at: f64,
    pub modified_at: f64,
    pub tags: BTreeMap<String, String>,
}

impl ControlPlane {
    pub(crate) fn new(region: &str) -> ControlPlane {
        ControlPlane { region: region.to_owned(), workspaces: BTreeMap::new() }
    }

    /// Finishes pending transitions: what was CREATING is ACTIVE by the next call.
    pub(crate) fn settle(&mut self) {
        for ws in self.workspaces.values_mut() {
            if ws.status == "CREATING" {
                ws.status = "ACTIVE";
            }
            for ns in ws.namespaces.values_mut() {
                if ns.status == "CREATING" {
                    ns.status = "ACTIVE";
                }
            }
        }
    }

    /// `(workspace id, namespace)` of every ACTIVE namespace in an ACTIVE workspace.
    pub(crate) fn active_namespaces(&self) -> Vec<(String, Namespace)> {
        self.workspaces
            .values()
            .filter(|ws| ws.status == "ACTIVE")
            .flat_map(|ws| {
                ws.namespaces
                    .values()
                    .filter(|ns| ns.status == "ACTIVE")
                    .map(|ns| (ws.id.clone(), ns.clone()))
            })
            .collect()
    }
}

pub(crate) struct AmpResponder {
    shared: Arc<Shared>,
    backend: ureq::Agent,
}

impl AmpResponder {
    pub(crate) fn new(shared: Arc<Shared>) -> AmpResponder {
        let backend = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        AmpResponder { shared, backend }
    }
}

impl Respond for AmpResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers = ampfed_sigv4::header_pairs(&request.headers);
        let incoming = IncomingRequest {
            method: request.method.as_str(),
            path: request.url.path(),
            query: request.url.query().unwrap_or(""),
            headers: &headers,
            body: &request.body,
        };
        if let Err(e) = self.shared.verifier.verify(&incoming) {
            tracing::info!(
                error_type = e.error_type(),
                path = request.url.path(),
                "rejected an unauthenticated AMP request"
            );
            return AwsError::new(e.status(), e.error_type(), e.message()).response();
        }
        match self.route(request) {
            Ok(response) => response,
            Err(e) => e.response(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateWorkspaceInput {
    alias: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateNamespaceInput {
    name: Option<String>,
    data: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

impl AmpResponder {
    fn route(&self, request: &Request) -> Result<ResponseTemplate, AwsError> {
        let path = request.url.path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = request.method.as_str();
        match (method, segments.as_slice()) {
            ("POST", ["workspaces"]) => self.create_workspace(request),
            ("GET", ["workspaces", id]) => self.describe_workspace(id),
            ("POST", ["workspaces", id, "rulegroupsnamespaces"]) => self.create_namespace(id, request),
            ("GET", ["workspaces", id, "rulegroupsnamespaces", name]) => self.describe_namespace(id, name),
            ("POST", ["workspaces", id, "api", "v1", "remote_write"]) => self.remote_write(id, request),
            (_, ["workspaces", id, "api", "v1", rest @ ..]) if !rest.is_empty() => {
                self.forward_query(id, &rest.join("/"), request)
            }
            _ => Err(AwsError::validation(
                "UNKNOWN_OPERATION",
                "path",
                format!("The mock does not serve {method} {path} yet"),
            )),
        }
    }

    fn create_workspace(&self, request: &Request) -> Result<ResponseTemplate, AwsError> {
        let input: CreateWorkspaceInput = parse_body(request)?;
        let mut cp = lock(&self.shared.amp);
        cp.settle();
        let id = format!("ws-{}", crate::sts::request_id());
        let arn = format!("arn:aws:aps:{}:{}:workspace/{id}", cp.region, crate::ACCOUNT_ID);
        let ws = Workspace {
            id: id.clone(),
            alias: input.alias,
            arn: arn.clone(),
            status: "CREATING",
            created_at: now(),
            tags: input.tags,
            namespaces: BTreeMap::new(),
        };
        cp.workspaces.insert(id.clone(), ws);
        tracing::info!(workspace = %id, "created workspace");
        Ok(json_response(
            202,
            json!({ "workspaceId": id, "arn": arn, "status": { "statusCode": "CREATING" } }),
        ))
    }

    fn describe_workspace(&self, id: &str) -> Result<ResponseTemplate, AwsError> {
        let mut cp = lock(&self.shared.amp);
        cp.settle();
        let region = cp.region.clone();
        let ws = cp.workspaces.get(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        let mut body = json!({
            "workspaceId": ws.id,
            "arn": ws.arn,
            "status": { "statusCode": ws.status },
            "prometheusEndpoint": format!("https://aps-workspaces.{region}.amazonaws.com/workspaces/{}/", ws.id),
            "createdAt": ws.created_at,
            "tags": ws.tags,
        });
        if let Some(alias) = &ws.alias {
            body["alias"] = json!(alias);
        }
        Ok(json_response(200, json!({ "workspace": body })))
    }

    fn create_namespace(&self, id: &str, request: &Request) -> Result<ResponseTemplate, AwsError> {
        let input: CreateNamespaceInput = parse_body(request)?;
        let name = input
            .name
            .ok_or_else(|| AwsError::validation("FIELD_VALIDATION_FAILED", "name", "name is required"))?;
        if !valid_name(&name) {
            return Err(AwsError::validation(
                "FIELD_VALIDATION_FAILED",
                "name",
                format!("Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z][-.0-9A-Z_a-z]*"),
            ));
        }
        let data = input
            .data
            .ok_or_else(|| AwsError::validation("FIELD_VALIDATION_FAILED", "data", "data is required"))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|e| AwsError::validation("CANNOT_PARSE", "data", format!("data is not base64: {e}")))?;
        let parsed = rules::parse(&data).map_err(|e| {
            AwsError::validation("FIELD_VALIDATION_FAILED", "data", format!("Invalid rules file: {e}"))
        })?;
        let mut cp = lock(&self.shared.amp);
        cp.settle();
        let region = cp.region.clone();
        let ws = cp.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        if ws.namespaces.contains_key(&name) {
            return Err(AwsError::conflict(
                "RULE_GROUPS_NAMESPACE",
                &name,
                format!("A rule groups namespace named {name} already exists in workspace {id}"),
            ));
        }
        let arn = format!("arn:aws:aps:{region}:{}:rulegroupsnamespace/{id}/{name}", crate::ACCOUNT_ID);
        let t = now();
        let ns = Namespace {
            name: name.clone(),
            arn: arn.clone(),
            status: "CREATING",
            data,
            rules: parsed,
            created_at: t,
            modified_at: t,
            tags: input.tags.clone(),
        };
        ws.namespaces.insert(name.clone(), ns);
        tracing::info!(workspace = id, namespace = %name, "created rule groups namespace");
        Ok(json_response(
            202,
            json!({ "name": name, "arn": arn, "status": { "statusCode": "CREATING" }, "tags": input.tags }),
        ))
    }

    fn describe_namespace(&self, id: &str, name: &str) -> Result<ResponseTemplate, AwsError> {
        let mut cp = lock(&self.shared.amp);
        cp.settle();
        let ws = cp.workspaces.get(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        let ns = ws.namespaces.get(name).ok_or_else(|| AwsError::not_found("RULE_GROUPS_NAMESPACE", name))?;
        Ok(json_response(
            200,
            json!({ "ruleGroupsNamespace": {
                "arn": ns.arn,
                "name": ns.name,
                "status": { "statusCode": ns.status },
                "data": base64::engine::general_purpose::STANDARD.encode(&ns.data),
                "createdAt": ns.created_at,
                "modifiedAt": ns.modified_at,
                "tags": ns.tags,
            }}),
        ))
    }

    fn require_workspace(&self, id: &str) -> Result<(), AwsError> {
        let mut cp = lock(&self.shared.amp);
        cp.settle();
        match cp.workspaces.get(id) {
            Some(ws) if ws.status == "ACTIVE" => Ok(()),
            Some(_) => Err(AwsError::conflict("WORKSPACE", id, format!("Workspace {id} is not ACTIVE"))),
            None => Err(AwsError::not_found("WORKSPACE", id)),
        }
    }

    fn remote_write(&self, id: &str, request: &Request) -> Result<ResponseTemplate, AwsError> {
        self.require_workspace(id)?;
        let url = format!("{}/api/v1/write", self.shared.options.backend_url);
        let mut call = self.backend.post(&url);
        for name in ["content-type", "content-encoding", "x-prometheus-remote-write-version"] {
            if let Some(v) = request.headers.get(name).and_then(|v| v.to_str().ok()) {
                call = call.set(name, v);
            }
        }
        match call.send_bytes(&request.body) {
            Ok(_) => Ok(ResponseTemplate::new(200)),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                // Senders retry 5xx and 429 and drop other 4xx: only data that can never
                // succeed gets a 4xx.
                let status = if status >= 500 { 503 } else { status };
                Ok(ResponseTemplate::new(status).set_body_raw(text, "text/plain"))
            }
            Err(e) => Err(AwsError::new(503, "InternalServerException", format!("backend unreachable: {e}"))),
        }
    }

    fn forward_query(&self, id: &str, rest: &str, request: &Request) -> Result<ResponseTemplate, AwsError> {
        self.require_workspace(id)?;
        let mut url = format!("{}/api/v1/{rest}", self.shared.options.backend_url);
        if let Some(q) = request.url.query() {
            url.push('?');
            url.push_str(q);
        }
        let call = self.backend.request(request.method.as_str(), &url);
        let result = if request.body.is_empty() {
            call.call()
        } else {
            let ct = request
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/x-www-form-urlencoded");
            call.set("content-type", ct).send_bytes(&request.body)
        };
        let (status, response) = match result {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(status, r)) => (status, r),
            Err(e) => {
                return Err(AwsError::new(
                    503,
                    "InternalServerException",
                    format!("backend unreachable: {e}"),
                ))
            }
        };
        let ct = response.content_type().to_owned();
        let body = response.into_string().unwrap_or_default();
        Ok(ResponseTemplate::new(status).set_body_raw(body, &ct))
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, AwsError> {
    let body: &[u8] = if request.body.is_empty() { b"{}" } else { &request.body };
    serde_json::from_slice(body).map_err(|e| {
        AwsError::validation("CANNOT_PARSE", "body", format!("Request body is not valid JSON: {e}"))
    })
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.is_empty()
        && name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

fn now() -> f64 {
    let t = Utc::now();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}
