//! Workspace operations: create, describe, list, update the alias, delete.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::idempotency::fingerprint;
use super::messages::{Answer, Body};
use super::pagination::paginate;
use super::plane::ControlPlane;
use super::quotas::quota_codes;
use super::resources::{timestamp_now, Workspace};
use super::status::Status;
use super::validate::{check_alias, check_tags, check_workspace_id};
use crate::account::ACCOUNT_ID;
use crate::aws_error::AwsError;

impl ControlPlane {
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
            let arn = format!("arn:aws:aps:{}:{}:workspace/{id}", cp.region, ACCOUNT_ID);
            let ws = Workspace {
                id: id.clone(),
                alias: body.alias.clone(),
                arn: arn.clone(),
                status: Status::Creating,
                changed_at: cp.seq,
                created_seq: cp.seq,
                created_at: timestamp_now(),
                kms_key_arn: body.kms_key_arn.clone(),
                tags: tags.clone(),
                namespaces: BTreeMap::new(),
            };
            cp.workspaces.insert(id.clone(), ws);
            tracing::info!(workspace = %id, "created workspace");
            let mut out = json!({ "workspaceId": id, "arn": arn, "status": { "statusCode": Status::Creating.as_str() }, "tags": tags });
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
            "status": { "statusCode": ws.status.as_str() },
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
            if ws.status == Status::Deleting {
                return Err(AwsError::conflict(
                    "WORKSPACE",
                    id,
                    format!("Workspace {id} is already being deleted"),
                ));
            }
            ws.status = Status::Deleting;
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
            if ws.status != Status::Active {
                return Err(AwsError::conflict(
                    "WORKSPACE",
                    id,
                    format!("Workspace {id} is in status {} and cannot be updated", ws.status),
                ));
            }
            ws.alias = body.alias.clone();
            ws.status = Status::Updating;
            ws.changed_at = seq;
            Ok((204, None))
        })
    }
}

/// A random version 4 UUID, as AMP's workspace ids carry.
fn uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
