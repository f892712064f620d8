//! `maxResults` and `nextToken` for the listing operations: pages over items in listing
//! order, the token an opaque encoding of the last item's sort key.

use base64::Engine;
use serde_json::Value;

use crate::aws_error::AwsError;

/// One page of `items` (already in listing order, keyed by a sort key) after `next_token`.
pub(crate) fn paginate(
    items: Vec<(String, Value)>,
    next_token: Option<&str>,
    max_results: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), AwsError> {
    let max = match max_results {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n as usize,
            Ok(n) if n < 1 => {
                return Err(AwsError::field(
                    "maxResults",
                    s,
                    "Member must have value greater than or equal to 1",
                ))
            }
            Ok(_) => {
                return Err(AwsError::field(
                    "maxResults",
                    s,
                    "Member must have value less than or equal to 1000",
                ))
            }
            Err(_) => {
                return Err(AwsError::validation(
                    "CANNOT_PARSE",
                    "maxResults",
                    format!("Value '{s}' at 'maxResults' is not an integer"),
                ))
            }
        },
    };
    let after = match next_token {
        None => None,
        Some(t) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("ampfed:").map(str::to_owned))
                .ok_or_else(|| {
                    AwsError::validation("FIELD_VALIDATION_FAILED", "nextToken", "Invalid nextToken")
                })?,
        ),
    };
    let rest: Vec<(String, Value)> =
        items.into_iter().filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a)).collect();
    let more = rest.len() > max;
    let page: Vec<(String, Value)> = rest.into_iter().take(max).collect();
    let next = if more {
        page.last()
            .map(|(k, _)| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ampfed:{k}")))
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, v)| v).collect(), next))
}
