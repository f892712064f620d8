//! What control-plane operations take and give: the request members of the mutating
//! operations ([`Body`]) and a successful answer ([`Answer`]), independent of HTTP.

use std::collections::BTreeMap;

use serde_json::Value;

/// A successful answer: HTTP status and JSON body (`None`: no body).
pub(crate) type Answer = (u16, Option<Value>);

/// The request members of the mutating operations, already read from JSON.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Body {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<String>,
}
