//! `clientToken` idempotency: a token is remembered per operation with a fingerprint of the
//! request (path parameters and body without the token). The same token with the same request
//! replays the first answer; with a different request it is a ConflictException (AWS's usual
//! answer for a reused idempotency token; AMP's model lists ConflictException on every
//! mutating operation).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::messages::{Answer, Body};
use crate::aws_error::AwsError;

/// `(operation, clientToken)` → what the first call asked and answered.
#[derive(Debug, Default)]
pub(crate) struct ClientTokens(BTreeMap<(String, String), (Value, Answer)>);

impl ClientTokens {
    /// Checks `token` for `operation`: the first answer to replay if the token was used for the
    /// same request, `None` if it is new, an error if it is malformed or was used for another
    /// request.
    pub(crate) fn replay(
        &self,
        operation: &str,
        fingerprint: &Value,
        token: &str,
    ) -> Result<Option<Answer>, AwsError> {
        if token.is_empty() || token.len() > 64 || !token.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(AwsError::field(
                "clientToken",
                token,
                "Member must have length between 1 and 64 and satisfy regular expression pattern: [!-~]+",
            ));
        }
        let Some((seen, answer)) = self.0.get(&(operation.to_owned(), token.to_owned())) else {
            return Ok(None);
        };
        if seen == fingerprint {
            return Ok(Some(answer.clone()));
        }
        Err(AwsError::conflict(
            resource_type_of(operation),
            token,
            format!(
                "Client token {token} was already used for a {operation} request with different parameters"
            ),
        ))
    }

    /// Remembers the answer to the first request with `token`.
    pub(crate) fn remember(&mut self, operation: &str, token: &str, fingerprint: Value, answer: Answer) {
        self.0.insert((operation.to_owned(), token.to_owned()), (fingerprint, answer));
    }
}

/// The request as idempotency compares it: path parameters and body without the token.
pub(crate) fn fingerprint(path: &[&str], body: &Body) -> Value {
    let mut b = body.clone();
    b.client_token = None;
    json!({ "path": path, "body": b })
}

fn resource_type_of(operation: &str) -> &'static str {
    if operation.contains("RuleGroupsNamespace") {
        "RULE_GROUPS_NAMESPACE"
    } else {
        "WORKSPACE"
    }
}
