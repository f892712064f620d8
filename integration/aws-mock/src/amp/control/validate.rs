//! Model constraints on request members (workspace ids, namespace names, aliases, tags),
//! answered with the ValidationException AWS words for each.

use std::collections::BTreeMap;

use crate::aws_error::AwsError;
use crate::names::{is_resource_name, RESOURCE_NAME_PATTERN};

pub(crate) fn check_workspace_id(id: &str) -> Result<(), AwsError> {
    if id.is_empty() || id.len() > 64 {
        return Err(AwsError::field("workspaceId", id, "Member must have length between 1 and 64"));
    }
    if !is_resource_name(id) {
        return Err(AwsError::field(
            "workspaceId",
            id,
            &format!("Member must satisfy regular expression pattern: {RESOURCE_NAME_PATTERN}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_namespace_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 64 {
        return Err(AwsError::field("name", name, "Member must have length between 1 and 64"));
    }
    if !is_resource_name(name) {
        return Err(AwsError::field(
            "name",
            name,
            &format!("Member must satisfy regular expression pattern: {RESOURCE_NAME_PATTERN}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_alias(alias: &str) -> Result<(), AwsError> {
    if alias.is_empty() || alias.chars().count() > 100 {
        return Err(AwsError::field("alias", alias, "Member must have length between 1 and 100"));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
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
