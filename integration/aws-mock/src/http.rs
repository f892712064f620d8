//! HTTP helpers the AMP mock's planes share: JSON answers, percent-decoding of path segments,
//! query and form parameters, and JSON request bodies.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws_error::AwsError;
use crate::exchange::{Reply, Request};

/// An answer with a JSON body.
pub(crate) fn json_response(status: u16, body: &Value) -> Reply {
    Reply::new(status).set_body_raw(body.to_string(), "application/json")
}

/// A path segment (or several) with its percent-encoding undone (invalid UTF-8 replaced).
pub(crate) fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The query string's parameters, in order.
pub(crate) fn query_pairs(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Query string and, for a form POST, body parameters.
pub(crate) fn query_and_form(request: &Request) -> Vec<(String, String)> {
    let mut out = query_pairs(request);
    if request.method.as_str() == "POST" {
        out.extend(form_urlencoded::parse(request.body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    out
}

/// Reads a restJson1 request body (an empty body is `{}`); a body that does not parse is a
/// ValidationException.
pub(crate) fn parse_json_body<T: DeserializeOwned>(request: &Request) -> Result<T, AwsError> {
    let body: &[u8] = if request.body.is_empty() { b"{}" } else { request.body };
    serde_json::from_slice(body).map_err(|e| {
        AwsError::validation(
            "CANNOT_PARSE",
            "body",
            format!("Request body is not valid JSON for this operation: {e}"),
        )
    })
}
