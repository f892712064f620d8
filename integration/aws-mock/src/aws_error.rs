//! AWS JSON (restJson1) error answers: status, `x-amzn-ErrorType`, a body with `message` and the
//! members the AMP service model gives each error (see `docs/amp-api.md`).

use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

/// The `serviceCode` AMP's quota and throttling errors carry.
const SERVICE_CODE: &str = "amp";

/// An error the AMP mock answers with, rendered the way AWS renders it.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub status: u16,
    pub error_type: String,
    pub message: String,
    /// Extra body members (`resourceId`, `reason`, …).
    pub members: Map<String, Value>,
    /// Seconds for a `Retry-After` header (throttling and internal errors).
    pub retry_after: Option<u32>,
}

impl AwsError {
    pub fn new(status: u16, error_type: &str, message: impl Into<String>) -> AwsError {
        AwsError {
            status,
            error_type: error_type.to_owned(),
            message: message.into(),
            members: Map::new(),
            retry_after: None,
        }
    }

    /// ValidationException with a reason and the failing field.
    pub fn validation(reason: &str, field: &str, message: impl Into<String>) -> AwsError {
        let message = message.into();
        let mut e = AwsError::new(400, "ValidationException", message.clone());
        e.members.insert("reason".into(), json!(reason));
        e.members.insert("fieldList".into(), json!([{ "name": field, "message": message }]));
        e
    }

    /// ValidationException for a member that breaks a model constraint, worded as AWS words it.
    pub fn field(field: &str, value: &str, constraint: &str) -> AwsError {
        AwsError::validation(
            "FIELD_VALIDATION_FAILED",
            field,
            format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// ValidationException for a required member that is missing.
    pub fn missing(field: &str) -> AwsError {
        AwsError::validation(
            "FIELD_VALIDATION_FAILED",
            field,
            format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"),
        )
    }

    /// ResourceNotFoundException for a resource id and type.
    pub fn not_found(resource_type: &str, resource_id: &str) -> AwsError {
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
    pub fn conflict(resource_type: &str, resource_id: &str, message: impl Into<String>) -> AwsError {
        let mut e = AwsError::new(409, "ConflictException", message);
        e.members.insert("resourceId".into(), json!(resource_id));
        e.members.insert("resourceType".into(), json!(resource_type));
        e
    }

    /// ServiceQuotaExceededException (402) for a resource and the quota it would exceed.
    pub fn quota(
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

    /// InternalServerException (500) with a `Retry-After`.
    pub fn internal(message: impl Into<String>) -> AwsError {
        let mut e = AwsError::new(500, "InternalServerException", message);
        e.retry_after = Some(1);
        e
    }

    /// The wiremock answer.
    pub fn response(&self) -> ResponseTemplate {
        let mut body = self.members.clone();
        body.insert("message".into(), json!(self.message));
        let mut response = ResponseTemplate::new(self.status)
            .insert_header("x-amzn-ErrorType", self.error_type.as_str())
            .set_body_raw(Value::Object(body).to_string(), "application/json");
        if let Some(secs) = self.retry_after {
            response = response.insert_header("Retry-After", secs.to_string().as_str());
        }
        response
    }
}
