//! AWS JSON (restJson1) error answers: status, `x-amzn-ErrorType`, a body with `message` and the
//! members the AMP service model gives each error (see `docs/amp-api.md`).

use serde_json::{json, Map, Value};

use crate::exchange::Reply;

/// The `serviceCode` AMP's quota and throttling errors carry.
const SERVICE_CODE: &str = "amp";

/// An error the AMP mock answers with, rendered the way AWS renders it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AwsError {
    pub(crate) status: u16,
    pub(crate) error_type: String,
    pub(crate) message: String,
    /// Extra body members (`resourceId`, `reason`, …).
    pub(crate) members: Map<String, Value>,
}

impl AwsError {
    pub(crate) fn new(status: u16, error_type: &str, message: impl Into<String>) -> AwsError {
        AwsError { status, error_type: error_type.to_owned(), message: message.into(), members: Map::new() }
    }

    /// ValidationException with a reason and the failing field.
    pub(crate) fn validation(reason: &str, field: &str, message: impl Into<String>) -> AwsError {
        let message = message.into();
        let mut e = AwsError::new(400, "ValidationException", message.clone());
        e.members.insert("reason".into(), json!(reason));
        e.members.insert("fieldList".into(), json!([{ "name": field, "message": message }]));
        e
    }

    /// ValidationException for a member that breaks a model constraint, worded as AWS words it.
    pub(crate) fn field(field: &str, value: &str, constraint: &str) -> AwsError {
        AwsError::validation(
            "FIELD_VALIDATION_FAILED",
            field,
            format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// ValidationException for a required member that is missing.
    pub(crate) fn missing(field: &str) -> AwsError {
        AwsError::validation(
            "FIELD_VALIDATION_FAILED",
            field,
            format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"),
        )
    }

    /// ResourceNotFoundException for a resource id and type.
    pub(crate) fn not_found(resource_type: &str, resource_id: &str) -> AwsError {
        let what = match resource_type {
            "WORKSPACE" => "Workspace",
            "RULE_GROUPS_NAMESPACE" => "Rule groups namespace",
            _ => "Resource",
        };
        let mut e =
            AwsError::new(404, "ResourceNotFoundException", format!("{what} not found: {resource_id}"));
        e.members.insert("resourceId".into(), json!(resource_id));
        e.members.insert("resourceType".into(), json!(resource_type));
        e
    }

    /// ConflictException for a resource id and type.
    pub(crate) fn conflict(resource_type: &str, resource_id: &str, message: impl Into<String>) -> AwsError {
        let mut e = AwsError::new(409, "ConflictException", message);
        e.members.insert("resourceId".into(), json!(resource_id));
        e.members.insert("resourceType".into(), json!(resource_type));
        e
    }

    /// ServiceQuotaExceededException (402) for a resource and the quota it would exceed.
    pub(crate) fn quota(
        resource_type: &str,
        resource_id: &str,
        quota_code: &str,
        message: impl Into<String>,
    ) -> AwsError {
        let mut e = AwsError::new(402, "ServiceQuotaExceededException", message);
        e.members.insert("resourceId".into(), json!(resource_id));
        e.members.insert("resourceType".into(), json!(resource_type));
        e.members.insert("serviceCode".into(), json!(SERVICE_CODE));
        e.members.insert("quotaCode".into(), json!(quota_code));
        e
    }

    /// The answer.
    pub(crate) fn response(&self) -> Reply {
        let mut body = self.members.clone();
        body.insert("message".into(), json!(self.message));
        Reply::new(self.status)
            .insert_header("x-amzn-ErrorType", self.error_type.as_str())
            .set_body_raw(Value::Object(body).to_string(), "application/json")
    }
}
