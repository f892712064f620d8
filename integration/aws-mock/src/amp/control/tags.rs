//! Tags on workspaces and rule groups namespaces, addressed by ARN: list, tag, untag.

use std::collections::BTreeMap;

use serde_json::json;

use super::messages::{Answer, Body};
use super::plane::ControlPlane;
use super::validate::check_tags;
use crate::account::ACCOUNT_ID;
use crate::aws_error::AwsError;

impl ControlPlane {
    fn tags_of(&mut self, arn: &str) -> Result<&mut BTreeMap<String, String>, AwsError> {
        let prefix = format!("arn:aws:aps:{}:{}:", self.region, ACCOUNT_ID);
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
