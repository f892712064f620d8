//! Rule groups namespace operations: create, put (replace the rules), describe, list, delete;
//! a namespace's `data` is a Prometheus rules file, checked by [`crate::amp::rules`] and
//! counted against the quotas.

use base64::Engine;
use serde_json::{json, Value};

use super::idempotency::fingerprint;
use super::messages::{Answer, Body};
use super::pagination::paginate;
use super::plane::ControlPlane;
use super::quotas::{check_rule_quotas, quota_codes};
use super::resources::{timestamp_now, Namespace, Workspace};
use super::status::Status;
use super::validate::{check_namespace_name, check_tags, check_workspace_id};
use crate::account::ACCOUNT_ID;
use crate::amp::rules::{self, RuleFile};
use crate::aws_error::AwsError;
use crate::names::RESOURCE_NAME_PATTERN;

impl ControlPlane {
    fn workspace_for_rules(&mut self, id: &str) -> Result<&mut Workspace, AwsError> {
        check_workspace_id(id)?;
        let ws = self.workspaces.get_mut(id).ok_or_else(|| AwsError::not_found("WORKSPACE", id))?;
        if !matches!(ws.status, Status::Active | Status::Updating) {
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
            let arn = format!("arn:aws:aps:{region}:{}:rulegroupsnamespace/{id}/{name}", ACCOUNT_ID);
            let t = timestamp_now();
            ws.namespaces.insert(
                name.clone(),
                Namespace {
                    name: name.clone(),
                    arn: arn.clone(),
                    status: Status::Creating,
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
                    json!({ "name": name, "arn": arn, "status": { "statusCode": Status::Creating.as_str() }, "tags": tags }),
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
            if current.status != Status::Active {
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
            ns.status = Status::Updating;
            ns.changed_at = seq;
            ns.modified_at = timestamp_now();
            tracing::info!(workspace = id, namespace = name, "updated rule groups namespace");
            Ok((
                202,
                Some(json!({ "name": ns.name, "arn": ns.arn, "status": { "statusCode": Status::Updating.as_str() }, "tags": ns.tags })),
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
                    &format!("Member must satisfy regular expression pattern: {RESOURCE_NAME_PATTERN}"),
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
            if ns.status == Status::Deleting {
                return Err(AwsError::conflict(
                    "RULE_GROUPS_NAMESPACE",
                    name,
                    format!("Rule groups namespace {name} is already being deleted"),
                ));
            }
            ns.status = Status::Deleting;
            ns.changed_at = seq;
            tracing::info!(workspace = id, namespace = name, "deleting rule groups namespace");
            Ok((202, None))
        })
    }
}

fn namespace_json(ns: &Namespace) -> Value {
    json!({
        "arn": ns.arn,
        "name": ns.name,
        "status": { "statusCode": ns.status.as_str() },
        "createdAt": ns.created_at,
        "modifiedAt": ns.modified_at,
        "tags": ns.tags,
    })
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
