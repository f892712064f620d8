//! The AMP control plane's state and operations, independent of HTTP: workspaces, rule groups
//! namespaces, tags, pagination, `clientToken` idempotency, status transitions and quotas.
//!
//! Transitions run on a request counter rather than a timer, so tests never wait: a resource
//! that is CREATING or UPDATING is ACTIVE from the next control-plane request on, and one that
//! is DELETING is shown as DELETING by the next request and gone from the one after (what the
//! SDK's `WorkspaceActive` and `WorkspaceDeleted` waiters expect). Data-plane requests and the
//! ruler finish CREATING and UPDATING transitions but do not count as requests.
//!
//! A `clientToken` is remembered per operation with a fingerprint of the request (path
//! parameters and body without the token): the same token with the same request replays the
//! first answer; with a different request it is a ConflictException (AWS's usual answer for a
//! reused idempotency token; AMP's model lists ConflictException on every mutating operation).

use std::collections::BTreeMap;

use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use crate::aws_error::AwsError;
use crate::rules::{self, RuleFile};

/// AMP-like quotas the mock enforces (defaults: the published ones in `amp-api.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct AmpLimits {
    pub workspaces_per_region: usize,
    pub namespaces_per_workspace: usize,
    pub rule_groups_per_workspace: usize,
    pub rules_per_group: usize,
    /// Size of one namespace's rules file in bytes.
    pub namespace_bytes: usize,
    /// Remote write ingestion limit per workspace: `(samples per second, burst)`. Off by
    /// default (AMP's default is 70,000/s with a burst of 1,000,000); when on, a write over
    /// it is answered 429 with AMP's message, and senders retry.
    pub ingestion_rate: Option<(f64, f64)>,
}

impl Default for AmpLimits {
    fn default() -> Self {
        AmpLimits {
            workspaces_per_region: 10,
            namespaces_per_workspace: 10,
            rule_groups_per_workspace: 100,
            rules_per_group: 20,
            namespace_bytes: 1 << 20,
            ingestion_rate: None,
        }
    }
}

/// The quota codes the mock puts in ServiceQuotaExceededException (its own names: AWS's
/// `L-…` codes are not published in the model).
pub mod quota_codes {
    pub const WORKSPACES: &str = "ampfed-workspaces-per-region";
    pub const NAMESPACES: &str = "ampfed-rule-groups-namespaces-per-workspace";
    pub const RULE_GROUPS: &str = "ampfed-rule-groups-per-workspace";
    pub const RULES_PER_GROUP: &str = "ampfed-rules-per-rule-group";
    pub const NAMESPACE_SIZE: &str = "ampfed-rule-groups-namespace-size";
}

/// Stored workspaces and their rule groups namespaces.
pub struct ControlPlane {
    region: String,
    pub(crate) limits: AmpLimits,
    /// The request counter transitions run on.
    seq: u64,
    workspaces: BTreeMap<String, Workspace>,
    /// `(operation, clientToken)` → what the first call asked and answered.
    tokens: BTreeMap<(String, String), (Value, Answer)>,
}

/// One workspace.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: String,
    pub alias: Option<String>,
    pub arn: String,
    pub status: &'static str,
    changed_at: u64,
    created_seq: u64,
    pub created_at: f64,
    pub kms_key_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub namespaces: BTreeMap<String, Namespace>,
}

/// One rule groups namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub name: String,
    pub arn: String,
    pub status: &'static str,
    changed_at: u64,
    pub data: Vec<u8>,
    pub rules: RuleFile,
    pub created_at: f64,
    pub modified_at: f64,
    pub tags: BTreeMap<String, String>,
}

/// A successful answer: HTTP status and JSON body (`None`: no body).
pub type Answer = (u16, Option<Value>);

/// The request members of the mutating operations, already read from JSON.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

const NAME_PATTERN: &str = "[0-9A-Za-z][-.0-9A-Z_a-z]*";

impl ControlPlane {
    pub(crate) fn new(region: &str) -> ControlPlane {
        ControlPlane {
            region: region.to_owned(),
            limits: AmpLimits::default(),
            seq: 0,
            workspaces: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }

    /// Advances the request counter and finishes due transitions. Every control-plane request
    /// calls it once.
    pub(crate) fn settle(&mut self) {
        self.seq += 1;
        let seq = self.seq;
        self.workspaces.retain(|_, ws| !(ws.status == "DELETING" && ws.changed_at + 1 < seq));
        for ws in self.workspaces.values_mut() {
            if matches!(ws.status, "CREATING" | "UPDATING") && ws.changed_at < seq {
                ws.status = "ACTIVE";
            }
            ws.namespaces.retain(|_, ns| !(ns.status == "DELETING" && ns.changed_at + 1 < seq));
            for ns in ws.namespaces.values_mut() {
                if matches!(ns.status, "CREATING" | "UPDATING") && ns.changed_at < seq {
                    ns.status = "ACTIVE";
                }
            }
        }
    }

    /// Finishes CREATING and UPDATING transitions as the next request would, without counting
    /// a request: the data plane and the ruler call this, so they never hurry a deletion along
    /// (a DELETING resource stays visible to the next control-plane request).
    pub(crate) fn finish_pending(&mut self) {
        for ws in self.workspaces.values_mut() {
            if matches!(ws.status, "CREATING" | "UPDATING") {
                ws.status = "ACTIVE";
            }
            for ns in ws.namespaces.values_mut() {
                if matches!(ns.status, "CREATING" | "UPDATING") {
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

    /// The namespaces of one workspace in name order, whatever their status.
    pub(crate) fn namespaces_of(&self, id: &str) -> Option<Vec<Namespace>> {
        self.workspaces.get(id).map(|ws| ws.namespaces.values().cloned().collect())
    }

    /// Whether a workspace exists and serves its data plane.
    pub(crate) fn require_active(&self, id: &str) -> Result<(), AwsError> {
        match self.workspaces.get(id) {
            Some(ws) if matches!(ws.status, "ACTIVE" | "UPDATING") => Ok(()),
            Some(ws) => Err(AwsError::conflict(
                "WORKSPACE",
                id,
                format!("Workspace {id} is in status {} and cannot serve requests", ws.status),
            )),
            None => Err(AwsError::not_found("WORKSPACE", id)),
        }
    }

    /// Runs a mutating operation under `clientToken` idempotency.
    fn idempotent(
        &mut self,
        operation: &str,
        fingerprint: Value,
        token: Option<&str>,
        run: impl FnOnce(&mut ControlPlane) -> Result<Answer, AwsError>,
    ) -> Result<Answer, AwsError> {
        let Some(token) = token else { return run(self) };
        if token.is_empty() || token.len() > 64 || !token.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(AwsError::field(
                "clientToken",
                token,
                "Member must have length between 1 and 64 and satisfy regular expression pattern: [!-~]+",
            ));
        }
        let key = (operation.to_owned(), token.to_owned());
        if let Some((seen, answer)) = self.tokens.get(&key) {
            if *seen == fingerprint {
                return Ok(answer.clone());
            }
            return Err(AwsError::conflict(
                resource_type_of(operation),
                token,
                format!("Client token {token} was already used for a {operation} request with different parameters"),
            ));
        }
        let answer = run(self)?;
        self.tokens.insert(key, (fingerprint, answer.clone()));
        Ok(answer)
    }

    // ---- Workspaces ----

    pub(crate) fn create_workspace(&mut self, body: Body) -> Result<Answer, AwsError> {
        let fingerprint = fingerprint(&[], &body);
        let token = body.client_token.clone();
        self.idempotent("CreateWorkspace", fingerprint, token.as_deref(), |cp| {
            if let Some(alias) = &body.alias {
                check_alias(alias)?;
            }
            let tags = body.tags.clone().unwrap_or_default();
            check_tags(&tags)?;
            if cp.workspaces.len() >= cp.limits.workspaces_per_region {
                let region = cp.region.clone();
                return Err(AwsError::quota(
                    "WORKSPACE",
                    &region,
                    quota_codes::WORKSPACES,
                    format!(
                        "Exceeded the quota of {} workspaces per region",
                        cp.limits.workspaces_per_region
                    ),
                ));
            }
            let id = format!("ws-{}", uuid());
            let arn = format!("arn:aws:aps:{}:{}:workspace/{id}", cp.region, crate::ACCOUNT_ID);
            let ws = Workspace {
                id: id.clone(),
                alias: body.alias.clone(),
                arn: arn.clone(),
                status: "CREATING",
                changed_at: cp.seq,
                created_seq: cp.seq,
                created_at: now(),
                kms_key_arn: body.kms_key_arn.clone(),
                tags: tags.clone(),
                namespaces: BTreeMap::new(),
            };
            cp.workspaces.insert(id.clone(), ws);
            tracing::info!(workspace = %id, "created workspace");
            let mut out = json!({ "workspaceId": id, "arn": arn, "status": { "statusCode": "CREATING" }, "tags": tags });
            if let Some(k) = &body.kms_key_arn {
                out["kmsKeyArn"] = json!(k);
            }
            Ok((202, Some(out)))
        })
    }

    pub(crate) fn describe_workspace(&mut self, id: &str) -> Result<Answer, AwsError> {
        check_workspace_id(id)?;
        let ws = self.workspaces.get(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        Ok((200, Some(json!({ "workspace": self.workspace_json(ws, true) }))))
    }

    fn workspace_json(&self, ws: &Workspace, full: bool) -> Value {
        let mut out = json!({
            "workspaceId": ws.id,
            "arn": ws.arn,
            "status": { "statusCode": ws.status },
            "createdAt": ws.created_at,
            "tags": ws.tags,
        });
        if full {
            out["prometheusEndpoint"] =
                json!(format!("https://aps-workspaces.{}.amazonaws.com/workspaces/{}/", self.region, ws.id));
        }
        if let Some(alias) = &ws.alias {
            out["alias"] = json!(alias);
        }
        if let Some(k) = &ws.kms_key_arn {
            out["kmsKeyArn"] = json!(k);
        }
        out
    }

    pub(crate) fn list_workspaces(
        &mut self,
        alias: Option<&str>,
        next_token: Option<&str>,
        max_results: Option<&str>,
    ) -> Result<Answer, AwsError> {
        if let Some(a) = alias {
            check_alias(a)?;
        }
        let mut items: Vec<&Workspace> = self
            .workspaces
            .values()
            .filter(|ws| alias.is_none_or(|a| ws.alias.as_deref().is_some_and(|w| w.starts_with(a))))
            .collect();
        items.sort_by_key(|ws| (ws.created_seq, ws.id.clone()));
        let keyed: Vec<(String, Value)> = items
            .into_iter()
            .map(|ws| (format!("{:020}/{}", ws.created_seq, ws.id), self.workspace_json(ws, false)))
            .collect();
        let (page, next) = paginate(keyed, next_token, max_results)?;
        let mut out = json!({ "workspaces": page });
        if let Some(t) = next {
            out["nextToken"] = json!(t);
        }
        Ok((200, Some(out)))
    }

    pub(crate) fn delete_workspace(
        &mut self,
        id: &str,
        client_token: Option<&str>,
    ) -> Result<Answer, AwsError> {
        check_workspace_id(id)?;
        let fingerprint = json!({ "workspaceId": id });
        self.idempotent("DeleteWorkspace", fingerprint, client_token, |cp| {
            let seq = cp.seq;
            let ws = cp.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
            if ws.status == "DELETING" {
                return Err(AwsError::conflict(
                    "WORKSPACE",
                    id,
                    format!("Workspace {id} is already being deleted"),
                ));
            }
            ws.status = "DELETING";
            ws.changed_at = seq;
            tracing::info!(workspace = id, "deleting workspace");
            Ok((202, None))
        })
    }

    pub(crate) fn update_workspace_alias(&mut self, id: &str, body: Body) -> Result<Answer, AwsError> {
        check_workspace_id(id)?;
        let fingerprint = fingerprint(&[id], &body);
        let token = body.client_token.clone();
        self.idempotent("UpdateWorkspaceAlias", fingerprint, token.as_deref(), |cp| {
            if let Some(alias) = &body.alias {
                check_alias(alias)?;
            }
            let seq = cp.seq;
            let ws = cp.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
            if ws.status != "ACTIVE" {
                return Err(AwsError::conflict(
                    "WORKSPACE",
                    id,
                    format!("Workspace {id} is in status {} and cannot be updated", ws.status),
                ));
            }
            ws.alias = body.alias.clone();
            ws.status = "UPDATING";
            ws.changed_at = seq;
            Ok((204, None))
        })
    }

    // ---- Rule groups namespaces ----

    fn workspace_for_rules(&mut self, id: &str) -> Result<&mut Workspace, AwsError> {
        check_workspace_id(id)?;
        let ws = self.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        if !matches!(ws.status, "ACTIVE" | "UPDATING") {
            return Err(AwsError::conflict(
                "WORKSPACE",
                id,
                format!(
                    "Workspace {id} is in status {} and its rule groups namespaces cannot be changed",
                    ws.status
                ),
            ));
        }
        Ok(ws)
    }

    pub(crate) fn create_namespace(&mut self, id: &str, body: Body) -> Result<Answer, AwsError> {
        let fingerprint = fingerprint(&[id], &body);
        let token = body.client_token.clone();
        self.idempotent("CreateRuleGroupsNamespace", fingerprint, token.as_deref(), |cp| {
            check_workspace_id(id)?;
            let name = body.name.clone().ok_or_else(|| AwsError::missing("name"))?;
            check_namespace_name(&name)?;
            let tags = body.tags.clone().unwrap_or_default();
            check_tags(&tags)?;
            let (data, parsed) = decode_rules(body.data.as_deref(), &name)?;
            let limits = cp.limits.clone();
            let (region, seq) = (cp.region.clone(), cp.seq);
            let ws = cp.workspace_for_rules(id)?;
            if ws.namespaces.contains_key(&name) {
                return Err(AwsError::conflict(
                    "RULE_GROUPS_NAMESPACE",
                    &name,
                    format!("A rule groups namespace named {name} already exists in workspace {id}"),
                ));
            }
            if ws.namespaces.len() >= limits.namespaces_per_workspace {
                return Err(AwsError::quota(
                    "RULE_GROUPS_NAMESPACE",
                    &name,
                    quota_codes::NAMESPACES,
                    format!(
                        "Exceeded the quota of {} rule groups namespaces per workspace",
                        limits.namespaces_per_workspace
                    ),
                ));
            }
            check_rule_quotas(ws, &name, &data, &parsed, &limits)?;
            let arn = format!("arn:aws:aps:{region}:{}:rulegroupsnamespace/{id}/{name}", crate::ACCOUNT_ID);
            let t = now();
            ws.namespaces.insert(
                name.clone(),
                Namespace {
                    name: name.clone(),
                    arn: arn.clone(),
                    status: "CREATING",
                    changed_at: seq,
                    data,
                    rules: parsed,
                    created_at: t,
                    modified_at: t,
                    tags: tags.clone(),
                },
            );
            tracing::info!(workspace = id, namespace = %name, "created rule groups namespace");
            Ok((
                202,
                Some(
                    json!({ "name": name, "arn": arn, "status": { "statusCode": "CREATING" }, "tags": tags }),
                ),
            ))
        })
    }

    pub(crate) fn put_namespace(&mut self, id: &str, name: &str, body: Body) -> Result<Answer, AwsError> {
        let fingerprint = fingerprint(&[id, name], &body);
        let token = body.client_token.clone();
        self.idempotent("PutRuleGroupsNamespace", fingerprint, token.as_deref(), |cp| {
            check_workspace_id(id)?;
            check_namespace_name(name)?;
            let (data, parsed) = decode_rules(body.data.as_deref(), name)?;
            let limits = cp.limits.clone();
            let seq = cp.seq;
            let ws = cp.workspace_for_rules(id)?;
            let Some(current) = ws.namespaces.get(name) else {
                return Err(AwsError::not_found("RULE_GROUPS_NAMESPACE", name));
            };
            if !matches!(current.status, "ACTIVE" | "UPDATE_FAILED" | "CREATION_FAILED") {
                return Err(AwsError::conflict(
                    "RULE_GROUPS_NAMESPACE",
                    name,
                    format!("Rule groups namespace {name} is in status {} and cannot be updated", current.status),
                ));
            }
            check_rule_quotas(ws, name, &data, &parsed, &limits)?;
            let ns = ws.namespaces.get_mut(name).expect("checked above");
            ns.data = data;
            ns.rules = parsed;
            ns.status = "UPDATING";
            ns.changed_at = seq;
            ns.modified_at = now();
            tracing::info!(workspace = id, namespace = name, "updated rule groups namespace");
            Ok((
                202,
                Some(json!({ "name": ns.name, "arn": ns.arn, "status": { "statusCode": "UPDATING" }, "tags": ns.tags })),
            ))
        })
    }

    pub(crate) fn describe_namespace(&mut self, id: &str, name: &str) -> Result<Answer, AwsError> {
        check_workspace_id(id)?;
        check_namespace_name(name)?;
        let ws = self.workspaces.get(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        let ns = ws.namespaces.get(name).ok_or_else(|| AwsError::not_found("RULE_GROUPS_NAMESPACE", name))?;
        let mut out = namespace_json(ns);
        out["data"] = json!(base64::engine::general_purpose::STANDARD.encode(&ns.data));
        Ok((200, Some(json!({ "ruleGroupsNamespace": out }))))
    }

    pub(crate) fn list_namespaces(
        &mut self,
        id: &str,
        prefix: Option<&str>,
        next_token: Option<&str>,
        max_results: Option<&str>,
    ) -> Result<Answer, AwsError> {
        check_workspace_id(id)?;
        if let Some(p) = prefix {
            check_namespace_name(p).map_err(|_| {
                AwsError::field(
                    "name",
                    p,
                    &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
                )
            })?;
        }
        let ws = self.workspaces.get(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        let keyed: Vec<(String, Value)> = ws
            .namespaces
            .values()
            .filter(|ns| prefix.is_none_or(|p| ns.name.starts_with(p)))
            .map(|ns| (ns.name.clone(), namespace_json(ns)))
            .collect();
        let (page, next) = paginate(keyed, next_token, max_results)?;
        let mut out = json!({ "ruleGroupsNamespaces": page });
        if let Some(t) = next {
            out["nextToken"] = json!(t);
        }
        Ok((200, Some(out)))
    }

    pub(crate) fn delete_namespace(
        &mut self,
        id: &str,
        name: &str,
        client_token: Option<&str>,
    ) -> Result<Answer, AwsError> {
        let fingerprint = json!({ "workspaceId": id, "name": name });
        self.idempotent("DeleteRuleGroupsNamespace", fingerprint, client_token, |cp| {
            check_workspace_id(id)?;
            check_namespace_name(name)?;
            let seq = cp.seq;
            let ws = cp.workspace_for_rules(id)?;
            let ns = ws
                .namespaces
                .get_mut(name)
                .ok_or_else(|| AwsError::not_found("RULE_GROUPS_NAMESPACE", name))?;
            if ns.status == "DELETING" {
                return Err(AwsError::conflict(
                    "RULE_GROUPS_NAMESPACE",
                    name,
                    format!("Rule groups namespace {name} is already being deleted"),
                ));
            }
            ns.status = "DELETING";
            ns.changed_at = seq;
            tracing::info!(workspace = id, namespace = name, "deleting rule groups namespace");
            Ok((202, None))
        })
    }

    // ---- Tags ----

    fn tags_of(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, AwsError> {
        let prefix = format!("arn:aws:aps:{}:{}:", self.region, crate::ACCOUNT_ID);
        let bad = || {
            AwsError::field(
                "resourceArn",
                arn,
                "Member must be the ARN of a workspace or rule groups namespace in this account and region",
            )
        };
        let rest = arn.strip_prefix(&prefix).ok_or_else(bad)?;
        if let Some(id) = rest.strip_prefix("workspace/") {
            let ws = self.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
            return Ok(&mut ws.tags);
        }
        let (id, name) =
            rest.strip_prefix("rulegroupsnamespace/").and_then(|r| r.split_once('/')).ok_or_else(bad)?;
        let ws = self.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        let ns =
            ws.namespaces.get_mut(name).ok_or_else(|| AwsError::not_found("RULE_GROUPS_NAMESPACE", name))?;
        Ok(&mut ns.tags)
    }

    pub(crate) fn list_tags(&mut self, arn: &str) -> Result<Answer, AwsError> {
        let tags = self.tags_of(arn)?.clone();
        Ok((200, Some(json!({ "tags": tags }))))
    }

    pub(crate) fn tag_resource(&mut self, arn: &str, body: Body) -> Result<Answer, AwsError> {
        let new = body.tags.ok_or_else(|| AwsError::missing("tags"))?;
        check_tags(&new)?;
        let tags = self.tags_of(arn)?;
        let mut merged = tags.clone();
        merged.extend(new);
        check_tags(&merged)?;
        *tags = merged;
        Ok((200, Some(json!({}))))
    }

    pub(crate) fn untag_resource(&mut self, arn: &str, keys: &[String]) -> Result<Answer, AwsError> {
        if keys.is_empty() {
            return Err(AwsError::missing("tagKeys"));
        }
        let tags = self.tags_of(arn)?;
        for k in keys {
            tags.remove(k);
        }
        Ok((200, Some(json!({}))))
    }
}

fn resource_type_of(operation: &str) -> &'static str {
    if operation.contains("RuleGroupsNamespace") {
        "RULE_GROUPS_NAMESPACE"
    } else {
        "WORKSPACE"
    }
}

fn namespace_json(ns: &Namespace) -> Value {
    json!({
        "arn": ns.arn,
        "name": ns.name,
        "status": { "statusCode": ns.status },
        "createdAt": ns.created_at,
        "modifiedAt": ns.modified_at,
        "tags": ns.tags,
    })
}

/// The request as idempotency compares it: path parameters and body without the token.
fn fingerprint(path: &[&str], body: &Body) -> Value {
    let mut b = body.clone();
    b.client_token = None;
    json!({ "path": path, "body": b })
}

/// Decodes and validates a `data` member (base64 of a rules file).
fn decode_rules(data: Option<&str>, namespace: &str) -> Result<(Vec<u8>, RuleFile), AwsError> {
    let data = data.ok_or_else(|| AwsError::missing("data"))?;
    let data = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).map_err(|e| {
        AwsError::validation("CANNOT_PARSE", "data", format!("data is not valid base64: {e}"))
    })?;
    let parsed = rules::parse(&data).map_err(|e| {
        AwsError::validation(
            "FIELD_VALIDATION_FAILED",
            "data",
            format!("Invalid rules in namespace {namespace}: {e}"),
        )
    })?;
    for group in &parsed.groups {
        if namespace.len() + group.name.len() > 721 {
            return Err(AwsError::validation(
                "FIELD_VALIDATION_FAILED",
                "data",
                format!(
                    "Invalid rules in namespace {namespace}: group {:?}: namespace name and rule group name together exceed 721 bytes",
                    group.name
                ),
            ));
        }
    }
    Ok((data, parsed))
}

/// The quotas a rules file counts against: its size, rules per group, and rule groups over the
/// whole workspace (this namespace's new groups plus every other namespace's).
fn check_rule_quotas(
    ws: &Workspace,
    name: &str,
    data: &[u8],
    parsed: &RuleFile,
    limits: &AmpLimits,
) -> Result<(), AwsError> {
    let quota = |code: &str, message: String| AwsError::quota("RULE_GROUPS_NAMESPACE", name, code, message);
    if data.len() > limits.namespace_bytes {
        return Err(quota(
            quota_codes::NAMESPACE_SIZE,
            format!(
                "Rule groups namespace {name} is {} bytes, over the quota of {} bytes per namespace",
                data.len(),
                limits.namespace_bytes
            ),
        ));
    }
    if let Some(g) = parsed.groups.iter().find(|g| g.rules.len() > limits.rules_per_group) {
        return Err(quota(
            quota_codes::RULES_PER_GROUP,
            format!(
                "Rule group {:?} has {} rules, over the quota of {} rules per rule group",
                g.name,
                g.rules.len(),
                limits.rules_per_group
            ),
        ));
    }
    let others: usize =
        ws.namespaces.values().filter(|ns| ns.name != name).map(|ns| ns.rules.groups.len()).sum();
    if others + parsed.groups.len() > limits.rule_groups_per_workspace {
        return Err(quota(
            quota_codes::RULE_GROUPS,
            format!(
                "Workspace {} would have {} rule groups, over the quota of {} rule groups per workspace",
                ws.id,
                others + parsed.groups.len(),
                limits.rule_groups_per_workspace
            ),
        ));
    }
    Ok(())
}

/// One page of `items` (already in listing order, keyed by a sort key) after `next_token`.
fn paginate(
    items: Vec<(String, Value)>,
    next_token: Option<&str>,
    max_results: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), AwsError> {
    let max = match max_results {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n as usize,
            Ok(n) if n < 1 => {
                return Err(AwsError::field(
                    "maxResults",
                    s,
                    "Member must have value greater than or equal to 1",
                ))
            }
            Ok(_) => {
                return Err(AwsError::field(
                    "maxResults",
                    s,
                    "Member must have value less than or equal to 1000",
                ))
            }
            Err(_) => {
                return Err(AwsError::validation(
                    "CANNOT_PARSE",
                    "maxResults",
                    format!("Value '{s}' at 'maxResults' is not an integer"),
                ))
            }
        },
    };
    let after = match next_token {
        None => None,
        Some(t) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("ampfed:").map(str::to_owned))
                .ok_or_else(|| {
                    AwsError::validation("FIELD_VALIDATION_FAILED", "nextToken", "Invalid nextToken")
                })?,
        ),
    };
    let rest: Vec<(String, Value)> =
        items.into_iter().filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a)).collect();
    let more = rest.len() > max;
    let page: Vec<(String, Value)> = rest.into_iter().take(max).collect();
    let next = if more {
        page.last()
            .map(|(k, _)| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ampfed:{k}")))
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, v)| v).collect(), next))
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

pub(crate) fn check_workspace_id(id: &str) -> Result<(), AwsError> {
    if id.is_empty() || id.len() > 64 {
        return Err(AwsError::field("workspaceId", id, "Member must have length between 1 and 64"));
    }
    if !is_name(id) {
        return Err(AwsError::field(
            "workspaceId",
            id,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

fn check_namespace_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 64 {
        return Err(AwsError::field("name", name, "Member must have length between 1 and 64"));
    }
    if !is_name(name) {
        return Err(AwsError::field(
            "name",
            name,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

fn check_alias(alias: &str) -> Result<(), AwsError> {
    if alias.is_empty() || alias.chars().count() > 100 {
        return Err(AwsError::field("alias", alias, "Member must have length between 1 and 100"));
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.len() > 50 {
        return Err(AwsError::field(
            "tags",
            &format!("{} tags", tags.len()),
            "Member must have length less than or equal to 50",
        ));
    }
    let key_ok = |k: &str| {
        (1..=128).contains(&k.chars().count())
            && !k.starts_with("aws:")
            && k.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    if let Some(k) = tags.keys().find(|k| !key_ok(k)) {
        return Err(AwsError::field(
            "tags",
            k,
            "Member must satisfy constraint: tag keys are 1-128 characters of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* not starting with aws:",
        ));
    }
    if let Some((k, v)) = tags.iter().find(|(_, v)| v.chars().count() > 256) {
        return Err(AwsError::field(
            &format!("tags.{k}"),
            v,
            "Member must have length less than or equal to 256",
        ));
    }
    Ok(())
}

/// A random version 4 UUID, as AMP's workspace ids carry.
fn uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn now() -> f64 {
    let t = Utc::now();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0
}

impl crate::AwsMock {
    /// Replaces the AMP quotas the control plane enforces (default: [`AmpLimits::default`]).
    pub fn set_amp_limits(&self, limits: AmpLimits) {
        crate::lock(&self.shared.amp).limits = limits;
    }
}
