//! AWS JSON (restJson1) error answers: status, `x-amzn-ErrorType`, a body with `message`.

use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

/// An error the AMP mock answers with, rendered the way AWS renders it.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub status: u16,
    pub error_type: String,
    pub message: String,
    /// Extra body members (`resourceId`, `reason`, …).
    pub members: Map<String, Value>,
}

impl AwsError {
    pub fn new(status: u16, error_type: &str, message: impl Into<String>) -> AwsError {
        AwsError { status, error_type: error_type.to_owned(), message: message.into(), members: Map::new() }
    }

    /// ValidationException with a reason and the failing field.
    pub fn validation(reason: &str, field: &str, message: impl Into<String>) -> AwsError {
        let message = message.into();
        let mut e = AwsError::new(400, "ValidationException", message.clone());
        e.members.insert("reason".into(), json!(reason));
        e.members.insert("fieldList".into(), json!([{ "name": field, "message": message }]));
        e
    }

    /// ResourceNotFoundException for a resource id and type.
    pub fn not_found(resource_type: &str, resource_id: &str) -> AwsError {
        let mut e = AwsError::new(
            404,
            "ResourceNotFoundException",
            format!("{resource_type} {resource_id} not found"),
        );
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

    /// The wiremock answer.
    pub fn response(&self) -> ResponseTemplate {
        let mut body = self.members.clone();
        body.insert("message".into(), json!(self.message));
        ResponseTemplate::new(self.status)
            .insert_header("x-amzn-ErrorType", self.error_type.as_str())
            .set_body_raw(Value::Object(body).to_string(), "application/json")
    }
}
