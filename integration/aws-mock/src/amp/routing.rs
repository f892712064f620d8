//! The AMP mock's responder: SigV4 on every request, then routing by method and path to the
//! control plane ([`super::control`]: workspaces, rule groups namespaces, tags) or the data
//! plane ([`super::data_plane`]: remote write and the Prometheus API, served by the backend).

use std::sync::Arc;

use super::control::Answer;
use super::data_plane::DataPlane;
use super::state::AmpState;
use crate::aws_error::AwsError;
use crate::exchange::{Reply, Request};
use crate::http::{decode_segment, json_response, parse_json_body, query_pairs};
use crate::request::verify_request;
use crate::sync::lock;

pub(crate) struct AmpResponder {
    amp: Arc<AmpState>,
    data: DataPlane,
}

impl AmpResponder {
    pub(crate) fn new(amp: Arc<AmpState>) -> AmpResponder {
        AmpResponder { data: DataPlane::new(amp.clone()), amp }
    }
}

impl AmpResponder {
    /// Verifies and answers one request, whichever server received it.
    pub(crate) fn handle(&self, request: &Request) -> Reply {
        if let Err(e) = verify_request(&self.amp.verifier, request) {
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

impl AmpResponder {
    fn route(&self, request: &Request) -> Result<Reply, AwsError> {
        let path = request.url.path().to_owned();
        let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let segments: Vec<String> = raw.iter().map(|s| decode_segment(s)).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method.as_str();
        let query = query_pairs(request);
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if let ["workspaces", id, "api", "v1", rest @ ..] = segments.as_slice() {
            if !rest.is_empty() {
                return self.data.serve(id, rest, request);
            }
        }
        let answer = {
            let mut cp = lock(&self.amp.control);
            cp.settle();
            match (method, segments.as_slice()) {
                ("POST", ["workspaces"]) => cp.create_workspace(parse_json_body(request)?),
                ("GET", ["workspaces"]) => {
                    cp.list_workspaces(param("alias"), param("nextToken"), param("maxResults"))
                }
                ("GET", ["workspaces", id]) => cp.describe_workspace(id),
                ("DELETE", ["workspaces", id]) => cp.delete_workspace(id, param("clientToken")),
                ("POST", ["workspaces", id, "alias"]) => {
                    cp.update_workspace_alias(id, parse_json_body(request)?)
                }
                ("POST", ["workspaces", id, "rulegroupsnamespaces"]) => {
                    cp.create_namespace(id, parse_json_body(request)?)
                }
                ("GET", ["workspaces", id, "rulegroupsnamespaces"]) => {
                    cp.list_namespaces(id, param("name"), param("nextToken"), param("maxResults"))
                }
                ("PUT", ["workspaces", id, "rulegroupsnamespaces", name]) => {
                    cp.put_namespace(id, name, parse_json_body(request)?)
                }
                ("GET", ["workspaces", id, "rulegroupsnamespaces", name]) => cp.describe_namespace(id, name),
                ("DELETE", ["workspaces", id, "rulegroupsnamespaces", name]) => {
                    cp.delete_namespace(id, name, param("clientToken"))
                }
                (_, ["tags", ..]) if raw.len() >= 2 => {
                    // The ARN is one percent-encoded segment; a client that left its `/`
                    // unencoded still means the same ARN.
                    let arn = decode_segment(&raw[1..].join("/"));
                    match method {
                        "GET" => cp.list_tags(&arn),
                        "POST" => cp.tag_resource(&arn, parse_json_body(request)?),
                        "DELETE" => {
                            let keys: Vec<String> = query
                                .iter()
                                .filter(|(k, _)| k == "tagKeys")
                                .map(|(_, v)| v.clone())
                                .collect();
                            cp.untag_resource(&arn, &keys)
                        }
                        _ => Err(unknown(method, &path)),
                    }
                }
                _ => Err(unknown(method, &path)),
            }
        }?;
        Ok(render(answer))
    }
}

fn unknown(method: &str, path: &str) -> AwsError {
    AwsError::validation("UNKNOWN_OPERATION", "path", format!("No AMP operation matches {method} {path}"))
}

fn render((status, body): Answer) -> Reply {
    match body {
        Some(body) => json_response(status, &body),
        None => Reply::new(status),
    }
}
